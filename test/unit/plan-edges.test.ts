/**
 * Planner edges the cold mutation run of 2026-11-30 left unpinned (issue 22): the order of task actions among
 * the others, tasks on a colour only part of which is ready, the lease renewal's edges, an epoch some agent has
 * seen above the ledger, older agents that do not report revokedThrough, a router missing from the
 * observation, refusals for both colours, and the DeployFailed message naming every node's problem.
 */
import { describe, expect, it } from "vitest";
import { plan } from "../../reconciler/loop/plan.js";
import type { Cluster } from "../../specs/cluster.js";
import type { Observed } from "../../specs/observed.js";
import { deepFreeze as freeze } from "../../common/values.js";
import { NOW, cluster1x1, cluster2x2, desired, ledger, node, router, summarize, world } from "../support/world.js";

const lines = (d: ReturnType<typeof desired>, o: Observed) => plan(d, freeze(o), NOW).map(summarize);

function withTasks(c: Cluster): Cluster {
  const x = structuredClone(c);
  x.spec.tasks = [{ name: "migrate", service: "web", command: ["node", "migrate.js"], timeoutSeconds: 60 }];
  return x;
}

describe("plan: edges", () => {
  it("a task's run comes after the node specs and before router and lease actions; its wait comes last", () => {
    const c = withTasks(cluster1x1());
    const d = desired(c, { active: "green" });
    const o = world(
      { "blue-1": node(d, "blue-1", { tag: "v1", lease: { epoch: 3 } }), "green-1": node(d, "green-1", { tag: "v2" }), "router-1": router(d, "router-1", { live: "blue" }) },
      ledger({ epoch: 3, grants: { "blue-1": { epoch: 3, sentAtMs: NOW - 3_400, ttlMs: 10_000 } } }),
    );
    expect(lines(d, o)).toEqual(["task migrate green-1 v2#1", "renew blue-1 epoch 3", "wait TaskRunning green"]);
  });

  it("tasks wait while only part of the colour is ready: no task on its ready node", () => {
    const c = withTasks(cluster2x2());
    const d = desired(c, { active: "green" });
    const o = world({
      "blue-1": node(d, "blue-1", { tag: "v1" }), "blue-2": node(d, "blue-2", { tag: "v1" }),
      "green-1": node(d, "green-1", { tag: "v2" }), "green-2": node(d, "green-2", { tag: "v2", web: "starting" }),
      "router-1": router(d, "router-1", { live: "blue" }), "router-2": router(d, "router-2", { live: "blue" }),
    });
    const out = lines(d, o);
    expect(out).toContain("wait TasksPending green");
    expect(out.filter((l) => l.startsWith("task "))).toEqual([]);
  });

  describe("lease renewal", () => {
    const c30 = (): Cluster => {
      const c = structuredClone(cluster1x1());
      c.spec.jobs.leaseTtlSeconds = 30;
      return c;
    };
    const steady = (c: Cluster, grant: { epoch: number; sentAtMs: number }, remainingMs = 25_000) => {
      const d = desired(c);
      return { d, o: world({ "blue-1": node(d, "blue-1", { tag: "v1", lease: { epoch: 4, remainingMs } }), "green-1": node(d, "green-1", { tag: "v2" }), "router-1": router(d, "router-1", { live: "blue" }) }, ledger({ epoch: 4, grants: { "blue-1": { ...grant, ttlMs: 30_000 } } })) };
    };

    it("is due when a third of the TTL passed since the last grant, to the millisecond", () => {
      const at = steady(c30(), { epoch: 4, sentAtMs: NOW - 10_000 });
      expect(lines(at.d, at.o)).toEqual(["renew blue-1 epoch 4"]);
      const before = steady(c30(), { epoch: 4, sentAtMs: NOW - 9_999 });
      expect(lines(before.d, before.o)).toEqual([]);
    });

    it("is due when the last grant sent was for another epoch, however recent", () => {
      const s = steady(c30(), { epoch: 3, sentAtMs: NOW - 1_000 });
      expect(lines(s.d, s.o)).toEqual(["renew blue-1 epoch 4"]);
    });
  });

  it("a holder of the ledger's epoch moves to a new epoch when an agent has seen a higher one", () => {
    const d = desired(cluster1x1());
    const o = world(
      { "blue-1": node(d, "blue-1", { tag: "v1", lease: { epoch: 3 } }), "green-1": node(d, "green-1", { tag: "v2", lease: { epoch: 5, state: "revoked", revokedThrough: 5 } }), "router-1": router(d, "router-1", { live: "blue" }) },
      ledger({ epoch: 3, grants: { "blue-1": { epoch: 3, sentAtMs: NOW - 1_000, ttlMs: 10_000 } } }),
    );
    expect(lines(d, o)).toEqual(["grant blue-1 epoch 6"]);
  });

  it("an older agent (no revokedThrough) whose lease only expired gets the colour's epoch again; its colour keeps it", () => {
    const d = desired(cluster2x2());
    const o = world({
      "blue-1": node(d, "blue-1", { tag: "v1", lease: { epoch: 7 } }), "blue-2": node(d, "blue-2", { tag: "v1", lease: { epoch: 7, state: "expired" } }),
      "green-1": node(d, "green-1", { tag: "v2" }), "green-2": node(d, "green-2", { tag: "v2" }),
      "router-1": router(d, "router-1", { live: "blue" }), "router-2": router(d, "router-2", { live: "blue" }),
    }, ledger({ epoch: 7, grants: { "blue-1": { epoch: 7, sentAtMs: NOW, ttlMs: 10_000 } } }));
    expect(lines(d, o)).toEqual(["grant blue-2 epoch 7"]);
  });

  it("a router missing from the observation: the jobs are held, and only a holder of the ledger's epoch is renewed", () => {
    const d = desired(cluster1x1());
    const o = world(
      { "blue-1": node(d, "blue-1", { tag: "v1", lease: { epoch: 3 } }), "green-1": node(d, "green-1", { tag: "v2" }) },
      ledger({ epoch: 3, grants: { "blue-1": { epoch: 3, sentAtMs: NOW - 3_400, ttlMs: 10_000 } } }),
    );
    expect(lines(d, o)).toEqual(["renew blue-1 epoch 3", "wait RouterUnreachable"]);
  });

  it("nodes missing from the observation (not observed yet) are unreachable, wherever the planner looks at them", () => {
    const d = desired(cluster2x2());
    const all = () => ({
      "blue-1": node(d, "blue-1", { tag: "v1", lease: { epoch: 3 } }), "blue-2": node(d, "blue-2", { tag: "v1", lease: { epoch: 3 } }),
      "green-1": node(d, "green-1", { tag: "v2" }), "green-2": node(d, "green-2", { tag: "v2" }),
      "router-1": router(d, "router-1", { live: "blue" }), "router-2": router(d, "router-2", { live: "blue" }),
    });
    const fresh = ledger({ epoch: 3, grants: { "blue-1": { epoch: 3, sentAtMs: NOW - 1_000, ttlMs: 10_000 }, "blue-2": { epoch: 3, sentAtMs: NOW - 1_000, ttlMs: 10_000 } } });
    // No router observed: the holders keep the jobs; a node of the other colour missing changes nothing.
    const { "router-1": _r1, "router-2": _r2, "green-1": _g1, ...noRouters } = all();
    expect(lines(d, world(noRouters, fresh))).toEqual(["wait NodeUnreachable green-1", "wait RouterUnreachable"]);
    // A node of the owner colour missing: the other holder keeps its lease.
    const { "blue-2": _b2, ...noBlue2 } = all();
    expect(lines(d, world(noBlue2, fresh))).toEqual(["wait NodeUnreachable blue-2"]);
    // A router missing while the idle colour drains before its redeploy: the other router's counts decide.
    const d3 = desired(cluster2x2(), { green: "v3" });
    const { "router-2": _r, ...oneRouter } = { ...all(), "router-1": router(d, "router-1", { live: "blue", inFlight: { green: 2 } }) };
    expect(lines(d3, world(oneRouter, fresh))).toEqual(["wait Draining green-1", "wait Draining green-2", "wait NodeUnreachable router-2"]);
  });

  it("an unreachable node of the owner colour that was granted recently does not hold up the others' lease", () => {
    const d = desired(cluster2x2());
    const o = world({
      "blue-1": node(d, "blue-1", { tag: "v1" }), "blue-2": { reachable: false, error: "connect ECONNREFUSED" },
      "green-1": node(d, "green-1", { tag: "v2" }), "green-2": node(d, "green-2", { tag: "v2" }),
      "router-1": router(d, "router-1", { live: "blue" }), "router-2": router(d, "router-2", { live: "blue" }),
    }, ledger({ epoch: 3, grants: { "blue-2": { epoch: 3, sentAtMs: NOW - 1_000, ttlMs: 10_000 } } }));
    expect(lines(d, o)).toEqual(["grant blue-1 epoch 4", "wait NodeUnreachable blue-2"]);
  });

  it("the deploy timeout counts only the deploy of the colour's current tag", () => {
    const d = desired(cluster1x1(), { green: "v3" });
    const o = world(
      { "blue-1": node(d, "blue-1", { tag: "v1" }), "green-1": node(d, "green-1", { tag: "v3", web: "starting" }), "router-1": router(d, "router-1", { live: "blue" }) },
      ledger(),
      { green: { tag: "v2", startedAtMs: NOW - 600_000 } },
    );
    expect(lines(d, o).filter((l) => l.startsWith("refuse"))).toEqual([]);
  });

  it("messages list only the nodes that have a problem, joined by \"; \"", () => {
    const d = desired(cluster2x2(), { green: "v3" });
    const o = world({
      "blue-1": node(d, "blue-1", { tag: "v1" }), "blue-2": node(d, "blue-2", { tag: "v1" }),
      "green-1": node(d, "green-1", { tag: "v3" }), "green-2": node(d, "green-2", { tag: "v3", web: "exited" }),
      "router-1": router(d, "router-1", { live: "blue" }), "router-2": router(d, "router-2", { live: "blue" }),
    }, ledger(), { green: { tag: "v3", startedAtMs: NOW - 600_000 } });
    const refusal = plan(d, freeze(o), NOW).find((a) => a.type === "refuse");
    expect(refusal?.type === "refuse" ? refusal.message : "").toBe(
      "green did not become ready with v3 within 120s: web on green-2 is exited: exited with code 1. Live traffic was not touched; deploy another tag or fix the app",
    );
    const dg = desired(cluster2x2(), { active: "green" });
    const og = world({
      "blue-1": node(dg, "blue-1", { tag: "v1" }), "blue-2": node(dg, "blue-2", { tag: "v1" }),
      "green-1": node(dg, "green-1", { tag: "v2", web: "unhealthy" }), "green-2": node(dg, "green-2", { tag: "v2", web: "starting" }),
      "router-1": router(dg, "router-1", { live: "blue" }), "router-2": router(dg, "router-2", { live: "blue" }),
    });
    const wait = plan(dg, freeze(og), NOW).find((a) => a.type === "wait" && a.reason === "WaitingForHealth");
    expect(wait?.type === "wait" ? wait.message : "").toMatch(/^traffic switches to green once it is ready: web on green-1 is unhealthy[^;]*; web on green-2 is starting/);
  });

  it("the jobs of an owner whose tasks have not succeeded wait, and the wait says why", () => {
    const c = withTasks(cluster1x1());
    const d = desired(c, { owner: "green" });
    const o = world({ "blue-1": node(d, "blue-1", { tag: "v1" }), "green-1": node(d, "green-1", { tag: "v2" }), "router-1": router(d, "router-1", { live: "blue" }) });
    const wait = plan(d, freeze(o), NOW).find((a) => a.type === "wait" && a.reason === "TasksPending" && a.message.includes("jobs"));
    expect(wait?.type === "wait" ? wait.message : "").toBe("green's jobs start once its tasks succeeded");
  });

  it("both colours past their deploy timeout: a refusal for each", () => {
    const d = desired(cluster1x1(), { blue: "v5", green: "v3" });
    const old = desired(cluster1x1());
    const o = world(
      { "blue-1": node(old, "blue-1", { tag: "v5", web: "unhealthy" }), "green-1": node(old, "green-1", { tag: "v3", web: "unhealthy" }), "router-1": router(old, "router-1", { live: "blue" }) },
      ledger(),
      { blue: { tag: "v5", startedAtMs: NOW - 600_000 }, green: { tag: "v3", startedAtMs: NOW - 600_000 } },
    );
    expect(lines(d, o).filter((l) => l.startsWith("refuse"))).toEqual(["refuse DeployFailed blue", "refuse DeployFailed green"]);
  });

  it("DeployFailed names the problem of every node of the colour that has one", () => {
    const d = desired(cluster2x2(), { green: "v3" });
    const o = world({
      "blue-1": node(d, "blue-1", { tag: "v1" }), "blue-2": node(d, "blue-2", { tag: "v1" }),
      "green-1": node(d, "green-1", { tag: "v3", web: "unhealthy" }), "green-2": node(d, "green-2", { tag: "v3", web: "exited" }),
      "router-1": router(d, "router-1", { live: "blue" }), "router-2": router(d, "router-2", { live: "blue" }),
    }, ledger(), { green: { tag: "v3", startedAtMs: NOW - 600_000 } });
    const refusal = plan(d, freeze(o), NOW).find((a) => a.type === "refuse");
    expect(refusal?.type === "refuse" ? refusal.message : "").toBe(
      "green did not become ready with v3 within 120s: web on green-1 is unhealthy: GET /healthz answered 500; web on green-2 is exited: exited with code 1. Live traffic was not touched; deploy another tag or fix the app",
    );
  });
});
