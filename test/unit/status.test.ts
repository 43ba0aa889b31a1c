import { describe, expect, it } from "vitest";
import { buildStatus } from "../../reconciler/loop/status.js";
import { plan } from "../../reconciler/loop/plan.js";
import { detectDrift } from "../../reconciler/loop/drift.js";
import { NOW, cluster1x1, desired, ledger, node, router, world } from "../support/world.js";
import type { Observed } from "../../specs/observed.js";

const d = desired(cluster1x1());
const conditions = (o: Observed) => {
  const actions = plan(d, o, NOW);
  const drift = detectDrift({ desired: d, observed: o, actions, routerLive: "blue" });
  const s = buildStatus({ desired: d, revision: "r", stateRevision: "s", observed: o, actions, drift, specErrors: [], busy: false, now: new Date(NOW) }, []);
  return Object.fromEntries(s.conditions.map((c) => [c.type, `${c.status} ${c.reason}`]));
};

describe("Ready: live traffic is served by a healthy colour", () => {
  it("is true while the live colour serves, whatever happens to the other colour", () => {
    const o = world({ "blue-1": node(d, "blue-1", { tag: "v1", lease: { epoch: 3 } }), "green-1": node(d, "green-1", { tag: "v2", web: "exited" }), "router-1": router(d, "router-1", { live: "blue" }) }, ledger({ epoch: 3 }));
    expect(conditions(o).Ready).toBe("True Live");
  });

  it("is false when the live node's agent holds no spec (it lost it, or set it aside), even if a container still runs", () => {
    for (const web of ["healthy", "exited"] as const) {
      const blue = node(d, "blue-1", { tag: "v1", web, lease: { epoch: 3 } });
      if (blue.reachable) blue.status.spec = null;
      const o = world({ "blue-1": blue, "green-1": node(d, "green-1", { tag: "v2" }), "router-1": router(d, "router-1", { live: "blue" }) }, ledger({ epoch: 3 }));
      expect(conditions(o).Ready).toBe("False LiveUnhealthy");
    }
  });

  it("is false when a live web container is down", () => {
    const o = world({ "blue-1": node(d, "blue-1", { tag: "v1", web: "exited", lease: { epoch: 3 } }), "green-1": node(d, "green-1", { tag: "v2" }), "router-1": router(d, "router-1", { live: "blue" }) }, ledger({ epoch: 3 }));
    expect(conditions(o).Ready).toBe("False LiveUnhealthy");
  });
});
