/**
 * Crash-loop backoff, one book for web services and jobs on both runtimes (the kubelet's CrashLoopBackOff):
 * a workload the agent started that stops by itself (it exits, is killed, or is removed behind the agent's
 * back) or cannot be started is a death. A job dies under the held lease: it is started again at once the
 * first time. A web service's first death is drift, the reconciler's to decide (its drift policy); when
 * it dies again after that, the agent starts it again by itself. Each next start waits RESTART_BACKOFF_*
 * (doubling, capped), and the count starts over once the workload has run RESTART_BACKOFF_RESET_MS in one
 * go, or when what should run changes (a new spec hash for web, a new lease epoch for jobs). One record per
 * service says how it last died, with its last log lines, and when the next start comes (status `restarts`,
 * and state `crashLooping` while the agent waits to start it again). Until the reconciler decides, only
 * the engine's own stop (an engine restart) is undone without it. This file only keeps the books;
 * convergence.ts does the starting.
 */
import type { ServiceStatus } from "../../specs/wire.js";
import type { WorkloadKind } from "../runtime.js";
import {
  RESTART_BACKOFF_FACTOR, RESTART_BACKOFF_INITIAL_MS, RESTART_BACKOFF_MAX_MS, RESTART_BACKOFF_RESET_MS, RESTART_LOG_LINE_CHARS, RESTART_LOG_LINES,
} from "../../specs/defaults.js";

export type RestartsStatus = NonNullable<ServiceStatus["restarts"]>;

/** The wait before the start after death number `count` (1-based): none for the first, then growing, capped. */
export function restartDelayMs(count: number): number {
  if (count <= 1) return 0;
  return Math.min(RESTART_BACKOFF_MAX_MS, RESTART_BACKOFF_INITIAL_MS * RESTART_BACKOFF_FACTOR ** Math.min(count - 2, 30));
}

/** What should run of one service right now, and how it looks in the last listing. */
export interface ServiceLook {
  service: string;
  kind: WorkloadKind;
  /** What identifies the workload that should run (spec hash for web, `epoch:N` for jobs). */
  key: string;
  /** When the running workload of this key started (ISO), or null when none runs. */
  runningSince: string | null;
  /** The dead workload of this key (its id and state text, e.g. "exited (1)"), when one is listed. */
  dead: { id: string; stateText: string } | null;
}

interface RestartRecord {
  kind: WorkloadKind;
  key: string;
  count: number;
  lastExit: string;
  exitCode: number | null;
  lastExitAt: number;
  logTail: string[];
  /**
   * up: started, expected to run; down: dead, waiting for a spec (a web service's first death);
   * waiting: dead, the agent starts it at nextAt; starting: a start was asked for.
   */
  phase: "up" | "down" | "waiting" | "starting";
  nextAt: number | null;
}

export class Restarts {
  private readonly book = new Map<string, RestartRecord>();

  /** Convergence started `service` as `key` (or found it running so): it is expected to stay up. */
  started(service: string, kind: WorkloadKind, key: string): void {
    const r = this.book.get(service);
    if (r && r.key === key) {
      r.phase = "up";
      r.nextAt = null;
    } else this.book.set(service, { kind, key, count: 0, lastExit: "", exitCode: null, lastExitAt: 0, logTail: [], phase: "up", nextAt: null });
  }

  /** Convergence could not start `service` as `key`: counts as a death. Returns the wait before the next try (null: none planned). */
  failed(service: string, kind: WorkloadKind, key: string, why: string, now: number): number | null {
    if (this.book.get(service)?.key !== key) this.started(service, kind, key);
    return this.died(service, why, null, now);
  }

  /** Forgets `service` (it should not run any more), or every service. */
  forget(service?: string): void {
    if (service === undefined) this.book.clear();
    else this.book.delete(service);
  }

  /** Forgets every service of `kind` that is not in `keep`. */
  keepOnly(kind: WorkloadKind, keep: ReadonlySet<string>): void {
    for (const [service, r] of this.book) if (r.kind === kind && !keep.has(service)) this.book.delete(service);
  }

  /**
   * One observation of a service that should run. Returns true when it is seen dead just now (a death);
   * `since` for a running workload may reset the count after a long enough run.
   */
  look(l: ServiceLook, now: number): boolean {
    const r = this.book.get(l.service);
    if (!r) return false; // never started by convergence: not ours to count
    if (r.key !== l.key) {
      this.book.delete(l.service); // something else should run now: a new workload, a new count
      return false;
    }
    if (l.runningSince !== null) {
      if (r.phase === "up" && r.count > 0 && now - Date.parse(l.runningSince) >= RESTART_BACKOFF_RESET_MS) {
        r.count = 0;
        r.logTail = [];
      }
      return false;
    }
    if (r.phase !== "up") return false; // already dead, or a start is on its way
    this.died(l.service, l.dead?.stateText ?? "missing", exitCodeOf(l.dead?.stateText), now);
    return true;
  }

  /** Keeps the last log lines of the death being recorded (fetched after the death was seen). */
  setLogTail(service: string, lastExitAt: number, lines: readonly string[], secrets: readonly string[]): void {
    const r = this.book.get(service);
    if (r && r.lastExitAt === lastExitAt) r.logTail = clipLog(lines, secrets);
  }

  /** The records whose wait is over move to starting; the kinds that must converge now. */
  due(now: number): Set<WorkloadKind> {
    const kinds = new Set<WorkloadKind>();
    for (const r of this.book.values()) {
      if (r.phase === "waiting" && r.nextAt !== null && r.nextAt <= now) {
        r.phase = "starting";
        r.nextAt = null;
        kinds.add(r.kind);
      }
    }
    return kinds;
  }

  /**
   * After a convergence pass: the records of `kind` still starting were not started (the pass failed before
   * it got to them: the engine did not answer, a pull failed). They wait again, the backoff of their count
   * (no new death: the workload never ran), so the start is tried again rather than never. True if any.
   */
  requeue(kind: WorkloadKind, now: number): boolean {
    let any = false;
    for (const r of this.book.values()) {
      if (r.kind !== kind || r.phase !== "starting") continue;
      r.phase = "waiting";
      r.nextAt = now + Math.max(RESTART_BACKOFF_INITIAL_MS, restartDelayMs(r.count));
      any = true;
    }
    return any;
  }

  /** True while `service` lies dead after its first death as a web service: only a spec (the reconciler) starts it. */
  down(service: string): boolean {
    return this.book.get(service)?.phase === "down";
  }

  /**
   * `service` lies down since a death at or after `since` (ms): it is the agent's to start again (the engine's
   * own stop took it down, nobody's decision). Moves it to starting; true if so.
   */
  revive(service: string, since: number): boolean {
    const r = this.book.get(service);
    if (r?.phase !== "down" || r.lastExitAt < since) return false;
    r.phase = "starting";
    return true;
  }

  /** True while `service` waits out its backoff (convergence must not start it early). */
  waiting(service: string, now: number): boolean {
    const r = this.book.get(service);
    return r?.phase === "waiting" && r.nextAt !== null && r.nextAt > now;
  }

  /** The wait (ms) until the next due start, or null when nothing waits. */
  nextWait(now: number): number | null {
    let next: number | null = null;
    for (const r of this.book.values()) if (r.phase === "waiting" && r.nextAt !== null) next = Math.min(next ?? Infinity, Math.max(0, r.nextAt - now));
    return next;
  }

  /** True while `service` died again and again and the agent is about to start it again (state crashLooping). */
  crashLooping(service: string): boolean {
    const r = this.book.get(service);
    return r !== undefined && r.count >= 2 && (r.phase === "waiting" || r.phase === "starting");
  }

  /** The record of `service` (the time of its last death, for setLogTail), or undefined. */
  lastExitAt(service: string): number | undefined {
    return this.book.get(service)?.lastExitAt;
  }

  status(service: string): RestartsStatus | undefined {
    const r = this.book.get(service);
    if (!r || r.count === 0) return undefined;
    return {
      count: r.count,
      lastExit: r.lastExit,
      exitCode: r.exitCode,
      lastExitAt: new Date(r.lastExitAt).toISOString(),
      nextRestartAt: r.nextAt === null ? null : new Date(r.nextAt).toISOString(),
      logTail: [...r.logTail],
    };
  }

  private died(service: string, why: string, exitCode: number | null, now: number): number | null {
    const r = this.book.get(service)!;
    r.count++;
    r.lastExit = why.slice(0, RESTART_LOG_LINE_CHARS * 2);
    r.exitCode = exitCode;
    r.lastExitAt = now;
    r.logTail = [];
    if (r.kind === "web" && r.count === 1) {
      // A web service's first death is drift: the reconciler's policy decides whether it comes back.
      r.phase = "down";
      r.nextAt = null;
      return null;
    }
    const wait = restartDelayMs(r.count);
    r.phase = "waiting";
    r.nextAt = now + wait;
    return wait;
  }
}

/** "exited (3)" → 3; anything else → null. */
export function exitCodeOf(stateText: string | undefined): number | null {
  const m = /^exited \((-?\d+)\)$/.exec(stateText ?? "");
  return m ? Number(m[1]) : null;
}

/**
 * The last RESTART_LOG_LINES non-empty lines, control characters gone, each cut to RESTART_LOG_LINE_CHARS,
 * and every given secret value (the service's secret-looking env values) replaced by "[redacted]".
 */
export function clipLog(lines: readonly string[], secrets: readonly string[] = [], maxLines: number = RESTART_LOG_LINES, maxChars: number = RESTART_LOG_LINE_CHARS): string[] {
  const hidden = secrets.filter((s) => s.length >= 4);
  return lines
    .map((l) => {
      let t = l.replace(/[\u0000-\u0008\u000b-\u001f\u007f]/g, "").trimEnd();
      for (const s of hidden) t = t.split(s).join("[redacted]");
      return t.length > maxChars ? `${t.slice(0, maxChars - 1)}…` : t;
    })
    .filter((l) => l.length > 0)
    .slice(-maxLines);
}
