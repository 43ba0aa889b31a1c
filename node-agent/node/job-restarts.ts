/**
 * Jobs stay up while the lease is held: a job that stops by itself (it exits, is killed, or is removed
 * behind the agent's back) or cannot be started is started again — at once the first time, then with an
 * exponential backoff while it keeps dying (the kubelet's CrashLoopBackOff), and the count starts over once
 * it has run JOB_RESTART_RESET_MS in one go. One record per job service says how it last died and when the
 * next start comes (status `restarts`, which the reconciler turns into a JobDown alert). This file only
 * keeps the books; convergence.ts does the starting.
 */
import type { ServiceStatus } from "../../specs/wire.js";
import type { Workload } from "../runtime.js";
import { JOB_RESTART_BACKOFF_INITIAL_MS, JOB_RESTART_BACKOFF_MAX_MS, JOB_RESTART_RESET_MS } from "../../specs/defaults.js";

export type JobRestartsStatus = NonNullable<ServiceStatus["restarts"]>;

/** The wait before the start after death number `count` (1-based): none for the first, then doubling, capped. */
export function restartDelayMs(count: number): number {
  if (count <= 1) return 0;
  return Math.min(JOB_RESTART_BACKOFF_MAX_MS, JOB_RESTART_BACKOFF_INITIAL_MS * 2 ** Math.min(count - 2, 30));
}

interface JobRecord {
  count: number;
  lastExit: string;
  lastExitAt: number;
  /** up: started and expected to run; waiting: dead, next start at nextAt; starting: a start was asked for. */
  phase: "up" | "waiting" | "starting";
  nextAt: number | null;
}

export class JobRestarts {
  private epoch = -1;
  /** Job services started under `epoch` and expected to run; their records when they died since. */
  private readonly up = new Set<string>();
  private readonly book = new Map<string, JobRecord>();

  /** Convergence started job `service` under `epoch` (or found it running). */
  started(epoch: number, service: string): void {
    if (epoch !== this.epoch) this.reset(epoch);
    this.up.add(service);
    const r = this.book.get(service);
    if (r) {
      r.phase = "up";
      r.nextAt = null;
    }
  }

  /** Convergence could not start job `service` under `epoch`: counts as a death. Returns the wait before the next try. */
  failed(epoch: number, service: string, why: string, now: number): number {
    if (epoch !== this.epoch) this.reset(epoch);
    this.up.add(service);
    return this.died(service, why, now);
  }

  /** The lease or the spec stops the jobs (or the epoch changed): every record goes. */
  reset(epoch = -1): void {
    this.epoch = epoch;
    this.up.clear();
    this.book.clear();
  }

  /**
   * One observation of this node's workloads while the jobs `jobs` (of the spec) should run under `epoch`.
   * Returns the services seen dead just now.
   */
  observe(workloads: readonly Workload[], jobs: readonly string[], epoch: number, now: number): string[] {
    const died: string[] = [];
    if (epoch !== this.epoch) {
      this.reset(jobs.length > 0 ? epoch : -1);
      return died;
    }
    for (const service of [...this.up]) {
      if (!jobs.includes(service)) {
        this.up.delete(service);
        this.book.delete(service);
        continue;
      }
      const mine = workloads.filter((w) => w.service === service && w.kind === "job");
      const running = mine.find((w) => w.running && w.epoch === epoch);
      const r = this.book.get(service);
      if (running) {
        if (r?.phase === "up" && now - Date.parse(running.since) >= JOB_RESTART_RESET_MS) this.book.delete(service);
        continue;
      }
      if (r && r.phase !== "up") continue; // already waiting, or a start is on its way
      this.died(service, mine.find((w) => w.epoch === epoch)?.stateText ?? "missing", now);
      died.push(service);
    }
    return died;
  }

  /** The records whose wait is over move to starting; true when any did (convergence must run). */
  due(now: number): boolean {
    let any = false;
    for (const r of this.book.values()) {
      if (r.phase === "waiting" && r.nextAt !== null && r.nextAt <= now) {
        r.phase = "starting";
        r.nextAt = null;
        any = true;
      }
    }
    return any;
  }

  /** True while job `service` waits out its backoff (convergence must not start it early). */
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

  status(service: string): JobRestartsStatus | undefined {
    const r = this.book.get(service);
    if (!r) return undefined;
    return { count: r.count, lastExit: r.lastExit, lastExitAt: new Date(r.lastExitAt).toISOString(), nextRestartAt: r.nextAt === null ? null : new Date(r.nextAt).toISOString() };
  }

  private died(service: string, why: string, now: number): number {
    const r = this.book.get(service);
    const count = (r?.count ?? 0) + 1;
    const wait = restartDelayMs(count);
    this.book.set(service, { count, lastExit: why, lastExitAt: now, phase: "waiting", nextAt: now + wait });
    return wait;
  }
}
