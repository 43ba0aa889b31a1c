/** Round robin over the healthy nodes of one service route. */
import type { ServiceRoute } from "./table.js";
import type { Upstream } from "./upstream.js";

/** The next healthy node after the route's cursor, skipping `exclude`; null when none is healthy. */
export function pickNode(route: ServiceRoute, exclude: Upstream | null): Upstream | null {
  const nodes = route.nodes;
  const n = nodes.length;
  let i = route.rr;
  for (let k = 0; k < n; k++) {
    if (i >= n) i = 0;
    const u = nodes[i++]!;
    if (u.healthy && u !== exclude) {
      route.rr = i;
      return u;
    }
  }
  return null;
}
