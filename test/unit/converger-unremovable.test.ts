/**
 * Convergence and a workload the runtime cannot remove (CI's chaos soak, seed 20261129: "cannot remove
 * container … device or resource busy" every few seconds, the web service down for good). A stopped one
 * (kind `unremovable`) never keeps its replacement from starting; a running one still blocks: two
 * containers on one host port is worse than none started.
 */
import pino from "pino";
import { describe, expect, it } from "vitest";
import { Converger, type ConvergeHost } from "../../node-agent/node/convergence.js";
import { Lease } from "../../node-agent/lease.js";
import { RuntimeError, type Runtime, type Workload, type WorkloadDef } from "../../node-agent/runtime.js";
import type { NodeSpec } from "../../specs/wire.js";
import { demoSpec, waitFor } from "../support/agent-bed.js";

/** An engine in memory whose removals of `busy` containers fail; a stopped one is then listed no more (as DockerRuntime does). */
class BusyEngine implements Runtime {
  readonly name = "docker" as const;
  readonly workloads = new Map<string, Workload>();
  readonly busy = new Set<string>();
  readonly leftovers = new Set<string>();
  starts = 0;
  private seq = 0;

  async list(): Promise<Workload[]> {
    return [...this.workloads.values()].filter((w) => !this.leftovers.has(w.id)).map((w) => ({ ...w }));
  }

  async ensureImage(): Promise<void> {}

  async start(def: WorkloadDef): Promise<string> {
    this.starts++;
    const id = `c${++this.seq}`;
    this.workloads.set(id, { id, name: id, service: def.service, tag: def.tag, kind: def.kind, specHash: def.specHash, running: true, stateText: "running", since: new Date().toISOString() });
    return id;
  }

  async stopAndRemove(id: string): Promise<void> {
    const w = this.workloads.get(id);
    if (!w) return;
    if (!this.busy.has(id)) {
      this.workloads.delete(id);
      return;
    }
    if (w.running) throw new RuntimeError(`cannot stop container ${id}: (HTTP code 500) server error - device or resource busy`);
    this.leftovers.add(id);
    throw new RuntimeError(`container ${id} is stopped but Docker cannot remove it (device or resource busy)`, "unremovable");
  }

  running(service: string): Workload[] {
    return [...this.workloads.values()].filter((w) => w.service === service && w.running && !this.leftovers.has(w.id));
  }

  watch(): () => void {
    return () => undefined;
  }

  async ping(): Promise<void> {}
  async close(): Promise<void> {}
}

function rig() {
  const engine = new BusyEngine();
  const box = { spec: demoSpec({ node: "n1", tag: "v1", generation: 1, hostPort: 18080 }) as NodeSpec };
  const lease = new Lease({ highestEpoch: 0, revokedThrough: 0 }, () => undefined);
  const host: ConvergeHost = {
    name: "n1", runtime: engine, publishAddress: "127.0.0.1", logger: pino({ level: "silent" }),
    lease: () => lease, spec: () => box.spec, refresh: async () => undefined, scheduleRefresh: () => undefined, changed: () => undefined, changedSoon: () => undefined,
  };
  const c = new Converger(host);
  /** Converges the first spec; returns its web workload. */
  const first = async (): Promise<Workload> => {
    c.kick();
    await waitFor("web started", async () => engine.running("web").length === 1 && !c.converging(), 5000, 20);
    return engine.running("web")[0]!;
  };
  return { engine, box, c, first };
}

describe("convergence and a workload the runtime cannot remove", () => {
  it("a stopped one: its replacement starts beside it, and the service is satisfied (no second start, no error)", async () => {
    const { engine, box, c, first } = rig();
    try {
      const old = await first();
      Object.assign(old!, { running: false, stateText: "exited (137)" });
      engine.busy.add(old.id);
      box.spec = { ...box.spec, generation: 2 };
      c.kick();
      await waitFor("a new web container", async () => engine.running("web").length === 1 && !c.converging(), 5000, 20);
      expect(engine.running("web")[0]!.id).not.toBe(old.id);
      expect(engine.leftovers.has(old.id)).toBe(true);
      expect(c.errors.get("web")).toBeUndefined();
      expect(c.restarts.crashLooping("web")).toBe(false);
      // A later pass finds it satisfied: nothing started again.
      const starts = engine.starts;
      box.spec = { ...box.spec, generation: 3 };
      c.kick();
      await waitFor("converged", async () => !c.converging(), 5000, 20);
      expect(engine.starts).toBe(starts);
    } finally {
      await c.close();
    }
  });

  it("a running one still blocks: nothing starts beside it, the error is in status", async () => {
    const { engine, box, c, first } = rig();
    try {
      const old = await first();
      engine.busy.add(old.id);
      box.spec = demoSpec({ node: "n1", tag: "v2", generation: 2, hostPort: 18080 });
      c.kick();
      await waitFor("converged", async () => !c.converging(), 5000, 20);
      expect(engine.starts).toBe(1);
      expect(engine.running("web").map((w) => w.id)).toEqual([old.id]);
      expect(c.errors.get("web")).toMatch(/^cannot stop container c1: .*device or resource busy$/);
    } finally {
      await c.close();
    }
  });
});
