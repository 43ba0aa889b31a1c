import { describe, expect, it } from "vitest";
import { detectDrift } from "../../reconciler/drift.js";
import { plan } from "../../reconciler/plan.js";
import { NOW, cluster1x1, desired, down, ledger, node, router, world } from "../support/world.js";
import type { Observed } from "../../specs/observed.js";
import type { Desired } from "../../reconciler/desired.js";

const c1 = cluster1x1();
const d = desired(c1);
const names = (dd: Desired, o: Observed, routerLive: "blue" | "green" | null = "blue", firing = new Set<string>()) =>
  detectDrift({ desired: dd, observed: o, actions: plan(dd, o, NOW), routerLive, firing }).map((a) => `${a.name} ${a.severity}: ${a.summary}`);

const steady = () => ({ "blue-1": node(d, "blue-1", { tag: "v1", lease: { epoch: 3 } }), "green-1": node(d, "green-1", { tag: "v2" }), "router-1": router(d, "router-1", { live: "blue" }) });

describe("detectDrift", () => {
  it("reality as desired: no alert", () => {
    expect(names(d, world(steady(), ledger({ epoch: 3 })))).toEqual([]);
  });

  it("a stopped live container is critical; on the idle colour a warning", () => {
    expect(names(d, world({ ...steady(), "blue-1": node(d, "blue-1", { tag: "v1", web: "exited", lease: { epoch: 3 } }) }, ledger({ epoch: 3 })))).toEqual([
      "ContainerDown critical: web on blue-1 (blue) is exited: exited with code 1",
    ]);
    expect(names(d, world({ ...steady(), "green-1": node(d, "green-1", { tag: "v2", web: "exited" }) }, ledger({ epoch: 3 })))).toEqual([
      "ContainerDown warning: web on green-1 (green) is exited: exited with code 1",
    ]);
  });

  it("a container of the wrong image, a job without a lease, an unreachable node", () => {
    expect(names(d, world({ ...steady(), "green-1": node(d, "green-1", { tag: "v2", web: { tag: "v1" } }) }, ledger({ epoch: 3 })))).toEqual(["WrongImage warning: web on green-1 runs v1 instead of v2"]);
    expect(names(d, world({ ...steady(), "green-1": node(d, "green-1", { tag: "v2", worker: "running" }) }, ledger({ epoch: 3 })))).toEqual(["JobWithoutLease critical: job worker runs on green-1 without a lease"]);
    expect(names(d, world({ ...steady(), "green-1": down("connect ECONNREFUSED") }, ledger({ epoch: 3 })))).toEqual(["NodeUnreachable critical: node green-1 (green) is unreachable: connect ECONNREFUSED"]);
  });

  it("right after a start, nodes not observed yet raise nothing", () => {
    expect(names(d, world({ ...steady(), "green-1": down("not observed yet") }, ledger({ epoch: 3 })))).toEqual([]);
  });

  it("a router pointing elsewhere than Switchyard set it", () => {
    expect(names(d, world({ ...steady(), "router-1": router(d, "router-1", { live: "green" }) }, ledger({ epoch: 3 })), "blue")).toContain(
      "RouterElsewhere critical: router router-1 sends live traffic to green, but Switchyard last set blue",
    );
  });

  it("a refused desired state is an alert that says why", () => {
    const dd = desired(c1, { blue: "v5" });
    expect(names(dd, world(steady(), ledger({ epoch: 3 })))[0]).toMatch(/^WouldReplaceLive warning: blue is live and runs v1; v5 would replace it/);
  });

  it("a container-down alert stays open while it is being healed", () => {
    const healing = { ...steady(), "blue-1": node(d, "blue-1", { tag: "v1", web: "missing", converging: true, lease: { epoch: 3 } }) };
    expect(names(d, world(healing, ledger({ epoch: 3 })))).toEqual([]);
    expect(names(d, world(healing, ledger({ epoch: 3 })), "blue", new Set(["ContainerDown/blue-1/web"]))).toEqual(["ContainerDown critical: web on blue-1 (blue) is missing; healing"]);
  });
});
