/**
 * Who may use the API: users with scrypt password hashes and API tokens (stored as sha256 hashes) in
 * one JSON file in the data dir, written atomically with mode 0600; and the roles and what they allow.
 * Sessions, CSRF and login rate limiting are in sessions.ts.
 *
 * One piece (~340 lines) on purpose: the file format, its lock-free atomic rewrite and every operation on
 * users and tokens must agree on one in-memory document; splitting them would spread that invariant.
 */
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { chmodSync, readFileSync, statSync } from "node:fs";
import { Ajv } from "ajv";
import type { FromSchema } from "json-schema-to-ts";
import { writeFileAtomic } from "../../common/atomic-file.js";
import { reconError } from "../errors.js";
import { scryptKey } from "./scrypt-gate.js";

import { ROLES, type Role } from "../../specs/api/users.js";

export { ROLES, type Role };
export type Permission = "read" | "deploy" | "admin";

export const USER_NAME_PATTERN = /^[a-z][a-z0-9_.-]{1,31}$/;
export const MIN_PASSWORD_CHARS = 10;
export const MAX_PASSWORD_CHARS = 1024;
/** scrypt cost for new hashes (about 32 MiB and 50–100 ms each); stored with every hash. */
export const SCRYPT_PARAMS = { N: 2 ** 15, r: 8, p: 1 } as const;
const SCRYPT_KEY_BYTES = 32;
const SCRYPT_SALT_BYTES = 16;
/** A token's last use is written at most this often. */
const LAST_USED_WRITE_MS = 60_000;
const TOKEN_PATTERN = /^sy_[A-Za-z0-9_-]{43}$/;

const rolesSchema = { type: "string", enum: ROLES } as const;
const usersFileSchema = {
  type: "object",
  additionalProperties: false,
  required: ["users", "tokens"],
  properties: {
    users: {
      type: "array",
      maxItems: 10_000,
      items: {
        type: "object",
        additionalProperties: false,
        required: ["name", "role", "hash", "createdAt"],
        properties: {
          name: { type: "string", pattern: USER_NAME_PATTERN.source },
          role: rolesSchema,
          /** `scrypt$N$r$p$salt$key`, salt and key in base64url. */
          hash: { type: "string", maxLength: 512 },
          createdAt: { type: "string", maxLength: 64 },
        },
      },
    },
    tokens: {
      type: "array",
      maxItems: 10_000,
      items: {
        type: "object",
        additionalProperties: false,
        required: ["id", "name", "hash", "createdAt"],
        properties: {
          id: { type: "string", pattern: "^[0-9a-f]{12}$" },
          /** The user the token acts for, with the user's current role. */
          name: { type: "string", pattern: USER_NAME_PATTERN.source },
          /** Written by earlier versions; ignored (a token acts with its user's current role). */
          role: rolesSchema,
          /** sha256 of the token, hex. The token itself is shown once and never stored. */
          hash: { type: "string", pattern: "^[0-9a-f]{64}$" },
          createdAt: { type: "string", maxLength: 64 },
          lastUsedAt: { type: "string", maxLength: 64 },
        },
      },
    },
  },
} as const;

type UsersFile = FromSchema<typeof usersFileSchema>;
const validateUsersFile = new Ajv({ allErrors: false, strict: true }).compile(usersFileSchema);

/** A user as the API shows it: never the hash. */
export interface User {
  name: string;
  role: Role;
  createdAt: string;
}

/** A user as they are now, with a stamp that changes when the user is replaced or given a new password. */
export interface CurrentUser extends User {
  stamp: string;
}

/** An API token as the API shows it: never the token or its hash. It acts as user `name`, with their current role. */
export interface Token {
  id: string;
  name: string;
  createdAt: string;
  lastUsedAt?: string;
}

/** What a role may do: viewers read, deployers also deploy, promote, roll back and move jobs, admins all. */
export function roleAllows(role: Role, action: Permission): boolean {
  const rank = ROLES.indexOf(role);
  if (rank < 0) return false;
  return action === "read" ? true : action === "deploy" ? rank >= 1 : rank >= 2;
}

export class Users {
  private data: UsersFile = { users: [], tokens: [] };
  private stamp = "";
  private writes: Promise<unknown> = Promise.resolve();

  /** The stamp of the file whose read failed last, so that failure is reported once. */
  private failedStamp = "";

  /** `onUnreadable`: told once per version of the file that cannot be read or is damaged (the last good copy stays). */
  constructor(private readonly o: { file: string; scrypt?: { N: number; r: number; p: number }; onUnreadable?: (message: string) => void }) {}

  /** Reads the file (a missing file is no users yet). A damaged file is an error, never "no users". */
  async load(): Promise<void> {
    this.refresh(true);
  }

  /** Adds a user; an existing name is refused unless `replace` (which sets a new role and password). */
  async addUser(name: string, role: Role, password: string, o: { replace?: boolean } = {}): Promise<void> {
    checkName(name, "a user name");
    checkRole(role);
    if (typeof password !== "string" || [...password].length < MIN_PASSWORD_CHARS) {
      throw reconError("RECON_ERR_BAD_REQUEST", `a password has at least ${MIN_PASSWORD_CHARS} characters`);
    }
    if ([...password].length > MAX_PASSWORD_CHARS) throw reconError("RECON_ERR_BAD_REQUEST", `a password has at most ${MAX_PASSWORD_CHARS} characters`);
    const hash = await hashPassword(password, this.o.scrypt ?? SCRYPT_PARAMS);
    await this.mutate((d) => {
      const existing = d.users.find((u) => u.name === name);
      if (existing && !o.replace) throw reconError("RECON_ERR_CONFLICT", `user ${name} already exists; use replace to set a new password or role`);
      if (existing) Object.assign(existing, { role, hash });
      else d.users.push({ name, role, hash, createdAt: new Date().toISOString() });
    });
  }

  /**
   * Removes a user and every API token of theirs; the number of tokens revoked, or null when there was no
   * such user. The last admin is kept (nobody could manage users through the API any more). Their
   * sessions stop at their next request (see `current`).
   */
  async removeUser(name: string): Promise<{ tokens: number } | null> {
    let result: { tokens: number } | null = null;
    await this.mutate((d) => {
      const user = d.users.find((u) => u.name === name);
      if (!user) return;
      if (user.role === "admin" && d.users.filter((u) => u.role === "admin").length === 1) throw lastAdmin(name);
      const before = d.tokens.length;
      d.users = d.users.filter((u) => u.name !== name);
      d.tokens = d.tokens.filter((t) => t.name !== name);
      result = { tokens: before - d.tokens.length };
    });
    return result;
  }

  /** Gives a user a new role, which their sessions and tokens act with from their next request. */
  async setRole(name: string, role: Role): Promise<User> {
    checkRole(role);
    let out: User | undefined;
    await this.mutate((d) => {
      const user = d.users.find((u) => u.name === name);
      if (!user) throw reconError("RECON_ERR_NOT_FOUND", `no user ${name}`);
      if (user.role === "admin" && role !== "admin" && d.users.filter((u) => u.role === "admin").length === 1) throw lastAdmin(name);
      user.role = role;
      out = { name: user.name, role: user.role, createdAt: user.createdAt };
    });
    return out!;
  }

  /** The user as they are in the file now, or null: every request checks its session against this. */
  current(name: string): CurrentUser | null {
    this.refresh(false);
    const u = this.data.users.find((x) => x.name === name);
    return u ? currentOf(u) : null;
  }

  /**
   * The user when the password is right, else null. Unknown users cost one scrypt like known ones, and
   * the comparison is constant time, so neither the answer nor its timing says which names exist.
   * Throws RECON_ERR_UNAVAILABLE when too many checks already wait for the scrypt gate.
   */
  async verify(name: string, password: string): Promise<CurrentUser | null> {
    this.refresh(false);
    const user = typeof name === "string" ? this.data.users.find((u) => u.name === name) : undefined;
    const stored = user ? parseHash(user.hash) : null;
    const params = stored?.params ?? this.o.scrypt ?? SCRYPT_PARAMS;
    const salt = stored?.salt ?? randomBytes(SCRYPT_SALT_BYTES);
    const expected = stored?.key ?? randomBytes(SCRYPT_KEY_BYTES);
    const pw = typeof password === "string" ? password : "";
    const key = await scryptKey(pw, salt, expected.length, params, true);
    const match = timingSafeEqual(key, expected);
    if (!match || !user || !stored || [...pw].length > MAX_PASSWORD_CHARS) return null;
    return currentOf(user);
  }

  /** A new API token for user `name`, acting with their current role. Returned once; only its sha256 is stored. */
  async createToken(name: string): Promise<string> {
    checkName(name, "a user name");
    const token = `sy_${randomBytes(32).toString("base64url")}`;
    const entry = { id: randomBytes(6).toString("hex"), name, hash: sha256(token), createdAt: new Date().toISOString() };
    await this.mutate((d) => {
      if (!d.users.some((u) => u.name === name)) throw reconError("RECON_ERR_NOT_FOUND", `no user ${name}; add the user first`);
      d.tokens.push(entry);
    });
    return token;
  }

  /**
   * Revokes user `name`'s token `id`, or all of their tokens without an id; the ids revoked (none when
   * there was no such token).
   */
  async revokeTokens(name: string, id?: string): Promise<string[]> {
    let revoked: string[] = [];
    await this.mutate((d) => {
      revoked = d.tokens.filter((t) => t.name === name && (id === undefined || t.id === id)).map((t) => t.id);
      d.tokens = d.tokens.filter((t) => !revoked.includes(t.id));
    });
    return revoked;
  }

  /**
   * The token and its user as they are now when `token` is a valid API token of an existing user, else
   * null. Records its last use (lazily).
   */
  verifyToken(token: string): { token: Token; user: CurrentUser } | null {
    if (typeof token !== "string" || !TOKEN_PATTERN.test(token)) return null;
    this.refresh(false);
    const h = Buffer.from(sha256(token), "hex");
    let found: UsersFile["tokens"][number] | undefined;
    for (const t of this.data.tokens) if (timingSafeEqual(Buffer.from(t.hash, "hex"), h)) found = t;
    const owner = found ? this.data.users.find((u) => u.name === found.name) : undefined;
    if (!found || !owner) return null;
    const now = Date.now();
    if (!found.lastUsedAt || now - Date.parse(found.lastUsedAt) > LAST_USED_WRITE_MS) {
      const id = found.id;
      const at = new Date(now).toISOString();
      found.lastUsedAt = at;
      void this.mutate((d) => {
        const t = d.tokens.find((x) => x.id === id);
        if (t) t.lastUsedAt = at;
      }).catch(() => undefined); // a missed last-use time is not worth failing a request
    }
    return { token: publicToken(found), user: currentOf(owner) };
  }

  /** Users and tokens without any hash. */
  list(): { users: User[]; tokens: Token[] } {
    this.refresh(false);
    return {
      users: this.data.users.map((u) => ({ name: u.name, role: u.role, createdAt: u.createdAt })),
      tokens: this.data.tokens.map(publicToken),
    };
  }

  /** Resolves when every write queued so far is on disk. */
  async flush(): Promise<void> {
    await this.writes.catch(() => undefined);
  }

  /** Read-modify-write under one queue, from the file as it is now (the CLI may have changed it). */
  private mutate(fn: (d: UsersFile) => void): Promise<void> {
    const run = async () => {
      this.refresh(true);
      const next = structuredClone(this.data);
      fn(next);
      await writeFileAtomic(this.o.file, JSON.stringify(next, null, 2) + "\n", 0o600, { ownerOfDir: true });
      this.data = next;
      this.stamp = stampOf(this.o.file);
    };
    const r = this.writes.then(run, run);
    this.writes = r.catch(() => undefined);
    return r;
  }

  /** Re-reads the file when it changed on disk. `strict`: a damaged file throws; else the last good copy stays. */
  private refresh(strict: boolean): void {
    const stamp = stampOf(this.o.file);
    if (stamp === this.stamp) return;
    if (stamp === "") {
      this.data = { users: [], tokens: [] };
      this.stamp = stamp;
      return;
    }
    try {
      const st = statSync(this.o.file);
      if ((st.mode & 0o077) !== 0) chmodSync(this.o.file, 0o600); // holds password hashes: owner only
      const parsed: unknown = JSON.parse(readFileSync(this.o.file, "utf8"));
      if (!validateUsersFile(parsed)) {
        const e = validateUsersFile.errors?.[0];
        throw new Error(`${e?.instancePath || "the file"} ${e?.message ?? "is not valid"}`);
      }
      this.data = parsed as UsersFile;
      this.stamp = stamp;
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      if (e.code === "EACCES" || e.code === "EPERM" || e.code === "EISDIR") {
        const msg = `cannot read the users file ${this.o.file} (${e.code}): logins and API tokens fail until it can be read. It must belong to the user the reconciler runs as (chown <that user> ${this.o.file}); \`switchyard user\` run as root now gives it the data dir's owner`;
        if (strict) throw new Error(msg);
        if (this.failedStamp !== stamp) this.o.onUnreadable?.(msg);
      } else {
        const msg = `the users file ${this.o.file} is damaged (${e.message}); fix or remove it`;
        if (strict) throw new Error(msg);
        if (this.failedStamp !== stamp) this.o.onUnreadable?.(`${msg}; the last good copy stays in force`);
      }
      this.failedStamp = stamp;
    }
  }
}

/** `scrypt$N$r$p$salt$key` for a password, with a fresh random salt. */
export async function hashPassword(password: string, params: { N: number; r: number; p: number } = SCRYPT_PARAMS): Promise<string> {
  const salt = randomBytes(SCRYPT_SALT_BYTES);
  const key = await scryptKey(password, salt, SCRYPT_KEY_BYTES, params);
  return `scrypt$${params.N}$${params.r}$${params.p}$${salt.toString("base64url")}$${key.toString("base64url")}`;
}

/** The parts of a stored hash, or null for anything malformed or with costs out of a sane range. */
function parseHash(h: string): { params: { N: number; r: number; p: number }; salt: Buffer; key: Buffer } | null {
  const m = /^scrypt\$(\d{1,8})\$(\d{1,3})\$(\d{1,3})\$([A-Za-z0-9_-]{11,88})\$([A-Za-z0-9_-]{22,88})$/.exec(h);
  if (!m) return null;
  const [N, r, p] = [Number(m[1]), Number(m[2]), Number(m[3])];
  if (N < 1024 || N > 2 ** 20 || (N & (N - 1)) !== 0 || r < 1 || r > 32 || p < 1 || p > 16) return null;
  return { params: { N, r, p }, salt: Buffer.from(m[4]!, "base64url"), key: Buffer.from(m[5]!, "base64url") };
}

function sha256(s: string): string {
  return createHash("sha256").update(s).digest("hex");
}

/** "" when the file does not exist; a folder the process may not search is no "no users" (the read says why). */
function stampOf(file: string): string {
  try {
    const st = statSync(file);
    return `${st.ino}:${st.size}:${st.mtimeMs}`;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "ENOENT" ? "" : `error:${(err as NodeJS.ErrnoException).code}`;
  }
}

function publicToken(t: UsersFile["tokens"][number]): Token {
  return { id: t.id, name: t.name, createdAt: t.createdAt, ...(t.lastUsedAt ? { lastUsedAt: t.lastUsedAt } : {}) };
}

function currentOf(u: UsersFile["users"][number]): CurrentUser {
  return { name: u.name, role: u.role, createdAt: u.createdAt, stamp: sha256(`${u.createdAt}\0${u.hash}`).slice(0, 32) };
}

function lastAdmin(name: string): Error {
  return reconError("RECON_ERR_CONFLICT", `${name} is the last admin; make another user admin first`);
}

function checkName(name: string, what: string): void {
  if (typeof name !== "string" || !USER_NAME_PATTERN.test(name)) {
    throw reconError("RECON_ERR_BAD_REQUEST", `${what} is 2–32 characters: a lowercase letter, then lowercase letters, digits, '_', '.' or '-'`);
  }
}

function checkRole(role: Role): void {
  if (!ROLES.includes(role)) throw reconError("RECON_ERR_BAD_REQUEST", `a role is one of ${ROLES.join(", ")}`);
}
