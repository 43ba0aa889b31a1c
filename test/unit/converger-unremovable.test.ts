/**
 * Convergence and a workload the runtime cannot remove (CI's chaos soak, seed 20261129: "cannot remove
 * container … device or resource busy" every few seconds, the web service down for good). A stopped one
 * (kind `unremovable`) never keeps its replacement from starting; a running one still blocks: two
 * containers on one host port is worse than none started.
 */
import { describe, expect, it } from "vitest";
import { RuntimeError, type Workload } from "../../node-agent/runtime.js";
import { convergerRig, MemoryEngine } from "../support/converger-rig.js";
import { demoSpec, waitFor } from "../support/agent-bed.js";

/** An engine in memory whose removals of `busy` containers fail; a stopped one is then listed no more (as DockerRuntime does). */
class BusyEngine extends MemoryEngine {
  readonly busy = new Set<string>();
  readonly leftovers = new Set<string>();

  protected override listed(w: Workload): boolean {
    return !this.leftovers.has(w.id);
  }

  override async stopAndRemove(id: string): Promise<void> {
    const w = this.workloads.get(id);
    if (!w || !this.busy.has(id)) return super.stopAndRemove(id);
    if (w.running) throw new RuntimeError(`cannot stop container ${id}: (HTTP code 500) server error - device or resource busy`);
    this.leftovers.add(id);
    throw new RuntimeError(`container ${id} is stopped but Docker cannot remove it (device or resource busy)`, "unremovable");
  }
}

function rig() {
  const { engine, box, c } = convergerRig(new BusyEngine(), demoSpec({ node: "n1", tag: "v1", generation: 1, hostPort: 18080 }));
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
      const starts = engine.startCount;
      box.spec = { ...box.spec, generation: 3 };
      c.kick();
      await waitFor("converged", async () => !c.converging(), 5000, 20);
      expect(engine.startCount).toBe(starts);
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
      expect(engine.startCount).toBe(1);
      expect(engine.running("web").map((w) => w.id)).toEqual([old.id]);
      expect(c.errors.get("web")).toMatch(/^cannot stop container c1: .*device or resource busy$/);
    } finally {
      await c.close();
    }
  });
});
