/** Schema fragments shared by the file and wire schemas. */
import * as d from "./defaults.js";
export const colorSchema = { type: "string", enum: ["blue", "green"] } as const;

export const nameSchema = {
  type: "string",
  pattern: "^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$",
  "x-hint": "a name of lowercase letters, digits and dashes (like blue-1)",
} as const;

/** The name of a secret: the file `<agent.yaml secretsDir>/<name>.env` on each node. */
export const secretNameSchema = {
  type: "string",
  pattern: "^[a-z0-9][a-z0-9_-]{0,62}$",
  "x-hint": "a secret name of lowercase letters, digits, '_' and '-' (like database)",
} as const;

/** The secrets a service gets, by name; their values never leave the nodes. */
export const secretNamesSchema = { type: "array", items: secretNameSchema, uniqueItems: true, maxItems: 50 } as const;

/** A Docker image tag. */
export const tagSchema = {
  type: "string",
  pattern: "^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$",
  "x-hint": "a Docker image tag (letters, digits, '_', '.', '-'; at most 128 characters)",
} as const;

/** An image's content address: the manifest digest its registry serves for a tag. */
export const digestSchema = {
  type: "string",
  pattern: "^sha256:[a-f0-9]{64}$",
  "x-hint": "an image digest like sha256: and 64 hex digits",
} as const;

/** A Docker image repository, optionally with a registry host and port. */
export const repositorySchema = {
  type: "string",
  pattern: "^([A-Za-z0-9.-]+(:[0-9]{1,5})?/)?[a-z0-9]+([._-][a-z0-9]+)*(/[a-z0-9]+([._-][a-z0-9]+)*)*$",
  maxLength: 255,
  "x-hint": "an image repository such as 127.0.0.1:5000/shop/app (no tag)",
} as const;

export const httpUrlSchema = {
  type: "string",
  pattern: "^https?://[^\\s/$.?#][^\\s]*$",
  maxLength: 2048,
  "x-hint": "an http:// or https:// URL",
} as const;

/** host:port; host may be an IPv4 address, a name, or a bracketed IPv6 address. */
export const listenSchema = {
  type: "string",
  pattern: "^(\\[[0-9a-fA-F:.]+\\]|[A-Za-z0-9.-]+):[0-9]{1,5}$",
  "x-hint": "host:port, like 127.0.0.1:8000",
} as const;

export const portSchema = { type: "integer", minimum: 1, maximum: 65535 } as const;

/** A path to a file holding a secret or certificate, relative to the file that names it. */
export const filePathSchema = { type: "string", minLength: 1, maxLength: 4096 } as const;

export const hostnameSchema = {
  type: "string",
  pattern: "^(\\*\\.)?[A-Za-z0-9]([A-Za-z0-9-]{0,62})(\\.[A-Za-z0-9]([A-Za-z0-9-]{0,62}))*(:[0-9]{1,5})?$",
  "x-hint": "a host name like shop.example.com (optionally with :port)",
} as const;

export const envSchema = {
  type: "object",
  propertyNames: { pattern: "^[A-Za-z_][A-Za-z0-9_]*$", maxLength: 256 },
  additionalProperties: { type: ["string", "number", "boolean"] },
  maxProperties: 200,
} as const;

/** A container's memory limit in MiB. */
export const memoryMiBSchema = { type: "integer", minimum: 16, maximum: 1_048_576 } as const;
/** A container's process/thread limit. */
export const pidsSchema = { type: "integer", minimum: 16, maximum: 1_000_000 } as const;

/** Capabilities a service adds back to the default set (Docker's default set at most). */
export const capabilitiesSchema = {
  type: "array",
  items: { type: "string", enum: d.ADDABLE_CAPABILITIES },
  maxItems: d.ADDABLE_CAPABILITIES.length,
  uniqueItems: true,
} as const;

export const metadataSchema = {
  type: "object",
  additionalProperties: false,
  properties: { name: nameSchema },
} as const;
