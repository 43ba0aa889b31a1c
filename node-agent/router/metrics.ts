/**
 * The router's series on the agent's /metrics, all read at scrape time from plain numbers the data plane
 * keeps (traffic.ts) and from its table and pools: the request path pays nothing for them. Labels are
 * bounded: colour, host kind, status class, and the service and node names of the table.
 */
import type { Registry, Sample } from "../../common/metrics.js";
import { collected } from "../../common/metrics.js";
import { COLORS } from "../../specs/types.js";
import { HOST_KINDS } from "./table.js";
import { STATUS_CLASSES } from "./traffic.js";
import type { RouterDataPlane } from "./data-plane.js";

export function registerRouterMetrics(registry: Registry, plane: RouterDataPlane): void {
  const traffic = plane.ctx.traffic;
  const perColor = (f: (c: (typeof COLORS)[number]) => number): Sample[] => COLORS.map((color) => ({ labels: { color }, value: f(color) }));

  collected(registry, "switchyard_router_requests_total", "counter", "Responses the router sent, by colour, host kind (live, preview, color, default) and status class.", () => {
    const out: Sample[] = [];
    for (const color of COLORS) {
      for (let k = 0; k < HOST_KINDS.length; k++) {
        for (let c = 0; c < STATUS_CLASSES.length; c++) out.push({ labels: { color, host: HOST_KINDS[k]!, code: STATUS_CLASSES[c]! }, value: traffic.count(color, k, c) });
      }
    }
    return out;
  });
  collected(registry, "switchyard_router_request_duration_seconds", "histogram", "Time from a request's head to the end of its response, by colour.", () =>
    COLORS.flatMap((color) => traffic.latency[color].samples("switchyard_router_request_duration_seconds", { color })),
  );
  collected(registry, "switchyard_router_in_flight_requests", "gauge", "Requests being proxied now, by colour.", () => perColor((c) => plane.ctx.inFlight[c]));
  collected(registry, "switchyard_router_websockets", "gauge", "Open WebSocket tunnels, by colour.", () => perColor((c) => plane.ctx.websockets[c]));
  collected(registry, "switchyard_router_upstream_connections", "gauge", "Upstream connections by colour and state (busy: serving a request; idle: pooled).", () =>
    COLORS.flatMap((color) => {
      let open = 0;
      let idle = 0;
      for (const u of plane.pools(color)) {
        open += u.conns.size;
        idle += u.idle.length;
      }
      return [{ labels: { color, state: "busy" }, value: open - idle }, { labels: { color, state: "idle" }, value: idle }];
    }),
  );
  collected(registry, "switchyard_router_upstream_health", "gauge", "1 for each upstream node's health as the router's own checks see it (healthy, unhealthy, unknown).", () =>
    plane.health().flatMap((u) => (["healthy", "unhealthy", "unknown"] as const).map((h) => ({ labels: { color: u.color, service: u.service, node: u.node, health: h }, value: u.health === h ? 1 : 0 }))),
  );
  collected(registry, "switchyard_router_table_generation", "gauge", "Generation of the routing table served (0: none).", () => [{ value: plane.status().spec?.generation ?? 0 }]);
  collected(registry, "switchyard_router_table_applied_timestamp_seconds", "gauge", "When the routing table served was swapped in or restored (Unix time; 0: none).", () => [{ value: plane.tableSince / 1000 }]);
  collected(registry, "switchyard_router_live", "gauge", "1 for the colour this router's table sends live traffic to.", () => perColor((c) => (plane.status().spec?.live === c ? 1 : 0)));
  collected(registry, "switchyard_router_flips_total", "counter", "Table swaps that changed the live colour.", () => [{ value: traffic.flips }]);
  collected(registry, "switchyard_router_drain_closes_total", "counter", "Connections and tunnels closed by the drain timeout, by colour.", () => perColor((c) => traffic.drainCloses[c]));
}
