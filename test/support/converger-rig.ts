/**
 * Convergence without an engine: a runtime in memory and a Converger driven as the agent drives it (a spec
 * box the reconciler's heal bumps, the observer's settled listings). The converger unit tests each give the
 * engine the one fault they are about by overriding a method of MemoryEngine.
 */
import { performance } from "node:perf_hooks";
import pino from "pino";
import { Converger, type ConvergeHost } from "../../node-agent/node/convergence.js";
import { Lease } from "../../node-agent/lease.js";
import type { Runtime, Workload, WorkloadDef } from "../../node-agent/runtime.js";
import type { NodeSpec } from "../../specs/wire.js";
import { waitFor } from "./agent-bed.js";

/** An engine in memory whose workloads run until they are killed. */
export class MemoryEngine implements Runtime {
  readonly name = "docker" as const;
  readonly workloads = new Map<string, Workload>();
  /** When each service was started (Date.now()), oldest first. */
  private readonly startTimes = new Map<string, number[]>();
  private seq = 0;

  async list(): Promise<Workload[]> {
    return [...this.workloads.values()].filter((w) => this.listed(w)).map((w) => ({ ...w }));
  }

  /** Whether list() shows the workload (a subclass hides what it has set aside). */
  protected listed(_w: Workload): boolean {
    return true;
  }

  async ensureImage(): Promise<void> {}

  async start(def: WorkloadDef): Promise<string> {
    const id = `c${++this.seq}`;
    this.workloads.set(id, { id, name: id, service: def.service, tag: def.tag, kind: def.kind, specHash: def.specHash, epoch: def.epoch, running: true, stateText: "running", since: new Date().toISOString() });
    this.startTimes.set(def.service, [...this.startsOf(def.service), Date.now()]);
    return id;
  }

  async stopAndRemove(id: string): Promise<void> {
    this.workloads.delete(id);
  }

  /** The service's workloads exit by themselves (or are stopped behind the agent's back). */
  kill(service: string, stateText = "exited (1)"): void {
    for (const w of this.workloads.values()) if (w.service === service) Object.assign(w, { running: false, stateText });
  }

  /** The engine stops every workload (SIGTERM to dockerd). */
  stopAll(): void {
    for (const w of this.workloads.values()) Object.assign(w, { running: false, stateText: "exited (0)" });
  }

  /** When the service was started, oldest first. */
  startsOf(service: string): number[] {
    return this.startTimes.get(service) ?? [];
  }

  /** Starts of every service. */
  get startCount(): number {
    return [...this.startTimes.values()].reduce((n, s) => n + s.length, 0);
  }

  /** The service's listed workloads that run. */
  running(service: string): Workload[] {
    return [...this.workloads.values()].filter((w) => w.service === service && w.running && this.listed(w));
  }

  runs(service: string): boolean {
    return this.running(service).length > 0;
  }

  watch(): () => void {
    return () => undefined;
  }

  async ping(): Promise<void> {}

  async close(): Promise<void> {}
}

export interface ConvergerRig<E extends MemoryEngine> {
  engine: E;
  /** The spec the agent holds; onRefresh runs once at the converger's next status refresh. */
  box: { spec: NodeSpec; onRefresh?: () => void };
  c: Converger;
  /** A new generation of the same spec (the reconciler's heal), accepted now. */
  heal(): void;
  /** The agent's observer: a settled listing. */
  observe(): Promise<void>;
  /** Until no pass runs (and none starts within 30 ms). */
  quiet(): Promise<void>;
}

/** A converger on node n1 over `engine`; `jobs` grants it the job lease (epoch 1). */
export function convergerRig<E extends MemoryEngine>(engine: E, spec: NodeSpec, o: { jobs?: boolean } = {}): ConvergerRig<E> {
  const box: ConvergerRig<E>["box"] = { spec };
  const lease = new Lease({ highestEpoch: 0, revokedThrough: 0 }, () => undefined);
  if (o.jobs) lease.grant(1, 600_000);
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
  return {
    engine, box, c,
    heal: () => {
      box.spec = { ...box.spec, generation: box.spec.generation + 1 };
      c.kick();
    },
    observe: async () => {
      await new Promise((r) => setTimeout(r, 5));
      const at = performance.now();
      c.observed(await engine.list(), at);
    },
    quiet: async () => {
      await waitFor("convergence done", async () => !c.converging() && (await new Promise((r) => setTimeout(r, 30)), !c.converging()), 5000, 10);
    },
  };
}
