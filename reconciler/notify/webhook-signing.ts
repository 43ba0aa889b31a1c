/**
 * Signed webhook deliveries (contract: receivers verify with this): `X-Switchyard-Signature` is
 * `sha256=<hex>` of HMAC-SHA256(secret, `${timestamp}.${body}`), with `X-Switchyard-Timestamp`.
 */
import { createHmac, timingSafeEqual } from "node:crypto";

export const DEFAULT_SIGNATURE_TOLERANCE_SECONDS = 300;

/** `sha256=<hex>` of HMAC-SHA256(secret, `${timestamp}.${body}`): the value of `X-Switchyard-Signature`. */
export function signPayload(secret: string, timestamp: string, body: string): string {
  return "sha256=" + createHmac("sha256", secret).update(`${timestamp}.${body}`).digest("hex");
}

/**
 * Checks a delivery's `X-Switchyard-Signature` against the secret, the `X-Switchyard-Timestamp` and the
 * raw request body (exact bytes, before any JSON parsing), in constant time. Also refuses a timestamp
 * further than `toleranceSeconds` (default 300) from now, so a captured delivery cannot be replayed
 * later; pass `Infinity` to skip that check.
 */
export function verifySignature(
  secret: string, timestamp: string, body: string, signature: string,
  o: { toleranceSeconds?: number; now?: () => number } = {},
): boolean {
  if (!/^\d{1,15}$/.test(timestamp)) return false;
  const tolerance = o.toleranceSeconds ?? DEFAULT_SIGNATURE_TOLERANCE_SECONDS;
  if (Number.isFinite(tolerance) && Math.abs((o.now ?? Date.now)() / 1000 - Number(timestamp)) > tolerance) return false;
  const expected = Buffer.from(signPayload(secret, timestamp, body));
  const given = Buffer.from(signature);
  return expected.length === given.length && timingSafeEqual(expected, given);
}
