/**
 * The soak's invariant checker on hand-made histories: a clean one passes, and each invariant fails on a
 * history that breaks it (so the soak can fail), with the window and the seed in the printed line.
 */
import { describe, expect, it } from "vitest";
import { checkHistory, formatViolations, type Invariant } from "../../bench/lib/soak/checker.js";
import type { History, NodeProbe, RequestRecord, StatusSample } from "../../bench/lib/soak/history.js";
import type { DesiredModel } from "../../bench/lib/soak/model.js";
import { Prng } from "../../bench/lib/soak/prng.js";
import { drawChange, drawFault } from "../../bench/lib/soak/schedule.js";

const T = 1_700_000_000_000;
const OPTS = { badTags: ["v3", "crash"], readyLookbackMs: 30_000, probeSlackMs: 1000 };
const M: DesiredModel = { active: "blue", tags: { blue: "v1", green: "v2" }, stopped: { blue: false, green: false }, owner: "active" };

const req = (at: number, o: Partial<RequestRecord> = {}): RequestRecord => ({ at, end: at + 5, router: "r1", status: 200, color: "blue", tag: "v1", ...o });
const sample = (at: number, o: Partial<StatusSample> = {}): StatusSample => ({
  at, active: "blue", ready: true, phases: { blue: "Ready", green: "Ready" }, tags: { blue: "v1", green: "v2" }, routersLive: ["blue", "blue"], holders: ["blue"], ...o,
});

const probe = (at: number, node: string, tag: string | null, healthy = true): NodeProbe => ({ at, node, color: node.startsWith("b") ? "blue" : "green", healthy, tag });

/** A clean history: blue serves, green becomes Ready, the routers switch to it; one fault with its alert, both over. */
function clean(): History {
  return {
    seed: 99, start: T, end: T + 100_000,
    requests: [req(T + 1000), req(T + 2000), req(T + 3000, { color: "green", tag: "v2" }), req(T + 4000, { color: "green", tag: "v2" })],
    faults: [{ kind: "kill-router", target: "r2", detail: "down 2000 ms", start: T + 10_000, end: T + 12_000, recoveryMs: 800 }],
    changes: [{ kind: "promote", at: T + 2500, detail: "live → green", desired: { ...M, active: "green" }, reachedMs: 400 }],
    samples: [sample(T + 500), sample(T + 2600)],
    probes: [probe(T + 500, "b1", "v1"), probe(T + 500, "b2", "v1"), probe(T + 500, "g1", "v2"), probe(T + 500, "g2", "v2")],
    alerts: [
      { at: T + 11_000, name: "NodeUnreachable", fingerprint: "f1", state: "firing", labels: { node: "r2" }, summary: "" },
      { at: T + 13_000, name: "NodeUnreachable", fingerprint: "f1", state: "resolved", labels: { node: "r2" }, summary: "" },
    ],
    deliveries: [{ id: 1, epoch: 1, color: "blue", node: "b1", at: T + 100 }, { id: 2, epoch: 1, color: "blue", node: "b2", at: T + 200 }, { id: 3, epoch: 2, color: "green", node: "g1", at: T + 3000 }],
    duplicates: 0,
    final: { from: T + 90_000, reachedAt: T + 91_000, boundMs: 120_000, desired: M },
    leftovers: [],
    causeSlackMs: 30_000,
    quietFrom: T + 95_000,
  };
}

const broken = (h: History): Invariant[] => checkHistory(h, OPTS).map((v) => v.invariant);

describe("the soak's invariant checker", () => {
  it("passes a clean history", () => {
    expect(checkHistory(clean(), OPTS)).toEqual([]);
  });

  it("requests: a failure through a router that was up fails; one while that router was killed does not", () => {
    const h = clean();
    h.requests.push(req(T + 11_000, { router: "r2", status: 0, color: null, tag: null, error: "ECONNREFUSED" }));
    expect(broken(h)).toEqual([]);
    h.requests.push(req(T + 11_000, { router: "r1", status: 502, color: null, tag: null }), req(T + 11_500, { router: "r1", status: 502, color: null, tag: null }));
    const vs = checkHistory(h, OPTS);
    expect(vs.map((v) => v.invariant)).toEqual(["requests"]);
    expect([vs[0]!.from, vs[0]!.to]).toEqual([T + 11_000, T + 11_505]); // the two merge into one window
    // An app's own 5xx (it carries the colour) is the app's.
    const app = clean();
    app.requests.push(req(T + 5000, { status: 500 }));
    expect(broken(app)).toEqual([]);
  });

  it("liveReady: live traffic to a bad tag, or a switch before every node of the colour answered healthy with that tag, fails", () => {
    const bad = clean();
    bad.requests.push(req(T + 5000, { color: "green", tag: "v3" }));
    expect(broken(bad)).toContain("liveReady");
    const unhealthy = clean();
    unhealthy.probes[3] = probe(T + 500, "g2", null, false);
    expect(broken(unhealthy)).toEqual(["liveReady"]);
    const otherTag = clean();
    otherTag.probes[2] = probe(T + 500, "g1", "v1");
    expect(broken(otherTag)).toEqual(["liveReady"]);
    const tooLate = clean();
    tooLate.probes[3] = probe(T + 3000 + 1500, "g2", "v2");
    expect(broken(tooLate)).toEqual(["liveReady"]);
  });

  it("jobs: an old epoch after a newer one, a notification twice, or counted duplicates fail", () => {
    const old = clean();
    old.deliveries.push({ id: 4, epoch: 1, color: "blue", node: "b1", at: T + 3100 });
    expect(broken(old)).toEqual(["jobs"]);
    const twice = clean();
    twice.deliveries.push({ id: 3, epoch: 2, color: "green", node: "g2", at: T + 3100 });
    expect(broken(twice)).toEqual(["jobs"]);
    const counted = clean();
    counted.duplicates = 1;
    expect(broken(counted)).toEqual(["jobs"]);
  });

  it("refusals: an invalid edit that took effect fails; one not checked (reconciler down) does not", () => {
    const h = clean();
    h.changes.push({ kind: "invalid", at: T + 20_000, detail: "yaml", desired: M, note: "reconciler down: not checked" });
    expect(broken(h)).toEqual([]);
    h.changes.push({ kind: "invalid", at: T + 30_000, detail: "live-tag", desired: M, refusedWithoutEffect: false, note: "live nodes v2/v2" });
    expect(broken(h)).toEqual(["refusals"]);
  });

  it("convergence: a fault not recovered from, a change not reached, or no final convergence fails", () => {
    const f = clean();
    f.faults[0]!.recoveryMs = null;
    expect(broken(f)).toEqual(["convergence"]);
    const c = clean();
    c.changes[0]!.reachedMs = null;
    expect(broken(c)).toEqual(["convergence"]);
    const fin = clean();
    fin.final = { ...fin.final!, reachedAt: null };
    expect(broken(fin)).toEqual(["convergence"]);
    const none = clean();
    none.final = null;
    expect(broken(none)).toEqual(["convergence"]);
  });

  it("crashLoop: more than a handful of specs a minute to a crash-looping node fails; a handful does not", () => {
    const few = clean();
    few.faults.push({ kind: "crash-loop", target: "green", detail: "crash to green", start: T + 20_000, end: T + 40_000, recoveryMs: 900, specsPerMinute: 3 });
    expect(broken(few)).toEqual([]);
    const many = clean();
    many.faults.push({ kind: "crash-loop", target: "green", detail: "crash to green", start: T + 20_000, end: T + 40_000, recoveryMs: 900, specsPerMinute: 180 });
    expect(broken(many)).toEqual(["crashLoop"]);
  });

  it("alerts: one that never resolves, one with no cause, or one in the quiet stretch fails", () => {
    const open = clean();
    open.alerts.pop();
    expect(broken(open)).toEqual(["alerts"]);
    const causeless = clean();
    causeless.alerts.push({ at: T + 60_000, name: "ContainerDown", fingerprint: "f2", state: "firing", labels: {}, summary: "" }, { at: T + 61_000, name: "ContainerDown", fingerprint: "f2", state: "resolved", labels: {}, summary: "" });
    expect(broken(causeless)).toEqual(["alerts"]);
    const elsewhere = clean();
    elsewhere.alerts.push({ at: T + 11_500, name: "NodeUnreachable", fingerprint: "f4", state: "firing", labels: { node: "b1" }, summary: "" }, { at: T + 12_500, name: "NodeUnreachable", fingerprint: "f4", state: "resolved", labels: { node: "b1" }, summary: "" });
    expect(broken(elsewhere)).toEqual(["alerts"]); // a fault of r2 explains r2 unreachable, not b1
    const quiet = clean();
    quiet.changes.push({ kind: "jobs", at: T + 94_000, detail: "jobs → none", desired: M, reachedMs: 100 });
    quiet.alerts.push({ at: T + 96_000, name: "JobDown", fingerprint: "f3", state: "firing", labels: {}, summary: "" }, { at: T + 97_000, name: "JobDown", fingerprint: "f3", state: "resolved", labels: {}, summary: "" });
    expect(broken(quiet)).toEqual(["alerts"]);
  });

  it("leftovers: anything left on the machine fails, and the printed line carries the seed and the window", () => {
    const h = clean();
    h.leftovers.push("process 123 (b1 web)");
    const vs = checkHistory(h, OPTS);
    expect(vs.map((v) => v.invariant)).toEqual(["leftovers"]);
    expect(formatViolations(h.seed, vs)).toBe(`seed 99 [${new Date(T + 100_000).toISOString()} .. ${new Date(T + 100_000).toISOString()}] leftovers: left behind: process 123 (b1 web)`);
  });
});

describe("the soak's schedule", () => {
  const draw = (seed: number) => {
    const p = new Prng(seed);
    let m = M;
    const out: string[] = [];
    for (let i = 0; i < 200; i++) {
      if (p.next() < 0.5) {
        const f = drawFault(p, { appNodes: ["b1", "b2", "g1", "g2"], routers: ["r1", "r2"], disks: ["reconciler", "g2"], crashLoop: true });
        out.push(`${f.kind} ${f.target} ${f.detail} ${f.durationMs}`);
      } else {
        const c = drawChange(p, m);
        if (c.kind !== "invalid" && c.kind !== "bad-promote") m = c.next;
        out.push(`${c.kind} ${c.detail}`);
      }
    }
    return out;
  };

  it("is the same for the same seed and differs for another; every change keeps the model valid", () => {
    expect(draw(5)).toEqual(draw(5));
    expect(draw(6)).not.toEqual(draw(5));
    const p = new Prng(11);
    let m = M;
    for (let i = 0; i < 2000; i++) {
      const c = drawChange(p, m);
      if (c.kind === "invalid" || c.kind === "bad-promote") continue;
      m = c.next;
      expect(m.stopped[m.active]).toBe(false);
      if (m.owner === "blue" || m.owner === "green") expect(m.stopped[m.owner]).toBe(false);
    }
  });

  it("draws the registry outage and the engine restart only when Docker nodes run, and then both", () => {
    const kinds = (docker: boolean) => {
      const p = new Prng(3);
      const seen = new Set<string>();
      for (let i = 0; i < 500; i++) seen.add(drawFault(p, { appNodes: ["b1", "g1"], routers: ["r1"], disks: [], crashLoop: false, docker }).kind);
      return seen;
    };
    expect([...kinds(false)].filter((k) => k === "registry-down" || k === "engine-restart")).toEqual([]);
    expect(kinds(true)).toContain("registry-down");
    expect(kinds(true)).toContain("engine-restart");
  });
});
