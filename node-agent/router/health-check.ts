/**
 * Active health checks: one probe loop per upstream node, `GET <health.path>` on a connection of its own
 * (never a pooled one, so a probe can neither be delayed by nor disturb traffic). 2xx and 3xx are healthy,
 * anything else, a timeout or a connection error is not. See upstream.ts for what the results mean.
 */
import { request, type ClientRequest } from "node:http";
import type { UpstreamService } from "../../specs/wire.js";
import * as d from "../../specs/defaults.js";
import type { Upstream } from "./upstream.js";
import { HEALTH_PROBE_MAX_BODY_BYTES } from "./limits.js";

export interface HealthSettings {
  path: string;
  periodMs: number;
  timeoutMs: number;
  healthyThreshold: number;
  unhealthyThreshold: number;
}

/** The service's health block with the schema defaults filled in (wire specs may leave fields out). */
export function healthSettings(h: UpstreamService["health"]): HealthSettings {
  return {
    path: h?.path ?? d.DEFAULT_HEALTH_PATH,
    periodMs: Math.round((h?.periodSeconds ?? d.DEFAULT_HEALTH_PERIOD_SECONDS) * 1000),
    timeoutMs: Math.round((h?.timeoutSeconds ?? d.DEFAULT_HEALTH_TIMEOUT_SECONDS) * 1000),
    healthyThreshold: h?.healthyThreshold ?? d.DEFAULT_HEALTHY_THRESHOLD,
    unhealthyThreshold: h?.unhealthyThreshold ?? d.DEFAULT_UNHEALTHY_THRESHOLD,
  };
}

export class HealthCheck {
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;

  constructor(private readonly up: Upstream, private readonly h: HealthSettings) {}

  /** Probes at once, then every period (the next period starts when a probe ends, so probes never overlap). */
  start(): void {
    this.probe();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private probe(): void {
    if (this.stopped) return;
    const { up, h } = this;
    let settled = false;
    const done = (ok: boolean, reason: string): void => {
      if (settled) return;
      settled = true;
      clearTimeout(deadline);
      req.destroy();
      if (this.stopped) return;
      up.probeResult(ok, h.healthyThreshold, h.unhealthyThreshold, reason);
      this.timer = setTimeout(() => this.probe(), h.periodMs);
      this.timer.unref();
    };
    let req: ClientRequest;
    try {
      req = request({
        host: up.address,
        port: up.port,
        path: h.path,
        method: "GET",
        agent: false,
        headers: { host: `${up.address}:${up.port}`, "user-agent": "switchyard-router-health", connection: "close" },
      });
    } catch (err) {
      // A probe that cannot even be sent (say a path node:http refuses) counts as a failed probe, never as a crash.
      up.probeResult(false, h.healthyThreshold, h.unhealthyThreshold, `cannot probe: ${(err as Error).message}`);
      this.timer = setTimeout(() => this.probe(), h.periodMs);
      this.timer.unref();
      return;
    }
    const deadline = setTimeout(() => done(false, `no answer within ${h.timeoutMs} ms`), h.timeoutMs);
    deadline.unref();
    req.on("response", (res) => {
      const status = res.statusCode ?? 0;
      let seen = 0;
      res.on("data", (chunk: Buffer) => {
        seen += chunk.length;
        if (seen > HEALTH_PROBE_MAX_BODY_BYTES) done(status >= 200 && status < 400, `HTTP ${status}`);
      });
      res.on("end", () => done(status >= 200 && status < 400, `HTTP ${status}`));
      res.on("error", () => done(status >= 200 && status < 400, `HTTP ${status}`));
    });
    req.on("error", (err: NodeJS.ErrnoException) => done(false, err.code ?? err.message));
    req.end();
  }
}
