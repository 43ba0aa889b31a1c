import { describe, expect, it } from "vitest";
import { detectDrift } from "../../reconciler/loop/drift.js";
import { plan } from "../../reconciler/loop/plan.js";
import { NOW, cluster1x1, cluster2x2, desired, down, ledger, node, router, world } from "../support/world.js";
import type { Observed } from "../../specs/observed.js";
import type { Desired } from "../../reconciler/loop/desired.js";
import { CRASH_LOOP_SETTLE_MS } from "../../specs/defaults.js";

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

  it("a job that died under the held lease is JobDown while it is down and while it keeps dying", () => {
    const withWorker = (state: "running" | "exited", count: number) => {
      const n = node(d, "blue-1", { tag: "v1", lease: { epoch: 3 }, worker: state });
      if (!n.reachable) throw new Error("the builder made an unreachable node");
      n.status.services.worker!.restarts = { count, lastExit: "exited (137)", lastExitAt: "2026-01-01T00:00:00Z", nextRestartAt: state === "running" ? null : "2026-01-01T00:00:01Z" };
      return world({ ...steady(), "blue-1": n }, ledger({ epoch: 3 }));
    };
    expect(names(d, withWorker("exited", 1))).toEqual(["JobDown critical: job worker on blue-1 (blue) is down: it stopped with exited (137); the agent starts it again at 2026-01-01T00:00:01Z"]);
    expect(names(d, withWorker("running", 1))).toEqual([]); // died once, running again
    const since = Date.parse("2026-01-01T00:00:00Z"); // the builder's `since` of a running worker
    const at = (o: Observed, now: number) => detectDrift({ desired: d, observed: o, actions: plan(d, o, NOW), routerLive: "blue", now }).map((a) => `${a.name} ${a.severity}: ${a.summary}`);
    expect(at(withWorker("running", 3), since + 1_000)).toEqual(["JobDown critical: job worker on blue-1 (blue) keeps stopping: 3 times, last with exited (137)"]);
    // Up again for as long as a web service must stay up to end its CrashLooping: the cause is gone, so is the alert
    // (the agent's count itself starts over only after RESTART_BACKOFF_RESET_MS; a 3-minute soak saw JobDown stay).
    expect(at(withWorker("running", 3), since + CRASH_LOOP_SETTLE_MS - 1)).toHaveLength(1);
    expect(at(withWorker("running", 3), since + CRASH_LOOP_SETTLE_MS)).toEqual([]);
  });

  it("an agent that says crashLooping without its restarts record: the alert without a count, no throw", () => {
    const n = node(d, "green-1", { tag: "v2" });
    if (!n.reachable) throw new Error("the builder made an unreachable node");
    Object.assign(n.status.services.web!, { state: "crashLooping", health: "unknown" });
    delete n.status.services.web!.restarts;
    expect(names(d, world({ ...steady(), "green-1": n }, ledger({ epoch: 3 })))).toEqual([
      "CrashLooping warning: web on green-1 (green) keeps stopping; the agent is starting it again. Fix the cause (its last log lines are in status) or deploy another tag",
    ]);
  });

  it("a crash-looping web service: one CrashLooping alert, no heal (the agent restarts it on its backoff), until it stayed up long enough", () => {
    const T = Date.parse("2026-01-01T00:10:00Z");
    const crash = (state: "crashLooping" | "running" | "starting", since: number, converging = false) => {
      const n = node(d, "green-1", { tag: "v2" });
      if (!n.reachable) throw new Error("the builder made an unreachable node");
      n.status.converging = converging;
      Object.assign(n.status.services.web!, { state, since: new Date(since).toISOString(), health: state === "running" ? "healthy" : "unknown" });
      n.status.services.web!.restarts = { count: 4, lastExit: "exited (3)", exitCode: 3, lastExitAt: "2026-01-01T00:09:00Z", nextRestartAt: state === "crashLooping" ? "2026-01-01T00:10:08Z" : null, logTail: ["fatal"] };
      return world({ ...steady(), "green-1": n }, ledger({ epoch: 3 }));
    };
    const alerts = (o: Observed) => detectDrift({ desired: d, observed: o, actions: plan(d, o, T), routerLive: "blue", now: T }).map((a) => `${a.name} ${a.severity}: ${a.summary}`);
    const waiting = crash("crashLooping", T - 1000);
    expect(alerts(waiting)).toEqual([
      "CrashLooping warning: web on green-1 (green) keeps stopping: 4 times, last exited (3); the agent starts it again at 2026-01-01T00:10:08Z. Fix the cause (its last log lines are in status) or deploy another tag",
    ]);
    expect(plan(d, waiting, T).filter((a) => a.type === "applyNodeSpec")).toEqual([]);
    // The agent's own restart attempt (converging, starting) keeps the one alert; so does a run shorter than the settle time.
    expect(alerts(crash("starting", T - 100, true)).map((x) => x.split(":")[0])).toEqual(["CrashLooping warning"]);
    expect(alerts(crash("running", T - CRASH_LOOP_SETTLE_MS + 1000)).map((x) => x.split(":")[0])).toEqual(["CrashLooping warning"]);
    expect(alerts(crash("running", T - CRASH_LOOP_SETTLE_MS))).toEqual([]);
  });

  it("a container that is not what the spec asks for (judged by the agent, not by its labels) is drift, and healed", () => {
    const drifted = node(d, "green-1", { tag: "v2" });
    drifted.reachable && Object.assign(drifted.status.services.web!, { tag: null, drift: ["runs image e95f85cbdade, not app:v2 (8610affbf70b)", "mounts /etc:/host-etc"] });
    const o = world({ ...steady(), "green-1": drifted }, ledger({ epoch: 3 }));
    expect(names(d, o)).toEqual(["ContainerDrifted warning: web on green-1 (green) is not what the spec asks for: it runs image e95f85cbdade, not app:v2 (8610affbf70b); mounts /etc:/host-etc"]);
    expect(plan(d, o, NOW)).toContainEqual(expect.objectContaining({ type: "applyNodeSpec", node: "green-1", reason: "heal" }));
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

  it("a container of a service the cluster does not have (README: ExtraContainer)", () => {
    const g = node(d, "green-1", { tag: "v2" });
    if (g.reachable) g.status.services.cron = { tag: "v2", containerId: "c0ffee", state: "running", health: "unknown", since: "2026-01-01T00:00:00Z", error: null };
    expect(names(d, world({ ...steady(), "green-1": g }, ledger({ epoch: 3 })))).toEqual(["ExtraContainer warning: green-1 runs cron, which is not a service of this cluster"]);
    if (g.reachable) g.status.services.cron!.state = "missing";
    expect(names(d, world({ ...steady(), "green-1": g }, ledger({ epoch: 3 })))).toEqual([]);
  });

  it("containers of a stopped colour still running (README: ContainerRunning)", () => {
    const dd = desired(c1, { active: "green", blue: null, owner: "green" });
    const base = { "green-1": node(dd, "green-1", { tag: "v2", lease: { epoch: 4 } }), "router-1": router(dd, "router-1", { live: "green" }) };
    const alerts = detectDrift({ desired: dd, observed: world({ ...base, "blue-1": node(dd, "blue-1", { tag: null, web: { tag: "v1" } }) }, ledger({ epoch: 4 })), actions: [], routerLive: "green" });
    expect(alerts).toEqual([{ fingerprint: "ContainerRunning/blue-1/web", name: "ContainerRunning", severity: "warning", summary: "web on blue-1 runs although blue is stopped", labels: { node: "blue-1", color: "blue", service: "web" } }]);
    for (const web of ["exited", "missing"] as const) {
      expect(detectDrift({ desired: dd, observed: world({ ...base, "blue-1": node(dd, "blue-1", { tag: null, web }) }, ledger({ epoch: 4 })), actions: [], routerLive: "green" })).toEqual([]);
    }
  });

  it("routers that disagree, and a router whose stored table is corrupt (README: RoutersDisagree, RouterTableCorrupt)", () => {
    const c2 = cluster2x2();
    const d2 = desired(c2);
    const nodes = {
      "blue-1": node(d2, "blue-1", { tag: "v1", lease: { epoch: 3 } }), "blue-2": node(d2, "blue-2", { tag: "v1", lease: { epoch: 3 } }),
      "green-1": node(d2, "green-1", { tag: "v2" }), "green-2": node(d2, "green-2", { tag: "v2" }),
      "router-1": router(d2, "router-1", { live: "blue" }), "router-2": router(d2, "router-2", { live: "green" }),
    };
    const r2 = nodes["router-2"];
    if (r2.reachable && r2.status.router) r2.status.router.tableError = "table.json: unexpected end of JSON input";
    const alerts = detectDrift({ desired: d2, observed: world(nodes, ledger({ epoch: 3 })), actions: [], routerLive: null });
    expect(alerts).toEqual([
      { fingerprint: "RouterTableCorrupt/router-2", name: "RouterTableCorrupt", severity: "warning", summary: "router router-2: table.json: unexpected end of JSON input", labels: { node: "router-2" } },
      { fingerprint: "RoutersDisagree/all", name: "RoutersDisagree", severity: "critical", summary: "routers disagree about the live colour", labels: {} },
    ]);
  });

  it("an unreachable router; a router without a table is not elsewhere", () => {
    expect(names(d, world({ ...steady(), "router-1": down("timeout") }, ledger({ epoch: 3 })))).toEqual(["NodeUnreachable critical: router router-1 is unreachable: timeout"]);
    expect(names(d, world({ ...steady(), "router-1": down("not observed yet") }, ledger({ epoch: 3 })))).toEqual([]);
    expect(names(d, world({ ...steady(), "router-1": router(d, "router-1", { fresh: true }) }, ledger({ epoch: 3 })), "blue")).toEqual([]);
    expect(names(d, world({ ...steady(), "router-1": router(d, "router-1", { live: "green" }) }, ledger({ epoch: 3 })), null)).not.toContain(expect.stringMatching(/^RouterElsewhere/));
  });

  it("alerts carry fingerprints, severities and labels operators can route on", () => {
    const dd = desired(c1, { green: "v3" });
    const o = world({ ...steady(), "green-1": node(d, "green-1", { tag: "v3", web: "unhealthy" }) }, ledger({ epoch: 3 }), { green: { tag: "v3", startedAtMs: NOW - 121_000 } });
    const alerts = detectDrift({ desired: dd, observed: o, actions: plan(dd, o, NOW), routerLive: "blue" });
    expect(alerts.map((a) => [a.fingerprint, a.severity, a.labels])).toEqual([["DeployFailed/green", "critical", { color: "green" }]]);
    const down1 = detectDrift({ desired: d, observed: world({ ...steady(), "green-1": down("x") }, ledger({ epoch: 3 })), actions: [], routerLive: "blue" });
    expect(down1).toEqual([{ fingerprint: "NodeUnreachable/green-1", name: "NodeUnreachable", severity: "critical", summary: "node green-1 (green) is unreachable: x", labels: { node: "green-1", color: "green" } }]);
  });

  it("a healing container that runs again (or starts) closes its alert; jobs are never container-down", () => {
    const fp = new Set(["ContainerDown/blue-1/web", "ContainerDown/blue-1/worker"]);
    for (const web of ["starting", "unhealthy", "healthy"] as const) {
      const healing = { ...steady(), "blue-1": node(d, "blue-1", { tag: "v1", web, converging: true, lease: { epoch: 3 } }) };
      expect(names(d, world(healing, ledger({ epoch: 3 })), "blue", fp), web).toEqual([]);
    }
    const idle = { ...steady(), "green-1": node(d, "green-1", { tag: "v2", web: "exited", converging: true }) };
    expect(names(d, world(idle, ledger({ epoch: 3 })), "blue", new Set(["ContainerDown/green-1/web"]))).toEqual(["ContainerDown warning: web on green-1 (green) is exited; healing"]);
  });
});
