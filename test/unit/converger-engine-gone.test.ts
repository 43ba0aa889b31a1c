/**
 * A due restart that meets an engine that is gone (the chaos soak, seed 1: `engine-restart` left the Docker
 * node's web service down for good). The engine's SIGTERM stops the container (a death, after an earlier
 * one), the agent's start during the engine's shutdown fails, and the next due start finds no engine at all:
 * the convergence pass throws before it starts anything. The restart record must not stay "starting" with
 * no next start planned (state crashLooping, nextRestartAt null, nothing ever starting it again); the start
 * is tried again on the backoff, so the service runs again once the engine is back.
 */
import { describe, expect, it } from "vitest";
import { RuntimeError, type WorkloadDef } from "../../node-agent/runtime.js";
import { convergerRig, MemoryEngine } from "../support/converger-rig.js";
import { demoSpec, waitFor } from "../support/agent-bed.js";

/** An engine in memory that can be stopping (starts fail, as during dockerd's shutdown) or gone (every call fails). */
class FakeEngine extends MemoryEngine {
  mode: "up" | "stopping" | "down" = "up";

  private check(what: string): void {
    if (this.mode === "down") throw new RuntimeError(`the Docker engine does not answer (${what}: connect ENOENT docker.sock); is dockerd running?`, "engine-unreachable");
  }

  override async list() {
    this.check("list");
    return super.list();
  }

  override async ensureImage(): Promise<void> {
    this.check("pull");
  }

  override async start(def: WorkloadDef): Promise<string> {
    this.check("start");
    if (this.mode === "stopping") throw new RuntimeError("cannot start the web container: (HTTP code 500) server error - failed to update store for object type *libnetwork.endpoint");
    return super.start(def);
  }

  override async stopAndRemove(id: string): Promise<void> {
    this.check("remove");
    return super.stopAndRemove(id);
  }

  override async ping(): Promise<void> {
    this.check("ping");
  }
}

describe("a due restart while the Docker engine is gone", () => {
  it("is tried again on the backoff, so the web service and the job run again once the engine is back", async () => {
    const { engine, box, c, observe } = convergerRig(new FakeEngine(), demoSpec({ node: "n1", tag: "v1", generation: 1, hostPort: 18080, withWorker: true }), { jobs: true });
    try {
      c.kick();
      await waitFor("web and worker started", async () => engine.runs("web") && engine.runs("worker") && !c.converging(), 5000, 20);
      // First death (drift), healed by the reconciler with a new spec; the web service runs again.
      engine.stopAll();
      await observe();
      box.spec = { ...box.spec, generation: 2 };
      c.kick();
      await waitFor("web and worker started again", async () => engine.runs("web") && engine.runs("worker") && !c.converging(), 5000, 20);
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
      await waitFor("web and worker running again", async () => engine.runs("web") && engine.runs("worker"), 20_000, 50);
      expect(c.restarts.crashLooping("web")).toBe(false);
      expect(c.restarts.crashLooping("worker")).toBe(false);
    } finally {
      await c.close();
    }
  }, 60_000);
});
