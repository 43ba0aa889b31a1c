/**
 * Every route of the reconciler's HTTP API with the schemas of its request and answers (contract). The
 * server declares its routes from this table (fastify validates requests and serialises answers from it),
 * `npm run schemas` publishes the schemas as files for users' scripts, and docs/api.md lists it.
 * Every route may also answer 4xx and 5xx with the error body (`error`).
 */
import { errorBodySchema, errorResponses } from "./error.js";
import { clusterStatusSchema } from "./status.js";
import {
  committedSchema, actionResultSchema, colorBodySchema, deployBodySchema, jobsBodySchema, putStateBodySchema, restoreBodySchema, stateDocSchema,
  switchBodySchema, restartBodySchema, restartResultSchema, retryTaskBodySchema, retryTaskResultSchema, abortAnalysisResultSchema,
} from "./state.js";
import { historyPageSchema, historyQuerySchema } from "./history.js";
import { tagsSchema } from "./tags.js";
import { alertsSchema } from "./alerts.js";
import { eventsQuerySchema, eventsSchema } from "./events.js";
import { logsQuerySchema } from "../logs.js";
import { loginBodySchema, meSchema, sessionSchema } from "./auth.js";
import {
  removedUserSchema, revokedSchema, setRoleBodySchema, setRoleResultSchema, tokenParamsSchema, userParamsSchema, usersSchema,
} from "./users.js";

/** The API's schemas by published name (specs/schemas/api/<name>.schema.json). */
export const apiSchemas = {
  "error": errorBodySchema,
  "health": { type: "object", additionalProperties: false, required: ["ok"], properties: { ok: { const: true } } },
  "login-body": loginBodySchema,
  "session": sessionSchema,
  "me": meSchema,
  "cluster-status": clusterStatusSchema,
  "alerts": alertsSchema,
  "events-query": eventsQuerySchema,
  "events": eventsSchema,
  "logs-query": logsQuerySchema,
  "state-doc": stateDocSchema,
  "put-state-body": putStateBodySchema,
  "committed": committedSchema,
  "tags": tagsSchema,
  "history-query": historyQuerySchema,
  "history": historyPageSchema,
  "deploy-body": deployBodySchema,
  "switch-body": switchBodySchema,
  "jobs-body": jobsBodySchema,
  "color-body": colorBodySchema,
  "restore-body": restoreBodySchema,
  "action-result": actionResultSchema,
  "restart-body": restartBodySchema,
  "restart-result": restartResultSchema,
  "retry-task-body": retryTaskBodySchema,
  "retry-task-result": retryTaskResultSchema,
  "abort-analysis-result": abortAnalysisResultSchema,
  "users": usersSchema,
  "user-params": userParamsSchema,
  "token-params": tokenParamsSchema,
  "set-role-body": setRoleBodySchema,
  "set-role-result": setRoleResultSchema,
  "removed-user": removedUserSchema,
  "revoked": revokedSchema,
} as const;
export type ApiSchemaName = keyof typeof apiSchemas;

export interface RouteContract {
  summary: string;
  /** Who may call it: public routes need no sign-in; the others need a role that allows this. */
  permission: "public" | "signed-in" | "read" | "deploy" | "admin";
  params?: ApiSchemaName;
  querystring?: ApiSchemaName;
  body?: ApiSchemaName;
  /** A fixed message for a refused request, for routes whose input must not be echoed (passwords). */
  badRequest?: string;
  /** The answers besides the error body, by status; null: no body (or not JSON). */
  response: Readonly<Record<number, ApiSchemaName | null>>;
}

/** Changes to the desired state need `If-Match: <revision>` (from GET /api/v1/state); 409 when someone changed it first. */
export const apiRoutes = {
  "GET /healthz": { summary: "Liveness of the reconciler process", permission: "public", response: { 200: "health" } },
  "GET /metrics": { summary: "Prometheus text format", permission: "read", response: { 200: null } },
  "POST /api/v1/auth/login": { summary: "Sign in: sets the session cookie, answers the CSRF token", permission: "public", body: "login-body", badRequest: "send { username, password } as JSON", response: { 200: "session" } },
  "POST /api/v1/auth/logout": { summary: "Sign out: ends the session, clears the cookie", permission: "signed-in", response: { 204: null } },
  "GET /api/v1/auth/me": { summary: "Who is asking (and the CSRF token of a session)", permission: "signed-in", response: { 200: "me" } },
  "GET /api/v1/status": { summary: "The cluster's status: conditions, colours, router, jobs, pending steps", permission: "read", response: { 200: "cluster-status" } },
  "GET /api/v1/alerts": { summary: "Firing alerts first, then recently resolved ones", permission: "read", response: { 200: "alerts" } },
  "GET /api/v1/events": {
    summary: "The event log; with Accept: text/event-stream a live stream of `event` and `status` messages",
    permission: "read", querystring: "events-query", response: { 200: "events" },
  },
  "GET /api/v1/logs": {
    summary: "One service's logs by colour (blue, green, live, preview) or node, as NDJSON records tagged with node and colour; ?tail, ?since, ?follow=true streams live lines",
    permission: "deploy", querystring: "logs-query", response: { 200: null },
  },
  "GET /api/v1/state": { summary: "The desired state: text, revision and parsed form", permission: "read", response: { 200: "state-doc" } },
  "PUT /api/v1/state": { summary: "Replace state.yaml (If-Match)", permission: "deploy", body: "put-state-body", response: { 200: "committed" } },
  "GET /api/v1/tags": { summary: "Tags in the registry (or release dirs), newest first", permission: "read", response: { 200: "tags" } },
  "GET /api/v1/history": { summary: "The git log of state.yaml, each commit with its diff", permission: "read", querystring: "history-query", response: { 200: "history" } },
  "POST /api/v1/actions/deploy": { summary: "Deploy a tag to a colour (If-Match; dryRun for the diff)", permission: "deploy", body: "deploy-body", response: { 200: "action-result" } },
  "POST /api/v1/actions/redeploy": { summary: "Roll out what a colour's tag points at now, after it was pushed again (If-Match; dryRun)", permission: "deploy", body: "color-body", response: { 200: "action-result" } },
  "POST /api/v1/actions/promote": { summary: "Make the other colour live (If-Match; dryRun; confirm for a tag rolled back automatically)", permission: "deploy", body: "switch-body", response: { 200: "action-result" } },
  "POST /api/v1/actions/rollback": { summary: "Make the other colour live again (If-Match; dryRun; confirm for a tag rolled back automatically)", permission: "deploy", body: "switch-body", response: { 200: "action-result" } },
  "POST /api/v1/actions/jobs": { summary: "Move the background jobs (If-Match; dryRun)", permission: "deploy", body: "jobs-body", response: { 200: "action-result" } },
  "POST /api/v1/actions/stop": { summary: "Stop a colour that is not live, for maintenance (If-Match; dryRun)", permission: "deploy", body: "color-body", response: { 200: "action-result" } },
  "POST /api/v1/actions/start": { summary: "Start a stopped colour again with its last tag (If-Match; dryRun)", permission: "deploy", body: "color-body", response: { 200: "action-result" } },
  "POST /api/v1/actions/restart": { summary: "Re-create the workloads of a colour that is not live, so they read their secret files again (no commit)", permission: "deploy", body: "restart-body", response: { 200: "restart-result" } },
  "POST /api/v1/actions/retry-task": { summary: "Run a pre-promotion task again for a colour that is not live (no commit)", permission: "deploy", body: "retry-task-body", response: { 200: "retry-task-result" } },
  "POST /api/v1/actions/abort-analysis": { summary: "Stop the analysis after a switch within its window: no automatic rollback for this switch (no commit)", permission: "deploy", response: { 200: "abort-analysis-result" } },
  "POST /api/v1/actions/restore": { summary: "Restore the state.yaml of a commit from history (If-Match; dryRun)", permission: "deploy", body: "restore-body", response: { 200: "action-result" } },
  "GET /api/v1/users": { summary: "Every user with their role and API tokens", permission: "admin", response: { 200: "users" } },
  "PUT /api/v1/users/:name/role": { summary: "Give a user a new role (applies at their next request)", permission: "admin", params: "user-params", body: "set-role-body", response: { 200: "set-role-result" } },
  "DELETE /api/v1/users/:name": { summary: "Remove a user, their tokens and sessions", permission: "admin", params: "user-params", response: { 200: "removed-user" } },
  "DELETE /api/v1/users/:name/tokens": { summary: "Revoke all of a user's API tokens", permission: "admin", params: "user-params", response: { 200: "revoked" } },
  "DELETE /api/v1/users/:name/tokens/:id": { summary: "Revoke one API token", permission: "admin", params: "token-params", response: { 200: "revoked" } },
} as const satisfies Record<string, RouteContract>;
export type ApiRoute = keyof typeof apiRoutes;

/** A route's schemas in the shape fastify's `schema` option takes: request parts, answers by status, errors. */
export function routeSchema(route: ApiRoute): Record<string, unknown> {
  const c: RouteContract = apiRoutes[route];
  const response: Record<string, unknown> = { ...errorResponses };
  for (const [status, name] of Object.entries(c.response)) if (name) response[status] = apiSchemas[name];
  return {
    ...(c.params ? { params: apiSchemas[c.params] } : {}),
    ...(c.querystring ? { querystring: apiSchemas[c.querystring] } : {}),
    ...(c.body ? { body: apiSchemas[c.body] } : {}),
    response,
  };
}
