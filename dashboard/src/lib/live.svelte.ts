/**
 * The live feed: `GET /api/v1/events` as server-sent events. `status` events replace the whole
 * ClusterStatus; `event` events are appended to a short activity list. EventSource reconnects by
 * itself; when the server closes the stream for good (a lost session answers 401, not a stream) we
 * check the session and retry with a backoff.
 */
import { API, getStatus, me, type ClusterStatus } from "./api.js";
import type { EventRecord } from "../../../specs/api/events.js";

export type { EventRecord };
export type Connection = "connecting" | "live" | "reconnecting";

const KEEP_EVENTS = 50;
const MAX_RETRY_MS = 15_000;

export class Live {
  status = $state.raw<ClusterStatus | null>(null);
  /** When the current status arrived (ms since epoch), to count lease time down locally. */
  receivedAt = $state(0);
  connection = $state<Connection>("connecting");
  events = $state.raw<EventRecord[]>([]);
  /** Bumped on every alert event, so the alert list knows to reload. */
  alertTick = $state(0);

  private source: EventSource | null = null;
  private retryMs = 1000;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private lastSeq = 0;

  constructor(private readonly onSessionLost: () => void) {}

  start(): void {
    this.stop();
    this.connection = this.status ? "reconnecting" : "connecting";
    // The first paint should not wait for the stream to open.
    if (!this.status) getStatus().then((s) => this.setStatus(s), () => {});
    const es = new EventSource(`${API}/events${this.lastSeq ? `?after=${this.lastSeq}` : ""}`);
    this.source = es;
    es.onopen = () => {
      this.connection = "live";
      this.retryMs = 1000;
    };
    es.addEventListener("status", (m) => {
      this.connection = "live";
      this.setStatus(JSON.parse((m as MessageEvent<string>).data) as ClusterStatus);
    });
    es.addEventListener("event", (m) => {
      const r = JSON.parse((m as MessageEvent<string>).data) as EventRecord;
      if (r.seq <= this.lastSeq) return;
      this.lastSeq = r.seq;
      this.events = [r, ...this.events].slice(0, KEEP_EVENTS);
      if (r.type === "alert") this.alertTick++;
    });
    es.onerror = () => {
      if (es.readyState === EventSource.CONNECTING) {
        this.connection = "reconnecting";
        return;
      }
      // Closed for good: the browser will not retry. Find out why, then retry ourselves.
      this.connection = "reconnecting";
      es.close();
      this.timer = setTimeout(() => void this.recover(), this.retryMs);
      this.retryMs = Math.min(this.retryMs * 2, MAX_RETRY_MS);
    };
  }

  stop(): void {
    clearTimeout(this.timer);
    this.source?.close();
    this.source = null;
  }

  /** Fetches the status once, outside the stream (after a conflict, say). */
  async refresh(): Promise<void> {
    this.setStatus(await getStatus());
  }

  private setStatus(s: ClusterStatus): void {
    this.status = s;
    this.receivedAt = Date.now();
  }

  private async recover(): Promise<void> {
    try {
      if (!(await me())) return this.onSessionLost();
    } catch {
      // The reconciler is down; keep trying.
    }
    if (this.source) this.start();
  }
}
