/** The id of a secrets fingerprint key (NodeSpec.secretsKeyId): says which key, not what it is. */
import { createHash } from "node:crypto";

/** The first 12 hex of the key's SHA-256. */
export function secretsKeyId(key: string): string {
  return createHash("sha256").update(key).digest("hex").slice(0, 12);
}
