/**
 * An agent restart under a real reconciler, on both runtimes: SIGKILL the jobs owner's agent and start it
 * again within its lease → the same job workload runs on (ground truth: Docker events / /proc scans, not the
 * agent's bookkeeping), the reconciler renews the same epoch, deliveries never pause longer than one lease
 * renewal and never come from two epochs at once; the web workload is the same one too. Then a SIGTERM:
 * the job workload is gone before the agent process has exited.
 */
import { rmSync } from "node:fs";
import { dirname } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { waitFor } from "../support/agent-bed.js";
import { dockerKit, processKit, type RuntimeKit } from "../support/runtime-kit.js";
import { ClusterBed } from "../support/cluster-bed.js";
import { JobTimeline, Store } from "../support/jobs-rig.js";
import { ProcessStore, ProcessTimeline } from "../support/process-jobs.js";
import { LEASE_RENEW_FRACTION } from "../../specs/defaults.js";
import type { ClusterStatus } from "../../reconciler/loop/status.js";

/** Long enough for an agent to start again on a loaded test machine (it takes seconds there) within its lease. */
const TTL_S = 20;


for (const runtime of ["process", "docker"] as const) {
  describe(`agent restart with jobs (${runtime})`, () => {
    const prefix = runtime === "process" ? "arjp" : "arjd";
    const store = runtime === "process" ? new ProcessStore() : new Store();
    const timeline = runtime === "process" ? new ProcessTimeline() : new JobTimeline();
    let kit: RuntimeKit;
    let bed: ClusterBed;
    const holders = (s: ClusterStatus) => s.jobs?.holders ?? [];
    const blue = () => bed.names.blue;

    beforeAll(async () => {
      kit = runtime === "process" ? await processKit() : dockerKit;
      await store.start(prefix);
      await timeline.start(prefix);
      bed = new ClusterBed({ prefix, kit, withWorker: true, leaseTtlSeconds: TTL_S, childAgents: [`${prefix}-blue-1`], workerEnv: { STORE_URL: store.workerUrl, JOB_INTERVAL_MS: "100" }, state: { owner: "blue" } });
      await bed.startAgents();
      await bed.startReconciler();
      await waitFor("blue delivers", async () => (await store.records()).delivered.some((d) => d.color === "blue"), 90_000, 100);
    }, 120_000);
    afterAll(async () => {
      timeline.close();
      await bed?.close();
      await store.close();
      if (runtime === "process" && kit?.releasesDir) rmSync(dirname(kit.releasesDir), { recursive: true, force: true });
    });

    it("SIGKILL + restart within the lease: the same job workload, the same epoch, no delivery gap over one renewal", async () => {
      const before = await bed.status();
      const epoch = holders(before)[0]!.epoch;
      const agentStatus = async () => {
        const { url, token } = bed.agentApi(blue());
        return (await (await fetch(`${url}/v1/status`, { headers: { authorization: `Bearer ${token}` } })).json()) as { services: Record<string, { containerId?: string | null; state: string }>; lease: { state: string; epoch: number } };
      };
      const st0 = await agentStatus();
      const workerId = st0.services.worker!.containerId!;
      const webId = st0.services.web!.containerId!;
      const running0 = timeline.running("blue").map((x) => x.id);
      expect(running0).toHaveLength(1);
      const from = Date.now();
      bed.agentProcess(blue())!.kill("SIGKILL");
      await new Promise((r) => bed.agentProcess(blue())!.once("exit", r));
      const killedAt = Date.now();
      await bed.startAgent(blue());
      const upAt = Date.now();
      // The reconciler renews the adopted lease: same epoch, held.
      let last: unknown;
      await waitFor("the adopted lease renewed", async () => {
        const s = await agentStatus();
        last = { lease: s.lease, worker: s.services?.worker, jobs: (await bed.status()).jobs, at: Date.now() - upAt };
        return s.lease.state === "held" && s.lease.epoch === epoch && s.services.worker?.state === "running";
      }, TTL_S * 1000).catch((err: Error) => {
        throw new Error(`${err.message}; last: ${JSON.stringify(last)}; agent log: ${bed.childLogs.get(blue())?.slice(-3000)}`);
      });
      // Two more renewals' worth of deliveries.
      await new Promise((r) => setTimeout(r, 2 * TTL_S * 1000 * LEASE_RENEW_FRACTION));
      const st1 = await agentStatus();
      expect(st1.services.worker!.containerId).toBe(workerId);
      expect(st1.services.web!.containerId).toBe(webId);
      // Ground truth: the one worker that ran before still runs, none other started.
      expect(timeline.intervals.filter((x) => x.color === "blue" && x.start >= from)).toEqual([]);
      expect(timeline.running("blue").map((x) => x.id)).toEqual(running0);
      expect(holders(await bed.status()).map((h) => h.epoch)).toEqual([epoch]);
      const r = await store.records();
      const window = r.delivered.filter((d) => d.at >= from - 1000).sort((a, b) => a.at - b.at);
      expect(new Set(window.map((d) => d.epoch))).toEqual(new Set([epoch]));
      expect(r.duplicates).toBe(0);
      let gap = 0;
      for (let i = 1; i < window.length; i++) gap = Math.max(gap, window[i]!.at - window[i - 1]!.at);
      expect(window.length).toBeGreaterThan(10);
      expect(gap).toBeLessThanOrEqual(TTL_S * 1000 * LEASE_RENEW_FRACTION);
      console.log(`${runtime}: agent down ${upAt - killedAt} ms (SIGKILL → API up); longest delivery gap across the restart ${gap} ms (one renewal: ${TTL_S * 1000 * LEASE_RENEW_FRACTION} ms), epoch ${epoch} throughout, ${window.length} deliveries`);
    }, 120_000);

    it("SIGTERM: the job workload is gone before the agent process exits; the web workload stays", async () => {
      const { url, token } = bed.agentApi(blue());
      const st = (await (await fetch(`${url}/v1/status`, { headers: { authorization: `Bearer ${token}` } })).json()) as { services: Record<string, { containerId?: string | null }> };
      const webId = st.services.web!.containerId!;
      const workerId = st.services.worker!.containerId!;
      const agentDir = `${bed.dir}/agents/${blue()}`;
      expect(timeline.running("blue")).toHaveLength(1);
      const proc = bed.agentProcess(blue())!;
      proc.kill("SIGTERM");
      await new Promise((r) => proc.once("exit", r));
      const exitedAt = Date.now();
      // Nothing else stops it: had the agent exited first, it would still be there.
      expect(await kit.exists(agentDir, workerId)).toBe(false);
      expect(await kit.exists(agentDir, webId)).toBe(true);
      await new Promise((r) => setTimeout(r, 500)); // Docker's die event arrives; the /proc scan has run
      expect(timeline.running("blue")).toEqual([]);
      // Docker stamps its die event itself; a /proc scan sees an end up to one scan (10 ms) late.
      const ends = timeline.intervals.filter((x) => x.color === "blue").map((x) => x.end!);
      expect(Math.max(...ends)).toBeLessThanOrEqual(exitedAt + (runtime === "process" ? 100 : 0));
      console.log(`${runtime}: SIGTERM → worker gone ${exitedAt - Math.max(...ends)} ms before the agent's exit was seen`);
    }, 60_000);
  });
}
