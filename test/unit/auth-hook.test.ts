/**
 * The API's auth hook in-process (fastify inject, no sockets): who may call what, sessions checked against
 * users.json on every request, CSRF on every change, the login route's limiter and cookie.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { FastifyInstance, FastifyRequest } from "fastify";
import { buildApi } from "../../reconciler/api/server.js";
import { Users } from "../../reconciler/auth/users.js";
import { LoginLimiter, Sessions } from "../../reconciler/auth/sessions.js";
import { readCookie, requirePermission, sessionCookie, SESSION_COOKIE, stillAuthenticated, type AuthOptions } from "../../reconciler/auth/hook.js";
import { ReconError } from "../../reconciler/errors.js";
import { makeLogger } from "../../common/log.js";

const FAST = { N: 1024, r: 8, p: 1 };
let dir: string;
let app: FastifyInstance;
let auth: AuthOptions;
let token: string;
let viewerToken: string;

async function build(secureCookie?: boolean): Promise<FastifyInstance> {
  const a = buildApi({
    controller: {} as never, alerts: { recent: () => [] } as never, events: {} as never, logger: makeLogger("test"),
    // each server its own login limiter: one test's failed logins do not lock another's
    auth: { ...auth, limiter: new LoginLimiter(), ...(secureCookie === undefined ? {} : { secureCookie }) }, state: {} as never, dashboardRoot: null,
  });
  await a.ready();
  return a;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "sy-hook-"));
  const users = new Users({ file: join(dir, "users.json"), scrypt: FAST });
  await users.addUser("dora", "deployer", "dora-password-1");
  await users.addUser("vera", "viewer", "vera-password-1");
  token = await users.createToken("dora");
  viewerToken = await users.createToken("vera");
  auth = { users, sessions: new Sessions(), limiter: new LoginLimiter() };
  app = await build();
});
afterAll(async () => {
  await app.close();
  rmSync(dir, { recursive: true, force: true });
});

const get = (url: string, headers: Record<string, string> = {}) => app.inject({ method: "GET", url, headers });
async function login(name: string, password: string, a = app) {
  const r = await a.inject({ method: "POST", url: "/api/v1/auth/login", payload: { username: name, password }, remoteAddress: "10.1.1.1" });
  const setCookie = String(r.headers["set-cookie"] ?? "");
  return { r, setCookie, cookie: setCookie.split(";")[0]!, csrf: r.statusCode === 200 ? (r.json() as { csrf: string }).csrf : "" };
}

describe("the API auth hook", () => {
  it("public: health and login only (and the dashboard's files, which are not API paths)", async () => {
    expect((await get("/healthz")).statusCode).toBe(200);
    expect((await app.inject({ method: "HEAD", url: "/healthz" })).statusCode).toBe(200);
    // the dashboard is not built here: a public 404 of the static route, not a 401
    expect((await get("/index.html")).statusCode).not.toBe(401);
    for (const url of ["/api/v1/alerts", "/api/v1/auth/me", "/metrics", "/api/v1/nothing-here", "/api/v1/alerts/"]) expect((await get(url)).statusCode, url).toBe(401);
    expect((await app.inject({ method: "POST", url: "/index.html" })).statusCode).toBe(401);
    expect((await app.inject({ method: "DELETE", url: "/healthz" })).statusCode).toBe(401);
  });

  it("a token: exactly `Bearer <token>` of a user that still has it, acting with the user's role", async () => {
    const me = await get("/api/v1/auth/me", { authorization: `Bearer ${token}` });
    expect(me.statusCode).toBe(200);
    expect(me.json()).toEqual({ user: { name: "dora", role: "deployer" } });
    for (const bad of [`bearer ${token}`, `Bearer  ${token}`, `Bearer ${token} `, `Bearer ${token}x`, `Basic ${token}`, "Bearer ", `Bearer ${"a".repeat(513)}`]) {
      const r = await get("/api/v1/auth/me", { authorization: bad });
      expect(r.statusCode, bad).toBe(401);
      expect(r.json().error.message).toBe("the API token is missing, wrong or revoked");
    }
    // a wrong Authorization header is not rescued by a good session cookie
    const s = await login("dora", "dora-password-1");
    expect((await get("/api/v1/auth/me", { authorization: "Bearer nope", cookie: s.cookie })).statusCode).toBe(401);
  });

  it("a session: the cookie, its CSRF token on every change, and the user's record checked on every request", async () => {
    const s = await login("dora", "dora-password-1");
    expect(s.r.statusCode).toBe(200);
    expect(s.r.json()).toEqual({ user: { name: "dora", role: "deployer" }, csrf: s.csrf });
    expect(s.setCookie).toMatch(new RegExp(`^${SESSION_COOKIE}=[A-Za-z0-9_-]{43}; Path=/; HttpOnly; SameSite=Strict; Max-Age=\\d+$`));
    const maxAge = Number(/Max-Age=(\d+)/.exec(s.setCookie)![1]);
    expect(maxAge).toBeGreaterThan(60);
    const me = await get("/api/v1/auth/me", { cookie: s.cookie });
    expect(me.json()).toEqual({ user: { name: "dora", role: "deployer" }, csrf: s.csrf });
    expect((await get("/api/v1/auth/me", { cookie: `other=1; ${s.cookie}` })).statusCode).toBe(200);
    expect((await get("/api/v1/auth/me", { cookie: s.cookie + "x" })).statusCode).toBe(401);
    const noLogin = await get("/api/v1/auth/me");
    expect(noLogin.json().error.message).toBe("log in first (or send an API token as Authorization: Bearer)");

    // a change without the CSRF token, or with a wrong one, is refused; GET and HEAD need none
    const out = (csrf?: string) => app.inject({ method: "POST", url: "/api/v1/auth/logout", headers: { cookie: s.cookie, ...(csrf === undefined ? {} : { "x-csrf-token": csrf }) } });
    for (const bad of [undefined, "", s.csrf + "x"]) {
      const r = await out(bad);
      expect(r.statusCode, String(bad)).toBe(403);
      expect(r.json().error.message).toBe("missing or wrong X-CSRF-Token header; reload the page");
    }
    expect((await app.inject({ method: "HEAD", url: "/api/v1/auth/me", headers: { cookie: s.cookie } })).statusCode).toBe(200);
    // a token needs no CSRF token (it is not sent by a browser on its own)
    expect((await app.inject({ method: "POST", url: "/api/v1/auth/logout", headers: { authorization: `Bearer ${token}` } })).statusCode).toBe(204);
    expect((await get("/api/v1/auth/me", { authorization: `Bearer ${token}` })).statusCode).toBe(200);

    // logout ends the session and clears the cookie
    const bye = await out(s.csrf);
    expect(bye.statusCode).toBe(204);
    expect(String(bye.headers["set-cookie"])).toBe(`${SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0`);
    expect((await get("/api/v1/auth/me", { cookie: s.cookie })).statusCode).toBe(401);
  });

  it("a new password ends the user's sessions at once; a new role applies at once", async () => {
    const s = await login("vera", "vera-password-1");
    await auth.users.setRole("vera", "deployer");
    expect((await get("/api/v1/auth/me", { cookie: s.cookie })).json().user.role).toBe("deployer");
    await auth.users.setRole("vera", "viewer");
    await auth.users.addUser("vera", "viewer", "vera-password-2", { replace: true });
    const r = await get("/api/v1/auth/me", { cookie: s.cookie });
    expect(r.statusCode).toBe(401);
    expect(r.json().error.message).toBe("your account was removed or its password changed; log in again");
    // and the session is gone for good, not only refused this once
    expect(auth.sessions.get(s.cookie.split("=")[1])).toBeNull();
  });

  it("login: a wrong password is 401 and counts; the limit answers 429 with Retry-After", async () => {
    const a = await build();
    const wrong = await login("dora", "wrong-password", a);
    expect(wrong.r.statusCode).toBe(401);
    expect(wrong.r.json().error.message).toBe("wrong user name or password");
    expect(wrong.setCookie).toBe("");
    let last = wrong.r;
    for (let i = 0; i < 10 && last.statusCode !== 429; i++) last = (await login("dora", "wrong-password", a)).r;
    expect(last.statusCode).toBe(429);
    expect(Number(last.headers["retry-after"])).toBeGreaterThan(0);
    expect(last.json().error.code).toBe("RECON_ERR_RATE_LIMITED");
    await a.close();
  });

  it("the session cookie is Secure behind an https public URL, whatever the request says", async () => {
    const a = await build(true);
    expect((await login("dora", "dora-password-1", a)).setCookie).toMatch(/; Secure$/);
    await a.close();
    expect((await login("dora", "dora-password-1")).setCookie).not.toContain("Secure");
  });
});

describe("auth helpers", () => {
  it("readCookie finds the named cookie only, and refuses an oversized header", () => {
    expect(readCookie("a=1; sy_session=abc; b=2", "sy_session")).toBe("abc");
    expect(readCookie("sy_session_x=1;  sy_session = v=w ", "sy_session")).toBe("v=w");
    expect(readCookie("=x; sy_session", "sy_session")).toBeUndefined();
    expect(readCookie(undefined, "sy_session")).toBeUndefined();
    expect(readCookie("", "sy_session")).toBeUndefined();
    expect(readCookie(`sy_session=a; pad=${"x".repeat(8192 - 18)}`, "sy_session")).toBe("a");
    expect(readCookie(`sy_session=a; pad=${"x".repeat(8192 - 17)}`, "sy_session")).toBeUndefined();
  });

  it("sessionCookie never sets a negative Max-Age", () => {
    expect(sessionCookie("id", -5, false)).toBe("sy_session=id; Path=/; HttpOnly; SameSite=Strict; Max-Age=0");
    expect(sessionCookie("id", 7, true)).toBe("sy_session=id; Path=/; HttpOnly; SameSite=Strict; Max-Age=7; Secure");
  });

  it("requirePermission: 401 with nobody, 403 naming the role and what it may not do", () => {
    const req = (role?: "viewer" | "deployer" | "admin") => ({ principal: role ? { name: "x", role, via: "token" } : undefined }) as unknown as FastifyRequest;
    const refusal = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        return e as ReconError;
      }
      throw new Error("expected a refusal");
    };
    expect(refusal(() => requirePermission(req(), "read")).code).toBe("RECON_ERR_UNAUTHORIZED");
    const e = refusal(() => requirePermission(req("viewer"), "deploy"));
    expect([e.code, e.message]).toEqual(["RECON_ERR_FORBIDDEN", "your role (viewer) may not change the deployment"]);
    expect(refusal(() => requirePermission(req("deployer"), "admin")).message).toBe("your role (deployer) may not admin");
    expect(requirePermission(req("admin"), "admin").role).toBe("admin");
    expect(requirePermission(req("viewer"), "read").role).toBe("viewer");
  });

  it("stillAuthenticated: the same user's token still stands; a revoked one or another user's does not", async () => {
    const asReq = (t: string, name: string) => ({ headers: { authorization: `Bearer ${t}` }, principal: { name } }) as unknown as FastifyRequest;
    expect(stillAuthenticated(asReq(viewerToken, "vera"), auth)).toBe(true);
    expect(stillAuthenticated(asReq(viewerToken, "dora"), auth)).toBe(false);
    expect(stillAuthenticated(asReq("sy_nope", "vera"), auth)).toBe(false);
  });
});
