/**
 * The reconciler's memory.json beyond the lease ledger (lease.test.ts): restart requests, pins in the
 * services' own repositories, pre-promotion task runs, and a write that fails. What must be on disk before
 * the reconciler acts is read back from the file; "writes nothing" is shown by a write that could only fail
 * (the data dir's parent made a plain file), so a call that resolves there wrote nothing.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { Memory, type DigestPin } from "../../reconciler/loop/memory.js";
import type { TaskRunRecord } from "../../specs/observed.js";

let root: string;
let data: string;
/** Every write fails from now on (ENOTDIR), until unblock(). */
const block = () => {
  rmSync(join(root, "gate"), { recursive: true, force: true });
  writeFileSync(join(root, "gate"), "");
};
const unblock = () => {
  rmSync(join(root, "gate"), { force: true });
  mkdirSync(join(root, "gate"));
};
const onDisk = () => JSON.parse(readFileSync(join(data, "memory.json"), "utf8"));
const pin = (tag: string, digest: string): DigestPin => ({ tag, digest: `sha256:${digest.repeat(64).slice(0, 64)}`, source: "registry", atMs: 1 });
const run = (o: Partial<TaskRunRecord> = {}): TaskRunRecord => ({ id: "r1", attempt: 1, node: "n1", state: "running", exitCode: null, durationMs: null, finishedAt: null, output: [], error: null, ...o });

async function memory(): Promise<Memory> {
  const m = new Memory(data);
  await m.load();
  return m;
}

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), "sy-memory-"));
  unblock();
  data = join(root, "gate", "data");
});
afterEach(() => {
  vi.useRealTimers();
  rmSync(root, { recursive: true, force: true });
});

describe("memory.json: restarts, image pins and task runs", () => {
  it("are on disk when the call resolves, and a restarted reconciler reads back exactly what it wrote", async () => {
    const m = await memory();
    await m.recordRestart("green", 3);
    await m.recordRestart("blue", 1);
    await m.recordPin("green", pin("v2", "a"), "registry.example/api");
    await m.recordTaskRun("green", "v2", "migrate", run());
    expect(onDisk().restarts).toEqual({ green: 3, blue: 1 });
    expect(onDisk().imagePins).toEqual({ green: { "registry.example/api": pin("v2", "a") } });
    expect(onDisk().tasks).toEqual({ green: { tag: "v2", attempts: {}, runs: { migrate: run() } } });
    const again = await memory();
    expect(again.get()).toStrictEqual(m.get());
  });

  it("a file from before restarts, image pins and tasks reads back without them", async () => {
    mkdirSync(data, { recursive: true });
    const doc = { version: 1, jobs: { epoch: 4, grants: {} }, deploys: { green: { tag: "v2", startedAtMs: 5 } }, routerLive: "blue", pins: { blue: pin("v1", "f") } };
    writeFileSync(join(data, "memory.json"), JSON.stringify(doc));
    const m = await memory();
    expect(m.get()).toStrictEqual(doc);
  });

  it("image pins: one per colour and repository, apart from the colour's main pin; the same pin again writes nothing", async () => {
    const m = await memory();
    await m.recordPin("green", pin("v2", "a"));
    await m.recordPin("green", pin("v2", "a"), "registry.example/api"); // same content as the main pin: still its own record
    await m.recordPin("green", pin("v2", "b"), "registry.example/worker");
    await m.recordPin("blue", pin("v1", "c"), "registry.example/api");
    expect(onDisk().pins).toEqual({ green: pin("v2", "a") });
    expect(onDisk().imagePins).toEqual({
      green: { "registry.example/api": pin("v2", "a"), "registry.example/worker": pin("v2", "b") },
      blue: { "registry.example/api": pin("v1", "c") },
    });
    block();
    await expect(m.recordPin("green", pin("v2", "a"))).resolves.toBeUndefined();
    await expect(m.recordPin("green", pin("v2", "b"), "registry.example/worker")).resolves.toBeUndefined();
    await expect(m.recordPin("green", pin("v2", "d"), "registry.example/worker"), "same tag, new content").rejects.toThrow();
    await expect(m.recordPin("blue", pin("v3", "c"), "registry.example/api"), "same content, new tag").rejects.toThrow();
    await expect(m.recordPin("green", pin("v2", "e")), "the main pin, new content").rejects.toThrow();
  });

  it("task runs: a result is kept only for the run remembered as running, for the colour's tag", async () => {
    const m = await memory();
    await m.recordTaskRun("green", "v2", "migrate", run());
    const done = run({ state: "succeeded", exitCode: 0, durationMs: 1200, finishedAt: "2026-11-30T07:00:00.000Z", output: ["ok"] });
    await m.recordTaskRun("green", "v2", "migrate", done);
    expect(onDisk().tasks.green).toEqual({ tag: "v2", attempts: {}, runs: { migrate: done } });
    block();
    // Nothing to write: the same run again, a late answer about an earlier run, an answer for another tag,
    // an answer where no run is remembered (another colour; a fresh memory).
    await expect(m.recordTaskRun("green", "v2", "migrate", done)).resolves.toBeUndefined();
    await expect(m.recordTaskRun("green", "v2", "migrate", { ...done, id: "r0", state: "failed" })).resolves.toBeUndefined();
    await expect(m.recordTaskRun("green", "v1", "migrate", { ...done, state: "failed" })).resolves.toBeUndefined();
    await expect(m.recordTaskRun("blue", "v2", "migrate", done)).resolves.toBeUndefined();
    await expect(m.recordTaskRun("green", "v2", "seed", done)).resolves.toBeUndefined();
    unblock();
    const fresh = new Memory(join(root, "fresh"));
    block();
    await expect(fresh.recordTaskRun("green", "v2", "migrate", done)).resolves.toBeUndefined();
    expect(m.get().tasks?.green?.runs).toEqual({ migrate: done });
    // Something changed: its state, its node, a new run; each is written.
    await expect(m.recordTaskRun("green", "v2", "migrate", { ...done, state: "failed" })).rejects.toThrow();
    await expect(m.recordTaskRun("green", "v2", "migrate", { ...done, state: "failed", node: "n2" })).rejects.toThrow();
    unblock();
    await m.recordTaskRun("green", "v2", "migrate", run({ id: "r2", attempt: 2 }));
    expect(onDisk().tasks.green.runs).toEqual({ migrate: run({ id: "r2", attempt: 2 }) });
    // A run for a new tag starts the colour's record again.
    await m.recordTaskRun("green", "v3", "migrate", run({ id: "r3" }));
    expect(onDisk().tasks.green).toEqual({ tag: "v3", attempts: {}, runs: { migrate: run({ id: "r3" }) } });
    // Another run on the same node in the same state is another run all the same.
    await m.recordTaskRun("green", "v3", "migrate", run({ id: "r4" }));
    expect(onDisk().tasks.green.runs).toEqual({ migrate: run({ id: "r4" }) });
  });

  it("served: the colour's tasks count as done for its tag; the same again writes nothing; another tag starts a new record", async () => {
    const m = await memory();
    await m.recordTaskRun("green", "v2", "migrate", run());
    await m.recordTasksServed("green", "v2");
    expect(onDisk().tasks.green).toEqual({ tag: "v2", attempts: {}, runs: { migrate: run() }, served: true });
    block();
    await expect(m.recordTasksServed("green", "v2")).resolves.toBeUndefined();
    unblock();
    await m.recordTasksServed("green", "v3");
    expect(onDisk().tasks.green).toEqual({ tag: "v3", attempts: {}, runs: {}, served: true });
  });

  it("retry: the task's next attempt forgets its last run and keeps the other tasks'", async () => {
    const m = await memory();
    await m.recordTaskRun("green", "v2", "migrate", run());
    await m.recordTaskRun("green", "v2", "seed", run({ id: "s1" }));
    expect(await m.retryTask("green", "v2", "migrate")).toBe(2);
    expect(onDisk().tasks.green).toEqual({ tag: "v2", attempts: { migrate: 2 }, runs: { seed: run({ id: "s1" }) } });
    expect(await m.retryTask("green", "v2", "migrate")).toBe(3);
    expect(onDisk().tasks.green.attempts).toEqual({ migrate: 3 });
    // A late answer about the forgotten run changes nothing.
    block();
    await expect(m.recordTaskRun("green", "v2", "migrate", run({ state: "failed" }))).resolves.toBeUndefined();
    unblock();
    expect(await m.retryTask("green", "v3", "migrate"), "another tag starts from the first attempt").toBe(2);
    expect(onDisk().tasks.green).toEqual({ tag: "v3", attempts: { migrate: 2 }, runs: {} });
  });

  it("a failed write: the error and since when (the first failure), until a write reaches the disk", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    const m = await memory();
    expect(m.writeFailure()).toBeNull();
    block();
    vi.setSystemTime(1_900_000_000_000);
    await expect(m.recordRestart("blue", 1)).rejects.toThrow(/ENOTDIR|not a directory/);
    vi.setSystemTime(1_900_000_060_000);
    await expect(m.recordRestart("blue", 2)).rejects.toThrow();
    expect(m.writeFailure()).toEqual({ file: join(data, "memory.json"), error: expect.stringMatching(/ENOTDIR/), sinceMs: 1_900_000_000_000 });
    unblock();
    await m.retry();
    expect(m.writeFailure()).toBeNull();
    expect(onDisk().restarts).toEqual({ blue: 2 });
  });
});
