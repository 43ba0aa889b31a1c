/**
 * Both sides of the job lease, without Docker: the agent's Lease (epochs only go up, a revoked epoch is
 * never granted again, expiry on the monotonic clock) and the reconciler's ledger in Memory (written ahead,
 * epoch only grows, survives a restart).
 */
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { performance } from "node:perf_hooks";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Lease } from "../../node-agent/lease.js";
import { Memory } from "../../reconciler/loop/memory.js";

describe("the agent's Lease", () => {
  let t = 1_000;
  let lapses = 0;
  beforeEach(() => {
    t = 1_000;
    lapses = 0;
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    vi.spyOn(performance, "now").mockImplementation(() => t);
  });
  afterEach(() => {
    vi.useRealTimers();
    vi.restoreAllMocks();
  });
  const fresh = (highestEpoch = 0, revokedThrough = 0) => new Lease({ highestEpoch, revokedThrough }, () => { lapses++; });

  it("holds a grant for its TTL on the monotonic clock, then lapses once", () => {
    const l = fresh();
    expect(l.status()).toEqual({ state: "none", epoch: 0, remainingMs: 0, revokedThrough: 0 });
    expect(l.held()).toBe(false);
    expect(l.grant(1, 10_000)).toBe(true);
    expect(l.status()).toEqual({ state: "held", epoch: 1, remainingMs: 10_000, revokedThrough: 0 });
    t += 9_999.5;
    expect(l.held()).toBe(true);
    expect(l.status().remainingMs).toBe(0);
    t += 0.5;
    expect(l.held()).toBe(false);
    expect(l.status()).toEqual({ state: "expired", epoch: 1, remainingMs: 0, revokedThrough: 0 });
    expect(lapses).toBe(1);
    vi.advanceTimersByTime(20_000);
    expect(lapses).toBe(1);
    expect(l.currentEpoch()).toBe(1);
  });

  it("lapses by its own timer just after the TTL, without being asked", () => {
    const l = fresh();
    l.grant(1, 5_000);
    vi.advanceTimersByTime(5_000);
    expect(lapses).toBe(0);
    t += 5_001;
    vi.advanceTimersByTime(1);
    expect(lapses).toBe(1);
    expect(l.status().state).toBe("expired");
  });

  it("a renewal extends the lease and cancels the old timer; only a new epoch counts as a change", () => {
    const l = fresh();
    expect(l.grant(2, 5_000)).toBe(true);
    t += 4_000;
    vi.advanceTimersByTime(4_000);
    expect(l.grant(2, 5_000)).toBe(false);
    t += 4_000;
    vi.advanceTimersByTime(4_000);
    expect(lapses).toBe(0);
    expect(l.status()).toEqual({ state: "held", epoch: 2, remainingMs: 1_000, revokedThrough: 0 });
    expect(l.grant(3, 5_000)).toBe(true);
    expect(l.memory()).toMatchObject({ highestEpoch: 3, revokedThrough: 0, held: { epoch: 3, ttlMs: 5_000 } });
  });

  it("across a restart: a lease that has not expired is adopted (held, not confirmed) and a renewal confirms it", () => {
    const first = fresh();
    first.grant(7, 10_000);
    const mem = JSON.parse(JSON.stringify(first.memory())) as ReturnType<Lease["memory"]>;
    expect(mem.held).toMatchObject({ epoch: 7, ttlMs: 10_000 });
    const next = new Lease(mem, () => { lapses++; });
    const remaining = next.adopt();
    expect(remaining).toBeGreaterThan(9_000);
    expect(remaining).toBeLessThanOrEqual(10_000);
    expect(next.held()).toBe(true);
    expect(next.confirmed()).toBe(false); // no new job starts on an adopted lease
    expect(next.status()).toMatchObject({ state: "held", epoch: 7 });
    expect(next.grant(7, 10_000)).toBe(true); // confirmed: jobs converge (the running ones are kept)
    expect(next.confirmed()).toBe(true);
  });

  it("an adopted lease that nobody renews lapses at its old expiry", () => {
    const first = fresh();
    first.grant(7, 10_000);
    first.close();
    let nextLapses = 0;
    const next = new Lease(first.memory(), () => { nextLapses++; });
    const remaining = next.adopt()!;
    t += remaining;
    vi.advanceTimersByTime(remaining + 1);
    expect(nextLapses).toBe(1);
    expect(next.held()).toBe(false);
    expect(next.memory().held).toBeUndefined();
  });

  it("nothing is adopted when expired, from another kernel boot, when the wall clock says expired, or after a stop gave it up", () => {
    const base = () => {
      const l = fresh();
      l.grant(7, 10_000);
      return l.memory().held!;
    };
    const adopt = (held: NonNullable<ReturnType<Lease["memory"]>["held"]>) => new Lease({ highestEpoch: 7, revokedThrough: 0, held }, () => undefined).adopt();
    expect(adopt({ ...base(), expiresAtMonoMs: base().expiresAtMonoMs - 10_001 })).toBeNull();
    expect(adopt({ ...base(), kernelBootId: "another-boot" })).toBeNull();
    expect(adopt({ ...base(), expiresAtWallMs: Date.now() - 1 })).toBeNull();
    const stopped = fresh();
    stopped.grant(7, 10_000);
    stopped.giveUp();
    expect(stopped.memory().held).toBeUndefined();
    expect(new Lease({ highestEpoch: 7, revokedThrough: 6, held: base() }, () => undefined).adopt()).not.toBeNull();
    expect(new Lease({ highestEpoch: 7, revokedThrough: 7, held: base() }, () => undefined).adopt()).toBeNull(); // revoked here
  });

  it("adopts nothing when nothing was held, when the held epoch is below one granted since, or when its TTL was 0", () => {
    expect(fresh().adopt()).toBeNull();
    const first = fresh();
    first.grant(6, 10_000);
    const held = first.memory().held!;
    expect(new Lease({ highestEpoch: 7, revokedThrough: 0, held }, () => undefined).adopt(), "epoch 7 was granted after it").toBeNull();
    expect(new Lease({ highestEpoch: 6, revokedThrough: 0, held: { ...held, ttlMs: 0 } }, () => undefined).adopt(), "0 ms left").toBeNull();
    const adopted = new Lease({ highestEpoch: 6, revokedThrough: 0, held }, () => undefined);
    expect(adopted.adopt()).not.toBeNull();
    expect(adopted.lastTtlMs()).toBe(10_000);
  });

  it("giving up at a stop: held becomes expired, the memory keeps the epochs and no lease; with nothing held it stays none", () => {
    const l = fresh(0, 2);
    expect(l.lastTtlMs()).toBe(0);
    l.grant(5, 10_000);
    expect(l.lastTtlMs()).toBe(10_000);
    l.giveUp();
    expect(l.status()).toEqual({ state: "expired", epoch: 5, remainingMs: 0, revokedThrough: 2 });
    expect(l.memory()).toStrictEqual({ highestEpoch: 5, revokedThrough: 2 });
    expect(l.held()).toBe(false);
    const idle = fresh(3, 1);
    idle.giveUp();
    expect(idle.status().state).toBe("none");
    expect(idle.memory()).toStrictEqual({ highestEpoch: 3, revokedThrough: 1 });
  });

  it("a grant after expiry is a change even with the same epoch", () => {
    const l = fresh();
    l.grant(4, 1_000);
    t += 1_000;
    expect(l.held()).toBe(false);
    expect(l.grant(4, 1_000)).toBe(true);
    expect(l.held()).toBe(true);
  });

  it("never goes below the highest epoch granted, and never grants a revoked epoch again", () => {
    const l = fresh(5, 0);
    expect(() => l.grant(4, 1_000)).toThrow(expect.objectContaining({ code: "AGENT_ERR_STALE_EPOCH", message: "epoch 4 is older than epoch 5 already granted here" }));
    expect(l.status()).toEqual({ state: "none", epoch: 5, remainingMs: 0, revokedThrough: 0 });
    l.grant(5, 1_000);
    l.revoke();
    expect(l.status()).toEqual({ state: "revoked", epoch: 5, remainingMs: 0, revokedThrough: 5 });
    expect(l.memory()).toEqual({ highestEpoch: 5, revokedThrough: 5 });
    expect(() => l.grant(5, 1_000)).toThrow(expect.objectContaining({ code: "AGENT_ERR_STALE_EPOCH", message: "epoch 5 was revoked on this node; a new grant needs an epoch above 5" }));
    vi.advanceTimersByTime(10_000);
    t += 10_000;
    expect(lapses).toBe(0); // revoke cancelled the lapse timer
    expect(l.grant(6, 1_000)).toBe(true);
    expect(l.held()).toBe(true);
  });

  it("remembers revocations across restarts (the memory it is built from)", () => {
    const l = fresh(7, 7);
    expect(() => l.grant(7, 1_000)).toThrow(/revoked/);
    expect(l.grant(8, 1_000)).toBe(true);
  });

  it("revoking with nothing held stays none, and never lowers revokedThrough", () => {
    const l = fresh(3, 9);
    l.revoke();
    expect(l.status().state).toBe("none");
    expect(l.memory()).toEqual({ highestEpoch: 3, revokedThrough: 9 });
  });

  it("close stops the lapse timer", () => {
    const l = fresh();
    l.grant(1, 1_000);
    l.close();
    t += 5_000;
    vi.advanceTimersByTime(5_000);
    expect(lapses).toBe(0);
  });
});

describe("the reconciler's lease ledger (Memory)", () => {
  let dir: string;
  beforeEach(() => { dir = mkdtempSync(join(tmpdir(), "switchyard-memory-")); });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));
  const onDisk = () => JSON.parse(readFileSync(join(dir, "memory.json"), "utf8"));

  it("writes a grant before resolving; the epoch never goes down; a restart reads it back", async () => {
    const m = new Memory(dir);
    await m.load();
    expect(m.jobsLedger()).toEqual({ epoch: 0, grants: {}, startedAtMs: m.startedAtMs });
    await m.recordGrant("blue-1", 4, 10_000, 123);
    expect(onDisk().jobs).toEqual({ epoch: 4, grants: { "blue-1": { epoch: 4, sentAtMs: 123, ttlMs: 10_000 } } });
    await m.recordGrant("green-1", 2, 10_000, 456);
    expect(m.jobsLedger().epoch).toBe(4);
    await m.recordRevoked("blue-1");
    expect(onDisk().jobs).toEqual({ epoch: 4, grants: { "green-1": { epoch: 2, sentAtMs: 456, ttlMs: 10_000 } } });
    const again = new Memory(dir);
    await again.load();
    expect(again.jobsLedger()).toEqual({ epoch: 4, grants: { "green-1": { epoch: 2, sentAtMs: 456, ttlMs: 10_000 } }, startedAtMs: again.startedAtMs });
  });

  it("the ledger it hands out is a copy", async () => {
    const m = new Memory(dir);
    await m.recordGrant("blue-1", 1, 10_000, 1);
    const l = m.jobsLedger();
    (l.grants as Record<string, unknown>)["x"] = { epoch: 9, sentAtMs: 0, ttlMs: 0 };
    expect(m.jobsLedger().grants).toEqual({ "blue-1": { epoch: 1, sentAtMs: 1, ttlMs: 10_000 } });
  });

  it("refuses a file it cannot read instead of starting again from epoch 0", async () => {
    writeFileSync(join(dir, "memory.json"), "{not json");
    await expect(new Memory(dir).load()).rejects.toThrow(/holds the job-lease epoch; restore it from a backup/);
    writeFileSync(join(dir, "memory.json"), JSON.stringify({ version: 2, jobs: { epoch: 3, grants: {} } }));
    await expect(new Memory(dir).load()).rejects.toThrow(/unknown format/);
    writeFileSync(join(dir, "memory.json"), JSON.stringify({ version: 1, jobs: { epoch: "3", grants: {} } }));
    await expect(new Memory(dir).load()).rejects.toThrow(/unknown format/);
    writeFileSync(join(dir, "memory.json"), JSON.stringify({ version: 1 }));
    await expect(new Memory(dir).load()).rejects.toThrow(/unknown format/);
  });

  it("remembers deploys and the routers' live colour, writing only on change", async () => {
    const m = new Memory(dir);
    await m.recordDeploy("green", "v2", 50);
    await m.recordDeploy("green", "v2", 99);
    expect(m.get().deploys).toEqual({ green: { tag: "v2", startedAtMs: 50 } });
    await m.recordDeploy("green", "v3", 60);
    expect(onDisk().deploys).toEqual({ green: { tag: "v3", startedAtMs: 60 } });
    await m.recordDeploy("blue", "v4", 70);
    await m.clearDeploy("green");
    expect(onDisk().deploys).toEqual({ blue: { tag: "v4", startedAtMs: 70 } });
    await m.clearDeploy("blue");
    expect(onDisk().deploys).toEqual({});
    await m.recordRouterLive("blue");
    expect(onDisk()).toMatchObject({ version: 1, routerLive: "blue" });
    rmSync(join(dir, "memory.json"));
    await m.recordRouterLive("blue");
    await m.clearDeploy("green");
    expect(() => readFileSync(join(dir, "memory.json"))).toThrow(/ENOENT/); // nothing changed: nothing written
    await m.recordRouterLive(null);
    const back = new Memory(dir);
    await back.load();
    expect(back.get()).toEqual({ version: 1, jobs: { epoch: 0, grants: {} }, deploys: {}, routerLive: null, pins: {} });
  });
});
