/**
 * Round robin over the healthy nodes of one service route.
 *
 * When no node of the route is healthy, every node is a candidate (a "panic" pick, as Envoy does below its
 * panic threshold). A health check is a guess made from outside: under load every probe of a colour that
 * still answers can time out at once, and refusing all its requests with 503 would turn a slow colour into a
 * down one. A node that is really gone fails its connect, is marked down, and the request is retried once on
 * the next node; only then does the client get "every upstream node … is down".
 */
import type { ServiceRoute } from "./table.js";
import type { Upstream } from "./upstream.js";

/** The next healthy node after the route's cursor, skipping `exclude`; with none healthy, the next node at all; null when there is no other node. */
export function pickNode(route: ServiceRoute, exclude: Upstream | null): Upstream | null {
  return next(route, exclude, true) ?? next(route, exclude, false);
}

/** True when some node of the route passes its health check (or has not been probed yet). */
export function anyHealthy(route: ServiceRoute): boolean {
  return route.nodes.some((u) => u.healthy);
}

function next(route: ServiceRoute, exclude: Upstream | null, healthyOnly: boolean): Upstream | null {
  const nodes = route.nodes;
  const n = nodes.length;
  let i = route.rr;
  for (let k = 0; k < n; k++) {
    if (i >= n) i = 0;
    const u = nodes[i++]!;
    if ((u.healthy || !healthyOnly) && u !== exclude) {
      route.rr = i;
      return u;
    }
  }
  return null;
}
