/**
 * GET /api/v1/alerts (contract), also the `alert` object of webhooks: firing alerts first, then recently
 * resolved ones.
 */
import type { FromSchema } from "json-schema-to-ts";

export const alertSeverities = ["warning", "critical"] as const;

export const alertSchema = {
  type: "object",
  additionalProperties: false,
  required: ["fingerprint", "name", "severity", "summary", "labels", "state", "startsAt", "endsAt"],
  properties: {
    /** Stable identity of the problem; the same problem observed again has the same fingerprint. */
    fingerprint: { type: "string" },
    /** What kind of problem, e.g. `ContainerStopped`, `NodeUnreachable`, `SpecInvalid`. */
    name: { type: "string" },
    severity: { type: "string", enum: alertSeverities },
    /** One human line: what happened, what was kept safe, what to do next. */
    summary: { type: "string" },
    /** Where: node, colour, service, file… */
    labels: { type: "object", additionalProperties: { type: "string" } },
    state: { type: "string", enum: ["firing", "resolved"] },
    /** ISO 8601 time the alert fired. */
    startsAt: { type: "string" },
    /** ISO 8601 time the alert resolved; null while firing. */
    endsAt: { type: ["string", "null"] },
  },
} as const;

export const alertsSchema = {
  type: "object",
  additionalProperties: false,
  required: ["alerts"],
  properties: { alerts: { type: "array", items: alertSchema } },
} as const;

export type Alert = FromSchema<typeof alertSchema>;
export type AlertSeverity = (typeof alertSeverities)[number];
export type Alerts = FromSchema<typeof alertsSchema>;
