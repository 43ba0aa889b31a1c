/**
 * Bearer-token authentication for the agent API: constant-time comparison, and a per-address limit on
 * failed attempts.
 *
 * The right token always passes, also from an address that is over its limit: the reconciler shares its
 * address with whatever else runs on its host or behind its NAT, and a lockout keyed by address would let
 * anyone there cut it off from every node (nodes Unreachable, jobs without a holder). What keeps a token
 * from being guessed is its length (at least MIN_TOKEN_LENGTH characters, checked at start-up; 64 hex
 * characters in every example), not the limit. The limit answers an address that keeps failing with 429
 * instead of 401 and stops logging each of its failures, so a flood of guesses costs neither log space nor
 * anything more than one hash per request.
 *
 * A second, read-only set of tokens (agent.yaml metricsTokenFile) passes as "metrics": the server lets it read
 * GET /metrics and nothing else, so a Prometheus scraper holds no token that can change the node.
 */
import { createHash, timingSafeEqual } from "node:crypto";

export const MAX_FAILED_ATTEMPTS = 10;
export const FAILED_WINDOW_MS = 60_000;
/** Addresses remembered at most; the oldest windows are dropped first when full. */
const MAX_TRACKED_ADDRESSES = 10_000;

/**
 * "ok" (an agent token), "metrics" (a read-only metrics token), "denied" (wrong or missing token) or "limited"
 * (wrong or missing, and too many failures from this address).
 */
export type AuthVerdict = "ok" | "metrics" | "denied" | "limited";

export class TokenGuard {
  private digests: Buffer[];
  private metricsDigests: Buffer[];
  private readonly failures = new Map<string, { count: number; resetAt: number }>();

  /** One token, or two during a rotation (the current and the next): either passes. */
  constructor(tokens: string | readonly string[], metricsTokens: readonly string[] = []) {
    this.digests = (typeof tokens === "string" ? [tokens] : tokens).map(sha256);
    this.metricsDigests = metricsTokens.map(sha256);
  }

  /** The token file changed: these pass from now on (requests already authenticated go on). */
  setTokens(tokens: readonly string[]): void {
    this.digests = tokens.map(sha256);
  }

  /** The metrics token file changed: these read /metrics from now on. */
  setMetricsTokens(tokens: readonly string[]): void {
    this.metricsDigests = tokens.map(sha256);
  }

  check(address: string, authorization: string | undefined, now = Date.now()): AuthVerdict {
    const m = /^Bearer ([\x21-\x7e]{1,512})$/.exec(authorization ?? "");
    if (m) {
      const given = sha256(m[1]!);
      // Every digest is compared (no early exit), so the time does not say which one matched.
      let ok = false;
      for (const d of this.digests) ok = timingSafeEqual(given, d) || ok;
      let metrics = false;
      for (const d of this.metricsDigests) metrics = timingSafeEqual(given, d) || metrics;
      if (ok) return "ok";
      if (metrics) return "metrics";
    }
    let f = this.failures.get(address);
    if (!f || f.resetAt <= now) {
      f = { count: 0, resetAt: now + FAILED_WINDOW_MS };
      this.failures.set(address, f);
      if (this.failures.size > MAX_TRACKED_ADDRESSES) this.prune(now);
    }
    f.count++;
    return f.count > MAX_FAILED_ATTEMPTS ? "limited" : "denied";
  }

  private prune(now: number): void {
    for (const [k, v] of this.failures) if (v.resetAt <= now) this.failures.delete(k);
    // Still full (a flood from many addresses): forget the oldest windows, never grow without bound.
    for (const k of this.failures.keys()) {
      if (this.failures.size <= MAX_TRACKED_ADDRESSES) break;
      this.failures.delete(k);
    }
  }
}

function sha256(s: string): Buffer {
  return createHash("sha256").update(s).digest();
}
