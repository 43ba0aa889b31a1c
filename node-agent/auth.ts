/**
 * Bearer-token authentication for the agent API: constant-time comparison, and a per-address limit on
 * failed attempts so a token cannot be guessed by brute force.
 */
import { createHash, timingSafeEqual } from "node:crypto";

export const MAX_FAILED_ATTEMPTS = 10;
export const FAILED_WINDOW_MS = 60_000;

export class TokenGuard {
  private readonly digest: Buffer;
  private readonly failures = new Map<string, { count: number; resetAt: number }>();

  constructor(token: string) {
    this.digest = sha256(token);
  }

  /** "ok", "denied" (wrong or missing token) or "limited" (too many failures from this address). */
  check(address: string, authorization: string | undefined, now = Date.now()): "ok" | "denied" | "limited" {
    const f = this.failures.get(address);
    if (f && f.resetAt <= now) this.failures.delete(address);
    if (f && f.resetAt > now && f.count >= MAX_FAILED_ATTEMPTS) return "limited";
    const m = /^Bearer ([\x21-\x7e]{1,512})$/.exec(authorization ?? "");
    if (m && timingSafeEqual(sha256(m[1]!), this.digest)) return "ok";
    const entry = this.failures.get(address) ?? { count: 0, resetAt: now + FAILED_WINDOW_MS };
    entry.count++;
    this.failures.set(address, entry);
    if (this.failures.size > 10_000) this.prune(now);
    return "denied";
  }

  private prune(now: number): void {
    for (const [k, v] of this.failures) if (v.resetAt <= now) this.failures.delete(k);
  }
}

function sha256(s: string): Buffer {
  return createHash("sha256").update(s).digest();
}
