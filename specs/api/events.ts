/**
 * GET /api/v1/events (contract): the event log as JSON, or with `Accept: text/event-stream` a live
 * stream of server-sent events: `event` messages (one event record, `id` = its seq) and `status`
 * messages (the whole cluster status).
 */
import type { FromSchema } from "json-schema-to-ts";
import { clusterStatusSchema } from "./status.js";

const wholeNumber = { type: "string", pattern: "^\\d{1,16}$", "x-hint": "a whole number" } as const;

export const eventsQuerySchema = {
  type: "object",
  properties: {
    /** At most this many records (1 to 1000, default 200). */
    limit: wholeNumber,
    /** Only records with a greater seq (default 0). */
    after: wholeNumber,
  },
} as const;

export const eventTypes = ["action", "result", "alert", "spec", "condition", "info"] as const;

/** One record of the event log. Open: the details are the other keys, which differ by message. */
export const eventRecordSchema = {
  type: "object",
  required: ["seq", "ts", "type", "message"],
  properties: {
    /** Strictly increasing across restarts and rotations. */
    seq: { type: "integer", minimum: 1 },
    /** ISO 8601 time of the event. */
    ts: { type: "string" },
    type: { type: "string", enum: eventTypes },
    /** A fixed, searchable message; the details are the other keys. */
    message: { type: "string" },
  },
  additionalProperties: true,
} as const;

export const eventsSchema = {
  type: "object",
  additionalProperties: false,
  required: ["events"],
  properties: { events: { type: "array", items: eventRecordSchema } },
} as const;

/** The `data` of each server-sent event, by its `event` name. */
export const eventStreamMessages = { event: eventRecordSchema, status: clusterStatusSchema } as const;

export type EventsQuery = FromSchema<typeof eventsQuerySchema>;
export type EventRecord = FromSchema<typeof eventRecordSchema>;
export type EventType = (typeof eventTypes)[number];
export type Events = FromSchema<typeof eventsSchema>;
