/**
 * Convergence: brings this node's workloads to the accepted spec — web services when a new spec arrives,
 * job services whenever the lease or the spec changes (only under a held lease), and a job that died under
 * the held lease again after its backoff (job-restarts.ts). Between specs it never repairs web drift by
 * itself: the reconciler's drift policy decides.
 */
import { performance } from "node:perf_hooks";
import type { Logger } from "pino";
import type { NodeSpec } from "../../specs/wire.js";
import type { Lease } from "../lease.js";
import { RuntimeError, type PullProgress, type Runtime, type Workload } from "../runtime.js";
import { matches, satisfied, workloadDef, type DriftOf } from "./workload.js";
import { Judgements, jobLike } from "./judgements.js";
import { JobRestarts } from "./job-restarts.js";

/** What convergence needs from the node agent around it. */
export interface ConvergeHost {
  readonly name: string;
  readonly runtime: Runtime;
  readonly publishAddress: string;
  readonly logger: Logger;
  /** The job lease (made when the agent starts). */
  lease(): Lease;
  spec(): NodeSpec | null;
  /** Re-list the workloads now (and wait for it). */
  refresh(): Promise<void>;
  /** Re-list the workloads soon (debounced). */
  scheduleRefresh(): void;
  changed(): void;
  changedSoon(): void;
}

export class Converger {
  /** The last error per service (pull, start), cleared when that service next succeeds. */
  readonly errors = new Map<string, string>();
  /** Pull progress per service while its image is pulled. */
  readonly pulling = new Map<string, PullProgress>();
  /** Ids of workloads being stopped. */
  readonly stopping = new Set<string>();
  private wanted = 0;
  private done = 0;
  private loop: Promise<void> | undefined;
  /** Deaths and backoff of job services under the held lease. */
  readonly restarts = new JobRestarts();
  private jobsLock: Promise<unknown> = Promise.resolve();
  private jobsBusy = false;
  /** performance.now() when job convergence last ended. */
  private jobsSettledAt = 0;
  private restartTimer: NodeJS.Timeout | undefined;
  private closed = false;
  /** What each workload is, judged against the spec (not by its labels). */
  readonly judged: Judgements;
  /** Aborted (and replaced) when a newer spec arrives: no web pull outlives its reason. */
  private pulls = new AbortController();
  /** The same for job pulls, also given up when the lease is revoked (a revocation never stops a deploy's pull). */
  private jobPulls = new AbortController();
  private readonly driftOf: DriftOf = (id, hash) => this.judged.of(id, hash);
  /** The pinned digest the local tag was last made to name. */
  private ensuredDigest: string | undefined;

  constructor(private readonly h: ConvergeHost) {
    this.judged = new Judgements(h.runtime);
  }

  /** Judges the workloads of a fresh listing against the accepted spec (each container once); `prune` for the observer's listing. */
  judge(ws: readonly Workload[], prune = false): Promise<void> {
    const spec = this.h.spec();
    return this.judged.update(ws, spec, (name, svc, epoch) => workloadDef(spec!, name, svc, this.h.publishAddress, epoch), prune);
  }

  /** Gives up the pulls in flight (a newer spec, closing). */
  abandonPulls(): void {
    this.pulls.abort();
    this.pulls = new AbortController();
    this.abandonJobPulls();
  }

  /** Gives up the job pulls in flight (a revoked lease). */
  abandonJobPulls(): void {
    this.jobPulls.abort();
    this.jobPulls = new AbortController();
  }

  /** True while a spec is accepted but not yet converged. */
  converging(): boolean {
    return this.done < this.wanted;
  }

  /** A new spec was accepted: converge (again) towards it. */
  kick(): void {
    this.abandonPulls();
    this.wanted++;
    this.loop ??= this.runLoop().finally(() => {
      this.loop = undefined;
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    this.pulls.abort();
    this.jobPulls.abort();
    if (this.restartTimer) clearTimeout(this.restartTimer);
    await this.loop?.catch(() => undefined);
  }

  /** Brings job containers in line with the lease. Serialised with revocation so none starts after one. */
  convergeJobs(): Promise<void> {
    const run = this.jobsLock.then(() => this.convergeJobsNow());
    this.jobsLock = run.catch(() => undefined);
    return run;
  }

  /**
   * A fresh listing of this node's workloads (begun at `listedAt`, performance.now()): a job that should run
   * under the held lease and does not is dead.
   */
  jobsObserved(workloads: readonly Workload[], listedAt: number): void {
    // Convergence itself stops and starts jobs: what a listing from before it settled shows is no death.
    if (this.jobsBusy || listedAt < this.jobsSettledAt || this.closed) return;
    const spec = this.h.spec();
    const lease = this.h.lease();
    const run = lease.held() && spec !== null && !spec.stopped && spec.tag !== undefined;
    const jobs = run ? Object.entries(spec.services).filter(([, s]) => s.job).map(([n]) => n) : [];
    const died = this.restarts.observe(workloads, jobs, lease.currentEpoch(), Date.now());
    for (const name of died) {
      const r = this.restarts.status(name)!;
      this.h.logger.warn({ service: name, exit: r.lastExit, restarts: r.count, nextRestartAt: r.nextRestartAt }, "job stopped under the lease; starting it again");
    }
    if (died.length > 0) this.h.changed();
    this.armRestart(this.restarts.nextWait(Date.now()));
  }

  private armRestart(wait: number | null): void {
    if (this.restartTimer) clearTimeout(this.restartTimer);
    this.restartTimer = undefined;
    if (wait === null || this.closed) return;
    this.restartTimer = setTimeout(() => {
      this.restartTimer = undefined;
      if (this.restarts.due(Date.now())) void this.convergeJobs();
      this.armRestart(this.restarts.nextWait(Date.now()));
    }, wait);
    this.restartTimer.unref();
  }

  private async runLoop(): Promise<void> {
    while (this.done < this.wanted && !this.closed) {
      const target = this.wanted;
      try {
        await this.convergeOnce(() => this.wanted !== target || this.closed);
      } catch (err) {
        this.h.logger.error({ err: (err as Error).message }, "converge failed");
      }
      if (this.wanted === target) this.done = target;
      await this.h.refresh();
      this.h.changed();
    }
  }

  private async convergeOnce(aborted: () => boolean): Promise<void> {
    const spec = this.h.spec();
    if (!spec) return;
    if (spec.digest !== undefined && spec.digest !== this.ensuredDigest && !spec.stopped && spec.tag !== undefined) {
      // The local tag must name the pinned content before containers are judged against it: after a
      // redeploy it names other content, and a container of the old content is then drift to replace.
      const web = Object.entries(spec.services).filter(([, s]) => !s.job).map(([n]) => n);
      if (!(await this.pull(spec, web, true)) || aborted()) return;
      this.ensuredDigest = spec.digest;
      this.judged.forget();
    }
    const all = await this.h.runtime.list(spec.app, this.h.name);
    await this.judge(all);
    // Orphans: this node's workloads of services no longer in the spec (or of another app name).
    await Promise.all(all.filter((w) => !(w.service in spec.services)).map((w) => this.stopWorkload(w, 10)));
    if (aborted()) return;
    const web = Object.entries(spec.services).filter(([, s]) => !s.job);
    if (spec.stopped || spec.tag === undefined) {
      await Promise.all(all.filter((w) => w.service in spec.services).map((w) => this.stopWorkload(w, spec.services[w.service]!.stopTimeoutSeconds)));
      for (const [name] of Object.entries(spec.services)) this.errors.delete(name);
      return;
    }
    const toStart = web.filter(([name, svc]) => !satisfied(all, name, svc, spec, this.driftOf));
    if (toStart.length > 0) {
      const ok = await this.pull(spec, toStart.map(([n]) => n));
      if (!ok || aborted()) return;
    }
    for (const [name, svc] of toStart) {
      if (aborted()) return;
      const mine = all.filter((w) => w.service === name);
      // Never two containers on one host port: the old one goes first. This only ever happens on a
      // colour without live traffic (the reconciler guarantees that), or to heal in place.
      await Promise.all(mine.map((w) => this.stopWorkload(w, svc.stopTimeoutSeconds)));
      try {
        await this.h.runtime.start(workloadDef(spec, name, svc, this.h.publishAddress));
        this.errors.delete(name);
      } catch (err) {
        this.errors.set(name, (err as Error).message);
        this.h.logger.warn({ service: name, err: (err as Error).message }, "cannot start service");
      }
      this.h.scheduleRefresh();
    }
    if (!aborted()) await this.convergeJobs();
  }

  private async convergeJobsNow(): Promise<void> {
    this.jobsBusy = true;
    try {
      await this.convergeJobsUnderLock();
    } finally {
      this.jobsBusy = false;
      this.jobsSettledAt = performance.now();
    }
  }

  private async convergeJobsUnderLock(): Promise<void> {
    const spec = this.h.spec();
    const lease = this.h.lease();
    const listed = await this.h.runtime.list(spec?.app ?? "", this.h.name);
    await this.judge(listed);
    // A job is a job because the spec says so; a workload the spec does not explain is stopped with them.
    const all = listed.filter((w) => jobLike(w, spec));
    const held = lease.held();
    const epoch = lease.currentEpoch();
    const run = held && spec && !spec.stopped && spec.tag !== undefined;
    // All at once: the reconciler's wait for an unreachable holder covers the longest stop, not their sum.
    await Promise.all(all.map((w) => {
      const svc = spec?.services[w.service];
      const keep = run && svc?.job && matches(w, w.service, svc, spec!, this.driftOf) && w.epoch === epoch && w.running;
      return keep ? undefined : this.stopWorkload(w, svc?.stopTimeoutSeconds ?? 10);
    }));
    if (!run) {
      this.restarts.reset();
      this.armRestart(null);
      await this.h.refresh();
      return;
    }
    for (const [name, svc] of Object.entries(spec!.services)) {
      if (!svc.job) continue;
      const running = all.some((w) => w.service === name && w.running && w.epoch === epoch && matches(w, name, svc, spec!, this.driftOf));
      if (running) {
        this.restarts.started(epoch, name);
        continue;
      }
      if (this.restarts.waiting(name, Date.now())) continue; // dying again and again: its backoff decides when
      if (!lease.held()) return; // lapsed meanwhile: never start a job without a lease
      try {
        await this.h.runtime.ensureImage(spec!.repository, spec!.tag!, undefined, this.jobPulls.signal, spec!.digest);
        if (!lease.held()) return;
        await this.h.runtime.start(workloadDef(spec!, name, svc, this.h.publishAddress, epoch));
        this.restarts.started(epoch, name);
        this.errors.delete(name);
      } catch (err) {
        if (err instanceof RuntimeError && err.kind === "aborted") return; // a newer spec or a revocation: no death
        this.errors.set(name, (err as Error).message);
        this.armRestart(this.restarts.failed(epoch, name, `cannot start: ${(err as Error).message}`, Date.now()));
      }
    }
    this.h.scheduleRefresh();
  }

  /** Pulls the spec's image; `quiet` shows services as pulling only once bytes move (usually nothing is pulled). */
  private async pull(spec: NodeSpec, services: string[], quiet = false): Promise<boolean> {
    if (!quiet) {
      for (const s of services) this.pulling.set(s, { currentBytes: 0, totalBytes: 0 });
      this.h.changed();
    }
    try {
      await this.h.runtime.ensureImage(spec.repository, spec.tag!, (p) => {
        for (const s of services) this.pulling.set(s, p);
        this.h.changedSoon();
      }, this.pulls.signal, spec.digest);
      for (const s of services) this.errors.delete(s);
      return true;
    } catch (err) {
      if (err instanceof RuntimeError && err.kind === "aborted") return false; // a newer spec takes over
      const msg = err instanceof RuntimeError ? err.message : `cannot pull ${spec.repository}:${spec.tag}: ${(err as Error).message}`;
      for (const s of services) this.errors.set(s, msg);
      this.h.logger.warn({ tag: spec.tag, err: msg }, "pull failed; running containers untouched");
      return false;
    } finally {
      for (const s of services) this.pulling.delete(s);
    }
  }

  private async stopWorkload(w: Workload, timeoutSeconds: number): Promise<void> {
    this.stopping.add(w.id);
    this.h.changedSoon();
    try {
      await this.h.runtime.stopAndRemove(w.id, timeoutSeconds);
      this.h.logger.info({ service: w.service, tag: w.tag, id: w.id.slice(0, 12) }, "container removed");
    } finally {
      this.stopping.delete(w.id);
      this.h.scheduleRefresh();
    }
  }
}
