/**
 * Background jobs run on exactly one colour: fenced handoffs under load, partitions, frozen agents and
 * a killed reconciler — proven against real Docker with the demo store as ground truth.
 */
import { readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ClusterBed, Relay } from "../support/cluster-bed.js";
import { JobTimeline, Store, percentile } from "../support/jobs-rig.js";
import { ProcessStore, ProcessTimeline } from "../support/process-jobs.js";
import { processKit, type RuntimeKit } from "../support/runtime-kit.js";
import { docker, waitFor } from "../support/agent-bed.js";
import { procsOfNode } from "../support/procs.js";
import type { ClusterStatus } from "../../reconciler/loop/status.js";

const TTL_S = 3;
const MARGIN_MS = 2000;
const ready = (s: ClusterStatus) => s.conditions.find((c) => c.type === "Ready")?.status === "True";

type Runtime = "docker" | "process";
let processKitP: Promise<RuntimeKit> | undefined;

/** The same scenarios on both runtimes; ground truth from the store and from the machine (Docker events or /proc). */
async function rig(runtime: Runtime, prefix: string, extra: Partial<ConstructorParameters<typeof ClusterBed>[0]> = {}) {
  const store = runtime === "docker" ? new Store() : new ProcessStore();
  await store.start(prefix);
  const timeline = runtime === "docker" ? new JobTimeline() : new ProcessTimeline();
  await timeline.start(prefix);
  const kit = runtime === "process" ? { kit: await (processKitP ??= processKit()) } : {};
  const workerEnv = { STORE_URL: store.workerUrl, JOB_INTERVAL_MS: "100", ...extra.workerEnv };
  const bed = new ClusterBed({ prefix, ...kit, withWorker: true, leaseTtlSeconds: TTL_S, state: { owner: "blue" }, ...extra, workerEnv });
  await bed.startAgents();
  return { store, timeline, bed };
}

/**
 * Its argument, after checking there is something in it: Math.max() of nothing is -Infinity and Math.min() of
 * nothing Infinity, which would pass the comparisons below whatever happened.
 */
function some<T>(what: string, xs: T[]): T[] {
  expect(xs.length, `no ${what} seen`).toBeGreaterThan(0);
  return xs;
}

function holders(s: ClusterStatus): string[] {
  return (s.jobs?.holders ?? []).map((h) => h.color);
}

/** Waits until `color` owns the jobs and its worker has delivered at least one notification. */
async function ownedBy(bed: ClusterBed, store: Store, color: string, sinceMs: number, timeoutMs = 30_000): Promise<void> {
  await waitFor(`${color} owns the jobs`, async () => {
    const s = await bed.status();
    if (holders(s).some((c) => c !== color) || !holders(s).includes(color)) return false;
    const r = await store.records();
    return r.delivered.some((d) => d.color === color && d.at >= sinceMs);
  }, timeoutMs, 50);
}

/** Kills the worker of `node` behind its agent's back (SIGKILL, like `docker kill`). */
async function killWorker(runtime: Runtime, node: string): Promise<void> {
  if (runtime === "docker") {
    const list = await docker.listContainers({ filters: { label: [`dev.switchyard.node=${node}`, "dev.switchyard.service=worker"] } });
    expect(list.length).toBe(1);
    await docker.getContainer(list[0]!.Id).kill();
    return;
  }
  const procs = procsOfNode(node).filter((pr) => pr.env.SWITCHYARD_SERVICE === "worker");
  expect(procs.length).toBeGreaterThan(0);
  for (const pr of procs) process.kill(pr.pid, "SIGKILL");
}

function noDuplicates(r: Awaited<ReturnType<Store["records"]>>): void {
  const ids = r.delivered.map((d) => d.id);
  expect(new Set(ids).size).toBe(ids.length);
  expect(r.duplicates).toBe(0);
}

/**
 * Registers a rig's setup and teardown for the enclosing describe (the bed's close also thaws and stops
 * child agents); when the tests start, blue owns the jobs. Returns the rig's getter.
 */
function useRig(runtime: Runtime, prefix: string, extra: Partial<ConstructorParameters<typeof ClusterBed>[0]> = {}, reconciler: "inproc" | "child" = "inproc") {
  let t: Awaited<ReturnType<typeof rig>> | undefined;
  beforeAll(async () => {
    t = await rig(runtime, prefix, extra);
    if (reconciler === "child") await t.bed.spawnReconciler();
    else await t.bed.startReconciler();
    // Under a loaded CI (the soak beside it) the first start can be slow; say why when it never gets there.
    let why = "";
    await waitFor("ready", async () => {
      const s = await t!.bed.status();
      why = JSON.stringify({ conditions: s.conditions, blue: s.colors?.blue.phase, green: s.colors?.green.phase });
      return ready(s);
    }, 100_000).catch((err: Error) => {
      throw new Error(`${err.message}; last status: ${why}`);
    });
    await ownedBy(t.bed, t.store, "blue", 0);
  });
  afterAll(async () => {
    t?.timeline.close();
    await t?.bed.close();
    await t?.store.close();
  });
  return () => t!;
}

for (const runtime of ["docker", "process"] as const) {
  const p = (prefix: string) => (runtime === "docker" ? prefix : `${prefix}p`);
  describe(`${runtime}: jobs: 50 handoffs under continuous job load`, () => {
    const t = useRig(runtime, p("jb1"));

    it("no notification twice, never both colours at once; the gap is measured", async () => {
      let owner: "blue" | "green" = "blue";
      for (let i = 0; i < 50; i++) {
        owner = owner === "blue" ? "green" : "blue";
        const at = Date.now();
        t().bed.writeState({ owner });
        await ownedBy(t().bed, t().store, owner, at);
      }
      await new Promise((r) => setTimeout(r, 300));
      const r = await t().store.records();
      noDuplicates(r);
      expect(t().timeline.overlapMs()).toBe(0);
      const gaps = t().timeline.handoffGaps();
      expect(gaps.length).toBeGreaterThanOrEqual(50);
      // /proc is read every 10 ms on the process runtime, so a gap shorter than that can show as 0.
      expect(Math.min(...gaps)).toBeGreaterThanOrEqual(runtime === "docker" ? 1 : 0);
      const epochs = r.delivered.map((d) => d.epoch);
      for (let i = 1; i < epochs.length; i++) expect(epochs[i]!).toBeGreaterThanOrEqual(epochs[i - 1]!);
      console.log(`${runtime}: jobs handoff gap (old stopped → new started): p50 ${percentile(gaps, 50).toFixed(0)} ms, p99 ${percentile(gaps, 99).toFixed(0)} ms over ${gaps.length} handoffs; ${r.delivered.length} notifications, 0 duplicates, overlap 0 ms`);
    }, 300_000);

    it("owner none → no job container anywhere within one TTL", async () => {
      t().bed.writeState({ owner: "none" });
      const at = Date.now();
      await waitFor("no job container", async () => t().timeline.running().length === 0, TTL_S * 1000 + 5000, 50);
      expect(Date.now() - at).toBeLessThan(TTL_S * 1000 + 1000);
      await new Promise((r) => setTimeout(r, 1000));
      expect(t().timeline.running()).toEqual([]);
      expect(holders(await t().bed.status())).toEqual([]);
    });
  });

  describe(`${runtime}: jobs: a worker that dies under the lease`, () => {
    const t = useRig(runtime, p("jb6"));

    it("a worker killed behind the agent's back runs again; dying twice fires JobDown", async () => {
      const node = `${p("jb6")}-blue-1`;
      await killWorker(runtime, node);
      await ownedBy(t().bed, t().store, "blue", Date.now(), 20_000); // delivering again, without a handoff
      await killWorker(runtime, node);
      const alert = await waitFor("JobDown firing", async () => {
        const { alerts } = await t().bed.api<{ alerts: { name: string; state: string; labels: Record<string, string>; summary: string }[] }>("/api/v1/alerts");
        return alerts.find((a) => a.name === "JobDown" && a.state === "firing" && a.labels.node === node);
      }, 20_000);
      expect(alert.summary).toMatch(/job worker on .*-blue-1 \(blue\) (keeps stopping|is down)/);
      await ownedBy(t().bed, t().store, "blue", Date.now(), 20_000);
    }, 90_000);
  });

  describe(`${runtime}: jobs: the old owner cut off from the reconciler`, () => {
    const relay = new Relay();
    const t = useRig(runtime, p("jb2"), { relays: { [`${p("jb2")}-blue-1`]: relay } });

    it("the old agent stops its jobs when its lease lapses; the new owner starts only after that", async () => {
      relay.cut();
      const cutAt = Date.now();
      t().bed.writeState({ owner: "green" });
      await waitFor("blue's worker stopped by its own agent", async () => t().timeline.running("blue").length === 0, TTL_S * 1000 + 3000, 50);
      const blueStopped = Math.max(...some("blue worker", t().timeline.intervals.filter((x) => x.color === "blue")).map((x) => x.end ?? Infinity));
      expect(blueStopped - cutAt).toBeLessThan(TTL_S * 1000 + 1000);
      await ownedBy(t().bed, t().store, "green", cutAt, 20_000);
      const greenStarted = Math.min(...some("green worker", t().timeline.intervals.filter((x) => x.color === "green")).map((x) => x.start));
      expect(greenStarted).toBeGreaterThan(blueStopped);
      expect(t().timeline.overlapMs()).toBe(0);
      noDuplicates(await t().store.records());
      console.log(`${runtime}: jobs handoff with the old owner unreachable: gap ${(greenStarted - blueStopped).toFixed(0)} ms (TTL ${TTL_S * 1000} ms + margin ${MARGIN_MS} ms, counted from the last grant)`);
      relay.heal();
    });
  });

  describe(`${runtime}: jobs: the old owner's agent frozen (SIGSTOP)`, () => {
    const t = useRig(runtime, p("jb3"), { childAgents: [`${p("jb3")}-blue-1`] });

    it("its workers keep running, but the epoch fence refuses their writes: zero duplicates", async () => {
      const agent = t().bed.agentProcess(`${p("jb3")}-blue-1`)!;
      agent.kill("SIGSTOP");
      const at = Date.now();
      t().bed.writeState({ owner: "green" });
      await ownedBy(t().bed, t().store, "green", at, 40_000);
      // Both colours' workers now run (the frozen agent cannot stop blue's): the fence must hold.
      expect(t().timeline.running("blue").length).toBeGreaterThan(0);
      await new Promise((r) => setTimeout(r, 1500));
      const r = await t().store.records();
      noDuplicates(r);
      const firstGreen = Math.min(...some("green notification", r.delivered.filter((d) => d.color === "green")).map((d) => d.at));
      expect(r.delivered.filter((d) => d.color === "blue" && d.at > firstGreen)).toEqual([]);
      expect(r.fenced).toBeGreaterThan(0);
      agent.kill("SIGCONT");
      await waitFor("thawed agent stops its lapsed jobs", async () => t().timeline.running("blue").length === 0, 10_000, 50);
    });
  });

  describe(`${runtime}: jobs: the reconciler killed during a handoff`, () => {
    const t = useRig(runtime, p("jb4"), {}, "child");

    it("restarted, it still has at most one owner and never reuses an epoch", async () => {
      const before = await t().store.records();
      const at = Date.now();
      t().bed.writeState({ owner: "green" });
      await waitFor("blue's worker stopping", async () => t().timeline.running("blue").length === 0, 10_000, 10);
      t().bed.child!.kill("SIGKILL");
      await new Promise((r) => t().bed.child!.once("exit", r));
      await t().bed.spawnReconciler();
      await ownedBy(t().bed, t().store, "green", at, 30_000);
      expect(t().timeline.overlapMs()).toBe(0);
      const r = await t().store.records();
      noDuplicates(r);
      const greenEpochs = some("green notification", r.delivered.filter((d) => d.color === "green")).map((d) => d.epoch);
      expect(Math.min(...greenEpochs)).toBeGreaterThan(before.highestEpoch);
    });
  });
}

/**
 * A worker finishing a long job: the demo worker, but SIGTERM takes effect only after STOP_DELAY_MS. Written
 * into every release of the process runtime (the Docker image has no such file).
 */
const SLOW_STOP_WORKER = `const delay = Number(process.env.STOP_DELAY_MS || 5000);
await import("./worker.js");
const stop = process.listeners("SIGTERM");
process.removeAllListeners("SIGTERM");
process.on("SIGTERM", () => setTimeout(() => { for (const l of stop) l("SIGTERM"); }, delay));
`;

describe("process: jobs: the old owner cut off while its worker ignores SIGTERM for longer than the TTL", () => {
  const STOP_S = 5;
  const relay = new Relay();
  beforeAll(async () => {
    const kit = await (processKitP ??= processKit());
    for (const tag of readdirSync(kit.releasesDir!)) writeFileSync(join(kit.releasesDir!, tag, "slow-stop-worker.js"), SLOW_STOP_WORKER);
  });
  // Ignores SIGTERM for 6 s: its agent's lapse sends SIGTERM at most one TTL after the cut, and SIGKILL STOP_S later.
  const t = useRig("process", "jb5p", { relays: { "jb5p-blue-1": relay }, workerCommand: ["node", "slow-stop-worker.js"], workerStopTimeoutSeconds: STOP_S, workerEnv: { STOP_DELAY_MS: "6000" } });

  it("the new owner starts only after the old worker is gone (TTL + stopTimeoutSeconds + margin): zero overlap", async () => {
    relay.cut();
    const cutAt = Date.now();
    t().bed.writeState({ owner: "green" });
    await ownedBy(t().bed, t().store, "green", cutAt, 40_000);
    await waitFor("blue's worker gone", async () => t().timeline.running("blue").length === 0, 20_000, 50);
    expect(t().timeline.overlapMs()).toBe(0);
    const blueStopped = Math.max(...some("blue worker", t().timeline.intervals.filter((x) => x.color === "blue")).map((x) => x.end ?? Infinity));
    // It really outlived its lease: SIGTERM came at the lapse, and it kept running through it.
    expect(blueStopped - cutAt).toBeGreaterThan(TTL_S * 1000 + 3000);
    const greenStarted = Math.min(...some("green worker", t().timeline.intervals.filter((x) => x.color === "green")).map((x) => x.start));
    expect(greenStarted).toBeGreaterThan(blueStopped);
    const r = await t().store.records();
    noDuplicates(r);
    expect(r.fenced).toBe(0);
    console.log(`process: jobs handoff, old owner unreachable, worker ignoring SIGTERM: old worker gone ${(blueStopped - cutAt).toFixed(0)} ms after the cut, new owner started ${(greenStarted - blueStopped).toFixed(0)} ms after that (TTL ${TTL_S * 1000} ms + stop ${STOP_S * 1000} ms + margin ${MARGIN_MS} ms, counted from the last grant)`);
    relay.heal();
  }, 90_000);
});
