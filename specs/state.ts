import type { FromSchema } from "json-schema-to-ts";
import * as d from "./defaults.js";
import { digestSchema, metadataSchema, tagSchema } from "./common.js";

export const colorStateSchema = {
  type: "object",
  additionalProperties: false,
  properties: {
    /** Image tag this colour runs. Required unless the colour is stopped. */
    tag: tagSchema,
    /**
     * Pins the tag to this content (its manifest digest), as `switchyard redeploy` writes it after the tag
     * was pushed again. Without it the reconciler pins the content the tag had when it was deployed.
     */
    digest: digestSchema,
    /** Take the colour offline (maintenance). Never the active colour. */
    stopped: { type: "boolean", default: false },
  },
} as const;

export const stateSchema = {
  $id: "https://switchyard.dev/schemas/state.schema.json",
  title: "Switchyard desired state",
  description: "Which colour is live, which tag each colour runs and which colour owns the background jobs.",
  type: "object",
  additionalProperties: false,
  required: ["apiVersion", "kind", "spec"],
  properties: {
    apiVersion: { const: d.API_VERSION },
    kind: { const: "State" },
    metadata: metadataSchema,
    spec: {
      type: "object",
      additionalProperties: false,
      required: ["active", "colors"],
      properties: {
        /** The colour that gets live traffic. */
        active: { type: "string", enum: ["blue", "green"] },
        colors: {
          type: "object",
          additionalProperties: false,
          required: ["blue", "green"],
          properties: { blue: colorStateSchema, green: colorStateSchema },
        },
        jobs: {
          type: "object",
          additionalProperties: false,
          default: {},
          properties: {
            /** `active` follows live traffic (after the switch happened); `none` runs jobs nowhere. */
            owner: { type: "string", enum: ["active", "blue", "green", "none"], default: d.DEFAULT_JOBS_OWNER },
          },
        },
      },
    },
  },
} as const;

export type State = FromSchema<typeof stateSchema>;
export type ColorState = FromSchema<typeof colorStateSchema>;
