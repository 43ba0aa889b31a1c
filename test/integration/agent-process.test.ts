/**
 * The node agent on the process runtime (no Docker): the same agent scenarios as on Docker, what the
 * process runtime refuses, and the fenced jobs handoff with the demo store as ground truth.
 */
import { rmSync } from "node:fs";
import { dirname } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { demoSpec, startTestAgent, stopTestAgent, waitFor, type AgentHandle } from "../support/agent-bed.js";
import { agentRestartSuite, agentStopSuite, agentSuite, leaseSuite } from "../support/agent-suite.js";
import { agentSecretsSuite } from "../support/agent-secrets-suite.js";
import { logsSuite } from "../support/logs-suite.js";
import { processKit, type RuntimeKit } from "../support/runtime-kit.js";
import { ClusterBed } from "../support/cluster-bed.js";
import { ProcessStore, ProcessTimeline } from "../support/process-jobs.js";
import { percentile } from "../support/jobs-rig.js";
import type { ClusterStatus } from "../../reconciler/loop/status.js";
import type { NodeServiceSpec } from "../../specs/wire.js";

let kitP: Promise<RuntimeKit> | undefined;
const kit = () => (kitP ??= processKit());
afterAll(async () => {
  if (kitP) rmSync(dirname((await kitP).releasesDir!), { recursive: true, force: true });
});
const opts = { prefix: "t-proc", ports: { web: 19211, squat: 19219, restart: 19231, lease: 19241, stop: 19281 } };

describe("node agent on processes", () => {
  agentSuite(kit, opts);
  agentRestartSuite(kit, opts);
  agentStopSuite(kit, opts);
  leaseSuite(kit, opts);
  agentSecretsSuite(kit, { prefix: opts.prefix, port: 19261 });
  logsSuite(kit, { prefix: opts.prefix, port: 19271 });
});

describe("the process runtime runs only what is inside a release", () => {
  const NODE = "t-proc-refuse";
  let h: AgentHandle;
  let k: RuntimeKit;
  let generation = 0;
  beforeAll(async () => {
    k = await kit();
    h = await startTestAgent({ name: NODE, extra: k.agentYaml(), cleanupNode: k.cleanupNode });
  });
  afterAll(() => stopTestAgent(h));

  async function refused(change: Partial<NodeServiceSpec>): Promise<string> {
    const spec = demoSpec({ node: NODE, tag: "v1", generation: ++generation, hostPort: 19251 });
    Object.assign(spec.services.web!, change);
    expect((await h.api.putSpec(spec)).status).toBe(202);
    const s = await waitFor("refused", async () => {
      const st = await h.api.status();
      return st.observedGeneration === generation && !st.converging && !!st.services.web?.error && st;
    });
    expect(s.services.web!.state).toBe("missing");
    expect(await k.tagsOnNode(NODE)).toEqual([]);
    return s.services.web!.error!;
  }

  it("no shell, no program from elsewhere, no interpreter flags", async () => {
    expect(await refused({ command: ["/bin/sh", "-c", "id"] })).toMatch(/"\/bin\/sh" is not a file inside the release/);
    expect(await refused({ command: ["sh", "-c", "id"] })).toMatch(/"sh" is not a file inside the release/);
    expect(await refused({ command: ["node", "-e", "1"] })).toMatch(/node flags are refused/);
    expect(await refused({ command: ["node", "../../../../etc/hostname"] })).toMatch(/outside the release|does not exist in the release/);
    expect(await refused({ command: ["./missing.sh"] })).toMatch(/does not exist in the release/);
  });

  it("no loader, shell or runtime variables in the environment: refused on arrival, nothing changes", async () => {
    for (const [name, value] of [["LD_PRELOAD", "/tmp/x.so"], ["NODE_OPTIONS", "--require /tmp/x.js"], ["SHELLOPTS", "xtrace"], ["PATH", "/tmp"], ["JAVA_TOOL_OPTIONS", "-javaagent:/tmp/x.jar"], ["lower_case", "1"]]) {
      const before = (await h.api.status()).observedGeneration;
      const spec = demoSpec({ node: NODE, tag: "v1", generation: before + 1, hostPort: 19251 });
      spec.services.web!.env = { [name!]: value! };
      const r = await h.api.putSpec(spec);
      expect(r.status, name).toBe(403);
      expect(r.json.error.code).toBe("AGENT_ERR_ENV_NOT_ALLOWED");
      expect(r.json.error.message).toMatch(new RegExp(`^services\\.web\\.env\\.${name} is refused by the process runtime: .*; nothing was changed$`));
      expect((await h.api.status()).observedGeneration).toBe(before);
    }
  });

  it("the release's default command runs when the spec names none", async () => {
    const spec = demoSpec({ node: NODE, tag: "v2", generation: ++generation, hostPort: 19251 });
    await h.api.putSpec(spec);
    await waitFor("v2 healthy", async () => (await h.api.status()).services.web?.health === "healthy");
    expect(await k.tagsOnNode(NODE)).toEqual(["v2"]);
  });
});

describe("jobs on processes: handoffs under continuous job load", () => {
  const TTL_S = 3;
  const ready = (s: ClusterStatus) => s.conditions.find((c) => c.type === "Ready")?.status === "True";
  const holders = (s: ClusterStatus): string[] => (s.jobs?.holders ?? []).map((x) => x.color);
  const store = new ProcessStore();
  const timeline = new ProcessTimeline();
  let bed: ClusterBed;

  async function ownedBy(color: string, sinceMs: number): Promise<void> {
    await waitFor(`${color} owns the jobs`, async () => {
      const s = await bed.status();
      if (holders(s).some((c) => c !== color) || !holders(s).includes(color)) return false;
      return (await store.records()).delivered.some((d) => d.color === color && d.at >= sinceMs);
    }, 30_000, 50);
  }

  beforeAll(async () => {
    const prefix = "jbp";
    await store.start(prefix);
    await timeline.start(prefix);
    bed = new ClusterBed({ prefix, kit: await kit(), withWorker: true, leaseTtlSeconds: TTL_S, workerEnv: { STORE_URL: store.workerUrl, JOB_INTERVAL_MS: "100" }, state: { owner: "blue" } });
    await bed.startAgents();
    await bed.startReconciler();
    await waitFor("ready", async () => ready(await bed.status()), 60_000);
    await ownedBy("blue", 0);
  });
  afterAll(async () => {
    timeline.close();
    await bed?.close();
    await store.close();
  });

  it("10 handoffs: no notification twice, never both colours at once", async () => {
    let owner: "blue" | "green" = "blue";
    for (let i = 0; i < 10; i++) {
      owner = owner === "blue" ? "green" : "blue";
      const at = Date.now();
      bed.writeState({ owner });
      await ownedBy(owner, at);
    }
    await new Promise((r) => setTimeout(r, 300));
    const r = await store.records();
    const ids = r.delivered.map((d) => d.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(r.duplicates).toBe(0);
    expect(timeline.overlapMs()).toBe(0);
    const gaps = timeline.handoffGaps();
    expect(gaps.length).toBeGreaterThanOrEqual(10);
    // Ends are only known to the next /proc scan, so a real gap shorter than a scan can read as 0 ms.
    expect(Math.min(...gaps)).toBeGreaterThanOrEqual(0);
    const epochs = r.delivered.map((d) => d.epoch);
    for (let i = 1; i < epochs.length; i++) expect(epochs[i]!).toBeGreaterThanOrEqual(epochs[i - 1]!);
    console.log(`process jobs handoff gap (old stopped → new started, /proc every 10 ms): p50 ${percentile(gaps, 50).toFixed(0)} ms, p99 ${percentile(gaps, 99).toFixed(0)} ms over ${gaps.length} handoffs; ${r.delivered.length} notifications, 0 duplicates, overlap 0 ms`);
  }, 120_000);

  it("owner none → no worker process anywhere within one TTL", async () => {
    bed.writeState({ owner: "none" });
    const at = Date.now();
    await waitFor("no worker", async () => timeline.running().length === 0, TTL_S * 1000 + 5000, 50);
    expect(Date.now() - at).toBeLessThan(TTL_S * 1000 + 1000);
    await waitFor("no lease holder", async () => holders(await bed.status()).length === 0, 5000, 50);
    await new Promise((r) => setTimeout(r, 1000));
    expect(timeline.running()).toEqual([]);
  });
});
