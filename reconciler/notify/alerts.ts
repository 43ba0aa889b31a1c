/**
 * Alert lifecycle: each problem has a stable fingerprint; it fires once when first seen and resolves
 * once when gone. Every transition is logged with a fixed message, appended to the event log and
 * handed to the sinks (webhooks); nothing in between is sent, so a problem that persists across a
 * thousand reconciles is one alert, not a storm.
 *
 * A problem seen by `sync` fires only once it has been observed for its grace period (`forMs`, else the
 * manager's `graceMs`; Prometheus's `for:`): a flip, a handoff or a deploy passes through states that
 * would look wrong for a moment, and an alert that fires on every normal deploy is a defect. Until then
 * it is pending: not firing, not sent, not counted in the conditions. `raise` fires at once.
 *
 * Two sources keep alerts firing, tracked separately per fingerprint: `sync` (the full set the
 * reconciler observes on each pass) and `raise`/`clear` (one-off problems such as SpecInvalid from the
 * file watcher). An alert fires when its first source claims it and resolves when its last source lets
 * go, so a sync never resolves an alert that was raised with `raise`.
 */
import { createHash } from "node:crypto";
import type { Logger } from "../../common/log.js";
import type { EventLog } from "./events.js";
import { MAX_ALERT_SUMMARY_CHARS } from "../../specs/defaults.js";
import { clip } from "../../common/values.js";
import type { Alert, AlertSeverity } from "../../specs/api/alerts.js";

export type { AlertSeverity };

/** A problem observed right now (contract: the `alert` object of webhooks and `GET /api/v1/alerts`). */
export interface AlertCandidate {
  /** Stable identity of the problem; the same problem observed again has the same fingerprint. */
  fingerprint: string;
  /** What kind of problem, e.g. `ContainerStopped`, `NodeUnreachable`, `SpecInvalid`. */
  name: string;
  severity: AlertSeverity;
  /** One human line: what happened, what was kept safe, what to do next. */
  summary: string;
  /** Where: node, colour, service, file… */
  labels: Record<string, string>;
  /** How long the problem must be observed before it fires (default: the manager's grace period). Not part of the contract. */
  forMs?: number;
}

/** An alert with its state and times; its schema is the API contract (specs/api/alerts.ts). */
export type { Alert };

/** Where alert transitions go. `send` is called once per transition and must neither block nor throw. */
export interface AlertSink {
  send(alert: Alert): void;
  close(): Promise<void>;
}

export interface AlertManagerOptions {
  sinks: AlertSink[];
  logger: Logger;
  events?: EventLog;
  /** How long a problem seen by `sync` must persist before it fires, unless the candidate says. Default 0. */
  graceMs?: number;
  /** Resolved alerts kept for `recent()`. Default 100. */
  resolvedKept?: number;
  now?: () => number;
}

export const DEFAULT_RESOLVED_ALERTS_KEPT = 100;

type Source = "sync" | "raise";

interface Entry {
  alert: Alert;
  sources: Set<Source>;
  /** Fire order, to break ties between alerts that fired in the same millisecond. */
  order: number;
}

/** A stable fingerprint from an alert's name and labels (label order does not matter). */
export function alertFingerprint(name: string, labels: Record<string, string>): string {
  const canonical = JSON.stringify([name, Object.keys(labels).sort().map((k) => [k, labels[k]])]);
  return createHash("sha256").update(canonical).digest("hex").slice(0, 16);
}

export class AlertManager {
  private readonly sinks: AlertSink[];
  private readonly log: Logger;
  private readonly events: EventLog | undefined;
  private readonly resolvedKept: number;
  private readonly now: () => number;
  private readonly active = new Map<string, Entry>();
  /** Problems seen by `sync` that have not held for their grace period yet: since when, and until when they wait. */
  private readonly pending = new Map<string, { sinceMs: number; dueMs: number }>();
  private graceMs: number;
  /** Newest first. */
  private resolvedList: Alert[] = [];
  private readonly subscribers = new Set<(a: Alert) => void>();
  private order = 0;
  private closed = false;

  constructor(o: AlertManagerOptions) {
    this.sinks = [...o.sinks];
    this.log = o.logger;
    this.events = o.events;
    this.resolvedKept = Math.max(0, Math.floor(o.resolvedKept ?? DEFAULT_RESOLVED_ALERTS_KEPT));
    this.now = o.now ?? Date.now;
    this.graceMs = Math.max(0, o.graceMs ?? 0);
  }

  /** The grace period changes with cluster.yaml; pending problems keep the due time they were given. */
  setGraceMs(ms: number): void {
    this.graceMs = Math.max(0, ms);
  }

  /** The sinks change with cluster.yaml: later transitions go to these (the caller closes the ones it dropped). */
  setSinks(sinks: readonly AlertSink[]): void {
    this.sinks.splice(0, this.sinks.length, ...sinks);
  }

  /** Problems seen but not firing yet (waiting out their grace period). */
  pendingFingerprints(): string[] {
    return [...this.pending.keys()];
  }

  /** When the earliest pending problem fires if it is still observed (undefined: none pending). */
  nextDueAt(): number | undefined {
    let due: number | undefined;
    for (const p of this.pending.values()) due = due === undefined ? p.dueMs : Math.min(due, p.dueMs);
    return due;
  }

  /**
   * The complete set of problems observed right now. New fingerprints wait out their grace period, then
   * fire; missing ones resolve (or stop waiting); unchanged ones do nothing.
   */
  sync(current: readonly AlertCandidate[]): { fired: Alert[]; resolved: Alert[] } {
    const fired: Alert[] = [];
    const resolved: Alert[] = [];
    if (this.closed) return { fired, resolved };
    const now = this.now();
    const seen = new Map<string, AlertCandidate>();
    for (const c of current) seen.set(c.fingerprint, c);
    for (const fingerprint of [...this.pending.keys()]) if (!seen.has(fingerprint)) this.pending.delete(fingerprint);
    for (const c of seen.values()) {
      if (!this.active.has(c.fingerprint)) {
        let p = this.pending.get(c.fingerprint);
        if (!p) this.pending.set(c.fingerprint, (p = { sinceMs: now, dueMs: now + Math.max(0, c.forMs ?? this.graceMs) }));
        if (now < p.dueMs) continue;
        this.pending.delete(c.fingerprint);
        const a = this.claim(c, "sync", p.sinceMs);
        if (a) fired.push(a);
        continue;
      }
      const a = this.claim(c, "sync");
      if (a) fired.push(a);
    }
    for (const [fingerprint, entry] of [...this.active]) {
      if (entry.sources.has("sync") && !seen.has(fingerprint)) {
        const a = this.release(fingerprint, "sync");
        if (a) resolved.push(a);
      }
    }
    return { fired, resolved };
  }

  /**
   * Carries firing alerts over from before a restart (from the event log) without firing them again:
   * the next sync keeps the ones still observed and resolves the others, once.
   */
  restore(alerts: readonly Alert[]): void {
    for (const a of alerts) {
      if (a.state !== "firing" || this.active.has(a.fingerprint)) continue;
      this.active.set(a.fingerprint, { alert: Object.freeze({ ...a }), sources: new Set<Source>(["sync"]), order: this.order++ });
    }
  }

  /** Fire or resolve one alert outside a full sync (e.g. SpecInvalid raised by the file watcher), keyed by fingerprint. */
  raise(c: AlertCandidate): void {
    if (!this.closed) this.claim(c, "raise");
  }

  clear(fingerprint: string): void {
    if (!this.closed) this.release(fingerprint, "raise");
  }

  /** Firing alerts, newest first. Alerts are frozen, so callers may keep them. */
  firing(): Alert[] {
    return [...this.active.values()].sort((a, b) => b.order - a.order).map((e) => e.alert);
  }

  /** Firing alerts first, then recently resolved ones; each group newest first. */
  recent(): Alert[] {
    return [...this.firing(), ...this.resolvedList];
  }

  /** Called with every transition (fired or resolved), after the sinks. Returns the unsubscribe function. */
  subscribe(fn: (a: Alert) => void): () => void {
    this.subscribers.add(fn);
    return () => void this.subscribers.delete(fn);
  }

  /** Stops all transitions and closes the sinks. Firing alerts stay firing: they are not resolved on shutdown. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.subscribers.clear();
    const results = await Promise.allSettled(this.sinks.map((s) => s.close()));
    for (const r of results) if (r.status === "rejected") this.log.error({ err: r.reason }, "alert sink close failed");
  }

  /** Adds `source` to the alert's claimants; returns the alert if this fired it (starting when it was first seen). */
  private claim(c: AlertCandidate, source: Source, sinceMs = this.now()): Alert | null {
    const entry = this.active.get(c.fingerprint);
    if (entry) {
      entry.sources.add(source);
      // Same problem, new wording (e.g. a changing error message): update quietly, never re-fire.
      entry.alert = Object.freeze({ ...entry.alert, name: c.name, severity: c.severity, summary: clip(c.summary, MAX_ALERT_SUMMARY_CHARS), labels: Object.freeze({ ...c.labels }) });
      return null;
    }
    const alert: Alert = Object.freeze({
      fingerprint: c.fingerprint,
      name: c.name,
      severity: c.severity,
      summary: clip(c.summary, MAX_ALERT_SUMMARY_CHARS),
      labels: Object.freeze({ ...c.labels }),
      state: "firing",
      startsAt: new Date(sinceMs).toISOString(),
      endsAt: null,
    });
    this.active.set(c.fingerprint, { alert, sources: new Set([source]), order: this.order++ });
    this.transition(alert);
    return alert;
  }

  /** Removes `source` from the alert's claimants; returns the alert if this resolved it. */
  private release(fingerprint: string, source: Source): Alert | null {
    const entry = this.active.get(fingerprint);
    if (!entry || !entry.sources.delete(source) || entry.sources.size > 0) return null;
    this.active.delete(fingerprint);
    const alert: Alert = Object.freeze({ ...entry.alert, state: "resolved", endsAt: new Date(this.now()).toISOString() });
    this.resolvedList.unshift(alert);
    if (this.resolvedList.length > this.resolvedKept) this.resolvedList.length = this.resolvedKept;
    this.transition(alert);
    return alert;
  }

  private transition(a: Alert): void {
    const message = a.state === "firing" ? "alert firing" : "alert resolved";
    // Labels first, so a label can never overwrite the alert's own keys.
    const fields = { ...a.labels, alert: a.name, fingerprint: a.fingerprint, severity: a.severity, summary: a.summary };
    if (a.state === "firing") this.log.warn(fields, message);
    else this.log.info(fields, message);
    try {
      this.events?.append({
        type: "alert", message, alert: a.name, fingerprint: a.fingerprint, severity: a.severity, summary: a.summary,
        labels: a.labels, state: a.state, startsAt: a.startsAt, endsAt: a.endsAt,
      });
    } catch (err) {
      this.log.error({ err, fingerprint: a.fingerprint }, "alert event not recorded");
    }
    for (const sink of this.sinks) {
      try {
        sink.send(a);
      } catch (err) {
        this.log.error({ err, alert: a.name, fingerprint: a.fingerprint }, "alert sink failed");
      }
    }
    for (const fn of this.subscribers) {
      try {
        fn(a);
      } catch (err) {
        this.log.error({ err, alert: a.name, fingerprint: a.fingerprint }, "alert subscriber failed");
      }
    }
  }
}
