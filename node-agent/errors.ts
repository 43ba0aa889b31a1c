/**
 * Every error the agent answers with, by code, with its HTTP status (each code's meaning is published in
 * specs/errors.ts). Handlers throw `agentError(code, message)` and the server turns it into
 * `{ error: { code, message } }`.
 */
import { codedErrors } from "../common/coded-error.js";
import type { ErrorCode } from "../specs/errors.js";

export const agentErrors = {
  AGENT_ERR_UNAUTHORIZED: 401,
  AGENT_ERR_RATE_LIMITED: 429,
  AGENT_ERR_BAD_REQUEST: 400,
  AGENT_ERR_INVALID_SPEC: 422,
  AGENT_ERR_IMAGE_NOT_ALLOWED: 403,
  AGENT_ERR_ENV_NOT_ALLOWED: 403,
  AGENT_ERR_LIMIT_NOT_ALLOWED: 403,
  AGENT_ERR_WRONG_NODE: 409,
  AGENT_ERR_STALE_GENERATION: 409,
  AGENT_ERR_WRONG_ROLE: 409,
  AGENT_ERR_LISTEN_NOT_ALLOWED: 403,
  AGENT_ERR_UPSTREAM_NOT_ALLOWED: 403,
  AGENT_ERR_STALE_EPOCH: 409,
  AGENT_ERR_NOT_FOUND: 404,
  AGENT_ERR_PAYLOAD_TOO_LARGE: 413,
  AGENT_ERR_UNSUPPORTED_MEDIA: 415,
  AGENT_ERR_INTERNAL: 500,
  AGENT_ERR_RUNTIME: 503,
  AGENT_ERR_TOO_MANY_STREAMS: 503,
  AGENT_ERR_INSECURE_CHANNEL: 403,
  AGENT_ERR_NO_TLS: 409,
  AGENT_ERR_FORBIDDEN: 403,
  AGENT_ERR_TOO_MANY_FOLLOWS: 429,
  AGENT_ERR_NO_WORKLOAD: 404,
  AGENT_ERR_TASK_REFUSED: 409,
  AGENT_ERR_NO_TASK: 404,
} as const satisfies Partial<Record<ErrorCode, number>>;

export type AgentErrorCode = keyof typeof agentErrors;

const made = codedErrors("AgentError", agentErrors);
export const AgentError = made.ErrorClass;
export type AgentError = InstanceType<typeof AgentError>;
export const agentError = made.create;
