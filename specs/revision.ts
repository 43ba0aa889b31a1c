/**
 * Revisions (contract): the first 12 hex digits of the SHA-256 of a file's exact text. `GET /api/v1/state`,
 * the actions and `If-Match` speak of state.yaml's revision; the status's `revision` is that of cluster.yaml
 * and state.yaml together.
 */
import { createHash } from "node:crypto";

export function revisionOf(text: string): string {
  return createHash("sha256").update(text).digest("hex").slice(0, 12);
}
