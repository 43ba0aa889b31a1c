/**
 * Logs (contract): the agent's `GET /v1/logs` and the reconciler's `GET /api/v1/logs` answer
 * newline-delimited JSON (`application/x-ndjson`), one record per line, so a client can show each line as
 * it arrives. The agent's records are `line` records, one `caught-up` record between the backlog and the
 * live lines of a follow, and one closing `end` record. The reconciler's records say which node and colour
 * each line came from, and say so in the stream when a node cannot be reached (never fatal to the others).
 */
import type { FromSchema } from "json-schema-to-ts";
import { colorSchema, nameSchema } from "./common.js";

export const logStreams = ["stdout", "stderr"] as const;
/**
 * Why a log answer ended: `done` (history only), `stopped` (the workload stopped or was replaced),
 * `byte-limit` (the history reached LOG_ANSWER_MAX_BYTES), `error` (the runtime failed; `message` says how).
 */
export const logEndReasons = ["done", "stopped", "byte-limit", "error"] as const;

const lineProperties = {
  type: { const: "line" },
  /** ISO 8601 time the line was written (Docker's timestamp); null when the runtime does not know it. */
  t: { type: ["string", "null"], maxLength: 40 },
  stream: { type: "string", enum: logStreams },
  /** The line as the app wrote it, without its newline; cut at LOG_LINE_MAX_BYTES (16 KiB, see `truncated`), so never longer in characters. */
  line: { type: "string", maxLength: 16384 },
  /** Present when the line was longer than LOG_LINE_MAX_BYTES and was cut. */
  truncated: { const: true },
} as const;

/** One record of the agent's GET /v1/logs answer. */
export const logRecordSchema = {
  $id: "https://switchyard.dev/schemas/log-record.schema.json",
  oneOf: [
    { type: "object", additionalProperties: false, required: ["type", "t", "stream", "line"], properties: lineProperties },
    { type: "object", additionalProperties: false, required: ["type"], properties: { type: { const: "caught-up" } } },
    {
      type: "object",
      additionalProperties: false,
      required: ["type", "reason"],
      properties: { type: { const: "end" }, reason: { type: "string", enum: logEndReasons }, message: { type: "string", maxLength: 1000 } },
    },
  ],
} as const;
export type LogRecord = FromSchema<typeof logRecordSchema>;
export type LogLine = Extract<LogRecord, { type: "line" }>;
export type LogEndReason = (typeof logEndReasons)[number];

/** One record of the reconciler's GET /api/v1/logs answer. */
export const apiLogRecordSchema = {
  oneOf: [
    {
      type: "object",
      additionalProperties: false,
      required: ["type", "node", "color", "service", "t", "stream", "line"],
      properties: { ...lineProperties, node: nameSchema, color: colorSchema, service: nameSchema },
    },
    {
      type: "object",
      additionalProperties: false,
      required: ["type", "node", "color", "state"],
      properties: {
        type: { const: "node" },
        node: nameSchema,
        color: colorSchema,
        /**
         * `caught-up`: the node's backlog was sent (live lines follow); `ended`: its stream ended (`reason`);
         * `unreachable`: the node could not be asked (`message` says why); `refused`: it answered an error.
         */
        state: { type: "string", enum: ["caught-up", "ended", "unreachable", "refused"] },
        reason: { type: "string", enum: logEndReasons },
        message: { type: "string" },
      },
    },
  ],
} as const;
export type ApiLogRecord = FromSchema<typeof apiLogRecordSchema>;

const wholeNumber = { type: "string", pattern: "^\\d{1,9}$", "x-hint": "a whole number" } as const;
const sinceSchema = { type: "string", pattern: "^(\\d{4}-\\d\\d-\\d\\dT[0-9:.]+(Z|[+-]\\d\\d:\\d\\d)|\\d{1,6}[smh])$", "x-hint": "an ISO 8601 time or an age like 30s, 10m, 2h" } as const;
const flag = { type: "string", enum: ["true", "false", "1", "0"] } as const;

/** The agent's GET /v1/logs query. */
export const agentLogsQuerySchema = {
  type: "object",
  additionalProperties: false,
  required: ["service"],
  properties: { service: nameSchema, tail: wholeNumber, since: sinceSchema, follow: flag },
} as const;
export type AgentLogsQuery = FromSchema<typeof agentLogsQuerySchema>;

/** The reconciler's GET /api/v1/logs query: one service, on one node or on every node of a colour. */
export const logsQuerySchema = {
  type: "object",
  additionalProperties: false,
  required: ["service"],
  properties: {
    service: nameSchema,
    /** blue, green, live (the active colour) or preview (the other one). */
    color: { type: "string", enum: ["blue", "green", "live", "preview"] },
    node: nameSchema,
    /** The last lines per node (default LOG_TAIL_DEFAULT, at most LOG_TAIL_MAX). */
    tail: wholeNumber,
    since: sinceSchema,
    follow: flag,
  },
} as const;
export type LogsQuery = FromSchema<typeof logsQuerySchema>;

/** `since` as a time: an ISO time, or an age before `now`. */
export function sinceTime(since: string | undefined, now = Date.now()): Date | undefined {
  if (since === undefined) return undefined;
  const age = /^(\d+)([smh])$/.exec(since);
  if (age) return new Date(now - Number(age[1]) * { s: 1000, m: 60_000, h: 3_600_000 }[age[2] as "s" | "m" | "h"]);
  const t = new Date(since);
  return Number.isNaN(t.getTime()) ? undefined : t;
}

export function isTrue(flagValue: string | undefined): boolean {
  return flagValue === "true" || flagValue === "1";
}
