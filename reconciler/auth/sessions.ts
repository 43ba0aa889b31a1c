/**
 * Dashboard sessions (in memory: a reconciler restart signs everyone out), their CSRF tokens, and
 * the login rate limiter (per IP and per user name, with exponential lockouts).
 */
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import type { Role } from "./users.js";

/** A session ends after this long without a request... */
export const SESSION_IDLE_MS = 12 * 60 * 60 * 1000;
/** ...and this long after login, however busy. */
export const SESSION_ABSOLUTE_MS = 24 * 60 * 60 * 1000;
export const MAX_SESSIONS = 10_000;

export const LOGIN_MAX_FAILURES = 5;
export const LOGIN_WINDOW_MS = 15 * 60 * 1000;
/** The first lockout; each further one doubles, up to LOGIN_MAX_LOCK_MS. */
export const LOGIN_LOCK_MS = 60 * 1000;
export const LOGIN_MAX_LOCK_MS = 60 * 60 * 1000;
/** After this long without a failure, a key's lockout count starts from zero again. */
export const LOGIN_FORGET_MS = 24 * 60 * 60 * 1000;
const MAX_LIMITER_KEYS = 10_000;

const SESSION_ID_PATTERN = /^[A-Za-z0-9_-]{43}$/;

export interface SessionUser {
  name: string;
  /** The role at login; requests act with the user's current role (see api-auth.ts). */
  role: Role;
  /** The user record's stamp at login: a session ends when the user is removed or replaced. */
  stamp: string;
}

export interface Session {
  id: string;
  /** The dashboard sends it back in a header with every change; a cross-site form cannot know it. */
  csrf: string;
  user: SessionUser;
  createdAt: number;
  lastSeenAt: number;
  /** When it ends if nothing else happens (idle or absolute, whichever comes first). */
  expiresAt: number;
}

export interface SessionsOptions {
  idleMs?: number;
  absoluteMs?: number;
  maxSessions?: number;
  now?: () => number;
}

type Stored = Omit<Session, "id">;

export class Sessions {
  /** Keyed by the sha256 of the session id, so the ids themselves are not kept. */
  private readonly byHash = new Map<string, Stored>();
  private readonly idleMs: number;
  private readonly absoluteMs: number;
  private readonly now: () => number;

  constructor(private readonly o: SessionsOptions = {}) {
    this.idleMs = o.idleMs ?? SESSION_IDLE_MS;
    this.absoluteMs = o.absoluteMs ?? SESSION_ABSOLUTE_MS;
    this.now = o.now ?? Date.now;
  }

  /** A new session for a user who just proved who they are. */
  create(user: SessionUser): { id: string; csrf: string; expiresAt: number } {
    const now = this.now();
    this.sweep(now);
    if (this.byHash.size >= (this.o.maxSessions ?? MAX_SESSIONS)) this.byHash.delete(this.byHash.keys().next().value!); // the oldest
    const id = randomBytes(32).toString("base64url");
    const s: Stored = { csrf: randomBytes(32).toString("base64url"), user: { name: user.name, role: user.role, stamp: user.stamp }, createdAt: now, lastSeenAt: now, expiresAt: 0 };
    s.expiresAt = this.expiry(s);
    this.byHash.set(sha256(id), s);
    return { id, csrf: s.csrf, expiresAt: s.expiresAt };
  }

  /** The live session with this id (and marks it used), or null. */
  get(id: string | undefined | null): Session | null {
    if (typeof id !== "string" || !SESSION_ID_PATTERN.test(id)) return null;
    const key = sha256(id);
    const s = this.byHash.get(key);
    if (!s) return null;
    const now = this.now();
    if (now >= s.expiresAt) {
      this.byHash.delete(key);
      return null;
    }
    s.lastSeenAt = now;
    s.expiresAt = this.expiry(s);
    return { id, ...s, user: { ...s.user } };
  }

  destroy(id: string | undefined | null): void {
    if (typeof id === "string") this.byHash.delete(sha256(id));
  }

  /** Ends every session of a user (removed, or given a new password or role); returns how many. */
  destroyUser(name: string): number {
    let n = 0;
    for (const [k, s] of this.byHash) {
      if (s.user.name === name) {
        this.byHash.delete(k);
        n++;
      }
    }
    return n;
  }

  get size(): number {
    return this.byHash.size;
  }

  private expiry(s: Stored): number {
    return Math.min(s.lastSeenAt + this.idleMs, s.createdAt + this.absoluteMs);
  }

  private sweep(now: number): void {
    for (const [k, s] of this.byHash) if (now >= s.expiresAt) this.byHash.delete(k);
  }
}

/** True when `header` is the session's CSRF token; constant time. */
export function checkCsrf(session: Pick<Session, "csrf">, header: string | string[] | undefined | null): boolean {
  if (typeof header !== "string" || header.length === 0 || header.length > 256) return false;
  return timingSafeEqual(Buffer.from(sha256(header), "hex"), Buffer.from(sha256(session.csrf), "hex"));
}

export interface LoginLimiterOptions {
  maxFailures?: number;
  windowMs?: number;
  lockMs?: number;
  maxLockMs?: number;
  now?: () => number;
}

export type LoginCheck = { allowed: true } | { allowed: false; retryAfterSeconds: number };

interface Entry {
  failures: number[];
  lockedUntil: number;
  lockouts: number;
  lastFailureAt: number;
  /** Attempts allowed by `begin` whose password check has not finished yet. */
  inFlight: number;
}

/**
 * Failed logins per IP and per user name: `maxFailures` within `windowMs` lock the key for `lockMs`,
 * (attempts in flight count as failures until they end),
 * doubling with each further lockout. A success clears the user name's count, not the IP's (one valid
 * account must not reset the count of an IP that guesses at others).
 */
export class LoginLimiter {
  private readonly entries = new Map<string, Entry>();
  private readonly now: () => number;

  constructor(private readonly o: LoginLimiterOptions = {}) {
    this.now = o.now ?? Date.now;
  }

  /** Whether a login attempt may go ahead now (ignoring attempts in flight); if not, in how many seconds. */
  check(ip: string, username: string): LoginCheck {
    const now = this.now();
    let until = 0;
    for (const k of keys(ip, username)) until = Math.max(until, this.entries.get(k)?.lockedUntil ?? 0);
    return until > now ? { allowed: false, retryAfterSeconds: Math.ceil((until - now) / 1000) } : { allowed: true };
  }

  /**
   * Reserves a login attempt before the password is checked: recent failures plus attempts still in
   * flight count against the limit, so a burst of concurrent guesses gets no more checks than a slow
   * series would. Every allowed `begin` is ended by exactly one `fail`, `succeed` or `abandon`.
   */
  begin(ip: string, username: string): LoginCheck {
    const locked = this.check(ip, username);
    if (!locked.allowed) return locked;
    const now = this.now();
    const max = this.o.maxFailures ?? LOGIN_MAX_FAILURES;
    const windowMs = this.o.windowMs ?? LOGIN_WINDOW_MS;
    const ks = keys(ip, username);
    for (const k of ks) {
      const e = this.entries.get(k);
      if (e && e.failures.filter((t) => now - t < windowMs).length + e.inFlight >= max) return { allowed: false, retryAfterSeconds: 1 };
    }
    for (const k of ks) this.entry(k, now).inFlight++;
    return { allowed: true };
  }

  /** Records a failed attempt (ending its reservation); returns what the next attempt will meet. */
  fail(ip: string, username: string): LoginCheck {
    const now = this.now();
    const max = this.o.maxFailures ?? LOGIN_MAX_FAILURES;
    const windowMs = this.o.windowMs ?? LOGIN_WINDOW_MS;
    for (const k of keys(ip, username)) {
      const e = this.entry(k, now);
      e.inFlight = Math.max(0, e.inFlight - 1);
      if (now - e.lastFailureAt > LOGIN_FORGET_MS) e.lockouts = 0;
      e.lastFailureAt = now;
      e.failures = e.failures.filter((t) => now - t < windowMs);
      e.failures.push(now);
      if (e.failures.length >= max) {
        e.lockouts++;
        e.lockedUntil = now + Math.min(this.o.maxLockMs ?? LOGIN_MAX_LOCK_MS, (this.o.lockMs ?? LOGIN_LOCK_MS) * 2 ** (e.lockouts - 1));
        e.failures = [];
      }
    }
    return this.check(ip, username);
  }

  /** A successful login clears the user name's failures (not its lockout history, nor the IP's). */
  succeed(ip: string, username: string): void {
    this.abandon(ip, username);
    const e = this.entries.get(userKey(username));
    if (e) e.failures = [];
  }

  /** Ends a reservation without counting it (the check itself could not run). */
  abandon(ip: string, username: string): void {
    for (const k of keys(ip, username)) {
      const e = this.entries.get(k);
      if (e) e.inFlight = Math.max(0, e.inFlight - 1);
    }
  }

  private entry(k: string, now: number): Entry {
    let e = this.entries.get(k);
    if (!e) {
      this.makeRoom(now);
      e = { failures: [], lockedUntil: 0, lockouts: 0, lastFailureAt: 0, inFlight: 0 };
      this.entries.set(k, e);
    }
    return e;
  }

  private makeRoom(now: number): void {
    if (this.entries.size < MAX_LIMITER_KEYS) return;
    const windowMs = this.o.windowMs ?? LOGIN_WINDOW_MS;
    for (const [k, e] of this.entries) if (e.inFlight === 0 && e.lockedUntil <= now && now - e.lastFailureAt > windowMs) this.entries.delete(k);
    if (this.entries.size >= MAX_LIMITER_KEYS) this.entries.delete(this.entries.keys().next().value!);
  }
}

function keys(ip: string, username: string): [string, string] {
  return [`ip:${String(ip).slice(0, 64)}`, userKey(username)];
}

function userKey(username: string): string {
  return `user:${String(username).toLowerCase().slice(0, 64)}`;
}

function sha256(s: string): string {
  return createHash("sha256").update(s).digest("hex");
}
