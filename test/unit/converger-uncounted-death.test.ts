/**
 * A death that a convergence pass finds in its own listing is a death (the crash-loop CI run where a Docker
 * web container was started again 3,030 ms after the one before while its backoff said 4,000 ms). The
 * observer leaves listings taken while the agent converges uncounted; a container that exits at once while a
 * pass is in flight was then seen only by the next pass (the reconciler's heal of what the status showed
 * exited, arriving ~50 ms later), which removed it and started a new one without counting the death. Every
 * later death was counted one lower, so every later start came one backoff step early. The same held for jobs
 * (every web pass converges jobs too): a job that kept exiting was started again by each pass, at once.
 */
import { performance } from "node:perf_hooks";
import pino from "pino";
import { describe, expect, it } from "vitest";
import { Converger, type ConvergeHost } from "../../node-agent/node/convergence.js";
import { Lease } from "../../node-agent/lease.js";
import { restartDelayMs } from "../../node-agent/node/restarts.js";
import type { Runtime, Workload, WorkloadDef } from "../../node-agent/runtime.js";
import type { NodeSpec } from "../../specs/wire.js";
import { demoSpec, waitFor } from "../support/agent-bed.js";

/** An engine in memory whose workloads of the `crashing` services exit the moment they start. */
class CrashingEngine implements Runtime {
  readonly name = "docker" as const;
  readonly workloads = new Map<string, Workload>();
  /** When each service was started (Date.now()). */
  readonly starts = new Map<string, number[]>();
  private seq = 0;

  constructor(private readonly crashing: ReadonlySet<string>) {}

  async list(): Promise<Workload[]> {
    return [...this.workloads.values()].map((w) => ({ ...w }));
  }

  async ensureImage(): Promise<void> {}

  async start(def: WorkloadDef): Promise<string> {
    const id = `c${++this.seq}`;
    const dies = this.crashing.has(def.service);
    this.workloads.set(id, { id, name: id, service: def.service, tag: def.tag, kind: def.kind, specHash: def.specHash, epoch: def.epoch, running: !dies, stateText: dies ? "exited (1)" : "running", since: new Date().toISOString() });
    this.starts.set(def.service, [...(this.starts.get(def.service) ?? []), Date.now()]);
    return id;
  }

  async stopAndRemove(id: string): Promise<void> {
    this.workloads.delete(id);
  }

  startsOf(service: string): number[] {
    return this.starts.get(service) ?? [];
  }

  watch(): () => void {
    return () => undefined;
  }

  async ping(): Promise<void> {}

  async close(): Promise<void> {}
}

function bed(crashing: string[], withWorker: boolean) {
  const engine = new CrashingEngine(new Set(crashing));
  const box: { spec: NodeSpec; onRefresh?: () => void } = { spec: demoSpec({ node: "n1", tag: "v1", generation: 1, hostPort: 18080, withWorker }) };
  const lease = new Lease({ highestEpoch: 0, revokedThrough: 0 }, () => undefined);
  lease.grant(1, 600_000);
  const host: ConvergeHost = {
    name: "n1", runtime: engine, publishAddress: "127.0.0.1", logger: pino({ level: "silent" }),
    lease: () => lease, spec: () => box.spec,
    refresh: async () => {
      const f = box.onRefresh;
      box.onRefresh = undefined;
      f?.();
    },
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
  return { engine, box, c, heal, observe, quiet };
}

describe("a death found by a convergence pass", () => {
  it("web: the heal that arrives while the pass that started it is in flight finds it dead and counts the death; later starts keep the full backoff", async () => {
    const { engine, box, c, heal, observe, quiet } = bed(["web"], false);
    try {
      // The spec's pass starts web, which exits at once; the status shows it exited and the reconciler's
      // heal is accepted before the pass has settled (so the observer never counted that death).
      box.onRefresh = heal;
      c.kick();
      await quiet();
      expect(engine.startsOf("web")).toHaveLength(2);
      expect(c.restarts.status("web")?.count, "the first container's death, found by the heal's pass, is counted").toBe(1);

      // The healed container exits too: the second death, the agent's own restart after its backoff.
      await observe();
      const r = c.restarts.status("web")!;
      expect(r.count).toBe(2);
      expect(Date.parse(r.nextRestartAt!) - Date.parse(r.lastExitAt)).toBe(restartDelayMs(2));
      heal(); // a late heal (the reconciler saw it exited) starts nothing before the backoff is over
      await quiet();
      expect(engine.startsOf("web")).toHaveLength(2);
      await waitFor("web started after its backoff", async () => engine.startsOf("web").length === 3, 5000, 10);
      expect(engine.startsOf("web")[2]!).toBeGreaterThanOrEqual(Date.parse(r.nextRestartAt!));
    } finally {
      await c.close();
    }
  }, 20_000);

  it("job: each pass that finds the job dead counts the death, so the second start waits its backoff", async () => {
    const { engine, c, heal, quiet } = bed(["worker"], true);
    try {
      c.kick();
      await quiet();
      expect(engine.startsOf("worker")).toHaveLength(1);
      // Two more passes (specs for the web service, say) before any settled listing: each finds the job dead.
      heal();
      await quiet();
      expect(c.restarts.status("worker")?.count).toBe(1); // the first death: started again at once
      expect(engine.startsOf("worker")).toHaveLength(2);
      heal();
      await quiet();
      const r = c.restarts.status("worker")!;
      expect(r.count).toBe(2);
      expect(engine.startsOf("worker"), "the second death waits its backoff").toHaveLength(2);
      await waitFor("worker started after its backoff", async () => engine.startsOf("worker").length === 3, 5000, 10);
      expect(engine.startsOf("worker")[2]!).toBeGreaterThanOrEqual(Date.parse(r.nextRestartAt!));
    } finally {
      await c.close();
    }
  }, 20_000);
});
