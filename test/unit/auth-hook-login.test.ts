/**
 * The login and logout routes of the API auth hook, in-process: what a refused login answers and logs (the
 * limiter's lock, a flood of password checks), the session cookie's lifetime and Secure flag, and the
 * Bearer header read whole. Mutation testing (issue 22) found these unpinned by auth-hook.test.ts.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import type { FastifyInstance, FastifyRequest } from "fastify";
import { buildApi } from "../../reconciler/api/server.js";
import { Users } from "../../reconciler/auth/users.js";
import { LoginLimiter, Sessions, SESSION_IDLE_MS } from "../../reconciler/auth/sessions.js";
import { readCookie, requirePermission, type AuthOptions } from "../../reconciler/auth/hook.js";
import { ReconError, reconError } from "../../reconciler/errors.js";
import { makeLogger } from "../../common/log.js";

const FAST = { N: 1024, r: 8, p: 1 };
const IP = "10.2.2.2";
let dir: string;
let users: Users;
let token: string;
const apps: FastifyInstance[] = [];

/** An API whose warnings land in `logs` (the API logger keeps warn and above). */
async function build(auth: Partial<AuthOptions> = {}): Promise<{ app: FastifyInstance; logs: Record<string, unknown>[] }> {
  const logs: Record<string, unknown>[] = [];
  const sink = new Writable({ write(chunk, _enc, done) { for (const l of String(chunk).split("\n")) if (l) logs.push(JSON.parse(l)); done(); } });
  const app = buildApi({
    controller: {} as never, alerts: { recent: () => [] } as never, events: {} as never, logger: makeLogger("test", { level: "info" }, sink),
    auth: { users, sessions: new Sessions(), limiter: new LoginLimiter(), ...auth }, state: {} as never, dashboardRoot: null,
  });
  await app.ready();
  apps.push(app);
  return { app, logs };
}
const login = (app: FastifyInstance, username: string, password: string) =>
  app.inject({ method: "POST", url: "/api/v1/auth/login", payload: { username, password }, remoteAddress: IP });

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "sy-hook-login-"));
  users = new Users({ file: join(dir, "users.json"), scrypt: FAST });
  await users.addUser("dora", "deployer", "dora-password-1");
  token = await users.createToken("dora");
});
afterEach(() => vi.useRealTimers());
afterAll(async () => {
  for (const a of apps) await a.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("login refusals", () => {
  it("the failure that locks the name says for how long; the next attempt is 429 naming the wait; each failure is logged without the password", async () => {
    const T = 1_900_000_000_000;
    const { app, logs } = await build({ limiter: new LoginLimiter({ now: () => T, lockMs: 120_000 }) });
    for (let i = 1; i <= 4; i++) {
      const r = await login(app, "dora", "wrong-password");
      expect([r.statusCode, r.headers["retry-after"]], `failure ${i}`).toEqual([401, undefined]);
    }
    const fifth = await login(app, "dora", "wrong-password");
    expect([fifth.statusCode, fifth.headers["retry-after"]]).toEqual([401, "120"]);
    const locked = await login(app, "dora", "dora-password-1");
    expect([locked.statusCode, locked.headers["retry-after"], locked.json().error]).toEqual([429, "120", { code: "RECON_ERR_RATE_LIMITED", message: "too many failed logins; try again in 120 s" }]);
    const failed = logs.filter((l) => l.msg === "login failed");
    expect(failed).toHaveLength(5);
    expect(failed[0]).toMatchObject({ level: 40, user: "dora", ip: IP });
    expect(JSON.stringify(logs)).not.toContain("wrong-password");
  });

  it("a flood of password checks: 503 with Retry-After 1, no lock from it, one warning per 10 s with the count", async () => {
    const limiter = new LoginLimiter();
    const busy = { verify: async () => { throw reconError("RECON_ERR_UNAVAILABLE", "too many logins wait for a password check"); } } as unknown as Users;
    const { app, logs } = await build({ users: busy, limiter });
    vi.useFakeTimers({ toFake: ["Date"] });
    const T = 1_900_000_000_000;
    const refusals = () => logs.filter((l) => l.msg === "logins refused: too many at once").map((l) => l.refused);
    vi.setSystemTime(T);
    for (let i = 0; i < 8; i++) {
      const r = await login(app, "dora", "dora-password-1");
      expect([r.statusCode, r.headers["retry-after"], r.json().error.code], `refusal ${i}`).toEqual([503, "1", "RECON_ERR_UNAVAILABLE"]);
    }
    // the reservations were given back: neither the name nor the address is held back by refusals it did not cause
    expect(limiter.begin(IP, "dora")).toEqual({ allowed: true });
    limiter.abandon(IP, "dora");
    expect(refusals()).toEqual([1]);
    vi.setSystemTime(T + 9_999);
    await login(app, "dora", "x");
    expect(refusals()).toEqual([1]);
    vi.setSystemTime(T + 10_000);
    await login(app, "dora", "x");
    expect(refusals()).toEqual([1, 9]);
    vi.setSystemTime(T + 19_999);
    await login(app, "dora", "x");
    expect(refusals()).toEqual([1, 9]);
  });

  it("any other failure of the password check is not answered as busy", async () => {
    for (const [err, status] of [[new Error("disk gone"), 500], [reconError("RECON_ERR_BAD_REQUEST", "odd"), 400]] as const) {
      const broken = { verify: async () => { throw err; } } as unknown as Users;
      const { app, logs } = await build({ users: broken });
      const r = await login(app, "dora", "dora-password-1");
      expect(r.statusCode, err.message).toBe(status);
      expect(logs.some((l) => l.msg === "logins refused: too many at once")).toBe(false);
    }
  });
});

describe("the session cookie", () => {
  it("lives as long as the session's idle timeout, and logout clears it with Secure behind an https public URL", async () => {
    const { app } = await build({ secureCookie: true });
    const r = await login(app, "dora", "dora-password-1");
    const setCookie = String(r.headers["set-cookie"]);
    const maxAge = Number(/Max-Age=(\d+)/.exec(setCookie)![1]);
    expect(maxAge).toBeLessThanOrEqual(SESSION_IDLE_MS / 1000);
    expect(maxAge).toBeGreaterThan(SESSION_IDLE_MS / 1000 - 60);
    const out = await app.inject({ method: "POST", url: "/api/v1/auth/logout", headers: { cookie: setCookie.split(";")[0]!, "x-csrf-token": r.json().csrf } });
    expect(out.statusCode).toBe(204);
    expect(String(out.headers["set-cookie"])).toBe("sy_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0; Secure");
  });
});

describe("public routes", () => {
  it("the dashboard's files by GET and HEAD alike (not built here: a public 404, not a 401)", async () => {
    const { app } = await build();
    for (const method of ["GET", "HEAD"] as const) expect((await app.inject({ method, url: "/index.html" })).statusCode, method).toBe(404);
    expect((await app.inject({ method: "HEAD", url: "/api/v1/alerts" })).statusCode).toBe(401);
  });
});

describe("credentials read whole", () => {
  it("the Bearer scheme only at the start of the header", async () => {
    const { app } = await build();
    expect((await app.inject({ method: "GET", url: "/api/v1/auth/me", headers: { authorization: `Bearer ${token}` } })).statusCode).toBe(200);
    expect((await app.inject({ method: "GET", url: "/api/v1/auth/me", headers: { authorization: `XBearer ${token}` } })).statusCode).toBe(401);
  });

  it("readCookie needs a name=value pair: a bare word that starts with the name is no cookie", () => {
    expect(readCookie("sy_sessionx", "sy_session")).toBeUndefined();
    expect(readCookie("sy_session", "sy_session")).toBeUndefined();
    expect(readCookie("a; sy_session=v", "sy_session")).toBe("v");
  });

  it("requirePermission without a principal says to log in", () => {
    try {
      requirePermission({ principal: undefined } as unknown as FastifyRequest, "read");
      expect.unreachable();
    } catch (e) {
      expect([(e as ReconError).code, (e as ReconError).message]).toEqual(["RECON_ERR_UNAUTHORIZED", "log in first"]);
    }
  });
});
