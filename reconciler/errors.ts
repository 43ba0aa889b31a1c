/** Every error the reconciler API answers with, by code, with its HTTP status. */
export const reconErrors = {
  RECON_ERR_UNAUTHORIZED: 401,
  RECON_ERR_FORBIDDEN: 403,
  RECON_ERR_NOT_FOUND: 404,
  RECON_ERR_BAD_REQUEST: 400,
  RECON_ERR_CONFLICT: 409,
  RECON_ERR_INVALID_STATE: 422,
  RECON_ERR_RATE_LIMITED: 429,
  RECON_ERR_PAYLOAD_TOO_LARGE: 413,
  RECON_ERR_UNSUPPORTED_MEDIA: 415,
  RECON_ERR_UNAVAILABLE: 503,
  RECON_ERR_TOO_MANY_STREAMS: 503,
  RECON_ERR_REGISTRY: 502,
  RECON_ERR_INTERNAL: 500,
} as const;

export type ReconErrorCode = keyof typeof reconErrors;

export class ReconError extends Error {
  readonly statusCode: number;
  constructor(readonly code: ReconErrorCode, message: string, readonly details?: unknown) {
    super(message);
    this.name = "ReconError";
    this.statusCode = reconErrors[code];
  }

  toJSON(): { error: { code: ReconErrorCode; message: string; details?: unknown } } {
    return { error: { code: this.code, message: this.message, ...(this.details !== undefined ? { details: this.details } : {}) } };
  }
}

export function reconError(code: ReconErrorCode, message: string, details?: unknown): ReconError {
  return new ReconError(code, message, details);
}
