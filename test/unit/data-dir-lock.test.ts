import { describe, expect, it } from "vitest";
import { mkdtempSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { lockDataDir } from "../../node-agent/data-dir-lock.js";

const STALE = JSON.stringify({ pid: 4194300, started: "1", token: "gone", since: "then" });

describe("one agent per data dir", () => {
  it("two agents racing for the same stale lock: exactly one gets it, again and again", async () => {
    for (let i = 0; i < 50; i++) {
      const dir = mkdtempSync(join(tmpdir(), "sy-lockrace-"));
      writeFileSync(join(dir, "agent.lock"), STALE);
      const r = await Promise.allSettled([lockDataDir(dir), lockDataDir(dir), lockDataDir(dir)]);
      expect(r.filter((x) => x.status === "fulfilled"), `round ${i}`).toHaveLength(1);
      for (const x of r) if (x.status === "rejected") expect(String(x.reason)).toMatch(/is in use by another agent/);
      expect(readdirSync(dir).sort()).toEqual(["agent.lock"]); // no temp file or guard left behind
    }
  });

  it("a lock left by a takeover that died midway does not block for ever", async () => {
    const dir = mkdtempSync(join(tmpdir(), "sy-lockguard-"));
    writeFileSync(join(dir, "agent.lock"), STALE);
    writeFileSync(join(dir, "agent.lock.takeover"), "");
    const { utimesSync } = await import("node:fs");
    const old = new Date(Date.now() - 60_000);
    utimesSync(join(dir, "agent.lock.takeover"), old, old);
    const lock = await lockDataDir(dir);
    await lock.release();
    expect(readdirSync(dir)).toEqual([]);
  });
});
