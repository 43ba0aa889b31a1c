/**
 * Secrets on the wire: only names and a key travel. The key of the fingerprints is sent to the agents in
 * the node spec and never echoed: an agent's status shows the key's id in its place (secrets-key-id.ts), and
 * the reconciler compares what it wants with what an agent holds through the same echo. Pure.
 */
import type { NodeSpec } from "./wire.js";

/** A node spec as its agent echoes it in status: `secretsKey` replaced by `keyId`, the key's id. */
export function specEcho(spec: NodeSpec, keyId: string | undefined): NodeSpec {
  if (spec.secretsKey === undefined) return spec;
  const { secretsKey: _key, ...rest } = spec;
  return { ...rest, ...(keyId !== undefined ? { secretsKeyId: keyId } : {}) };
}
