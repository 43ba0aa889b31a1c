/**
 * Lifecycle notifications: what happened to the deploys, in people's words, for webhooks that subscribe
 * to them (cluster.yaml `alerts.webhooks[].events`). They come from two places: each change of the desired
 * state (a deploy started, a switch, jobs moved, maintenance), compared with the one before, with who made
 * it when the change came through the API or from Switchyard itself (`note`); and the status (a colour
 * that finished its deploy is ready, or failed). One message per event; routine upkeep (lease renewals,
 * resyncs) never is one. A deploy under way when the reconciler restarts gets no ready or failed message.
 */
import type { Logger } from "../../common/log.js";
import type { State } from "../../specs/state.js";
import type { ClusterStatus } from "../../specs/api/status.js";
import type { LifecycleEvent, LifecycleEventType } from "../../specs/lifecycle.js";
import { COLORS, type Color } from "../../specs/types.js";

/** Who made a change of the desired state, and as what. */
export interface ChangeNote {
  by: string;
  intent?: "promote" | "rollback";
  /** Why, when Switchyard decided. */
  reason?: string;
}

export interface LifecycleOptions {
  emit: (e: LifecycleEvent) => void;
  logger: Logger;
  now?: () => number;
}

/** Notes wait this long for the desired-state change they describe. */
const NOTE_TTL_MS = 60_000;

export class Lifecycle {
  private last: State | undefined;
  private readonly notes = new Map<string, ChangeNote & { atMs: number }>();
  /** Deploys started in this process: the colour's tag, until it is ready or failed. */
  private readonly deploying = new Map<Color, string>();
  private readonly now: () => number;

  constructor(private readonly o: LifecycleOptions) {
    this.now = o.now ?? Date.now;
  }

  /** Who made the change that leaves state.yaml at `revision` (call before the watcher reads it). */
  note(revision: string, n: ChangeNote): void {
    const now = this.now();
    for (const [k, v] of this.notes) if (now - v.atMs > NOTE_TTL_MS) this.notes.delete(k);
    this.notes.set(revision, { ...n, atMs: now });
  }

  /** Each valid desired state the watcher acts on; the first one only sets the starting point. */
  onDesired(state: State, revision: string, hasJobs: boolean): void {
    const prev = this.last;
    this.last = state;
    if (!prev) return;
    const note = this.notes.get(revision);
    this.notes.delete(revision);
    const by = note?.by;
    const who = by ? ` by ${by}` : " by a change to state.yaml";
    const next = state.spec;
    for (const c of COLORS) {
      const was = prev.spec.colors[c];
      const now = next.colors[c];
      if (now.tag !== undefined && !now.stopped && (now.tag !== was.tag || now.digest !== was.digest)) {
        this.deploying.set(c, now.tag);
        this.emit("deploy-started", `deploy of ${now.tag} to ${c} started${who}`, { color: c, tag: now.tag, by });
      }
      if (now.stopped && !was.stopped) this.emit("maintenance-started", `${c} stopped for maintenance${who}`, { color: c, by });
      if (!now.stopped && was.stopped) this.emit("maintenance-ended", `${c} started again after maintenance${who}`, { color: c, by });
    }
    if (next.active !== prev.spec.active) {
      const tag = next.colors[next.active].tag;
      const at = `${next.active}${tag ? ` (${tag})` : ""}`;
      if (note?.intent === "rollback") {
        const summary = note.reason ? `${note.reason} (${by ?? "Switchyard"})` : `rolled back to ${at}${who}`;
        this.emit("rolled-back", summary, { color: next.active, tag, by, reason: note.reason });
      } else this.emit("promoted", `${at} promoted${who}`, { color: next.active, tag, by });
    }
    const owner = (s: State["spec"]) => (s.jobs.owner === "active" ? s.active : s.jobs.owner);
    if (hasJobs && owner(next) !== owner(prev.spec)) {
      const to = owner(next);
      this.emit("jobs-moved", to === "none" ? `jobs stopped${who}` : `jobs moved to ${to}${who}`, { ...(to !== "none" ? { color: to } : {}), by });
    }
  }

  /** Each new status: a deploy started here that is now ready, or failed. */
  onStatus(s: ClusterStatus): void {
    for (const [c, tag] of this.deploying) {
      const cs = s.colors?.[c];
      if (!cs || cs.tag !== tag) continue;
      if (cs.phase === "Ready") {
        this.deploying.delete(c);
        this.emit("color-ready", `${c} is ready with ${tag}`, { color: c, tag });
      } else if (cs.phase === "Failed" || cs.phase === "Refused") {
        this.deploying.delete(c);
        this.emit("deploy-failed", `deploy of ${tag} to ${c} failed: ${cs.message}`, { color: c, tag, reason: cs.message });
      }
    }
  }

  /** A task before promotion failed (issue 17 item 1 calls this). */
  taskFailed(t: { color: Color; tag: string; task: string; message: string }): void {
    this.emit("task-failed", `task ${t.task} for ${t.tag} on ${t.color} failed: ${t.message}`, { color: t.color, tag: t.tag, task: t.task, reason: t.message });
  }

  private emit(type: LifecycleEventType, summary: string, f: { color?: Color; tag?: string | undefined; by?: string | undefined; reason?: string | undefined; task?: string }): void {
    const e: LifecycleEvent = { type, at: new Date(this.now()).toISOString(), summary };
    for (const k of ["color", "tag", "by", "reason", "task"] as const) if (f[k] !== undefined) e[k] = f[k] as never;
    this.o.logger.info({ event: type, color: e.color, tag: e.tag, by: e.by }, "lifecycle event");
    this.o.emit(e);
  }
}
