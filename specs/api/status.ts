/**
 * GET /api/v1/status and the `status` message of the event stream (contract): the cluster's status in
 * the Kubernetes manner, conditions with reason, message and transition time, plus per-colour phases and
 * per-node, per-service health.
 */
import { taskStatusSchema } from "../tasks.js";
import type { FromSchema } from "json-schema-to-ts";
import { colorSchema, digestSchema, nameSchema, tagSchema } from "../common.js";
import { leaseStatusSchema, serviceStatusSchema } from "../wire.js";

const nullable = <const S extends object>(s: S) => ({ anyOf: [s, { type: "null" }] }) as const;
const textOrNull = { type: ["string", "null"] } as const;
const colorOrNull = { type: ["string", "null"], enum: ["blue", "green", null] } as const;
const count = { type: "integer", minimum: 0 } as const;

/** What each condition means, exactly: docs/conditions.md. */
export const conditionTypes = ["Ready", "Progressing", "Degraded", "Drifted", "SpecInvalid", "HistoryNotRecorded", "HistoryNotPushed"] as const;
/** Refused: the desired change to the colour is one Switchyard will not make (it keeps what it runs). */
export const colorPhases = ["Empty", "Stopped", "Deploying", "Ready", "Degraded", "Failed", "Refused"] as const;

export const conditionSchema = {
  type: "object",
  additionalProperties: false,
  required: ["type", "status", "reason", "message", "observedRevision", "lastTransitionTime"],
  properties: {
    type: { type: "string", enum: conditionTypes },
    status: { type: "string", enum: ["True", "False", "Unknown"] },
    reason: { type: "string" },
    message: { type: "string" },
    /** Desired-state revision this condition was computed for. */
    observedRevision: textOrNull,
    /** Changes only when `status` flips. */
    lastTransitionTime: { type: "string" },
  },
} as const;

const s = serviceStatusSchema.properties;

export const nodeSummarySchema = {
  type: "object",
  additionalProperties: false,
  required: ["name", "reachable", "error", "generation", "converging", "tag", "ready", "services", "lease"],
  properties: {
    name: nameSchema,
    reachable: { type: "boolean" },
    error: textOrNull,
    generation: count,
    converging: { type: "boolean" },
    tag: s.tag,
    /** The agent's Switchyard version, when it says (agents from before 0.2 do not). */
    version: { type: "string" },
    ready: { type: "boolean" },
    services: {
      type: "object",
      additionalProperties: {
        type: "object",
        additionalProperties: false,
        required: ["state", "health", "tag", "error", "since"],
        properties: { state: s.state, health: s.health, tag: s.tag, digest: s.digest, error: s.error, pull: s.pull, since: s.since, restarts: s.restarts, secrets: s.secrets },
      },
    },
    lease: nullable(leaseStatusSchema),
  },
} as const;

export const colorStatusSchema = {
  type: "object",
  additionalProperties: false,
  required: ["phase", "tag", "stopped", "live", "preview", "message", "url", "nodes"],
  properties: {
    phase: { type: "string", enum: colorPhases },
    /** Desired tag (null when stopped without one). */
    tag: nullable(tagSchema),
    /** The content the tag is pinned to (manifest digest), once known: every node of the colour runs exactly this. */
    digest: digestSchema,
    stopped: { type: "boolean" },
    live: { type: "boolean" },
    preview: { type: "boolean" },
    message: { type: "string" },
    /** Where to look at this colour through the router: its preview address when it is the preview, else its own host name. */
    url: textOrNull,
    nodes: { type: "array", items: nodeSummarySchema },
    /** Pre-promotion tasks for the colour's tag (cluster.yaml tasks), in order; absent without tasks. */
    tasks: { type: "array", items: taskStatusSchema },
  },
} as const;

const perColor = { type: "object", additionalProperties: false, required: ["blue", "green"], properties: { blue: count, green: count } } as const;

export const routerSummarySchema = {
  type: "object",
  additionalProperties: false,
  required: ["live", "preview", "nodes"],
  properties: {
    live: colorOrNull,
    preview: colorOrNull,
    nodes: {
      type: "array",
      items: {
        type: "object",
        additionalProperties: false,
        required: ["name", "reachable", "live", "preview", "error", "inFlight"],
        properties: { name: nameSchema, reachable: { type: "boolean" }, live: colorOrNull, preview: colorOrNull, error: textOrNull, inFlight: perColor },
      },
    },
  },
} as const;

/** One certificate one router serves over HTTPS (from the router's own status; never a key). */
export const certificateSummarySchema = {
  type: "object",
  additionalProperties: false,
  required: ["router", "source", "hosts", "issuer", "notAfter", "error"],
  properties: {
    router: nameSchema,
    source: { type: "string", enum: ["file", "acme"] },
    hosts: { type: "array", items: { type: "string" } },
    issuer: { type: "string" },
    /** ISO 8601. */
    notAfter: { type: "string" },
    error: textOrNull,
  },
} as const;

/** The ACME certificate the reconciler orders and renews (cluster.yaml acme). */
export const acmeSummarySchema = {
  type: "object",
  additionalProperties: false,
  required: ["hosts", "notAfter", "renewAt", "failures", "lastError", "routers"],
  properties: {
    hosts: { type: "array", items: { type: "string" } },
    notAfter: textOrNull,
    /** When renewal starts: two thirds of the lifetime. */
    renewAt: textOrNull,
    /** Failed orders in a row; retried with backoff. */
    failures: count,
    lastError: textOrNull,
    /** Routers that serve the current certificate. */
    routers: { type: "array", items: nameSchema },
  },
} as const;

export const jobsSummarySchema = {
  type: "object",
  additionalProperties: false,
  required: ["owner", "ownerColor", "epoch", "holders"],
  properties: {
    owner: { type: "string", enum: ["active", "blue", "green", "none"] },
    ownerColor: colorOrNull,
    epoch: count,
    holders: {
      type: "array",
      items: {
        type: "object",
        additionalProperties: false,
        required: ["node", "color", "epoch", "remainingMs"],
        properties: { node: nameSchema, color: colorSchema, epoch: count, remainingMs: count },
      },
    },
  },
} as const;

export const pendingStepSchema = {
  type: "object",
  additionalProperties: false,
  required: ["type", "reason", "message"],
  properties: {
    type: { type: "string", enum: ["wait", "refuse"] },
    reason: { type: "string" },
    node: nameSchema,
    color: colorSchema,
    message: { type: "string" },
  },
} as const;

const ratio = { type: "number", minimum: 0, maximum: 1 } as const;

/** One colour's answers through the routers, summed over routers, over the last few seconds of readings. */
export const colorTrafficSchema = {
  type: "object",
  additionalProperties: false,
  required: ["requestsPerSecond", "errorRatio"],
  properties: {
    requestsPerSecond: { type: "number", minimum: 0 },
    /** 5xx answers over all answers in the span (0 without answers). */
    errorRatio: ratio,
  },
} as const;

/** The watch after a switch (cluster.yaml `rollback`): its figures and how it ended. */
export const analysisSummarySchema = {
  type: "object",
  additionalProperties: false,
  required: ["state", "color", "tag", "from", "fromTag", "startedAt", "endsAt", "secondsLeft", "requests", "errors", "errorRatio", "maxErrorRatio", "minRequests", "message"],
  properties: {
    /** running: watching; passed: the window ended within the limit; rolled-back: Switchyard switched back; aborted: a person stopped it. */
    state: { type: "string", enum: ["running", "passed", "rolled-back", "aborted"] },
    /** The colour switched to, and its tag. */
    color: colorSchema,
    tag: tagSchema,
    /** The colour switched away from, and its tag (where a rollback goes). */
    from: colorSchema,
    fromTag: tagSchema,
    startedAt: { type: "string" },
    endsAt: { type: "string" },
    /** Whole seconds until the window ends (0 once it is over). */
    secondsLeft: count,
    /** Answers of the watched colour since the switch, summed over routers, and how many were 5xx. */
    requests: count,
    errors: count,
    errorRatio: ratio,
    maxErrorRatio: ratio,
    minRequests: count,
    message: { type: "string" },
  },
} as const;

/** A tag Switchyard rolled back automatically: promoting it again needs confirmation. */
export const rolledBackTagSchema = {
  type: "object",
  additionalProperties: false,
  required: ["tag", "color", "at", "reason"],
  properties: { tag: tagSchema, color: colorSchema, at: { type: "string" }, reason: { type: "string" } },
} as const;

export const clusterStatusSchema = {
  type: "object",
  additionalProperties: false,
  required: ["app", "revision", "stateRevision", "specErrors", "conditions", "active", "colors", "router", "jobs", "pending", "lastReconcileAt"],
  properties: {
    app: textOrNull,
    /** Content revision of the desired state this status was computed for. */
    revision: textOrNull,
    /** Revision of state.yaml in force: the one GET /api/v1/state and the actions answer with. */
    stateRevision: textOrNull,
    specErrors: { type: "array", items: { type: "string" } },
    conditions: { type: "array", items: conditionSchema },
    active: colorOrNull,
    colors: nullable({ type: "object", additionalProperties: false, required: ["blue", "green"], properties: { blue: colorStatusSchema, green: colorStatusSchema } }),
    router: nullable(routerSummarySchema),
    jobs: nullable(jobsSummarySchema),
    /** Steps the reconciler waits for or refuses, in words. */
    pending: { type: "array", items: pendingStepSchema },
    lastReconcileAt: textOrNull,
    /** The reconciler's Switchyard version (each node's is in its summary). */
    version: { type: "string" },
    /** Every certificate every router serves over HTTPS (routers with agent.yaml router.tls). */
    certificates: { type: "array", items: certificateSummarySchema },
    /** Present when cluster.yaml has an acme section. */
    acme: nullable(acmeSummarySchema),
    /** Requests per second and error rate per colour through the routers (null until two readings exist). */
    traffic: nullable({ type: "object", additionalProperties: false, required: ["blue", "green"], properties: { blue: colorTrafficSchema, green: colorTrafficSchema } }),
    /** The latest analysis after a switch (cluster.yaml `rollback`), kept in the data dir; null when none ran. */
    analysis: nullable(analysisSummarySchema),
    /** Tags Switchyard rolled back automatically; promoting one again needs confirmation. */
    rolledBack: { type: "array", items: rolledBackTagSchema },
  },
} as const;

export type ClusterStatus = FromSchema<typeof clusterStatusSchema>;
export type Condition = FromSchema<typeof conditionSchema>;
export type ConditionType = (typeof conditionTypes)[number];
export type ColorPhase = (typeof colorPhases)[number];
export type ColorStatus = FromSchema<typeof colorStatusSchema>;
export type NodeSummary = FromSchema<typeof nodeSummarySchema>;
export type AnalysisSummary = FromSchema<typeof analysisSummarySchema>;
export type ColorTraffic = FromSchema<typeof colorTrafficSchema>;
export type RolledBackTag = FromSchema<typeof rolledBackTagSchema>;
