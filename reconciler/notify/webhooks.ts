/**
 * Webhook alert sink: one queue per configured URL, delivered in order by a single worker, retried
 * with exponential backoff and jitter on network errors, timeouts, 408, 429 and 5xx (honouring
 * `Retry-After`), never on other answers. `send` only enqueues, so the reconcile loop never waits for a
 * receiver. The queue is bounded: beyond `maxQueue` the oldest waiting delivery is dropped (logged).
 *
 * Wire format (contract), `POST <url>` with `content-type: application/json`:
 * - `json`:  `{ "version": 1, "alert": Alert, "cluster"?: string }`, or for a lifecycle event
 *            `{ "version": 1, "event": LifecycleEvent, "cluster"?: string }` (specs/lifecycle.ts)
 * - `slack`: `{ "text": "…" }` (Slack incoming-webhook compatible)
 * A sink hears what its `events` name: `alerts` and lifecycle event types (default: alerts only).
 *
 * Headers on every delivery: `X-Switchyard-Delivery` (one id per alert transition, the same on every
 * retry: receivers deduplicate on it, since delivery is at-least-once). With a secret configured:
 * - `X-Switchyard-Timestamp: <unix seconds>` — the time of this attempt;
 * - `X-Switchyard-Signature: sha256=<hex>` — HMAC-SHA256 with the secret over `${timestamp}.${body}`,
 *   the exact bytes of the request body. Receivers recompute it (see `verifySignature`), compare in
 *   constant time, and reject a timestamp more than a few minutes away from their clock: that makes
 *   a captured request useless for replay.
 *
 * The secret is never logged, and the URL is logged as origin + path only, with long path segments
 * masked (Slack-style URLs carry their credential in the path; query strings may carry tokens).
 *
 * One piece (~350 lines) on purpose: the queue, the single delivery worker, retries and Retry-After share
 * the queue's state; signing is in webhook-signing.ts.
 */
import { randomUUID } from "node:crypto";
import { signPayload } from "./webhook-signing.js";
import type { Logger } from "../../common/log.js";
import type { Alert, AlertSink } from "./alerts.js";
import type { LifecycleEvent, WebhookEvent } from "../../specs/lifecycle.js";

export interface WebhookSinkOptions {
  url: string;
  format: "json" | "slack";
  /** HMAC-SHA256 key; when set, every delivery is signed. */
  secret?: string;
  /** What this sink hears (default: alerts only). */
  events?: readonly WebhookEvent[];
  logger: Logger;
  /** Cluster name, sent in JSON bodies and shown in Slack text. */
  cluster?: string;
  /** Attempts per delivery, the first included. Default 8. */
  maxAttempts?: number;
  /** First retry delay; doubles per attempt up to `maxDelayMs`, with jitter. Default 500 ms. */
  baseDelayMs?: number;
  /** Longest backoff between attempts. Default 60 s. */
  maxDelayMs?: number;
  /** Longest `Retry-After` honoured; a longer one is cut to this. Default 5 min. */
  maxRetryAfterMs?: number;
  /** Per-attempt timeout, connect to response headers. Default 5 s. */
  timeoutMs?: number;
  /** Deliveries waiting at most; beyond this the oldest waiting one is dropped. Default 1000. */
  maxQueue?: number;
  now?: () => number;
}

export interface WebhookStats {
  delivered: number;
  /** Given up: rejected by the receiver (4xx) or out of attempts. */
  failed: number;
  /** Dropped unsent: queue overflow or sink closed. */
  dropped: number;
  pending: number;
}

export const DEFAULT_WEBHOOK_MAX_ATTEMPTS = 8;
export const DEFAULT_WEBHOOK_BASE_DELAY_MS = 500;
export const DEFAULT_WEBHOOK_MAX_DELAY_MS = 60_000;
export const DEFAULT_WEBHOOK_MAX_RETRY_AFTER_MS = 300_000;
export const DEFAULT_WEBHOOK_TIMEOUT_MS = 5_000;
export const DEFAULT_WEBHOOK_MAX_QUEUE = 1000;
/** How far a signature's timestamp may be from the receiver's clock in `verifySignature`. */
export const SIGNATURE_HEADER = "x-switchyard-signature";
export const TIMESTAMP_HEADER = "x-switchyard-timestamp";
export const DELIVERY_HEADER = "x-switchyard-delivery";

interface Delivery {
  id: string;
  /** The alert's name, or the lifecycle event's type. */
  alert: string;
  fingerprint: string;
  state: Alert["state"] | "event";
  body: string;
  attempts: number;
}

type Outcome =
  | { kind: "delivered"; status: number }
  | { kind: "retry"; status?: number; error?: string; retryAfterMs?: number }
  | { kind: "rejected"; status: number; answer: string }
  | { kind: "stopped" };

export class WebhookSink implements AlertSink {
  /** Origin + path with long segments masked: safe to log and show. */
  readonly target: string;
  private readonly url: string;
  private readonly format: "json" | "slack";
  private readonly secret: string | undefined;
  private readonly cluster: string | undefined;
  private readonly log: Logger;
  private readonly baseHeaders: Record<string, string>;
  private readonly maxAttempts: number;
  private readonly baseDelayMs: number;
  private readonly maxDelayMs: number;
  private readonly maxRetryAfterMs: number;
  private readonly timeoutMs: number;
  private readonly maxQueue: number;
  private readonly now: () => number;
  private readonly queue: Delivery[] = [];
  private readonly abort = new AbortController();
  private worker: Promise<void> | null = null;
  private inFlight: Delivery | null = null;
  private timer: NodeJS.Timeout | null = null;
  private wake: (() => void) | null = null;
  private idleWaiters: (() => void)[] = [];
  private closed = false;
  private readonly counts = { delivered: 0, failed: 0, dropped: 0 };
  private readonly events: ReadonlySet<WebhookEvent>;

  constructor(o: WebhookSinkOptions) {
    const u = new URL(o.url);
    if (u.protocol !== "http:" && u.protocol !== "https:") throw new Error(`webhook URL must be http or https, not ${u.protocol}`);
    this.baseHeaders = { "content-type": "application/json", "user-agent": "switchyard-webhook/1" };
    // fetch refuses URLs with credentials: send them as basic auth instead.
    if (u.username || u.password) {
      const basic = Buffer.from(`${decodeURIComponent(u.username)}:${decodeURIComponent(u.password)}`).toString("base64");
      this.baseHeaders.authorization = `Basic ${basic}`;
      u.username = "";
      u.password = "";
    }
    this.url = u.toString();
    this.target = safeTarget(u);
    this.format = o.format;
    this.secret = o.secret || undefined;
    this.cluster = o.cluster;
    this.log = o.logger.child({ webhook: this.target });
    this.maxAttempts = Math.max(1, Math.floor(o.maxAttempts ?? DEFAULT_WEBHOOK_MAX_ATTEMPTS));
    this.baseDelayMs = Math.max(0, o.baseDelayMs ?? DEFAULT_WEBHOOK_BASE_DELAY_MS);
    this.maxDelayMs = Math.max(this.baseDelayMs, o.maxDelayMs ?? DEFAULT_WEBHOOK_MAX_DELAY_MS);
    this.maxRetryAfterMs = Math.max(0, o.maxRetryAfterMs ?? DEFAULT_WEBHOOK_MAX_RETRY_AFTER_MS);
    this.timeoutMs = Math.max(1, o.timeoutMs ?? DEFAULT_WEBHOOK_TIMEOUT_MS);
    this.maxQueue = Math.max(1, Math.floor(o.maxQueue ?? DEFAULT_WEBHOOK_MAX_QUEUE));
    this.now = o.now ?? Date.now;
    this.events = new Set(o.events ?? ["alerts"]);
  }

  /** Queues the alert transition (when this sink hears alerts) and returns at once. Never throws. */
  send(alert: Alert): void {
    if (!this.events.has("alerts")) return;
    this.enqueue(alert.name, alert.fingerprint, alert.state, () => this.render(alert));
  }

  /** Queues a lifecycle event (when this sink subscribed to its type) and returns at once. Never throws. */
  sendEvent(e: LifecycleEvent): void {
    if (!this.events.has(e.type)) return;
    this.enqueue(e.type, e.type, "event", () => this.renderEvent(e));
  }

  private enqueue(name: string, fingerprint: string, state: Delivery["state"], body: () => string): void {
    try {
      if (this.closed) {
        this.counts.dropped++;
        this.log.warn({ alert: name, fingerprint }, "webhook sink closed; delivery dropped");
        return;
      }
      this.queue.push({ id: randomUUID(), alert: name, fingerprint, state, body: body(), attempts: 0 });
      if (this.queue.length > this.maxQueue) {
        // The head may be mid-attempt: drop the oldest one that is only waiting.
        const i = this.queue[0] === this.inFlight ? 1 : 0;
        const [gone] = this.queue.splice(i, 1);
        this.counts.dropped++;
        if (this.counts.dropped === 1 || this.counts.dropped % 100 === 0) {
          this.log.warn({ alert: gone?.alert, fingerprint: gone?.fingerprint, maxQueue: this.maxQueue, droppedTotal: this.counts.dropped }, "webhook queue full; oldest delivery dropped");
        }
      }
      // Start on the next turn: even the first fetch's setup stays off the caller's time.
      if (!this.worker) this.worker = new Promise((resolve) => setImmediate(resolve)).then(() => this.run());
    } catch (err) {
      this.log.error({ err, alert: name }, "webhook delivery not queued");
    }
  }

  /** Resolves true once every queued delivery is delivered or given up; false after `timeoutMs`. */
  drain(timeoutMs = Infinity): Promise<boolean> {
    if (!this.worker && this.queue.length === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      let t: NodeJS.Timeout | undefined;
      const done = () => {
        if (t) clearTimeout(t);
        resolve(true);
      };
      this.idleWaiters.push(done);
      if (Number.isFinite(timeoutMs)) {
        t = setTimeout(() => {
          this.idleWaiters = this.idleWaiters.filter((w) => w !== done);
          resolve(false);
        }, timeoutMs);
      }
    });
  }

  stats(): WebhookStats {
    return { ...this.counts, pending: this.queue.length };
  }

  /** Stops retries and aborts the attempt in flight; what is still queued is dropped and counted in the log. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.abort.abort();
    if (this.timer) clearTimeout(this.timer);
    this.wake?.();
    await this.worker;
    const dropped = this.queue.length;
    this.queue.length = 0;
    this.counts.dropped += dropped;
    if (dropped > 0) this.log.warn({ dropped }, "webhook sink closed; pending deliveries dropped");
    this.notifyIdle();
  }

  private render(alert: Alert): string {
    if (this.format === "slack") return JSON.stringify({ text: slackText(alert, this.cluster) });
    return JSON.stringify({ version: 1, alert: { ...alert }, ...(this.cluster ? { cluster: this.cluster } : {}) });
  }

  private renderEvent(e: LifecycleEvent): string {
    if (this.format === "slack") return JSON.stringify({ text: `${LIFECYCLE_ICONS[e.type]} ${slackEscape(e.summary)}${this.cluster ? ` (${slackEscape(this.cluster)})` : ""}` });
    return JSON.stringify({ version: 1, event: { ...e }, ...(this.cluster ? { cluster: this.cluster } : {}) });
  }

  private async run(): Promise<void> {
    try {
      while (!this.closed && this.queue.length > 0) {
        const d = this.queue[0]!;
        this.inFlight = d;
        const outcome = await this.attempt(d);
        if (outcome.kind === "stopped" || this.closed) break;
        if (outcome.kind === "retry" && d.attempts < this.maxAttempts) {
          const delayMs = outcome.retryAfterMs !== undefined ? Math.min(outcome.retryAfterMs, this.maxRetryAfterMs) : this.backoff(d.attempts);
          this.log.warn(
            { alert: d.alert, fingerprint: d.fingerprint, delivery: d.id, attempt: d.attempts, status: outcome.status, error: outcome.error, delayMs },
            "webhook delivery failed; retrying",
          );
          await this.sleep(delayMs);
          continue;
        }
        if (this.queue[0] === d) this.queue.shift();
        const fields = { alert: d.alert, fingerprint: d.fingerprint, state: d.state, delivery: d.id, attempts: d.attempts };
        if (outcome.kind === "delivered") {
          this.counts.delivered++;
          this.log.debug({ ...fields, status: outcome.status }, "webhook delivered");
        } else if (outcome.kind === "rejected") {
          this.counts.failed++;
          this.log.error({ ...fields, status: outcome.status, answer: outcome.answer }, "webhook rejected delivery; not retrying");
        } else {
          this.counts.failed++;
          this.log.error({ ...fields, status: outcome.status, error: outcome.error }, "webhook delivery abandoned after retries");
        }
      }
    } finally {
      this.inFlight = null;
      this.worker = null;
      // A send() may have queued something while the last attempt was finishing.
      if (!this.closed && this.queue.length > 0) this.worker = this.run();
      else this.notifyIdle();
    }
  }

  private async attempt(d: Delivery): Promise<Outcome> {
    d.attempts++;
    const headers: Record<string, string> = { ...this.baseHeaders, [DELIVERY_HEADER]: d.id };
    if (this.secret) {
      const ts = String(Math.floor(this.now() / 1000));
      headers[TIMESTAMP_HEADER] = ts;
      headers[SIGNATURE_HEADER] = signPayload(this.secret, ts, d.body);
    }
    let res: Response;
    try {
      res = await fetch(this.url, {
        method: "POST",
        headers,
        body: d.body,
        redirect: "manual",
        signal: AbortSignal.any([this.abort.signal, AbortSignal.timeout(this.timeoutMs)]),
      });
    } catch (err) {
      if (this.closed) return { kind: "stopped" };
      return { kind: "retry", error: describeError(err, this.timeoutMs) };
    }
    const status = res.status;
    if (status >= 200 && status < 300) {
      await res.body?.cancel().catch(() => undefined);
      return { kind: "delivered", status };
    }
    if (status === 408 || status === 429 || status >= 500) {
      await res.body?.cancel().catch(() => undefined);
      const retryAfterMs = parseRetryAfter(res.headers.get("retry-after"), this.now());
      return { kind: "retry", status, ...(retryAfterMs !== undefined ? { retryAfterMs } : {}) };
    }
    return { kind: "rejected", status, answer: await readSnippet(res) };
  }

  /** Exponential backoff with "equal jitter": half fixed, half random, so retrying sinks spread out. */
  private backoff(attempt: number): number {
    const exp = Math.min(this.maxDelayMs, this.baseDelayMs * 2 ** Math.min(attempt - 1, 30));
    return Math.round(exp / 2 + Math.random() * (exp / 2));
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      this.wake = () => {
        this.wake = null;
        this.timer = null;
        resolve();
      };
      this.timer = setTimeout(this.wake, ms);
      this.timer.unref();
    });
  }

  private notifyIdle(): void {
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }
}

/** Origin + path, with query, fragment and credentials gone and long path segments (likely tokens) masked. */
export function safeTarget(url: URL | string): string {
  const u = typeof url === "string" ? new URL(url) : url;
  const path = u.pathname.split("/").map((s) => (s.length >= 16 ? "***" : s)).join("/");
  return u.origin + path;
}

function slackText(a: Alert, cluster: string | undefined): string {
  const head = a.state === "firing" ? `:rotating_light: FIRING [${a.severity}]` : ":white_check_mark: RESOLVED";
  const where = cluster ? ` (${slackEscape(cluster)})` : "";
  const labels = Object.entries(a.labels).map(([k, v]) => `${k}=${v}`).join(" ");
  return `${head} *${slackEscape(a.name)}*${where}: ${slackEscape(a.summary)}${labels ? `\n${slackEscape(labels)}` : ""}`;
}

const LIFECYCLE_ICONS: Record<LifecycleEvent["type"], string> = {
  "deploy-started": ":rocket:", "color-ready": ":large_green_circle:", "deploy-failed": ":x:", "task-failed": ":x:", promoted: ":arrows_counterclockwise:",
  "rolled-back": ":rewind:", "jobs-moved": ":gear:", "maintenance-started": ":construction:", "maintenance-ended": ":white_check_mark:",
};

/** Slack's mrkdwn needs exactly these three escaped. */
function slackEscape(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

/** `Retry-After` as delay-seconds or an HTTP date, in ms from now; undefined when absent or unreadable. */
function parseRetryAfter(v: string | null, nowMs: number): number | undefined {
  if (!v) return undefined;
  const t = v.trim();
  if (/^\d+$/.test(t)) return Number(t) * 1000;
  const at = Date.parse(t);
  return Number.isNaN(at) ? undefined : Math.max(0, at - nowMs);
}

function describeError(err: unknown, timeoutMs: number): string {
  const e = err as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  if (e?.name === "TimeoutError") return `timeout after ${timeoutMs} ms`;
  return e?.cause?.code ?? e?.cause?.message ?? e?.message ?? String(err);
}

/** The start of a rejecting receiver's answer, for the log; never the whole body of a hostile server. */
async function readSnippet(res: Response, max = 256): Promise<string> {
  if (!res.body) return "";
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let n = 0;
  try {
    while (n < max) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      n += value.length;
    }
  } catch {
    // the answer is only for the log
  } finally {
    await reader.cancel().catch(() => undefined);
  }
  return Buffer.concat(chunks).toString("utf8").slice(0, max);
}
