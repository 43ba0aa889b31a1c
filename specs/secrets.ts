/**
 * Secrets on the wire: only names and a key travel. The key of the fingerprints is sent to the agents in
 * the node spec and never echoed: an agent's status shows the key's id in its place, and the reconciler
 * compares what it wants with what an agent holds through the same echo.
 */
import { createHash } from "node:crypto";
import type { NodeSpec } from "./wire.js";

/** The id of a fingerprint key: the first 12 hex of its SHA-256 (says which key, not what it is). */
export function secretsKeyId(key: string): string {
  return createHash("sha256").update(key).digest("hex").slice(0, 12);
}

/** A node spec as its agent echoes it in status: `secretsKey` replaced by `secretsKeyId`. */
export function specEcho(spec: NodeSpec): NodeSpec {
  if (spec.secretsKey === undefined) return spec;
  const { secretsKey, ...rest } = spec;
  return { ...rest, secretsKeyId: secretsKeyId(secretsKey) };
}
