/** GET /api/v1/tags (contract): the tags that exist in the registry (or release dirs), newest first. */
import type { FromSchema } from "json-schema-to-ts";
import { tagSchema } from "../common.js";

export const tagInfoSchema = {
  type: "object",
  additionalProperties: false,
  required: ["tag", "created"],
  properties: {
    tag: tagSchema,
    /** When the image was built (ISO 8601), from its config; null when unknown or not looked up. */
    created: { type: ["string", "null"] },
  },
} as const;

export const tagsSchema = {
  type: "object",
  additionalProperties: false,
  required: ["tags"],
  properties: { tags: { type: "array", items: tagInfoSchema } },
} as const;

export type TagInfo = FromSchema<typeof tagInfoSchema>;
export type Tags = FromSchema<typeof tagsSchema>;
