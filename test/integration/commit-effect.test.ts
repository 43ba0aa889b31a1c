/**
 * Commit, then effect, on a whole cluster (issue 20 item 1): blue and green node agents on the process
 * runtime with a job worker, a router, the reconciler on a deploy dir under git, and load through the
 * router. A promote whose commit fails — slowly (a commit-msg hook that sleeps, then fails, and the branch
 * locked by another git) or at once (a merge in progress) — answers 503 and nothing moves: live traffic
 * stays on blue, the job lease keeps its epoch, the loop is handed no new desired state. Then a promote
 * that commits does move traffic, so the measurement can see a flip.
 */
import { chmodSync, rmSync, writeFileSync } from "node:fs";
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ClusterBed, Load } from "../support/cluster-bed.js";
import { processKit } from "../support/runtime-kit.js";
import { waitFor } from "../support/agent-bed.js";
import type { ClusterStatus } from "../../reconciler/loop/status.js";

let bed: ClusterBed;
const git = (...a: string[]) => execFileSync("git", ["-C", bed.deployDir, ...a], { encoding: "utf8" }).trim();
const cond = (s: ClusterStatus, t: string) => s.conditions.find((c) => c.type === t)?.status;

beforeAll(async () => {
  bed = new ClusterBed({ prefix: "cfx", kit: await processKit(), withWorker: true, git: true, leaseTtlSeconds: 4 });
  await bed.startAgents();
  await bed.startReconciler();
  await waitFor("blue live, green ready, blue holds the lease", async () => {
    const s = await bed.status();
    return cond(s, "Ready") === "True" && s.colors?.green.phase === "Ready" && s.jobs?.holders.map((h) => h.color).join() === "blue";
  }, 60_000);
}, 90_000);

afterAll(async () => {
  await bed?.close();
});

async function promote(): Promise<{ status: number; message: string; ms: number }> {
  const state = (await bed.api<{ revision: string }>("/api/v1/state"));
  const started = Date.now();
  const res = await fetch(bed.reconcilerUrl + "/api/v1/actions/promote", {
    method: "POST",
    headers: { authorization: `Bearer ${bed.token}`, "content-type": "application/json", "if-match": state.revision },
    body: "{}",
  });
  const body = (await res.json()) as { error?: { message: string }; message?: string };
  return { status: res.status, message: body.error?.message ?? body.message ?? "", ms: Date.now() - started };
}

describe("an API change whose commit fails never reaches an agent or router", () => {
  it("a slow failing commit and a merge in progress: 503, live traffic stays on blue, the lease keeps its epoch", async () => {
    const before = await bed.status();
    const epoch = before.jobs!.epoch;
    const revision = before.revision;
    const commits = git("rev-list", "--count", "HEAD");
    const branch = git("symbolic-ref", "HEAD");
    const load = new Load(bed, 2, 5);
    let slow = { status: 0, message: "", ms: 0 };
    let merging = slow;
    try {
      // Slow: a commit-msg hook that sleeps 4 s and fails (hooks do not run for Switchyard's commits), and
      // the branch locked by another git, which fails the commit whatever runs.
      const hook = join(bed.deployDir, ".git", "hooks", "commit-msg");
      writeFileSync(hook, "#!/bin/sh\nsleep 4\necho 'policy: no' >&2\nexit 1\n");
      chmodSync(hook, 0o755);
      const lock = join(bed.deployDir, ".git", branch + ".lock");
      writeFileSync(lock, "");
      slow = await promote();
      await new Promise((r) => setTimeout(r, 1_500));
      rmSync(lock);
      rmSync(hook);

      // At once: a merge in progress.
      writeFileSync(join(bed.deployDir, ".git", "MERGE_HEAD"), git("rev-parse", "HEAD") + "\n");
      merging = await promote();
      await new Promise((r) => setTimeout(r, 1_500));
      rmSync(join(bed.deployDir, ".git", "MERGE_HEAD"));
    } finally {
      await load.stop();
    }
    expect(load.colors, "who served live traffic, in order").toEqual(["blue"]);
    expect(load.ok).toBeGreaterThan(20);
    expect(load.failed).toEqual([]);
    const after = await bed.status();
    expect(after.jobs!.epoch).toBe(epoch);
    expect(after.jobs!.holders.map((h) => h.color)).toEqual(["blue"]);
    expect(after.revision).toBe(revision);
    expect(after.router!.live).toBe("blue");
    expect(git("rev-list", "--count", "HEAD")).toBe(commits);
    expect((await bed.api<{ alerts: { name: string }[] }>("/api/v1/alerts")).alerts.map((a) => a.name)).toEqual([]);
    expect(slow.status, slow.message).toBe(503);
    expect(merging.status, merging.message).toBe(503);
    expect(merging.message).toContain("a merge is in progress");

    // The same measurement sees a promote that commits.
    const load2 = new Load(bed, 2, 5);
    try {
      const ok = await promote();
      expect(ok.status, ok.message).toBe(200);
      await waitFor("green live", async () => load2.colors.at(-1) === "green", 20_000, 50);
    } finally {
      await load2.stop();
    }
    expect(git("log", "-1", "--format=%an|%s")).toMatch(/^tester\|promote green/);
  }, 90_000);
});
