/**
 * Every error the reconciler API answers with, by code, with its HTTP status (each code's meaning is
 * published in specs/errors.ts).
 */
import { codedErrors } from "../common/coded-error.js";
import type { ErrorCode } from "../specs/errors.js";

export const reconErrors = {
  RECON_ERR_UNAUTHORIZED: 401,
  RECON_ERR_FORBIDDEN: 403,
  RECON_ERR_NOT_FOUND: 404,
  RECON_ERR_BAD_REQUEST: 400,
  RECON_ERR_CONFLICT: 409,
  RECON_ERR_CONFIRM_REQUIRED: 409,
  RECON_ERR_INVALID_STATE: 422,
  RECON_ERR_RATE_LIMITED: 429,
  RECON_ERR_PAYLOAD_TOO_LARGE: 413,
  RECON_ERR_UNSUPPORTED_MEDIA: 415,
  RECON_ERR_UNAVAILABLE: 503,
  RECON_ERR_TOO_MANY_STREAMS: 503,
  RECON_ERR_REGISTRY: 502,
  RECON_ERR_INTERNAL: 500,
} as const satisfies Partial<Record<ErrorCode, number>>;

export type ReconErrorCode = keyof typeof reconErrors;

const made = codedErrors("ReconError", reconErrors);
export const ReconError = made.ErrorClass;
export type ReconError = InstanceType<typeof ReconError>;
export const reconError = made.create;
