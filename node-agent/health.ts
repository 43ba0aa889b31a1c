/**
 * Health probing, one prober for the whole agent: a node probes its containers through their published
 * ports, a router probes its upstream nodes. Three pieces: one HTTP GET (`probeOnce`), one threshold state
 * machine (`HealthThresholds`) and one loop that paces the probes and feeds the machine (`HealthProbe`).
 * The two roles differ only in their policy (see NODE_PROBES and ROUTER_PROBES). A probe reports only
 * transitions, so status changes stay cheap.
 */
import { request, type ClientRequest } from "node:http";
import type { LookupFunction } from "node:net";
import type { Health } from "../specs/wire.js";

export type { Health };

/** The service's health block (schema defaults filled in). */
export interface ProbeSettings {
  path: string;
  periodSeconds: number;
  timeoutSeconds: number;
  healthyThreshold: number;
  unhealthyThreshold: number;
}

/** Where one probe goes. */
export interface ProbeTarget {
  host: string;
  port: number;
  path: string;
  timeoutSeconds: number;
  /** Resolves a host that is a name (the router keeps addresses inside agent.yaml's bounds). */
  lookup?: LookupFunction;
  /** The Host header to send; Node's default when absent. */
  hostHeader?: string;
  userAgent?: string;
}

export type ProbeConfig = ProbeTarget & ProbeSettings;

/** How a role reads probe results. */
export interface ProbePolicy {
  /**
   * True: the first result alone decides (unknown → healthy or unhealthy), then the thresholds apply.
   * False: the thresholds apply from the start and health stays unknown until one is reached.
   */
  firstResultDecides: boolean;
  /**
   * Until the first healthy verdict, probe this often (ms) so a ready app is seen at once; failures then
   * count once per configured period so a slow starter does not turn unhealthy early. Absent: the period.
   */
  startupPaceMs?: number;
}

/** Before its first success a node's container is probed this often, so a ready app is seen at once. */
export const STARTUP_PROBE_MS = 100;
/** A probe gets a connection of its own, never a pooled one, and reads at most this much of the body. */
export const HEALTH_PROBE_MAX_BODY_BYTES = 64 * 1024;

/** A node's probes of its own containers: healthy after healthyThreshold successes, fast until then. */
export const NODE_PROBES: ProbePolicy = { firstResultDecides: false, startupPaceMs: STARTUP_PROBE_MS };
/** A router's probes of upstream nodes: the first result decides (unknown counts as healthy meanwhile). */
export const ROUTER_PROBES: ProbePolicy = { firstResultDecides: true };

/**
 * The threshold state machine: healthyThreshold successes in a row make it healthy, unhealthyThreshold
 * failures in a row unhealthy; a verdict forced from outside (a refused connect) starts both counts anew.
 */
export class HealthThresholds {
  health: Health = "unknown";
  private ok = 0;
  private bad = 0;

  constructor(private readonly t: Pick<ProbeSettings, "healthyThreshold" | "unhealthyThreshold"> & Pick<ProbePolicy, "firstResultDecides">) {}

  /** One probe result; true when the verdict changed. */
  record(ok: boolean): boolean {
    const before = this.health;
    if (ok) {
      this.ok++;
      this.bad = 0;
    } else {
      this.bad++;
      this.ok = 0;
    }
    if (before === "unknown" && this.t.firstResultDecides) this.health = ok ? "healthy" : "unhealthy";
    else if (ok && this.ok >= this.t.healthyThreshold) this.health = "healthy";
    else if (!ok && this.bad >= this.t.unhealthyThreshold) this.health = "unhealthy";
    if (this.health !== before) this.ok = this.bad = 0;
    return this.health !== before;
  }

  /** A verdict from outside the probes; true when it changed anything. */
  force(h: Health): boolean {
    if (this.health === h) return false;
    this.health = h;
    this.ok = this.bad = 0;
    return true;
  }
}

export class HealthProbe {
  /** Why the last probe failed (null after a success). */
  lastError: string | null = null;
  private readonly verdict: HealthThresholds;
  private everHealthy = false;
  private lastCountedFailure = 0;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  /** `onChange` is called when the verdict changes, or when the probe starts or stops failing. */
  constructor(
    private readonly cfg: ProbeConfig,
    private readonly onChange: (probe: HealthProbe) => void,
    private readonly policy: ProbePolicy = NODE_PROBES,
    /** Told every probe's duration and outcome (metrics). */
    private readonly onResult?: (seconds: number, ok: boolean) => void,
  ) {
    this.verdict = new HealthThresholds({ ...cfg, firstResultDecides: policy.firstResultDecides });
  }

  get health(): Health {
    return this.verdict.health;
  }

  /** Probes at once, then every period (a probe never overlaps the next). */
  start(): void {
    this.tick();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
  }

  /** Unhealthy now, for a reason seen outside the probes (a refused connect); only probes bring it back. */
  markDown(reason: string): void {
    this.lastError = reason;
    if (this.verdict.force("unhealthy")) this.onChange(this);
  }

  /** Never throws and never rejects: whatever goes wrong is one failed probe, and the loop goes on. */
  private tick(): void {
    if (this.stopped) return;
    const started = Date.now();
    const t0 = performance.now();
    probeOnce(this.cfg)
      .then((err) => {
        if (this.stopped) return;
        this.onResult?.((performance.now() - t0) / 1000, err === null);
        this.record(err);
      })
      .catch((err: Error) => {
        this.lastError = `probe failed: ${err.message}`;
      })
      .finally(() => {
        if (this.stopped) return;
        const periodMs = this.cfg.periodSeconds * 1000;
        const pace = this.policy.startupPaceMs;
        const period = this.everHealthy || pace === undefined ? periodMs : Math.min(pace, periodMs);
        // A period that is not a number (a spec that escaped validation) falls back to the start-up pace.
        const wait = Number.isFinite(period) ? Math.max(0, period - (Date.now() - started)) : STARTUP_PROBE_MS;
        this.timer = setTimeout(() => this.tick(), wait);
        this.timer.unref();
      });
  }

  private record(err: string | null): void {
    const beforeError = this.lastError;
    if (err !== null && this.policy.startupPaceMs !== undefined && !this.everHealthy) {
      // Fast start-up probes must not turn a slow starter unhealthy early: count failures at the configured period.
      const now = Date.now();
      if (now - this.lastCountedFailure < this.cfg.periodSeconds * 1000) {
        this.lastError = err;
        return;
      }
      this.lastCountedFailure = now;
    }
    this.lastError = err;
    const changed = this.verdict.record(err === null);
    if (this.verdict.health === "healthy") this.everHealthy = true;
    if (changed || (beforeError === null) !== (this.lastError === null)) this.onChange(this);
  }
}

/**
 * One GET on a connection of its own; resolves to null when the answer is 2xx or 3xx, else to the reason in
 * words. The timeout covers the whole exchange (at most HEALTH_PROBE_MAX_BODY_BYTES of body are read). Never rejects.
 */
export function probeOnce(t: ProbeTarget): Promise<string | null> {
  return new Promise((resolve) => {
    const timeoutMs = t.timeoutSeconds * 1000;
    if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) {
      resolve(`cannot probe GET ${JSON.stringify(t.path).slice(0, 80)}: the timeout ${t.timeoutSeconds}s is not a positive number`);
      return;
    }
    let req: ClientRequest;
    let settled = false;
    const done = (reason: string | null): void => {
      if (settled) return;
      settled = true;
      clearTimeout(deadline);
      req?.destroy();
      resolve(reason);
    };
    const deadline = setTimeout(() => done(`no answer within ${t.timeoutSeconds}s`), timeoutMs);
    deadline.unref();
    try {
      req = request({
        host: t.host,
        port: t.port,
        path: t.path,
        method: "GET",
        agent: false,
        ...(t.lookup ? { lookup: t.lookup } : {}),
        headers: { ...(t.hostHeader ? { host: t.hostHeader } : {}), "user-agent": t.userAgent ?? "switchyard-health", connection: "close" },
      });
    } catch (err) {
      // Node refuses some requests before sending them (a path with characters above U+00FF): that is a
      // failed probe, never an exception out of the probe loop.
      done(`cannot probe GET ${JSON.stringify(t.path).slice(0, 80)}: ${(err as Error).message}`);
      return;
    }
    req.on("response", (res) => {
      const code = res.statusCode ?? 0;
      const verdict = code >= 200 && code < 400 ? null : `GET ${t.path} answered ${code}`;
      let seen = 0;
      res.on("data", (chunk: Buffer) => {
        seen += chunk.length;
        if (seen > HEALTH_PROBE_MAX_BODY_BYTES) done(verdict);
      });
      res.on("end", () => done(verdict));
      res.on("error", () => done(verdict));
    });
    req.on("error", (e: NodeJS.ErrnoException) =>
      done(e.code === "ECONNREFUSED" ? `nothing listens on ${t.host}:${t.port} yet` : `GET ${t.path} failed: ${e.message}`),
    );
    req.end();
  });
}
