/**
 * User management for admins (contract): list users with their role and API tokens (ids and dates,
 * never a secret), change a role, remove a user, revoke tokens. Changes apply at the next request of
 * every session and token concerned: a removed user's sessions and tokens get 401 at once, a new role
 * applies at once (api-auth.ts checks each request against the users file).
 */
import type { FastifyInstance, FastifyRequest } from "fastify";
import { reconError } from "../errors.js";
import type { Sessions } from "../auth/sessions.js";
import type { Users } from "../auth/users.js";
import { declareRoute } from "./route.js";
import type { SetRoleBody, TokenParams, UserEntry, UserParams } from "../../specs/api/users.js";

export interface UsersApiOptions {
  users: Users;
  sessions: Sessions;
}

export function registerUserRoutes(app: FastifyInstance, o: UsersApiOptions): void {
  /** Every user with their role and tokens. */
  declareRoute(app, "GET /api/v1/users", async () => ({ users: listUsers(o.users) }));

  /** PUT { role }: the user's sessions and tokens act with it from their next request. */
  declareRoute(app, "PUT /api/v1/users/:name/role", async (req) => {
    const { name } = req.params as UserParams;
    const { role } = req.body as SetRoleBody;
    const user = await o.users.setRole(name, role);
    req.log.warn({ by: req.principal!.name, user: name, role }, "user role changed");
    return { user };
  });

  /** Removes the user and their tokens, and ends their sessions. */
  declareRoute(app, "DELETE /api/v1/users/:name", async (req) => {
    const { name } = req.params as UserParams;
    const removed = await o.users.removeUser(name);
    if (!removed) throw reconError("RECON_ERR_NOT_FOUND", `no user ${name}`);
    const sessions = o.sessions.destroyUser(name);
    req.log.warn({ by: req.principal!.name, user: name, tokens: removed.tokens, sessions }, "user removed");
    return { removed: name, tokensRevoked: removed.tokens, sessionsEnded: sessions };
  });

  /** Revokes all of the user's tokens. */
  declareRoute(app, "DELETE /api/v1/users/:name/tokens", async (req) => revoke(req, o, undefined));

  /** Revokes one token of the user. */
  declareRoute(app, "DELETE /api/v1/users/:name/tokens/:id", async (req) => revoke(req, o, (req.params as TokenParams).id));
}

async function revoke(req: FastifyRequest, o: UsersApiOptions, id: string | undefined): Promise<{ revoked: string[] }> {
  const { name } = req.params as UserParams;
  const revoked = await o.users.revokeTokens(name, id);
  if (id !== undefined && revoked.length === 0) throw reconError("RECON_ERR_NOT_FOUND", `user ${name} has no token ${id.slice(0, 40)}`);
  req.log.warn({ by: req.principal!.name, user: name, tokens: revoked }, "API tokens revoked");
  return { revoked };
}

function listUsers(users: Users): UserEntry[] {
  const l = users.list();
  return l.users.map((u) => ({ ...u, tokens: l.tokens.filter((t) => t.name === u.name).map(({ name: _n, ...t }) => t) }));
}
