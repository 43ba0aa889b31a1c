/**
 * The bounds of reconciler/auth/sessions.ts at their edges (mutation testing, issue 22): expired sessions
 * swept when a new one is made, the CSRF header's length limit, the login limiter's key table when it is
 * full (expired keys go first; a lock or an attempt in flight is kept; then the oldest key).
 */
import { describe, expect, it } from "vitest";
import { checkCsrf, LoginLimiter, LOGIN_FORGET_MS, LOGIN_WINDOW_MS, Sessions } from "../../reconciler/auth/sessions.js";

const alice = { name: "alice", role: "deployer" as const, stamp: "s1" };
/** The limiter's key table holds this many keys (MAX_LIMITER_KEYS in sessions.ts). */
const MAX_KEYS = 10_000;

describe("Sessions at their edges", () => {
  it("making a session sweeps the expired ones (at their expiry, not after)", () => {
    let now = 1_000_000;
    const s = new Sessions({ idleMs: 1000, absoluteMs: 5000, now: () => now });
    s.create(alice);
    now += 999;
    s.create(alice);
    expect(s.size).toBe(2);
    now += 1; // the first expires now
    s.create(alice);
    expect(s.size).toBe(2);
  });

  it("a session's user is a copy: changing what get() answered changes nothing stored", () => {
    const s = new Sessions();
    const { id } = s.create(alice);
    s.get(id)!.user.name = "mallory";
    expect(s.get(id)!.user).toEqual(alice);
    expect(s.destroyUser("alice")).toBe(1);
    expect(() => s.destroy(undefined)).not.toThrow();
  });

  it("the CSRF header: up to 256 characters compared, longer ones refused unread", () => {
    expect(checkCsrf({ csrf: "a".repeat(256) }, "a".repeat(256))).toBe(true);
    expect(checkCsrf({ csrf: "a".repeat(257) }, "a".repeat(257))).toBe(false);
    expect(checkCsrf({ csrf: "b" }, "b")).toBe(true);
  });
});

describe("LoginLimiter's key table when full", () => {
  it("forgets keys whose failures left the window, keeps a lock and an attempt in flight", () => {
    let now = 0;
    const l = new LoginLimiter({ now: () => now, lockMs: 3_600_000 });
    for (let i = 0; i < 5; i++) l.fail("victim", "v"); // locks ip:victim and user:v for an hour
    for (let i = 0; i < 5; i++) expect(l.begin("pending", `p${i}`).allowed).toBe(true); // five in flight on ip:pending
    expect(l.begin("pending", "p9")).toEqual({ allowed: false, retryAfterSeconds: 1 });
    // 8 keys so far; fill the table with single failures (one user key "u" plus one key per address)
    for (let i = 0; i < MAX_KEYS - 9; i++) l.fail(`ip${i}`, "u");
    now = LOGIN_WINDOW_MS + 1;
    l.fail("newcomer", "n"); // a new key: the table makes room
    expect(l.check("victim", "someone").allowed).toBe(false);
    // (had the expired keys not gone first, the full table would have dropped its oldest: ip:victim)
    expect(l.begin("pending", "p9")).toEqual({ allowed: false, retryAfterSeconds: 1 });
  });

  it("still full of fresh keys: the oldest key goes", () => {
    const l = new LoginLimiter({ now: () => 0 });
    for (let i = 0; i < 4; i++) l.fail("first", "f"); // ip:first is the oldest key
    for (let i = 0; i < MAX_KEYS - 3; i++) l.fail(`ip${i}`, "u");
    // the fifth failure locks ip:first, then user:g is a new key and the full table drops ip:first with its lock
    expect(l.fail("first", "g")).toEqual({ allowed: true });
  });
});

describe("LoginLimiter at its edges", () => {
  it("a failure exactly one window old no longer counts, for the lock and for reservations", () => {
    let now = 0;
    const l = new LoginLimiter({ now: () => now });
    for (let i = 0; i < 4; i++) l.fail("192.0.2.1", "alice");
    expect(l.begin("192.0.2.1", "alice").allowed).toBe(true); // 4 failures + 1 in flight
    expect(l.begin("192.0.2.1", "alice")).toEqual({ allowed: false, retryAfterSeconds: 1 });
    now = LOGIN_WINDOW_MS;
    expect(l.begin("192.0.2.1", "alice").allowed).toBe(true);
    expect(l.fail("192.0.2.1", "alice")).toEqual({ allowed: true }); // the four old ones left the window
  });

  it("lockouts double until a full LOGIN_FORGET_MS passes without a failure", () => {
    let now = 0;
    const l = new LoginLimiter({ now: () => now });
    for (let i = 0; i < 5; i++) l.fail("192.0.2.2", "bob");
    now = LOGIN_FORGET_MS; // exactly a day after the last failure: not forgotten yet
    for (let i = 0; i < 4; i++) l.fail("192.0.2.2", "bob");
    expect(l.fail("192.0.2.2", "bob")).toEqual({ allowed: false, retryAfterSeconds: 120 });
  });

  it("a failure or an abandon without a reservation does not free a slot for another attempt", () => {
    const l = new LoginLimiter({ now: () => 0 });
    l.abandon("192.0.2.3", "carol"); // nothing reserved yet: no entry, nothing to give back
    l.fail("192.0.2.3", "carol"); // one failure, no reservation to end
    l.abandon("192.0.2.3", "carol");
    const gates = Array.from({ length: 6 }, () => l.begin("192.0.2.3", "carol").allowed);
    expect(gates).toEqual([true, true, true, true, false, false]);
  });

  it("keys are the first 64 characters of the address and of the lower-cased user name", () => {
    const l = new LoginLimiter({ now: () => 0 });
    const name = "x".repeat(64);
    for (let i = 0; i < 5; i++) l.fail(`10.0.0.${i}`, `${name}${i}`);
    expect(l.check("10.9.9.9", `${name.toUpperCase()}z`).allowed).toBe(false);
    const ip = "a".repeat(64);
    for (let i = 0; i < 5; i++) l.fail(`${ip}${i}`, `u${i}`);
    expect(l.check(`${ip}z`, "someone").allowed).toBe(false);
  });
});
