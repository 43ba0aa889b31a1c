/**
 * User management for admins (contract): list users with their role and API tokens (ids and dates,
 * never a secret), change a role, remove a user, revoke tokens. Changes apply at the next request of
 * every session and token concerned: a removed user's sessions and tokens get 401 at once, a new role
 * applies at once (api-auth.ts checks each request against the users file).
 */
import type { FastifyInstance, FastifyRequest } from "fastify";
import { requirePermission } from "../auth/hook.js";
import { reconError } from "../errors.js";
import type { Sessions } from "../auth/sessions.js";
import { ROLES, type Role, type Token, type User, type Users } from "../auth/users.js";

export interface UsersApiOptions {
  users: Users;
  sessions: Sessions;
}

/** A user as GET /api/v1/users lists them. */
export interface UserEntry extends User {
  tokens: Omit<Token, "name">[];
}

export function registerUserRoutes(app: FastifyInstance, o: UsersApiOptions): void {
  /** Every user with their role and tokens. */
  app.get("/api/v1/users", async (req) => {
    requirePermission(req, "admin");
    return { users: listUsers(o.users) };
  });

  /** PUT { role }: the user's sessions and tokens act with it from their next request. */
  app.put("/api/v1/users/:name/role", async (req) => {
    const p = requirePermission(req, "admin");
    const name = nameOf(req);
    const role = (req.body as { role?: unknown } | undefined)?.role;
    if (typeof role !== "string" || !ROLES.includes(role as Role)) throw reconError("RECON_ERR_BAD_REQUEST", `send { role } with one of ${ROLES.join(", ")}`);
    const user = await o.users.setRole(name, role as Role);
    req.log.warn({ by: p.name, user: name, role }, "user role changed");
    return { user };
  });

  /** Removes the user and their tokens, and ends their sessions. */
  app.delete("/api/v1/users/:name", async (req) => {
    const p = requirePermission(req, "admin");
    const name = nameOf(req);
    const removed = await o.users.removeUser(name);
    if (!removed) throw reconError("RECON_ERR_NOT_FOUND", `no user ${name}`);
    const sessions = o.sessions.destroyUser(name);
    req.log.warn({ by: p.name, user: name, tokens: removed.tokens, sessions }, "user removed");
    return { removed: name, tokensRevoked: removed.tokens, sessionsEnded: sessions };
  });

  /** Revokes all of the user's tokens. */
  app.delete("/api/v1/users/:name/tokens", async (req) => revoke(req, o, undefined));

  /** Revokes one token of the user. */
  app.delete("/api/v1/users/:name/tokens/:id", async (req) => revoke(req, o, (req.params as { id: string }).id));
}

async function revoke(req: FastifyRequest, o: UsersApiOptions, id: string | undefined): Promise<{ revoked: string[] }> {
  const p = requirePermission(req, "admin");
  const name = nameOf(req);
  const revoked = await o.users.revokeTokens(name, id);
  if (id !== undefined && revoked.length === 0) throw reconError("RECON_ERR_NOT_FOUND", `user ${name} has no token ${id.slice(0, 40)}`);
  req.log.warn({ by: p.name, user: name, tokens: revoked }, "API tokens revoked");
  return { revoked };
}

function nameOf(req: FastifyRequest): string {
  const name = (req.params as { name: string }).name;
  if (!name || name.length > 64) throw reconError("RECON_ERR_BAD_REQUEST", "name the user");
  return name;
}

function listUsers(users: Users): UserEntry[] {
  const l = users.list();
  return l.users.map((u) => ({ ...u, tokens: l.tokens.filter((t) => t.name === u.name).map(({ name: _n, ...t }) => t) }));
}
