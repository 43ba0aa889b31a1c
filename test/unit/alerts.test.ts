import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { AlertManager, alertFingerprint, type Alert, type AlertCandidate, type AlertSink } from "../../reconciler/notify/alerts.js";
import { EventLog } from "../../reconciler/notify/events.js";
import { makeLogger } from "../../common/log.js";
import { detectDrift } from "../../reconciler/loop/drift.js";
import { plan } from "../../reconciler/loop/plan.js";
import { NOW, cluster1x1, desired, ledger, node, router, world } from "../support/world.js";

class RecordingSink implements AlertSink {
  sent: Alert[] = [];
  closed = false;
  send(a: Alert): void {
    this.sent.push(a);
  }
  async close(): Promise<void> {
    this.closed = true;
  }
}

function setup(o: { resolvedKept?: number; events?: EventLog; sinks?: AlertSink[]; graceMs?: number } = {}) {
  let t = Date.parse("2026-01-01T00:00:00Z");
  const clock = { tick: (ms = 1000) => (t += ms) };
  const lines: Record<string, unknown>[] = [];
  const logger = makeLogger("test", { level: "debug" }, { write: (l: string) => void lines.push(JSON.parse(l)) });
  const sink = new RecordingSink();
  const am = new AlertManager({ sinks: o.sinks ?? [sink], logger, now: () => t, ...o });
  const messages = () => lines.map((l) => `${String(l.msg)} ${String(l.fingerprint ?? "")}`.trim());
  return { am, sink, lines, messages, clock };
}

const cand = (fp: string, summary = `problem ${fp}`, labels: Record<string, string> = { node: "blue-1" }): AlertCandidate =>
  ({ fingerprint: fp, name: "ContainerStopped", severity: "critical", summary, labels });

const fps = (as: Alert[]) => as.map((a) => `${a.fingerprint}:${a.state}`);

describe("AlertManager.sync", () => {
  it("fires new fingerprints once, keeps unchanged ones quiet, resolves missing ones once", () => {
    const { am, sink, messages, clock } = setup();
    expect(fps(am.sync([cand("a"), cand("b")]).fired)).toEqual(["a:firing", "b:firing"]);
    for (let i = 0; i < 50; i++) {
      clock.tick();
      expect(am.sync([cand("a"), cand("b")])).toEqual({ fired: [], resolved: [] });
    }
    clock.tick();
    const r = am.sync([cand("a")]);
    expect(r.fired).toEqual([]);
    expect(fps(r.resolved)).toEqual(["b:resolved"]);
    for (let i = 0; i < 5; i++) expect(am.sync([cand("a")])).toEqual({ fired: [], resolved: [] });
    expect(fps(am.sync([]).resolved)).toEqual(["a:resolved"]);
    expect(am.sync([])).toEqual({ fired: [], resolved: [] });
    expect(fps(sink.sent)).toEqual(["a:firing", "b:firing", "b:resolved", "a:resolved"]);
    expect(messages()).toEqual(["alert firing a", "alert firing b", "alert resolved b", "alert resolved a"]);
  });

  it("stamps startsAt on fire and endsAt on resolve", () => {
    const { am, clock } = setup();
    const [fired] = am.sync([cand("a")]).fired;
    expect(fired).toMatchObject({ state: "firing", startsAt: "2026-01-01T00:00:00.000Z", endsAt: null });
    clock.tick(5_000);
    const [resolved] = am.sync([]).resolved;
    expect(resolved).toMatchObject({ state: "resolved", startsAt: "2026-01-01T00:00:00.000Z", endsAt: "2026-01-01T00:00:05.000Z" });
  });

  it("a changed summary for a firing fingerprint updates the stored alert without re-firing", () => {
    const { am, sink } = setup();
    am.sync([cand("a", "exited with code 1")]);
    expect(am.sync([cand("a", "exited with code 137")])).toEqual({ fired: [], resolved: [] });
    expect(sink.sent).toHaveLength(1);
    expect(am.firing()[0]!.summary).toBe("exited with code 137");
    const [resolved] = am.sync([]).resolved;
    expect(resolved!.summary).toBe("exited with code 137");
  });

  it("fires again as a new alert when a resolved problem comes back", () => {
    const { am, sink, clock } = setup();
    am.sync([cand("a")]);
    clock.tick();
    am.sync([]);
    clock.tick();
    const [again] = am.sync([cand("a")]).fired;
    expect(again!.startsAt).toBe("2026-01-01T00:00:02.000Z");
    expect(fps(sink.sent)).toEqual(["a:firing", "a:resolved", "a:firing"]);
  });

  it("treats a fingerprint listed twice in one sync as one problem", () => {
    const { am, sink } = setup();
    am.sync([cand("a", "first"), cand("a", "second")]);
    expect(sink.sent).toHaveLength(1);
    expect(am.firing().map((a) => a.summary)).toEqual(["second"]);
  });

  it("hands out frozen alerts that callers cannot change", () => {
    const { am } = setup();
    const [a] = am.sync([cand("a")]).fired;
    expect(Object.isFrozen(a)).toBe(true);
    expect(Object.isFrozen(a!.labels)).toBe(true);
  });
});

describe("AlertManager.raise / clear", () => {
  const specInvalid: AlertCandidate = {
    fingerprint: "spec-invalid:state.yaml", name: "SpecInvalid", severity: "critical",
    summary: "state.yaml:3:9: must be blue or green", labels: { file: "state.yaml" },
  };

  it("a sync never resolves an alert raised with raise()", () => {
    const { am, sink } = setup();
    am.raise(specInvalid);
    am.sync([cand("a")]);
    expect(fps(am.sync([]).resolved)).toEqual(["a:resolved"]);
    expect(am.firing().map((a) => a.fingerprint)).toEqual(["spec-invalid:state.yaml"]);
    am.sync([]);
    expect(am.firing().map((a) => a.fingerprint)).toEqual(["spec-invalid:state.yaml"]);
    am.clear(specInvalid.fingerprint);
    expect(am.firing()).toEqual([]);
    expect(fps(sink.sent)).toEqual(["spec-invalid:state.yaml:firing", "a:firing", "a:resolved", "spec-invalid:state.yaml:resolved"]);
  });

  it("raise twice fires once, clear twice resolves once, clearing an unknown fingerprint is a no-op", () => {
    const { am, sink, messages } = setup();
    am.raise(specInvalid);
    am.raise({ ...specInvalid, summary: "state.yaml:4:1: unexpected key" });
    expect(am.firing()[0]!.summary).toBe("state.yaml:4:1: unexpected key");
    am.clear(specInvalid.fingerprint);
    am.clear(specInvalid.fingerprint);
    am.clear("never-raised");
    expect(fps(sink.sent)).toEqual(["spec-invalid:state.yaml:firing", "spec-invalid:state.yaml:resolved"]);
    expect(messages()).toEqual(["alert firing spec-invalid:state.yaml", "alert resolved spec-invalid:state.yaml"]);
  });

  it("a fingerprint claimed by both sources resolves only when both let go", () => {
    const { am, sink } = setup();
    am.raise(cand("x"));
    am.sync([cand("x")]);
    expect(sink.sent).toHaveLength(1);
    am.sync([]);
    expect(am.firing()).toHaveLength(1);
    am.sync([cand("x")]);
    am.clear("x");
    expect(am.firing()).toHaveLength(1);
    expect(fps(am.sync([]).resolved)).toEqual(["x:resolved"]);
    expect(fps(sink.sent)).toEqual(["x:firing", "x:resolved"]);
  });
});

describe("AlertManager.recent", () => {
  it("lists firing alerts first, then resolved ones, each newest first, keeping resolvedKept", () => {
    const { am, clock } = setup({ resolvedKept: 2 });
    for (const fp of ["a", "b", "c", "d", "e"]) {
      clock.tick();
      am.raise(cand(fp));
    }
    for (const fp of ["a", "c", "d"]) {
      clock.tick();
      am.clear(fp);
    }
    expect(fps(am.recent())).toEqual(["e:firing", "b:firing", "d:resolved", "c:resolved"]);
  });

  it("orders alerts that fired in the same millisecond by fire order", () => {
    const { am } = setup();
    am.sync([cand("a"), cand("b"), cand("c")]);
    expect(am.firing().map((a) => a.fingerprint)).toEqual(["c", "b", "a"]);
  });
});

describe("AlertManager outputs", () => {
  it("logs each transition once with a fixed message, labels cannot overwrite the alert's own keys", () => {
    const { am, lines } = setup();
    am.sync([cand("a", "stopped by hand", { node: "blue-1", service: "web", alert: "spoof" })]);
    am.sync([]);
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatchObject({ level: 40, msg: "alert firing", alert: "ContainerStopped", fingerprint: "a", node: "blue-1", service: "web", severity: "critical" });
    expect(lines[1]).toMatchObject({ level: 30, msg: "alert resolved", alert: "ContainerStopped", fingerprint: "a" });
  });

  it("a throwing sink or subscriber neither stops other sinks nor reaches the caller", () => {
    const good = new RecordingSink();
    const bad: AlertSink = { send: () => { throw new Error("boom"); }, close: async () => undefined };
    const { am, lines } = setup({ sinks: [bad, good] });
    const seen: string[] = [];
    am.subscribe(() => { throw new Error("bad subscriber"); });
    const off = am.subscribe((a) => seen.push(`${a.fingerprint}:${a.state}`));
    expect(() => am.sync([cand("a")])).not.toThrow();
    off();
    am.sync([]);
    expect(fps(good.sent)).toEqual(["a:firing", "a:resolved"]);
    expect(seen).toEqual(["a:firing"]);
    expect(lines.filter((l) => l.msg === "alert sink failed")).toHaveLength(2);
  });

  it("appends every transition to the event log and closes its sinks", async () => {
    const dir = await mkdtemp(join(tmpdir(), "sy-alerts-"));
    try {
      const events = new EventLog({ dir });
      await events.open();
      const sink = new RecordingSink();
      const { am } = setup({ events, sinks: [sink] });
      am.sync([cand("a")]);
      am.sync([cand("a")]);
      am.sync([]);
      const recs = events.recent({ type: "alert" });
      expect(recs.map((r) => [r.message, r.fingerprint, r.state])).toEqual([["alert firing", "a", "firing"], ["alert resolved", "a", "resolved"]]);
      expect(recs[0]).toMatchObject({ alert: "ContainerStopped", severity: "critical", labels: { node: "blue-1" } });
      await am.close();
      expect(sink.closed).toBe(true);
      expect(am.sync([cand("b")])).toEqual({ fired: [], resolved: [] });
      await events.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe("alertFingerprint", () => {
  it("is stable whatever the label order, and differs by name and labels", () => {
    const a = alertFingerprint("ContainerStopped", { node: "blue-1", service: "web" });
    expect(alertFingerprint("ContainerStopped", { service: "web", node: "blue-1" })).toBe(a);
    expect(alertFingerprint("ContainerStopped", { node: "blue-2", service: "web" })).not.toBe(a);
    expect(alertFingerprint("WrongTag", { node: "blue-1", service: "web" })).not.toBe(a);
    expect(a).toMatch(/^[0-9a-f]{16}$/);
  });
});

describe("AlertManager grace period", () => {
  it("a problem fires only once it has been seen for the grace period, starting when first seen; a blip fires nothing", () => {
    const { am, sink, clock } = setup({ graceMs: 10_000 });
    const first = Date.parse("2026-01-01T00:00:00Z");
    expect(am.sync([cand("blip"), cand("real")]).fired).toEqual([]);
    expect(am.nextDueAt()).toBe(first + 10_000);
    clock.tick(3_000);
    expect(am.sync([cand("real")]).fired).toEqual([]); // the blip is gone: nothing was ever sent for it
    expect(am.firing()).toEqual([]);
    clock.tick(6_999);
    expect(am.sync([cand("real")]).fired).toEqual([]);
    clock.tick(1);
    const fired = am.sync([cand("real")]).fired;
    expect(fps(fired)).toEqual(["real:firing"]);
    expect(fired[0]!.startsAt).toBe(new Date(first).toISOString());
    expect(am.nextDueAt()).toBeUndefined();
    clock.tick(1_000);
    expect(am.sync([cand("blip")]).fired).toEqual([]); // seen again: a new wait, from now
    expect(fps(sink.sent)).toEqual(["real:firing", "real:resolved"]);
  });

  it("a candidate's own forMs overrides the grace period; raise fires at once", () => {
    const { am, clock } = setup({ graceMs: 10_000 });
    expect(am.sync([{ ...cand("slow"), forMs: 20_000 }, { ...cand("now"), forMs: 0 }]).fired.map((a) => a.fingerprint)).toEqual(["now"]);
    clock.tick(10_000);
    expect(am.sync([{ ...cand("slow"), forMs: 20_000 }, { ...cand("now"), forMs: 0 }]).fired).toEqual([]);
    clock.tick(10_000);
    expect(am.sync([{ ...cand("slow"), forMs: 20_000 }, { ...cand("now"), forMs: 0 }]).fired.map((a) => a.fingerprint)).toEqual(["slow"]);
    am.raise(cand("spec"));
    expect(am.firing().map((a) => a.fingerprint)).toContain("spec");
    expect(Object.keys(am.firing().find((a) => a.fingerprint === "slow")!)).not.toContain("forMs");
  });
});

describe("the grace period across heals", () => {
  it("a live container whose heal keeps failing fires ContainerDown once its grace period has passed (pending problems count as observed while the agent converges)", () => {
    const d = desired(cluster1x1());
    let t = NOW;
    const sink = new RecordingSink();
    const am = new AlertManager({ sinks: [sink], logger: makeLogger("test", { level: "silent" }), graceMs: 10_000, now: () => t });
    for (let i = 0; i < 60; i++) {
      // A pass every 500 ms; the agent alternates between done (the container exited) and converging (healing it).
      const o = world({ "blue-1": node(d, "blue-1", { tag: "v1", web: "exited", converging: i % 2 === 1, lease: { epoch: 3 } }), "green-1": node(d, "green-1", { tag: "v2" }), "router-1": router(d, "router-1", { live: "blue" }) }, ledger({ epoch: 3 }));
      const actions = plan(d, o, t);
      const firing = new Set([...am.firing().map((a) => a.fingerprint), ...am.pendingFingerprints()]);
      am.sync(detectDrift({ desired: d, observed: o, actions, routerLive: "blue", firing }));
      t += 500;
    }
    expect(fps(sink.sent)).toEqual(["ContainerDown/blue-1/web:firing"]);
    expect(Date.parse(sink.sent[0]!.startsAt)).toBe(NOW);
  });
});
