/**
 * User management for admins over HTTP (contract): the routes under /api/v1/users. Never a password,
 * hash or token secret in an answer.
 */
import type { FromSchema } from "json-schema-to-ts";

export const ROLES = ["viewer", "deployer", "admin"] as const;
export const roleSchema = { type: "string", enum: ROLES } as const;

export const userSchema = {
  type: "object",
  additionalProperties: false,
  required: ["name", "role", "createdAt"],
  properties: { name: { type: "string" }, role: roleSchema, createdAt: { type: "string" } },
} as const;

/** An API token as the API shows it: its id and dates, never the token or its hash. */
export const tokenInfoSchema = {
  type: "object",
  additionalProperties: false,
  required: ["id", "createdAt"],
  properties: { id: { type: "string" }, createdAt: { type: "string" }, lastUsedAt: { type: "string" } },
} as const;

export const userEntrySchema = {
  type: "object",
  additionalProperties: false,
  required: ["name", "role", "createdAt", "tokens"],
  properties: { ...userSchema.properties, tokens: { type: "array", items: tokenInfoSchema } },
} as const;

export const usersSchema = {
  type: "object",
  additionalProperties: false,
  required: ["users"],
  properties: { users: { type: "array", items: userEntrySchema } },
} as const;

const userName = { type: "string", minLength: 1, maxLength: 64, "x-hint": "a user name" } as const;
export const userParamsSchema = { type: "object", required: ["name"], properties: { name: userName } } as const;
export const tokenParamsSchema = {
  type: "object",
  required: ["name", "id"],
  properties: { name: userName, id: { type: "string", minLength: 1 } },
} as const;

/** PUT /api/v1/users/:name/role. */
export const setRoleBodySchema = { type: "object", required: ["role"], properties: { role: roleSchema } } as const;
export const setRoleResultSchema = {
  type: "object",
  additionalProperties: false,
  required: ["user"],
  properties: { user: userSchema },
} as const;

/** DELETE /api/v1/users/:name. */
export const removedUserSchema = {
  type: "object",
  additionalProperties: false,
  required: ["removed", "tokensRevoked", "sessionsEnded"],
  properties: {
    removed: { type: "string" },
    tokensRevoked: { type: "integer", minimum: 0 },
    sessionsEnded: { type: "integer", minimum: 0 },
  },
} as const;

/** DELETE /api/v1/users/:name/tokens and /tokens/:id: the ids revoked. */
export const revokedSchema = {
  type: "object",
  additionalProperties: false,
  required: ["revoked"],
  properties: { revoked: { type: "array", items: { type: "string" } } },
} as const;

export type Role = (typeof ROLES)[number];
export type User = FromSchema<typeof userSchema>;
export type TokenInfo = FromSchema<typeof tokenInfoSchema>;
export type UserEntry = FromSchema<typeof userEntrySchema>;
export type Users = FromSchema<typeof usersSchema>;
export type UserParams = FromSchema<typeof userParamsSchema>;
export type TokenParams = FromSchema<typeof tokenParamsSchema>;
export type SetRoleBody = FromSchema<typeof setRoleBodySchema>;
export type RemovedUser = FromSchema<typeof removedUserSchema>;
export type Revoked = FromSchema<typeof revokedSchema>;
export type SetRoleResult = FromSchema<typeof setRoleResultSchema>;
