/**
 * A web service's first death is drift, the reconciler's to decide (its drift policy: heal or alert). Before,
 * any convergence pass started it again: a pass for another service's due restart, a revive after the
 * engine came back, not only a spec from the reconciler. With `drift.policy: alert` and two web services,
 * one crash-looping service's backoff restarts also restarted the other one, which nobody had decided.
 * A pass now knows why it runs: only a spec (a heal is a new generation) starts a service whose first death
 * waits for the reconciler; an engine-back revive starts only what the engine's own stop took down.
 */
import { performance } from "node:perf_hooks";
import pino from "pino";
import { afterEach, describe, expect, it, vi } from "vitest";
import { Converger, type ConvergeHost } from "../../node-agent/node/convergence.js";
import { Lease } from "../../node-agent/lease.js";
import type { Runtime, Workload, WorkloadDef } from "../../node-agent/runtime.js";
import type { NodeSpec } from "../../specs/wire.js";
import { demoSpec, waitFor } from "../support/agent-bed.js";

/** An engine in memory whose workloads run until they are killed. */
class Engine implements Runtime {
  readonly name = "docker" as const;
  readonly workloads = new Map<string, Workload>();
  private readonly starts = new Map<string, number>();
  private seq = 0;

  async list(): Promise<Workload[]> {
    return [...this.workloads.values()].map((w) => ({ ...w }));
  }

  async ensureImage(): Promise<void> {}

  async start(def: WorkloadDef): Promise<string> {
    const id = `c${++this.seq}`;
    this.workloads.set(id, { id, name: id, service: def.service, tag: def.tag, kind: def.kind, specHash: def.specHash, epoch: def.epoch, running: true, stateText: "running", since: new Date().toISOString() });
    this.starts.set(def.service, this.startsOf(def.service) + 1);
    return id;
  }

  async stopAndRemove(id: string): Promise<void> {
    this.workloads.delete(id);
  }

  /** The service's container exits by itself (or is stopped behind the agent's back). */
  kill(service: string): void {
    for (const w of this.workloads.values()) if (w.service === service) Object.assign(w, { running: false, stateText: "exited (1)" });
  }

  startsOf(service: string): number {
    return this.starts.get(service) ?? 0;
  }

  running(service: string): boolean {
    return [...this.workloads.values()].some((w) => w.service === service && w.running);
  }

  watch(): () => void {
    return () => undefined;
  }

  async ping(): Promise<void> {}

  async close(): Promise<void> {}
}

function bed() {
  const engine = new Engine();
  const base = demoSpec({ node: "n1", tag: "v1", generation: 1, hostPort: 18080 });
  const box: { spec: NodeSpec } = { spec: { ...base, services: { ...base.services, api: { ...base.services.web!, hostPort: 18081 } } } };
  const lease = new Lease({ highestEpoch: 0, revokedThrough: 0 }, () => undefined);
  const host: ConvergeHost = {
    name: "n1", runtime: engine, publishAddress: "127.0.0.1", logger: pino({ level: "silent" }),
    lease: () => lease, spec: () => box.spec, refresh: async () => undefined,
    scheduleRefresh: () => undefined, changed: () => undefined, changedSoon: () => undefined,
  };
  const c = new Converger(host);
  /** A new generation of the same spec (the reconciler's heal), accepted now. */
  const heal = () => {
    box.spec = { ...box.spec, generation: box.spec.generation + 1 };
    c.kick();
  };
  /** The agent's observer: a settled listing. */
  const observe = async () => {
    await new Promise((r) => setTimeout(r, 5));
    const at = performance.now();
    c.observed(await engine.list(), at);
  };
  const quiet = () => waitFor("convergence done", async () => !c.converging() && (await new Promise((r) => setTimeout(r, 30)), !c.converging()), 5000, 10);
  return { engine, c, heal, observe, quiet };
}

afterEach(() => {
  vi.useRealTimers();
});

describe("a web service's first death waits for the reconciler", () => {
  it("another service's due restart and a revive do not start it; the reconciler's heal does", async () => {
    const { engine, c, heal, observe, quiet } = bed();
    try {
      c.kick();
      await quiet();
      // api dies once and is healed: its next death is the agent's own to restart, on its backoff.
      engine.kill("api");
      await observe();
      heal();
      await quiet();
      expect(engine.startsOf("api")).toBe(2);
      // web dies once: drift, left down for the reconciler (its policy may be alert).
      engine.kill("web");
      await observe();
      expect(c.restarts.status("web")?.count).toBe(1);
      // api dies again: the agent starts it after its backoff, by itself. That pass must leave web alone.
      engine.kill("api");
      await observe();
      expect(c.restarts.status("api")?.count).toBe(2);
      await waitFor("api started again after its backoff", async () => engine.startsOf("api") === 3 && engine.running("api"), 5000, 10);
      await quiet();
      expect(engine.startsOf("web"), "the pass of api's due restart started web, whose first death is the reconciler's").toBe(1);
      expect(engine.running("web")).toBe(false);
      // A revive without an engine that went away (the agent's start) does not take the reconciler's decision either.
      await c.reviveStopped();
      await quiet();
      expect(engine.startsOf("web")).toBe(1);
      // The reconciler heals (policy heal): a new generation starts web.
      heal();
      await quiet();
      expect(engine.startsOf("web")).toBe(2);
      expect(engine.running("web")).toBe(true);
      expect(engine.startsOf("api")).toBe(3);
    } finally {
      await c.close();
    }
  }, 20_000);

  it("the engine coming back starts what its stop took down, not a service that was down before it went away", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    const t0 = Date.now();
    const { engine, c, observe, quiet } = bed();
    try {
      c.kick();
      await quiet();
      engine.kill("web"); // web dies by itself: drift, waiting for the reconciler
      await observe();
      expect(c.restarts.status("web")?.count).toBe(1);
      vi.setSystemTime(t0 + 10 * 60_000);
      // Ten minutes later the engine restarts: it stops api (a first death, seen before the engine is gone).
      engine.kill("api");
      await observe();
      expect(c.restarts.status("api")?.count).toBe(1);
      await c.reviveStopped(Date.now());
      await quiet();
      expect(engine.running("api"), "the engine's stop is nobody's decision: api runs again").toBe(true);
      expect(engine.startsOf("api")).toBe(2);
      expect(engine.startsOf("web"), "web was down before the engine went away: still the reconciler's").toBe(1);
    } finally {
      await c.close();
    }
  }, 20_000);

  it("the engine coming back starts what its stop took down even when only the revive's own pass sees the death", async () => {
    const { engine, c, quiet } = bed();
    try {
      c.kick();
      await quiet();
      // The engine went away before any listing showed its stop: the revive's pass counts the first deaths.
      const lostAt = Date.now();
      engine.kill("web");
      engine.kill("api");
      await c.reviveStopped(lostAt);
      await quiet();
      expect(c.restarts.status("web")?.count).toBe(1);
      expect(engine.running("web") && engine.running("api")).toBe(true);
      expect([engine.startsOf("web"), engine.startsOf("api")]).toEqual([2, 2]);
    } finally {
      await c.close();
    }
  }, 20_000);
});
