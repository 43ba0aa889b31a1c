/**
 * Lifecycle notifications (contract): what a webhook may subscribe to besides alerts (cluster.yaml
 * `alerts.webhooks[].events`), and the JSON body it receives for each event.
 */
import type { FromSchema } from "json-schema-to-ts";
import { colorSchema, tagSchema } from "./common.js";

/** Lifecycle events, in the order a deploy usually meets them. */
export const lifecycleEvents = [
  "deploy-started", "color-ready", "deploy-failed", "task-failed", "promoted", "rolled-back", "jobs-moved", "maintenance-started", "maintenance-ended",
] as const;
/** What a webhook may subscribe to: `alerts` (every alert transition) and each lifecycle event. */
export const webhookEvents = ["alerts", ...lifecycleEvents] as const;

/** One lifecycle event: the `event` of a JSON webhook body `{ version: 1, event, cluster? }`. */
export const lifecycleEventSchema = {
  type: "object",
  additionalProperties: false,
  required: ["type", "at", "summary"],
  properties: {
    type: { type: "string", enum: lifecycleEvents },
    /** ISO 8601. */
    at: { type: "string" },
    /** One human line, as the Slack format shows it. */
    summary: { type: "string" },
    color: colorSchema,
    tag: tagSchema,
    /** Who did it: a user's name, or `Switchyard` for the reconciler's own decisions. */
    by: { type: "string" },
    /** Why, when Switchyard decided (an automatic rollback's figures). */
    reason: { type: "string" },
    /** task-failed: the task's name. */
    task: { type: "string" },
  },
} as const;

export type LifecycleEventType = (typeof lifecycleEvents)[number];
export type WebhookEvent = (typeof webhookEvents)[number];
export type LifecycleEvent = FromSchema<typeof lifecycleEventSchema>;
