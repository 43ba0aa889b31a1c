/**
 * Sign-in over HTTP (contract): POST /api/v1/auth/login and /logout, GET /api/v1/auth/me. The session
 * travels in an HttpOnly cookie; API tokens go as Authorization: Bearer.
 */
import type { FromSchema } from "json-schema-to-ts";
import { roleSchema } from "./users.js";

/** POST /api/v1/auth/login. */
export const loginBodySchema = {
  type: "object",
  required: ["username", "password"],
  properties: {
    username: { type: "string", minLength: 1, maxLength: 64 },
    password: { type: "string", minLength: 1, maxLength: 1024 },
  },
} as const;

export const sessionUserSchema = {
  type: "object",
  additionalProperties: false,
  required: ["name", "role"],
  properties: { name: { type: "string" }, role: roleSchema },
} as const;

/** The answer of login: the user, and the CSRF token to send as X-CSRF-Token on every change. */
export const sessionSchema = {
  type: "object",
  additionalProperties: false,
  required: ["user", "csrf"],
  properties: { user: sessionUserSchema, csrf: { type: "string" } },
} as const;

/** GET /api/v1/auth/me: who is asking; `csrf` only for a session (not for an API token). */
export const meSchema = {
  type: "object",
  additionalProperties: false,
  required: ["user"],
  properties: { user: sessionUserSchema, csrf: { type: "string" } },
} as const;

export type LoginBody = FromSchema<typeof loginBodySchema>;
export type SessionUser = FromSchema<typeof sessionUserSchema>;
export type Session = FromSchema<typeof sessionSchema>;
export type Me = FromSchema<typeof meSchema>;
