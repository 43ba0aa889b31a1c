/**
 * The error body every /api/v1 route answers with on 4xx and 5xx (contract). `code` is one of the
 * reconciler's RECON_ERR_… codes; `message` says what happened and what to do next; `details` carries
 * the validation issues of a refused state.yaml.
 */
import type { FromSchema } from "json-schema-to-ts";

export const errorBodySchema = {
  type: "object",
  additionalProperties: false,
  required: ["error"],
  properties: {
    error: {
      type: "object",
      additionalProperties: false,
      required: ["code", "message"],
      properties: {
        code: { type: "string", pattern: "^RECON_ERR_[A-Z_]+$" },
        message: { type: "string" },
        /** Machine-readable detail, e.g. the issues of a refused state.yaml. */
        details: {},
      },
    },
  },
} as const;

/** The answers every route may give besides its own: any client or server error. */
export const errorResponses = { "4xx": errorBodySchema, "5xx": errorBodySchema } as const;

export type ErrorBody = FromSchema<typeof errorBodySchema>;
