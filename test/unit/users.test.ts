/**
 * Users, API tokens, sessions, CSRF and the login limiter: hashes never hold the password, unknown users
 * cost a scrypt like known ones, the file is 0600, tokens are stored hashed, sessions expire by idle and
 * absolute time, and the limiter locks and unlocks on a fake clock.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync, chmodSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { Users, hashPassword, roleAllows, SCRYPT_PARAMS, type Role } from "../../reconciler/auth/users.js";
import { checkCsrf, LoginLimiter, Sessions, LOGIN_FORGET_MS, LOGIN_MAX_FAILURES } from "../../reconciler/auth/sessions.js";
import { scryptKey, scryptLoad } from "../../reconciler/auth/scrypt-gate.js";
import { LOGIN_MAX_WAITING, SCRYPT_MAX_CONCURRENT, SCRYPT_NICE } from "../../specs/defaults.js";
import { ReconError } from "../../reconciler/errors.js";

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** A users file in a fresh data dir (the dir does not exist yet: the first write makes it, 0700). */
function usersFile(): string {
  const d = mkdtempSync(join(tmpdir(), "sy-users-"));
  dirs.push(d);
  return join(d, "data", "users.json");
}

/** Cheap scrypt for tests that are not about its cost. */
const FAST = { N: 1024, r: 8, p: 1 };

async function rejects(p: Promise<unknown>, code: string, message: RegExp): Promise<void> {
  const err = await p.then(
    () => new Error("expected a refusal"),
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ReconError);
  expect((err as ReconError).code).toBe(code);
  expect((err as ReconError).message).toMatch(message);
}

describe("Users", () => {
  it("stores scrypt hashes with their parameters and a salt of their own, never the password", async () => {
    const file = usersFile();
    const users = new Users({ file });
    await users.load();
    const password = "correct horse battery";
    await users.addUser("alice", "admin", password);
    await users.addUser("bob", "viewer", password);
    const text = readFileSync(file, "utf8");
    for (const form of [password, Buffer.from(password).toString("base64"), Buffer.from(password).toString("base64url"), Buffer.from(password).toString("hex")]) expect(text).not.toContain(form);
    const stored = JSON.parse(text) as { users: { name: string; hash: string; role: string; createdAt: string }[] };
    const [a, b] = stored.users;
    expect(a!.hash).toMatch(new RegExp(`^scrypt\\$${SCRYPT_PARAMS.N}\\$${SCRYPT_PARAMS.r}\\$${SCRYPT_PARAMS.p}\\$[A-Za-z0-9_-]{22}\\$[A-Za-z0-9_-]{43}$`));
    expect(a!.hash.split("$")[4]).not.toBe(b!.hash.split("$")[4]);
    expect(a!.hash).not.toBe(b!.hash);
    expect(await users.verify("alice", password)).toEqual({ name: "alice", role: "admin", createdAt: a!.createdAt, stamp: users.current("alice")!.stamp });
    expect(await users.verify("alice", "correct horse battery!")).toBeNull();
    expect(await users.verify("carol", password)).toBeNull();
    expect(await users.verify("alice", "")).toBeNull();
    expect(await users.verify(undefined as unknown as string, password)).toBeNull();
    expect(await users.verify("alice", password + "x".repeat(2000))).toBeNull();
  });

  it("runs scrypt for unknown users too: a verify of an unknown name starts one hash, as a known name's does", async () => {
    // Ground truth, not a stopwatch: the scrypt gate's own count of hashes started by each verify.
    const users = new Users({ file: usersFile(), scrypt: FAST });
    await users.addUser("alice", "deployer", "a long enough password");
    const hashesStarted = async (name: unknown) => {
      const load = () => scryptLoad().running + scryptLoad().waiting;
      const before = load();
      const answer = users.verify(name as string, "wrong password here");
      const started = load() - before;
      expect(await answer).toBeNull();
      return started;
    };
    expect(await hashesStarted("alice")).toBe(1);
    expect(await hashesStarted("nobody")).toBe(1);
    expect(await hashesStarted(42)).toBe(1);
  });

  it("validates names and passwords, refuses duplicates unless replace, and keeps createdAt on replace", async () => {
    const users = new Users({ file: usersFile(), scrypt: FAST });
    for (const name of ["a", "Alice", "1alice", "al ice", "al/ice", "../x", "a".repeat(33), "", "alice\n"]) {
      await rejects(users.addUser(name, "viewer", "long enough password"), "RECON_ERR_BAD_REQUEST", /a user name is 2–32 characters/);
    }
    await rejects(users.addUser("alice", "viewer", "short"), "RECON_ERR_BAD_REQUEST", /at least 10 characters/);
    await rejects(users.addUser("alice", "root" as Role, "long enough password"), "RECON_ERR_BAD_REQUEST", /a role is one of viewer, deployer, admin/);
    await users.addUser("alice", "viewer", "first password");
    await users.addUser("ops.bot_2-x", "admin", "first password");
    await rejects(users.addUser("alice", "admin", "second password"), "RECON_ERR_CONFLICT", /user alice already exists/);
    const createdAt = users.list().users[0]!.createdAt;
    await users.addUser("alice", "admin", "second password", { replace: true });
    expect(await users.verify("alice", "first password")).toBeNull();
    expect(await users.verify("alice", "second password")).toEqual({ name: "alice", role: "admin", createdAt, stamp: expect.stringMatching(/^[0-9a-f]{32}$/) });
    expect(await users.removeUser("alice")).toEqual({ tokens: 0 });
    expect(await users.removeUser("alice")).toBeNull();
    expect(await users.verify("alice", "second password")).toBeNull();
  });

  it("writes the file atomically with mode 0600 (in a 0700 dir) and tightens a file others can read", async () => {
    const file = usersFile();
    const users = new Users({ file, scrypt: FAST });
    await users.addUser("alice", "viewer", "long enough password");
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(statSync(join(file, "..")).mode & 0o777).toBe(0o700);
    expect(readdirSync(join(file, ".."))).toEqual(["users.json"]);
    chmodSync(file, 0o644);
    const again = new Users({ file, scrypt: FAST });
    await again.load();
    expect(statSync(file).mode & 0o777).toBe(0o600);
  });

  it("creates API tokens that are shown once and stored only as a hash", async () => {
    const file = usersFile();
    const users = new Users({ file, scrypt: FAST });
    await rejects(users.createToken("ci"), "RECON_ERR_NOT_FOUND", /no user ci/);
    await users.addUser("ci", "deployer", "long enough password");
    const token = await users.createToken("ci");
    expect(token).toMatch(/^sy_[A-Za-z0-9_-]{43}$/);
    expect(readFileSync(file, "utf8")).not.toContain(token.slice(3));
    const t = users.verifyToken(token)!;
    expect(t.user).toMatchObject({ name: "ci", role: "deployer" });
    expect(t.token.id).toMatch(/^[0-9a-f]{12}$/);
    expect(t.token.lastUsedAt).toBeDefined();
    expect(t.token).not.toHaveProperty("hash");
    await users.flush();
    expect((JSON.parse(readFileSync(file, "utf8")) as { tokens: { lastUsedAt?: string }[] }).tokens[0]!.lastUsedAt).toBe(t.token.lastUsedAt);
    const other = await users.createToken("ci");
    expect(other).not.toBe(token);
    const flipped = token.slice(0, -1) + (token.endsWith("A") ? "B" : "A");
    for (const bad of [flipped, token + "x", token.slice(3), "", `Bearer ${token}`, undefined as unknown as string, "sy_" + "A".repeat(43)]) expect(users.verifyToken(bad)).toBeNull();
    expect(await users.revokeTokens("ci", t.token.id)).toEqual([t.token.id]);
    expect(await users.revokeTokens("ci", t.token.id)).toEqual([]);
    expect(users.verifyToken(token)).toBeNull();
    expect(users.verifyToken(other)).not.toBeNull();
    await rejects(users.createToken("CI token"), "RECON_ERR_BAD_REQUEST", /a user name/);
  });

  it("a token acts with its user's current role; removing the user revokes their tokens, also for a user re-added under the same name", async () => {
    const file = usersFile();
    const users = new Users({ file, scrypt: FAST });
    await users.addUser("root", "admin", "long enough password");
    await users.addUser("dora", "deployer", "long enough password");
    const token = await users.createToken("dora");
    const keep = await users.createToken("root");
    expect(users.verifyToken(token)!.user.role).toBe("deployer");
    await users.setRole("dora", "viewer");
    expect(users.verifyToken(token)!.user.role).toBe("viewer");
    const cli = new Users({ file, scrypt: FAST }); // another process, like the CLI
    await cli.setRole("dora", "admin");
    expect(users.verifyToken(token)!.user.role).toBe("admin");
    expect(await cli.removeUser("dora")).toEqual({ tokens: 1 });
    expect(users.verifyToken(token)).toBeNull();
    expect(users.current("dora")).toBeNull();
    await users.addUser("dora", "admin", "long enough password");
    expect(users.verifyToken(token)).toBeNull(); // gone with its user, not parked
    expect(users.verifyToken(keep)!.user.name).toBe("root");
    expect(await users.removeUser("nobody")).toBeNull();
    await rejects(users.setRole("nobody", "viewer"), "RECON_ERR_NOT_FOUND", /no user nobody/);
    await rejects(users.setRole("dora", "root" as Role), "RECON_ERR_BAD_REQUEST", /a role is one of/);
  });

  it("keeps the last admin; a user's stamp changes with a new password, not with a new role", async () => {
    const users = new Users({ file: usersFile(), scrypt: FAST });
    await users.addUser("root", "admin", "long enough password");
    await rejects(users.removeUser("root"), "RECON_ERR_CONFLICT", /root is the last admin/);
    await rejects(users.setRole("root", "viewer"), "RECON_ERR_CONFLICT", /last admin/);
    await users.addUser("ada", "admin", "long enough password");
    const stamp = users.current("root")!.stamp;
    expect((await users.verify("root", "long enough password"))!.stamp).toBe(stamp);
    await users.setRole("root", "deployer");
    expect(users.current("root")).toMatchObject({ role: "deployer", stamp });
    await users.addUser("root", "deployer", "a new long password", { replace: true });
    expect(users.current("root")!.stamp).not.toBe(stamp);
    expect(await users.removeUser("root")).toEqual({ tokens: 0 });
  });

  it("lists users and tokens without hashes", async () => {
    const users = new Users({ file: usersFile(), scrypt: FAST });
    await users.addUser("alice", "admin", "long enough password");
    const token = await users.createToken("alice");
    const listed = users.list();
    expect(listed.users).toEqual([{ name: "alice", role: "admin", createdAt: expect.any(String) }]);
    expect(listed.tokens).toEqual([{ id: expect.any(String), name: "alice", createdAt: expect.any(String) }]);
    const json = JSON.stringify(listed);
    expect(json).not.toContain("scrypt$");
    expect(json).not.toMatch(/[0-9a-f]{64}/);
    expect(json).not.toContain(token);
  });

  it("sees changes another process made to the file, and refuses a damaged file instead of treating it as empty", async () => {
    const file = usersFile();
    const server = new Users({ file, scrypt: FAST });
    await server.addUser("alice", "viewer", "long enough password");
    const cli = new Users({ file, scrypt: FAST });
    await cli.addUser("bob", "deployer", "another long password");
    expect(await server.verify("bob", "another long password")).toMatchObject({ role: "deployer" });

    writeFileSync(file, "{ not json");
    await expect(new Users({ file }).load()).rejects.toThrow(/the users file .* is damaged/);
    expect(await server.verify("alice", "long enough password")).not.toBeNull(); // the last good copy stays
    await expect(server.addUser("carol", "viewer", "long enough password")).rejects.toThrow(/damaged/);
    writeFileSync(file, JSON.stringify({ users: [{ name: "x", role: "god", hash: "", createdAt: "" }], tokens: [] }));
    await expect(new Users({ file }).load()).rejects.toThrow(/damaged/);
  });

  it("hashPassword makes a new salt every time", async () => {
    expect(await hashPassword("same password", FAST)).not.toBe(await hashPassword("same password", FAST));
  });
});

describe("Sessions", () => {
  const alice = { name: "alice", role: "deployer" as Role, stamp: "s1" };

  it("creates random sessions and finds them by id", () => {
    const s = new Sessions();
    const a = s.create(alice);
    const b = s.create(alice);
    expect(a.id).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(a.csrf).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(new Set([a.id, b.id, a.csrf, b.csrf]).size).toBe(4);
    expect(s.get(a.id)).toMatchObject({ id: a.id, csrf: a.csrf, user: alice });
    for (const bad of [undefined, null, "", a.id + "x", a.id.slice(1), b.csrf.replace(/./, "!")]) expect(s.get(bad)).toBeNull();
    s.destroy(a.id);
    expect(s.get(a.id)).toBeNull();
    expect(s.get(b.id)).not.toBeNull();
  });

  it("ends a session after the idle timeout, and after the absolute timeout however busy", () => {
    let now = 1_000_000;
    const s = new Sessions({ idleMs: 1000, absoluteMs: 5000, now: () => now });
    const a = s.create(alice);
    expect(a.expiresAt).toBe(now + 1000);
    for (let i = 0; i < 4; i++) {
      now += 900;
      expect(s.get(a.id)).not.toBeNull();
    }
    now += 900; // 4500 after login, 900 after the last use: still inside both
    expect(s.get(a.id)!.expiresAt).toBe(1_000_000 + 5000);
    now = 1_000_000 + 5000;
    expect(s.get(a.id)).toBeNull();
    const b = s.create(alice);
    now += 1000;
    expect(s.get(b.id)).toBeNull();
  });

  it("ends all of a user's sessions, and keeps at most maxSessions", () => {
    const s = new Sessions({ maxSessions: 3 });
    const ids = [s.create(alice), s.create({ name: "bob", role: "viewer", stamp: "s2" }), s.create(alice)].map((x) => x.id);
    expect(s.destroyUser("alice")).toBe(2);
    expect(s.get(ids[1]!)).not.toBeNull();
    const more = [s.create(alice), s.create(alice), s.create(alice)];
    expect(s.size).toBe(3);
    expect(s.get(ids[1]!)).toBeNull(); // the oldest went
    expect(s.get(more[2]!.id)).not.toBeNull();
  });

  it("checks the CSRF token exactly", () => {
    const s = new Sessions();
    const a = s.create(alice);
    const session = s.get(a.id)!;
    expect(checkCsrf(session, a.csrf)).toBe(true);
    for (const bad of [undefined, null, "", a.csrf + " ", a.csrf.slice(1), s.create(alice).csrf, [a.csrf], "x".repeat(10_000)]) {
      expect(checkCsrf(session, bad as string | undefined)).toBe(false);
    }
  });
});

describe("LoginLimiter", () => {
  it("locks a user name after 5 failures in 15 minutes, says for how long, unlocks, and doubles the next lock", () => {
    let now = 0;
    const l = new LoginLimiter({ now: () => now });
    for (let i = 0; i < 4; i++) expect(l.fail(`10.0.0.${i}`, "alice")).toEqual({ allowed: true });
    expect(l.fail("10.0.0.9", "alice")).toEqual({ allowed: false, retryAfterSeconds: 60 });
    expect(l.check("10.9.9.9", "Alice")).toEqual({ allowed: false, retryAfterSeconds: 60 });
    expect(l.check("10.9.9.9", "bob")).toEqual({ allowed: true });
    now += 59_500;
    expect(l.check("10.9.9.9", "alice")).toEqual({ allowed: false, retryAfterSeconds: 1 });
    now += 500;
    expect(l.check("10.9.9.9", "alice")).toEqual({ allowed: true });
    for (let i = 0; i < 4; i++) l.fail(`10.1.0.${i}`, "alice");
    expect(l.fail("10.1.0.9", "alice")).toEqual({ allowed: false, retryAfterSeconds: 120 });
    now += LOGIN_FORGET_MS + 120_000;
    for (let i = 0; i < 4; i++) l.fail(`10.2.0.${i}`, "alice");
    expect(l.fail("10.2.0.9", "alice")).toEqual({ allowed: false, retryAfterSeconds: 60 }); // a day later, counting starts over
  });

  it("locks an IP that sprays many user names, and forgets failures older than the window", () => {
    let now = 0;
    const l = new LoginLimiter({ now: () => now });
    for (let i = 0; i < 4; i++) l.fail("203.0.113.7", `user${i}`);
    expect(l.fail("203.0.113.7", "user9")).toEqual({ allowed: false, retryAfterSeconds: 60 });
    expect(l.check("203.0.113.7", "someone-else")).toEqual({ allowed: false, retryAfterSeconds: 60 });
    expect(l.check("203.0.113.8", "user1")).toEqual({ allowed: true });
    now = 10 * 60 * 60 * 1000;
    for (let i = 0; i < 4; i++) {
      l.fail("198.51.100.1", "carol");
      now += 4 * 60 * 1000; // 4 failures 4 minutes apart: the first has left the 15-minute window by the 5th
    }
    expect(l.fail("198.51.100.1", "carol")).toEqual({ allowed: true });
  });

  it("a success clears the user name's failures but not the IP's, and locks never exceed the maximum", () => {
    let now = 0;
    const l = new LoginLimiter({ now: () => now, maxLockMs: 300_000 });
    for (let i = 0; i < 4; i++) l.fail("192.0.2.1", "alice");
    l.succeed("192.0.2.1", "alice");
    expect(l.fail("192.0.2.2", "alice")).toEqual({ allowed: true });
    expect(l.fail("192.0.2.1", "mallory")).toEqual({ allowed: false, retryAfterSeconds: 60 }); // the IP's fifth
    for (let round = 0; round < 8; round++) {
      now += 400_000;
      for (let i = 0; i < 5; i++) l.fail("192.0.2.50", "bob");
    }
    expect(l.check("192.0.2.50", "bob")).toEqual({ allowed: false, retryAfterSeconds: 300 });
  });
});

describe("LoginLimiter: attempts in flight", () => {
  it("counts attempts in flight before any check finishes: 40 at once for one user get 5 reservations", () => {
    const l = new LoginLimiter({ now: () => 0 });
    const allowed = Array.from({ length: 40 }, (_, i) => l.begin(`10.3.0.${i}`, "alice")).filter((g) => g.allowed);
    expect(allowed).toHaveLength(LOGIN_MAX_FAILURES);
    expect(l.begin("10.3.9.9", "alice")).toEqual({ allowed: false, retryAfterSeconds: 1 });
    for (let i = 0; i < LOGIN_MAX_FAILURES; i++) l.fail(`10.3.0.${i}`, "alice");
    expect(l.begin("10.3.9.9", "alice")).toEqual({ allowed: false, retryAfterSeconds: 60 }); // now a lockout
  });

  it("one address gets 5 reservations whatever the user names; a success or an abandoned check frees its slot", () => {
    const l = new LoginLimiter({ now: () => 0 });
    const gates = Array.from({ length: 250 }, (_, i) => l.begin("203.0.113.9", `guess${i}`));
    expect(gates.filter((g) => g.allowed)).toHaveLength(LOGIN_MAX_FAILURES);
    l.succeed("203.0.113.9", "guess0");
    l.abandon("203.0.113.9", "guess1");
    expect(l.begin("203.0.113.9", "x1").allowed).toBe(true);
    expect(l.begin("203.0.113.9", "x2").allowed).toBe(true);
    expect(l.begin("203.0.113.9", "x3").allowed).toBe(false);
  });
});

describe("scrypt gate", () => {
  it(`runs at most ${SCRYPT_MAX_CONCURRENT} hashes at once, in niced threads off libuv's pool, and refuses login checks beyond ${LOGIN_MAX_WAITING} waiting`, async () => {
    const salt = Buffer.alloc(16, 1);
    let peak = 0;
    const watch = setInterval(() => (peak = Math.max(peak, scryptLoad().running)), 1);
    const all = Array.from({ length: SCRYPT_MAX_CONCURRENT + LOGIN_MAX_WAITING + 10 }, () => scryptKey("pw", salt, 32, FAST, true).then(() => "ok", (e: ReconError) => e.code));
    expect(scryptLoad()).toEqual({ running: SCRYPT_MAX_CONCURRENT, waiting: LOGIN_MAX_WAITING });
    const results = await Promise.all(all);
    clearInterval(watch);
    expect(results.filter((r) => r === "ok")).toHaveLength(SCRYPT_MAX_CONCURRENT + LOGIN_MAX_WAITING);
    expect(results.filter((r) => r === "RECON_ERR_UNAVAILABLE")).toHaveLength(10);
    expect(peak).toBeLessThanOrEqual(SCRYPT_MAX_CONCURRENT);
    expect(scryptLoad()).toEqual({ running: 0, waiting: 0 });
    // The hashes ran in threads of their own at a lower CPU priority (Linux: nice per thread).
    const nices = readdirSync("/proc/self/task").map((t) => {
      const stat = readFileSync(`/proc/self/task/${t}/stat`, "utf8");
      return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[16]);
    });
    expect(nices.filter((n) => n === SCRYPT_NICE)).toHaveLength(SCRYPT_MAX_CONCURRENT);
    // Adding a user is never refused: it waits its turn.
    const unbounded = await Promise.all(Array.from({ length: LOGIN_MAX_WAITING + 10 }, () => scryptKey("pw", salt, 32, FAST)));
    expect(unbounded).toHaveLength(LOGIN_MAX_WAITING + 10);
  });
});

describe("roleAllows", () => {
  it("viewers read, deployers read and deploy, admins do everything", () => {
    const table: [Role, boolean, boolean, boolean][] = [
      ["viewer", true, false, false],
      ["deployer", true, true, false],
      ["admin", true, true, true],
    ];
    for (const [role, read, deploy, admin] of table) {
      expect([roleAllows(role, "read"), roleAllows(role, "deploy"), roleAllows(role, "admin")]).toEqual([read, deploy, admin]);
    }
    expect(roleAllows("root" as Role, "read")).toBe(false);
  });
});
