/**
 * The agent's Lease where the kernel's boot id cannot be read (no /proc/sys/kernel/random/boot_id): its
 * monotonic expiry means nothing to another process then, so lease.json keeps no held lease and a restart
 * adopts nothing, whatever the file says.
 */
import { describe, expect, it } from "vitest";
import { Lease } from "../../node-agent/lease.js";

const noBootId = (): null => null;

describe("the agent's Lease without a kernel boot id", () => {
  it("holds a grant but writes no held lease, and adopts none", () => {
    const l = new Lease({ highestEpoch: 0, revokedThrough: 0 }, () => undefined, noBootId);
    expect(l.grant(3, 10_000)).toBe(true);
    expect(l.held()).toBe(true);
    expect(l.memory()).toStrictEqual({ highestEpoch: 3, revokedThrough: 0 });
    const now = Number(process.hrtime.bigint() / 1_000_000n);
    const held = { epoch: 3, ttlMs: 10_000, kernelBootId: "b", expiresAtMonoMs: now + 10_000, expiresAtWallMs: Date.now() + 10_000 };
    expect(new Lease({ highestEpoch: 3, revokedThrough: 0, held }, () => undefined, noBootId).adopt()).toBeNull();
    l.close();
  });
});
