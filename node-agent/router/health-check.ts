/**
 * Active health checks: one probe loop per upstream node, `GET <health.path>` on a connection of its own
 * (never a pooled one, so a probe can neither be delayed by nor disturb traffic). It is the agent's one
 * prober (../health.ts) with the router's policy: 2xx and 3xx are healthy, anything else, a timeout or a
 * connection error is not, and the first result alone decides. See upstream.ts for what the results mean.
 */
import type { UpstreamService } from "../../specs/wire.js";
import * as d from "../../specs/defaults.js";
import { HealthProbe, ROUTER_PROBES, type ProbeSettings } from "../health.js";
import type { Upstream } from "./upstream.js";

export type HealthSettings = ProbeSettings;

/** The service's health block with the schema defaults filled in (wire specs may leave fields out). */
export function healthSettings(h: UpstreamService["health"]): HealthSettings {
  return {
    path: h?.path ?? d.DEFAULT_HEALTH_PATH,
    periodSeconds: h?.periodSeconds ?? d.DEFAULT_HEALTH_PERIOD_SECONDS,
    timeoutSeconds: h?.timeoutSeconds ?? d.DEFAULT_HEALTH_TIMEOUT_SECONDS,
    healthyThreshold: h?.healthyThreshold ?? d.DEFAULT_HEALTHY_THRESHOLD,
    unhealthyThreshold: h?.unhealthyThreshold ?? d.DEFAULT_UNHEALTHY_THRESHOLD,
  };
}

/** The health check of one upstream node; its verdicts go to the upstream (and its passive mark-downs come back). */
export class HealthCheck extends HealthProbe {
  constructor(up: Upstream, h: HealthSettings) {
    super(
      { host: up.address, port: up.port, lookup: up.ctx.lookup, hostHeader: `${up.address}:${up.port}`, userAgent: "switchyard-router-health", ...h },
      (probe) => up.healthChanged(probe.health, probe.lastError ?? "probe passed"),
      ROUTER_PROBES,
    );
    up.check = this;
  }
}
