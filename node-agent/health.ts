/**
 * HTTP health probing of one container through its published port, with the period, timeout and
 * thresholds from the spec. A probe reports only transitions, so status changes stay cheap.
 */
import { request } from "node:http";

export type Health = "healthy" | "unhealthy" | "unknown";

export interface ProbeConfig {
  host: string;
  port: number;
  path: string;
  periodSeconds: number;
  timeoutSeconds: number;
  healthyThreshold: number;
  unhealthyThreshold: number;
}

/** Before its first success a container is probed this often, so a ready app is seen at once. */
export const STARTUP_PROBE_MS = 100;

export class HealthProbe {
  health: Health = "unknown";
  lastError: string | null = null;
  private ok = 0;
  private bad = 0;
  private everHealthy = false;
  private lastCountedFailure = 0;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(private readonly cfg: ProbeConfig, private readonly onChange: () => void) {}

  start(): void {
    this.tick();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
  }

  /** Never throws and never rejects: whatever goes wrong is one failed probe, and the loop goes on. */
  private tick(): void {
    if (this.stopped) return;
    const started = Date.now();
    probeOnce(this.cfg)
      .catch((err: Error) => `probe failed: ${err.message}`)
      .then((err) => {
        if (this.stopped) return;
        this.record(err);
      })
      .catch((err: Error) => {
        this.lastError = `probe failed: ${err.message}`;
      })
      .finally(() => {
        if (this.stopped) return;
        const periodMs = this.cfg.periodSeconds * 1000;
        const period = this.everHealthy ? periodMs : Math.min(STARTUP_PROBE_MS, periodMs);
        // A period that is not a number (a spec that escaped validation) falls back to the start-up pace.
        const wait = Number.isFinite(period) ? Math.max(0, period - (Date.now() - started)) : STARTUP_PROBE_MS;
        this.timer = setTimeout(() => this.tick(), wait);
        this.timer.unref();
      });
  }

  private record(err: string | null): void {
    const before = this.health;
    const beforeError = this.lastError;
    if (err === null) {
      this.ok++;
      this.bad = 0;
      this.lastError = null;
      if (this.ok >= this.cfg.healthyThreshold) {
        this.health = "healthy";
        this.everHealthy = true;
      }
    } else {
      // Fast start-up probes must not turn a slow starter unhealthy early: count failures at the configured period.
      const now = Date.now();
      if (!this.everHealthy && now - this.lastCountedFailure < this.cfg.periodSeconds * 1000) {
        this.lastError = err;
        return;
      }
      this.lastCountedFailure = now;
      this.bad++;
      this.ok = 0;
      this.lastError = err;
      if (this.bad >= this.cfg.unhealthyThreshold) this.health = "unhealthy";
    }
    if (before !== this.health || (beforeError === null) !== (this.lastError === null)) this.onChange();
  }
}

/** One GET; resolves to null when the answer is 2xx/3xx, else to the reason in words. Never rejects. */
export function probeOnce(cfg: Pick<ProbeConfig, "host" | "port" | "path" | "timeoutSeconds">): Promise<string | null> {
  return new Promise((resolve) => {
    try {
      const req = request(
        { host: cfg.host, port: cfg.port, path: cfg.path, method: "GET", timeout: cfg.timeoutSeconds * 1000, agent: false, headers: { "user-agent": "switchyard-health" } },
        (res) => {
          res.resume();
          const code = res.statusCode ?? 0;
          resolve(code >= 200 && code < 400 ? null : `GET ${cfg.path} answered ${code}`);
        },
      );
      req.on("timeout", () => req.destroy(new Error(`no answer within ${cfg.timeoutSeconds}s`)));
      req.on("error", (e: NodeJS.ErrnoException) =>
        resolve(e.code === "ECONNREFUSED" ? `nothing listens on ${cfg.host}:${cfg.port} yet` : `GET ${cfg.path} failed: ${e.message}`),
      );
      req.end();
    } catch (err) {
      // Node refuses some requests before sending them (a path with characters above U+00FF, a timeout
      // that is not a number): that is a failed probe, never an exception out of the probe loop.
      resolve(`cannot probe GET ${JSON.stringify(cfg.path).slice(0, 80)}: ${(err as Error).message}`);
    }
  });
}
