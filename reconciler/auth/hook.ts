/**
 * Who is asking: a dashboard session (HttpOnly cookie, CSRF header on every change) or an API token
 * (Authorization: Bearer, for the CLI and scrapers). Every route but login, health and the static
 * dashboard files needs one of them; each route then checks the role's permission.
 */
import type { FastifyInstance, FastifyRequest } from "fastify";
import { checkCsrf, type LoginLimiter, type Session, type Sessions } from "./sessions.js";
import { roleAllows, type Permission, type Role, type Users } from "./users.js";
import { ReconError, reconError } from "../errors.js";
import { isApiPath, STATIC_ROUTE, staticPath } from "../api/static.js";
import { declareRoute } from "../api/route.js";
import type { LoginBody } from "../../specs/api/auth.js";

export const SESSION_COOKIE = "sy_session";
const BUSY_LOG_MS = 10_000;

export interface Principal {
  name: string;
  role: Role;
  via: "session" | "token";
  session?: Session;
}

declare module "fastify" {
  interface FastifyRequest {
    principal?: Principal;
  }
}

export interface AuthOptions {
  users: Users;
  sessions: Sessions;
  limiter: LoginLimiter;
  /**
   * Mark the session cookie Secure whatever the request looked like: people reach the reconciler over
   * https through a TLS-terminating proxy (`--public-url https://…`). Forwarded headers are not trusted.
   */
  secureCookie?: boolean;
}

/** Routes anyone may call, as `METHOD pattern` of the route the router matched. */
const PUBLIC_ROUTES: ReadonlySet<string> = new Set(["GET /healthz", "HEAD /healthz", "POST /api/v1/auth/login"]);

/**
 * Decided on the route the router matched (and, for the dashboard's catch-all, on the path as the
 * router decoded it), never on the raw URL: `/%61pi/v1/auth/me` is the route /api/v1/auth/me. A request
 * that matched no route is not public either.
 */
function isPublic(req: FastifyRequest): boolean {
  const route = req.routeOptions.url;
  if (route === undefined) return false;
  if (PUBLIC_ROUTES.has(`${req.method} ${route}`)) return true;
  return route === STATIC_ROUTE && (req.method === "GET" || req.method === "HEAD") && !isApiPath(staticPath(req));
}

export function registerAuth(app: FastifyInstance, o: AuthOptions): void {
  const busyRefusals = new RefusalLog();
  app.addHook("onRequest", async (req) => {
    if (isPublic(req)) return;
    const p = authenticate(req, o);
    if (p.session && req.method !== "GET" && req.method !== "HEAD" && !checkCsrf(p.session, req.headers["x-csrf-token"])) {
      throw reconError("RECON_ERR_FORBIDDEN", "missing or wrong X-CSRF-Token header; reload the page");
    }
    req.principal = p;
  });

  /** Log in: sets the session cookie; answers the CSRF token the dashboard sends back on changes. */
  declareRoute(app, "POST /api/v1/auth/login", async (req, reply) => {
    const { username, password } = req.body as LoginBody;
    // Reserved before hashing: concurrent guesses count like sequential ones.
    const gate = o.limiter.begin(req.ip, username);
    if (!gate.allowed) {
      void reply.header("retry-after", String(gate.retryAfterSeconds));
      throw reconError("RECON_ERR_RATE_LIMITED", `too many failed logins; try again in ${gate.retryAfterSeconds} s`);
    }
    let user;
    try {
      user = await o.users.verify(username, password);
    } catch (err) {
      o.limiter.abandon(req.ip, username);
      void reply.header("retry-after", "1");
      if (!(err instanceof ReconError) || err.code !== "RECON_ERR_UNAVAILABLE") throw err;
      // A flood: answered without a log line each (sync log writes must not slow the reconciler down).
      busyRefusals.note(req);
      return reply.code(err.statusCode).send(err.toJSON());
    }
    if (!user) {
      const after = o.limiter.fail(req.ip, username);
      if (!after.allowed) void reply.header("retry-after", String(after.retryAfterSeconds));
      req.log.warn({ user: username.slice(0, 64), ip: req.ip }, "login failed");
      throw reconError("RECON_ERR_UNAUTHORIZED", "wrong user name or password");
    }
    o.limiter.succeed(req.ip, username);
    const s = o.sessions.create({ name: user.name, role: user.role, stamp: user.stamp });
    void reply.header("set-cookie", sessionCookie(s.id, Math.floor((s.expiresAt - Date.now()) / 1000), o.secureCookie === true || req.protocol === "https"));
    return { user: { name: user.name, role: user.role }, csrf: s.csrf };
  });

  declareRoute(app, "POST /api/v1/auth/logout", async (req, reply) => {
    if (req.principal?.session) o.sessions.destroy(req.principal.session.id);
    void reply.header("set-cookie", sessionCookie("", 0, o.secureCookie === true || req.protocol === "https"));
    return reply.code(204).send();
  });

  declareRoute(app, "GET /api/v1/auth/me", async (req) => {
    const p = req.principal!;
    return { user: { name: p.name, role: p.role }, ...(p.session ? { csrf: p.session.csrf } : {}) };
  });
}

/**
 * Who sent this request, as the users file says now: a token acts with its user's current role; a
 * session is checked against the user's record on every request (the CLI may have changed the file), so
 * a removed user, or one given a new password, is signed out at once and a new role applies at once.
 */
function authenticate(req: FastifyRequest, o: AuthOptions): Principal {
  const auth = req.headers.authorization;
  if (auth !== undefined) {
    const m = /^Bearer (\S{1,512})$/.exec(auth);
    const found = m ? o.users.verifyToken(m[1]!) : null;
    if (!found) throw reconError("RECON_ERR_UNAUTHORIZED", "the API token is missing, wrong or revoked");
    return { name: found.user.name, role: found.user.role, via: "token" };
  }
  const session = o.sessions.get(readCookie(req.headers.cookie, SESSION_COOKIE));
  if (!session) throw reconError("RECON_ERR_UNAUTHORIZED", "log in first (or send an API token as Authorization: Bearer)");
  const user = o.users.current(session.user.name);
  if (!user || user.stamp !== session.user.stamp) {
    o.sessions.destroy(session.id);
    throw reconError("RECON_ERR_UNAUTHORIZED", "your account was removed or its password changed; log in again");
  }
  return { name: user.name, role: user.role, via: "session", session };
}

/**
 * For long-lived answers (event streams, log follows): whether the request's session or token still stands,
 * as the same user, and (with `what`) whether the user's role today still allows it: a role lowered while a
 * stream is open ends the stream.
 */
export function stillAuthenticated(req: FastifyRequest, o: AuthOptions, what?: Permission): boolean {
  try {
    const p = authenticate(req, o);
    return p.name === req.principal?.name && (what === undefined || roleAllows(p.role, what));
  } catch {
    return false;
  }
}

/** Throws 403 unless the caller's role may do `what`. */
export function requirePermission(req: FastifyRequest, what: Permission): Principal {
  const p = req.principal;
  if (!p) throw reconError("RECON_ERR_UNAUTHORIZED", "log in first");
  if (!roleAllows(p.role, what)) throw reconError("RECON_ERR_FORBIDDEN", `your role (${p.role}) may not ${what === "deploy" ? "change the deployment" : what}`);
  return p;
}

export function sessionCookie(id: string, maxAgeSeconds: number, secure: boolean): string {
  return `${SESSION_COOKIE}=${id}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${Math.max(0, maxAgeSeconds)}${secure ? "; Secure" : ""}`;
}

export function readCookie(header: string | undefined, name: string): string | undefined {
  if (!header || header.length > 8192) return undefined;
  for (const part of header.split(";")) {
    const i = part.indexOf("=");
    if (i > 0 && part.slice(0, i).trim() === name) return part.slice(i + 1).trim();
  }
  return undefined;
}


/** Logins refused because too many wait for a password check: one warning per BUSY_LOG_MS with the count. */
class RefusalLog {
  private count = 0;
  private lastAt = 0;

  note(req: FastifyRequest): void {
    this.count++;
    const now = Date.now();
    if (now - this.lastAt < BUSY_LOG_MS) return;
    req.log.warn({ refused: this.count }, "logins refused: too many at once");
    this.count = 0;
    this.lastAt = now;
  }
}
