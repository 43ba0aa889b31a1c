/**
 * A death that a convergence pass finds in its own listing is a death (the crash-loop CI run where a Docker
 * web container was started again 3,030 ms after the one before while its backoff said 4,000 ms). The
 * observer leaves listings taken while the agent converges uncounted; a container that exits at once while a
 * pass is in flight was then seen only by the next pass (the reconciler's heal of what the status showed
 * exited, arriving ~50 ms later), which removed it and started a new one without counting the death. Every
 * later death was counted one lower, so every later start came one backoff step early. The same held for jobs
 * (every web pass converges jobs too): a job that kept exiting was started again by each pass, at once.
 */
import { describe, expect, it } from "vitest";
import { restartDelayMs } from "../../node-agent/node/restarts.js";
import type { WorkloadDef } from "../../node-agent/runtime.js";
import { convergerRig, MemoryEngine } from "../support/converger-rig.js";
import { demoSpec, waitFor } from "../support/agent-bed.js";

/** An engine in memory whose workloads of the `crashing` services exit the moment they start. */
class CrashingEngine extends MemoryEngine {
  constructor(private readonly crashing: ReadonlySet<string>) {
    super();
  }

  override async start(def: WorkloadDef): Promise<string> {
    const id = await super.start(def);
    if (this.crashing.has(def.service)) Object.assign(this.workloads.get(id)!, { running: false, stateText: "exited (1)" });
    return id;
  }
}

function bed(crashing: string[], withWorker: boolean) {
  return convergerRig(new CrashingEngine(new Set(crashing)), demoSpec({ node: "n1", tag: "v1", generation: 1, hostPort: 18080, withWorker }), { jobs: true });
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
