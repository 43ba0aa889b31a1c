import { appendFile, mkdtemp, readFile, readdir, rename, rm, stat } from "node:fs/promises";
import { existsSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { EventLog, type EventRecord } from "../../reconciler/notify/events.js";

const dirs: string[] = [];
const logs: EventLog[] = [];

afterEach(async () => {
  await Promise.all(logs.splice(0).map((l) => l.close()));
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});

async function tempDir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), "sy-events-"));
  dirs.push(d);
  return d;
}

async function openLog(o: { dir: string; maxBytes?: number; keep?: number; memory?: number }): Promise<EventLog> {
  const log = new EventLog(o);
  logs.push(log);
  await log.open();
  return log;
}

async function readLines(file: string): Promise<EventRecord[]> {
  const text = await readFile(file, "utf8");
  return text.split("\n").filter(Boolean).map((l) => JSON.parse(l) as EventRecord);
}

describe("EventLog", () => {
  it("appends with increasing seq, serves recent by limit, afterSeq and type, and notifies subscribers", async () => {
    const dir = await tempDir();
    const log = await openLog({ dir });
    const seen: number[] = [];
    const off = log.subscribe((r) => seen.push(r.seq));
    const a = log.append({ type: "action", message: "deploying", node: "green-1", tag: "v2" });
    log.append({ type: "result", message: "deployed", node: "green-1" });
    log.append({ type: "info", message: "resync", ts: "2026-01-01T00:00:00.000Z" });
    off();
    log.append({ type: "action", message: "switching", router: "router-1" });

    expect(a).toMatchObject({ seq: 1, type: "action", message: "deploying", node: "green-1", tag: "v2" });
    expect(Date.parse(a.ts)).not.toBeNaN();
    expect(seen).toEqual([1, 2, 3]);
    expect(log.recent().map((r) => r.seq)).toEqual([1, 2, 3, 4]);
    expect(log.recent({ limit: 2 }).map((r) => r.seq)).toEqual([3, 4]);
    expect(log.recent({ afterSeq: 1 }).map((r) => r.seq)).toEqual([2, 3, 4]);
    expect(log.recent({ afterSeq: 1, limit: 2 }).map((r) => r.seq)).toEqual([3, 4]);
    expect(log.recent({ afterSeq: 0, limit: 3 }).map((r) => r.seq)).toEqual([2, 3, 4]);
    expect(log.recent({ afterSeq: 4 })).toEqual([]);
    expect(log.recent({ type: "action" }).map((r) => r.message)).toEqual(["deploying", "switching"]);
    expect(log.recent({ limit: 0 })).toEqual([]);
    expect(log.recent()[2]!.ts).toBe("2026-01-01T00:00:00.000Z");
    expect(Object.isFrozen(a)).toBe(true);

    await log.flush();
    expect((await readLines(log.file)).map((r) => [r.seq, r.message])).toEqual([[1, "deploying"], [2, "deployed"], [3, "resync"], [4, "switching"]]);
  });

  it("keeps only `memory` records in memory, all of them on disk", async () => {
    const dir = await tempDir();
    const log = await openLog({ dir, memory: 10 });
    for (let i = 0; i < 25; i++) log.append({ type: "info", message: "tick", i });
    expect(log.recent().map((r) => r.seq)).toEqual([16, 17, 18, 19, 20, 21, 22, 23, 24, 25]);
    await log.flush();
    expect(await readLines(log.file)).toHaveLength(25);
  });

  it("returns to the caller at once: 5000 appends without waiting for the disk", async () => {
    const dir = await tempDir();
    const log = await openLog({ dir });
    const sizeBefore = existsSync(log.file) ? statSync(log.file).size : 0;
    const returned: unknown[] = [];
    for (let i = 0; i < 5000; i++) returned.push(log.append({ type: "action", message: "applying spec", node: `blue-${i % 7}`, generation: i }));
    // Ground truth instead of a stopwatch: append hands back the record itself (no promise to wait for),
    // and nothing reached the file before the caller went on.
    expect(returned.every((r, i) => !(r instanceof Promise) && (r as { seq: number }).seq === i + 1)).toBe(true);
    expect(existsSync(log.file) ? statSync(log.file).size : 0).toBe(sizeBefore);
    await log.flush();
    const lines = await readLines(log.file);
    expect(lines).toHaveLength(5000);
    expect(lines.every((r, i) => r.seq === i + 1)).toBe(true);
  });

  it("rotates above maxBytes, keeps `keep` rotated files, and every line stays whole and in order", async () => {
    const dir = await tempDir();
    const maxBytes = 1000;
    const log = await openLog({ dir, maxBytes, keep: 2 });
    for (let i = 0; i < 200; i++) {
      log.append({ type: "action", message: "applying spec", node: "blue-1", i });
      if (i % 37 === 0) await log.flush(); // rotation both inside one batch and between batches
    }
    await log.flush();
    expect((await readdir(dir)).sort()).toEqual(["events.1.jsonl", "events.2.jsonl", "events.jsonl"]);
    const files = ["events.2.jsonl", "events.1.jsonl", "events.jsonl"].map((f) => join(dir, f));
    const seqs: number[] = [];
    for (const f of files) {
      expect((await stat(f)).size).toBeLessThanOrEqual(maxBytes);
      seqs.push(...(await readLines(f)).map((r) => r.seq));
    }
    expect(seqs.at(-1)).toBe(200);
    expect(seqs).toEqual(seqs.map((_, i) => seqs[0]! + i)); // contiguous across the files
  });

  it("continues seq numbering and fills memory on reopen, also right after a rotation", async () => {
    const dir = await tempDir();
    const first = await openLog({ dir, maxBytes: 400, keep: 3 });
    for (let i = 0; i < 20; i++) first.append({ type: "info", message: "tick", i });
    await first.close();

    const second = await openLog({ dir, maxBytes: 400, keep: 3, memory: 5 });
    expect(second.recent().map((r) => r.seq)).toEqual([16, 17, 18, 19, 20]);
    expect(second.append({ type: "info", message: "after restart" }).seq).toBe(21);
    await second.close();

    // A crash right after a rotation: the current file is gone, the newest records are in events.1.jsonl.
    await rm(join(dir, "events.3.jsonl"), { force: true });
    await rename(join(dir, "events.2.jsonl"), join(dir, "events.3.jsonl"));
    await rename(join(dir, "events.1.jsonl"), join(dir, "events.2.jsonl"));
    await rename(join(dir, "events.jsonl"), join(dir, "events.1.jsonl"));
    const third = await openLog({ dir, maxBytes: 400, keep: 3, memory: 8 });
    expect(third.recent().map((r) => r.seq)).toEqual([14, 15, 16, 17, 18, 19, 20, 21]);
    expect(third.append({ type: "info", message: "again" }).seq).toBe(22);
  });

  it("skips a torn last line after a crash and starts the next record on a fresh line", async () => {
    const dir = await tempDir();
    const first = await openLog({ dir });
    first.append({ type: "info", message: "one" });
    first.append({ type: "info", message: "two" });
    await first.close();
    await appendFile(join(dir, "events.jsonl"), '{"seq":3,"ts":"2026-01-01T00:00:00.000Z","type":"ac');

    const second = await openLog({ dir });
    expect(second.recent().map((r) => r.message)).toEqual(["one", "two"]);
    expect(second.append({ type: "info", message: "three" }).seq).toBe(3);
    await second.flush();
    const text = await readFile(join(dir, "events.jsonl"), "utf8");
    const parsed = text.split("\n").filter(Boolean).flatMap((l) => { try { return [JSON.parse(l) as EventRecord]; } catch { return []; } });
    expect(parsed.map((r) => r.message)).toEqual(["one", "two", "three"]);
  });

  it("redacts token, password, secret and authorization at any depth, in memory, to subscribers and on disk", async () => {
    const dir = await tempDir();
    const log = await openLog({ dir });
    let delivered: EventRecord | undefined;
    log.subscribe((r) => (delivered = r));
    const rec = log.append({
      type: "action", message: "calling agent", node: "blue-1", token: "t0ps3cret",
      request: { headers: { Authorization: "Bearer abc123", accept: "json" }, nodes: [{ name: "n", password: "hunter2" }] },
      registry: { auth: { SECRET: "s3cr3t", username: "ci" } },
      tokenFile: "secrets/blue-1.token",
    });
    await log.flush();
    const onDisk = await readFile(log.file, "utf8");
    for (const leaked of ["t0ps3cret", "abc123", "hunter2", "s3cr3t"]) {
      expect(JSON.stringify(rec)).not.toContain(leaked);
      expect(JSON.stringify(delivered)).not.toContain(leaked);
      expect(onDisk).not.toContain(leaked);
    }
    expect(rec).toMatchObject({
      token: "[redacted]", tokenFile: "secrets/blue-1.token",
      request: { headers: { Authorization: "[redacted]", accept: "json" }, nodes: [{ name: "n", password: "[redacted]" }] },
      registry: { auth: { SECRET: "[redacted]", username: "ci" } },
    });
  });

  it("writes anything it is given as valid JSON: errors, cycles, bigints; seq and type cannot be forged", async () => {
    const dir = await tempDir();
    const log = await openLog({ dir });
    const cyclic: Record<string, unknown> = { name: "loop" };
    cyclic.self = cyclic;
    const rec = log.append({ type: "result", message: "failed", err: new Error("ECONNREFUSED"), cyclic, big: 10n, fn: () => 1, seq: 99 } as never);
    expect(rec).toMatchObject({ seq: 1, err: { name: "Error", message: "ECONNREFUSED" }, cyclic: { name: "loop", self: "[circular]" }, big: "10" });
    expect(rec).not.toHaveProperty("fn");
    await log.flush();
    expect(await readLines(log.file)).toHaveLength(1);
  });

  it("refuses append before open and writes nothing after close", async () => {
    const dir = await tempDir();
    const log = new EventLog({ dir });
    expect(() => log.append({ type: "info", message: "too early" })).toThrow(/before open/);
    await log.open();
    log.append({ type: "info", message: "kept" });
    await log.close();
    log.append({ type: "info", message: "late" });
    await log.flush();
    expect((await readLines(log.file)).map((r) => r.message)).toEqual(["kept"]);
  });
});
