/**
 * Pre-promotion tasks (contract): cluster.yaml `tasks`, the agent's task wire (POST /v1/tasks/run,
 * GET /v1/tasks/:id) and a task's result as status shows it. A task runs once per (colour, tag, attempt)
 * on one node of the colour, from its service's image with the service's env and secrets; a colour may go
 * live only once every task succeeded for its tag.
 */
import type { FromSchema } from "json-schema-to-ts";
import * as d from "./defaults.js";
import { colorSchema, nameSchema, tagSchema } from "./common.js";

/** One task in cluster.yaml. */
export const clusterTaskSchema = {
  type: "object",
  additionalProperties: false,
  required: ["name", "service", "command"],
  properties: {
    name: nameSchema,
    /** The service whose image, env and secrets the task uses (on the colour's tag). */
    service: nameSchema,
    /** The program and its arguments (argv), run in the service's image or release. */
    command: { type: "array", items: { type: "string", maxLength: 4096 }, minItems: 1, maxItems: 100 },
    /** Seconds before the task is stopped and counts as failed. */
    timeoutSeconds: { type: "integer", minimum: 1, maximum: 86_400, default: d.DEFAULT_TASK_TIMEOUT_SECONDS },
  },
} as const;

export const clusterTasksSchema = { type: "array", items: clusterTaskSchema, maxItems: 20, default: [] } as const;

/** The id of one run: hex of sha256(app, colour, tag, task, attempt), so the same run is asked for twice at most. */
export const taskIdSchema = { type: "string", pattern: "^[a-f0-9]{32}$", "x-hint": "32 hex digits" } as const;

/** What names a run, in the request and in its record. */
const runProperties = {
  id: taskIdSchema,
  name: nameSchema,
  service: nameSchema,
  /** The node's spec must hold this colour and tag, else the run is refused (AGENT_ERR_TASK_REFUSED). */
  color: colorSchema,
  tag: tagSchema,
} as const;

/** POST /v1/tasks/run: run the task once on this node (idempotent by id). */
export const taskRunRequestSchema = {
  $id: "https://switchyard.dev/schemas/task-run.schema.json",
  title: "Switchyard task run request",
  type: "object",
  additionalProperties: false,
  required: ["id", "name", "service", "color", "tag", "command", "timeoutSeconds"],
  properties: {
    ...runProperties,
    command: clusterTaskSchema.properties.command,
    timeoutSeconds: clusterTaskSchema.properties.timeoutSeconds,
  },
} as const;

export const taskStates = ["running", "succeeded", "failed"] as const;

/** A run as the agent records it (its data dir) and answers it; output has secrets redacted. */
export const taskRecordSchema = {
  $id: "https://switchyard.dev/schemas/task-record.schema.json",
  title: "Switchyard task record",
  type: "object",
  additionalProperties: false,
  required: ["id", "name", "service", "color", "tag", "node", "timeoutSeconds", "state", "exitCode", "startedAt", "finishedAt", "durationMs", "output", "error"],
  properties: {
    ...runProperties,
    node: nameSchema,
    timeoutSeconds: clusterTaskSchema.properties.timeoutSeconds,
    state: { type: "string", enum: taskStates },
    exitCode: { anyOf: [{ type: "integer" }, { type: "null" }] },
    startedAt: { type: "string" },
    finishedAt: { anyOf: [{ type: "string" }, { type: "null" }] },
    durationMs: { anyOf: [{ type: "integer", minimum: 0 }, { type: "null" }] },
    /** The last TASK_OUTPUT_LINES lines of output, secrets redacted. */
    output: { type: "array", items: { type: "string" }, maxItems: d.TASK_OUTPUT_LINES },
    /** Why it failed without an exit code of its own (timeout, could not start, lost), else null. */
    error: { anyOf: [{ type: "string" }, { type: "null" }] },
  },
} as const;

/** A task's state for a colour's tag, in status (GET /api/v1/status colors.*.tasks). */
export const taskStatusSchema = {
  type: "object",
  additionalProperties: false,
  required: ["name", "state", "attempt", "node", "exitCode", "durationMs", "finishedAt", "output", "message"],
  properties: {
    name: nameSchema,
    /** pending: not run yet for this tag (it runs once the colour is ready). */
    state: { type: "string", enum: ["pending", ...taskStates] },
    attempt: { type: "integer", minimum: 1 },
    node: { anyOf: [nameSchema, { type: "null" }] },
    exitCode: { anyOf: [{ type: "integer" }, { type: "null" }] },
    durationMs: { anyOf: [{ type: "integer", minimum: 0 }, { type: "null" }] },
    finishedAt: { anyOf: [{ type: "string" }, { type: "null" }] },
    output: { type: "array", items: { type: "string" } },
    message: { type: "string" },
  },
} as const;

export type ClusterTask = FromSchema<typeof clusterTaskSchema>;
export type TaskRunRequest = FromSchema<typeof taskRunRequestSchema>;
export type TaskRecord = FromSchema<typeof taskRecordSchema>;
export type TaskStatus = FromSchema<typeof taskStatusSchema>;
export type TaskState = (typeof taskStates)[number];
