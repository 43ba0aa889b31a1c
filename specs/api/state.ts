/**
 * The desired state over HTTP (contract): GET and PUT /api/v1/state, and the one-click actions under
 * /api/v1/actions/… that each produce a new state.yaml. Request bodies stay open (unknown fields are
 * ignored, as they always were); answers are closed.
 */
import type { FromSchema } from "json-schema-to-ts";
import { colorSchema, nameSchema, tagSchema } from "../common.js";
import { stateSchema } from "../state.js";

const { $id: _stateId, ...stateBody } = stateSchema;
/** A content revision of state.yaml (what If-Match compares). */
export const revisionSchema = { type: "string", pattern: "^[0-9a-f]{12}$" } as const;
/** A git commit id; null when history is off or nothing changed. */
const commitOrNull = { type: ["string", "null"] } as const;

/** GET /api/v1/state: the desired state's text (comments and all), revision and parsed form. */
export const stateDocSchema = {
  type: "object",
  additionalProperties: false,
  required: ["text", "revision", "state"],
  properties: { text: { type: "string" }, revision: revisionSchema, state: stateBody },
} as const;

/** PUT /api/v1/state (with If-Match: <revision>): replace state.yaml. */
export const putStateBodySchema = {
  type: "object",
  required: ["text"],
  properties: {
    /** The new state.yaml. */
    text: { type: "string" },
    /** The commit message; default: a description of the change. */
    message: { type: "string", maxLength: 200 },
  },
} as const;

/** The answer of a change that was committed. */
export const committedSchema = {
  type: "object",
  additionalProperties: false,
  required: ["message", "revision", "commit"],
  properties: { message: { type: "string" }, revision: revisionSchema, commit: commitOrNull },
} as const;

/** The answer of an action with `dryRun: true`: the exact diff and message, nothing committed. */
export const dryRunSchema = {
  type: "object",
  additionalProperties: false,
  required: ["message", "diff", "revision"],
  properties: { message: { type: "string" }, diff: { type: "string" }, revision: revisionSchema },
} as const;

export const actionResultSchema = { anyOf: [dryRunSchema, committedSchema] } as const;

const dryRun = {
  /** true: answer the diff and message without committing. */
  dryRun: { type: "boolean" },
} as const;

/** POST /api/v1/actions/promote and /rollback. */
export const switchBodySchema = {
  type: "object",
  properties: {
    ...dryRun,
    /** true: switch to a tag Switchyard rolled back automatically (without it: 409 RECON_ERR_CONFIRM_REQUIRED). */
    confirm: { type: "boolean" },
  },
} as const;

/** POST /api/v1/actions/abort-analysis: the answer (the analysis stops; nothing is switched). */
export const abortAnalysisResultSchema = {
  type: "object",
  additionalProperties: false,
  required: ["message", "color", "tag"],
  properties: { message: { type: "string" }, color: colorSchema, tag: tagSchema },
} as const;

/** POST /api/v1/actions/deploy: run `tag` on `color` (default: the colour that is not live). */
export const deployBodySchema = {
  type: "object",
  required: ["tag"],
  properties: { ...dryRun, tag: tagSchema, color: colorSchema },
} as const;

export const jobsOwners = ["active", "blue", "green", "none"] as const;

/** POST /api/v1/actions/jobs: which colour runs the background jobs. */
export const jobsBodySchema = {
  type: "object",
  required: ["owner"],
  properties: { ...dryRun, owner: { type: "string", enum: jobsOwners } },
} as const;

/** POST /api/v1/actions/stop and /start: take a colour offline for maintenance, or bring it back (never the live one). */
export const colorBodySchema = {
  type: "object",
  required: ["color"],
  properties: { ...dryRun, color: colorSchema },
} as const;

/** POST /api/v1/actions/restart: re-create a colour's workloads so they read their secret files again (never the live colour). */
export const restartBodySchema = {
  type: "object",
  additionalProperties: false,
  required: ["color"],
  properties: { color: colorSchema },
} as const;

/** The answer to a restart: the request the colour's node specs now carry (no state.yaml change, no commit). */
export const restartResultSchema = {
  type: "object",
  additionalProperties: false,
  required: ["color", "restartToken", "message"],
  properties: {
    color: colorSchema,
    /** NodeSpec.restartToken: workloads started under a lower one are re-created. */
    restartToken: { type: "integer", minimum: 1 },
    message: { type: "string" },
  },
} as const;

/** POST /api/v1/actions/retry-task: run a pre-promotion task again for a colour that is not live. */
export const retryTaskBodySchema = {
  type: "object",
  additionalProperties: false,
  required: ["color", "task"],
  properties: { color: colorSchema, task: nameSchema },
} as const;

/** The answer to a retry: the attempt that runs now (no state.yaml change, no commit). */
export const retryTaskResultSchema = {
  type: "object",
  additionalProperties: false,
  required: ["color", "task", "tag", "attempt", "message"],
  properties: {
    color: colorSchema,
    task: nameSchema,
    tag: tagSchema,
    attempt: { type: "integer", minimum: 2 },
    message: { type: "string" },
  },
} as const;

/** POST /api/v1/actions/restore: a new commit that restores the state.yaml of `commit` (from history). */
export const restoreBodySchema = {
  type: "object",
  required: ["commit"],
  properties: { ...dryRun, commit: { type: "string" } },
} as const;

export type StateDoc = FromSchema<typeof stateDocSchema>;
export type PutStateBody = FromSchema<typeof putStateBodySchema>;
export type Committed = FromSchema<typeof committedSchema>;
export type DryRun = FromSchema<typeof dryRunSchema>;
export type DeployBody = FromSchema<typeof deployBodySchema>;
export type JobsBody = FromSchema<typeof jobsBodySchema>;
export type ColorBody = FromSchema<typeof colorBodySchema>;
export type RestoreBody = FromSchema<typeof restoreBodySchema>;
export type RestartBody = FromSchema<typeof restartBodySchema>;
export type RetryTaskBody = FromSchema<typeof retryTaskBodySchema>;
export type RetryTaskResult = FromSchema<typeof retryTaskResultSchema>;
export type RestartResult = FromSchema<typeof restartResultSchema>;
export type SwitchBody = FromSchema<typeof switchBodySchema>;
export type JobsOwner = (typeof jobsOwners)[number];
export type AbortAnalysisResult = FromSchema<typeof abortAnalysisResultSchema>;
