/** GET /api/v1/history (contract): the git log of state.yaml, each commit with its diff. */
import type { FromSchema } from "json-schema-to-ts";

export const historyQuerySchema = {
  type: "object",
  properties: {
    /** How many commits, newest first (default 50). */
    limit: { type: "string", pattern: "^\\d{1,4}$", "x-hint": "a whole number up to 9999" },
  },
} as const;

export const historyEntrySchema = {
  type: "object",
  additionalProperties: false,
  required: ["commit", "author", "email", "date", "message", "diff", "revision"],
  properties: {
    commit: { type: "string", pattern: "^[0-9a-f]{40,64}$" },
    author: { type: "string" },
    email: { type: "string" },
    /** Author date, ISO 8601. */
    date: { type: "string" },
    message: { type: "string" },
    /** Unified diff of state.yaml in this commit (against its first parent). */
    diff: { type: "string" },
    /** Content revision of state.yaml at this commit; null when the commit deleted it. */
    revision: { type: ["string", "null"] },
  },
} as const;

export const historyPageSchema = {
  type: "object",
  additionalProperties: false,
  required: ["enabled", "entries"],
  properties: {
    /** False when the deploy dir is not in a git repository (then `warning` says how to turn history on). */
    enabled: { type: "boolean" },
    warning: { type: "string" },
    entries: { type: "array", items: historyEntrySchema },
  },
} as const;

export type HistoryQuery = FromSchema<typeof historyQuerySchema>;
export type HistoryEntry = FromSchema<typeof historyEntrySchema>;
export type HistoryPage = FromSchema<typeof historyPageSchema>;
