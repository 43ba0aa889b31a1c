/**
 * A due restart that meets an engine that is gone (the chaos soak, seed 1: `engine-restart` left the Docker
 * node's web service down for good). The engine's SIGTERM stops the container (a death, after an earlier
 * one), the agent's start during the engine's shutdown fails, and the next due start finds no engine at all:
 * the convergence pass throws before it starts anything. The restart record must not stay "starting" with
 * no next start planned (state crashLooping, nextRestartAt null, nothing ever starting it again); the start
 * is tried again on the backoff, so the service runs again once the engine is back.
 */
import { performance } from "node:perf_hooks";
import pino from "pino";
import { describe, expect, it } from "vitest";
import { Converger, type ConvergeHost } from "../../node-agent/node/convergence.js";
import { Lease } from "../../node-agent/lease.js";
import { RuntimeError, type Runtime, type Workload, type WorkloadDef } from "../../node-agent/runtime.js";
import type { NodeSpec } from "../../specs/wire.js";
import { demoSpec, waitFor } from "../support/agent-bed.js";

/** An engine in memory that can be stopping (starts fail, as during dockerd's shutdown) or gone (every call fails). */
class FakeEngine implements Runtime {
  readonly name = "docker" as const;
  mode: "up" | "stopping" | "down" = "up";
  readonly workloads = new Map<string, Workload>();
  private seq = 0;

  private check(what: string): void {
    if (this.mode === "down") throw new RuntimeError(`the Docker engine does not answer (${what}: connect ENOENT docker.sock); is dockerd running?`, "engine-unreachable");
  }

  async list(): Promise<Workload[]> {
    this.check("list");
    return [...this.workloads.values()].map((w) => ({ ...w }));
  }

  async ensureImage(): Promise<void> {
    this.check("pull");
  }

  async start(def: WorkloadDef): Promise<string> {
    this.check("start");
    if (this.mode === "stopping") throw new RuntimeError("cannot start the web container: (HTTP code 500) server error - failed to update store for object type *libnetwork.endpoint");
    const id = `c${++this.seq}`;
    this.workloads.set(id, { id, name: id, service: def.service, tag: def.tag, kind: def.kind, specHash: def.specHash, running: true, stateText: "running", since: new Date().toISOString() });
    return id;
  }

  async stopAndRemove(id: string): Promise<void> {
    this.check("remove");
    this.workloads.delete(id);
  }

  /** The engine stops every container (SIGTERM to dockerd). */
  stopAll(): void {
    for (const w of this.workloads.values()) Object.assign(w, { running: false, stateText: "exited (0)" });
  }

  running(service: string): boolean {
    return [...this.workloads.values()].some((w) => w.service === service && w.running);
  }

  watch(): () => void {
    return () => undefined;
  }

  async ping(): Promise<void> {
    this.check("ping");
  }

  async close(): Promise<void> {}
}

describe("a due restart while the Docker engine is gone", () => {
  it("is tried again on the backoff, so the web service and the job run again once the engine is back", async () => {
    const engine = new FakeEngine();
    let spec: NodeSpec = demoSpec({ node: "n1", tag: "v1", generation: 1, hostPort: 18080, withWorker: true });
    const lease = new Lease({ highestEpoch: 0, revokedThrough: 0 }, () => undefined);
    lease.grant(1, 600_000);
    const host: ConvergeHost = {
      name: "n1", runtime: engine, publishAddress: "127.0.0.1", logger: pino({ level: "silent" }),
      lease: () => lease, spec: () => spec, refresh: async () => undefined, scheduleRefresh: () => undefined, changed: () => undefined, changedSoon: () => undefined,
    };
    const c = new Converger(host);
    const observe = async () => {
      const at = performance.now();
      c.observed(await engine.list(), at);
    };
    try {
      c.kick();
      await waitFor("web and worker started", async () => engine.running("web") && engine.running("worker") && !c.converging(), 5000, 20);
      // First death (drift), healed by the reconciler with a new spec; the web service runs again.
      engine.stopAll();
      await observe();
      spec = { ...spec, generation: 2 };
      c.kick();
      await waitFor("web and worker started again", async () => engine.running("web") && engine.running("worker") && !c.converging(), 5000, 20);
      // The engine shuts down: it stops the container (a second death: the agent starts it after its backoff),
      // the start during the shutdown fails, then the engine is gone.
      engine.mode = "stopping";
      engine.stopAll();
      await observe();
      await waitFor("the start during the shutdown failed", async () => (c.restarts.status("web")?.count ?? 0) >= 3, 10_000, 20);
      engine.mode = "down";
      // The third death's backoff is 2 s: its due start meets no engine (and so may later ones).
      await new Promise((r) => setTimeout(r, 4000));
      // The engine is back (the agent's engine watch revives what it finds stopped: here nothing is left).
      engine.mode = "up";
      await c.reviveStopped();
      await waitFor("web and worker running again", async () => engine.running("web") && engine.running("worker"), 20_000, 50);
      expect(c.restarts.crashLooping("web")).toBe(false);
      expect(c.restarts.crashLooping("worker")).toBe(false);
    } finally {
      await c.close();
    }
  }, 60_000);
});
