/**
 * Convergence: brings this node's workloads to the accepted spec — web services when a new spec arrives,
 * job services whenever the lease or the spec changes (only under a held lease), and a workload that keeps
 * dying again after its backoff (restarts.ts: a job at once the first time, a web service only once it
 * died again after the reconciler had it started). Other web drift it never repairs by itself between
 * specs: the reconciler's drift policy decides. A pass knows why it runs: only a pass for a spec (a heal
 * is a new generation) starts a web service whose first death waits for the reconciler; a pass of the
 * agent's own (a due restart, a revive) leaves it down, unless the engine's own stop took it down.
 */
import { performance } from "node:perf_hooks";
import type { Logger } from "pino";
import type { NodeServiceSpec, NodeSpec } from "../../specs/wire.js";
import type { Lease } from "../lease.js";
import { ENGINE_STOP_WINDOW_MS, RESTART_LOG_LINES } from "../../specs/defaults.js";
import { RuntimeError, type PullProgress, type Runtime, type Workload, type WorkloadDef } from "../runtime.js";
import { matches, satisfied, specHash, workloadDef, type DriftOf } from "./workload.js";
import { Judgements, jobLike } from "./judgements.js";
import { Restarts, type ServiceLook } from "./restarts.js";
import type { NodeMetrics } from "./metrics.js";
import { SecretError, fingerprintLabel, loadSecrets } from "./secrets.js";
import { serviceImage, type ServiceImage } from "../../specs/images.js";

/** What convergence needs from the node agent around it. */
export interface ConvergeHost {
  readonly name: string;
  readonly runtime: Runtime;
  readonly publishAddress: string;
  /** agent.yaml secretsDir; absent: services that need a secret are not started. */
  readonly secretsDir?: string;
  readonly logger: Logger;
  /** Pull durations and outcomes go here. */
  readonly metrics?: NodeMetrics;
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

/** Env names whose values are kept out of the log lines in status. */
const SECRET_NAME = /secret|token|passw|pwd|key|credential|auth|private/i;

export class Converger {
  /** The last error per service (pull, start), cleared when that service next succeeds. */
  readonly errors = new Map<string, string>();
  /** Pull progress per service while its image is pulled. */
  readonly pulling = new Map<string, PullProgress>();
  /** Ids of workloads being stopped. */
  readonly stopping = new Set<string>();
  private wanted = 0;
  private done = 0;
  /** `wanted` when a spec was last accepted: a pass that includes it is a spec's pass (done below it). */
  private specAsked = 0;
  /** Web services down since a death at or after this (Date.now()) are started by the next pass: the engine's stop. */
  private reviveSince: number | undefined;
  private loop: Promise<void> | undefined;
  /** Deaths and backoff of every service (web and jobs). */
  readonly restarts = new Restarts();
  private jobsLock: Promise<unknown> = Promise.resolve();
  private jobsBusy = false;
  /** performance.now() when job convergence last ended. */
  private jobsSettledAt = 0;
  /** performance.now() when web convergence last ended. */
  private webSettledAt = 0;
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
  /** Per service, the secret values it was last started with: redacted from its log tail (memory only). */
  private readonly secretValues = new Map<string, readonly string[]>();

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
    this.specAsked = this.wanted;
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

  /**
   * The agent is stopping: every job workload of this node is stopped (all at once), each given at most
   * `boundSeconds` (the lease TTL) before it is killed, and none starts after this. Returns how many there were.
   */
  stopJobsForExit(boundSeconds: number): Promise<number> {
    this.closed = true;
    this.jobPulls.abort();
    const run = this.jobsLock.then(async () => {
      const spec = this.h.spec();
      const jobs = (await this.h.runtime.list(spec?.app ?? "", this.h.name)).filter((w) => jobLike(w, spec));
      await Promise.all(jobs.map((w) => this.stopWorkload(w, Math.min(spec?.services[w.service]?.stopTimeoutSeconds ?? boundSeconds, boundSeconds))));
      return jobs.length;
    });
    this.jobsLock = run.catch(() => undefined);
    return run;
  }

  /** Brings job containers in line with the lease. Serialised with revocation so none starts after one. */
  convergeJobs(): Promise<void> {
    const run = this.jobsLock.then(() => this.convergeJobsNow());
    this.jobsLock = run.catch(() => undefined);
    return run;
  }

  /**
   * A fresh listing of this node's workloads (begun at `listedAt`, performance.now()): a workload that
   * should run and does not is dead (a job under the held lease; a web service of the accepted spec).
   */
  observed(workloads: readonly Workload[], listedAt: number): void {
    if (this.closed) return;
    const now = Date.now();
    // Convergence itself stops and starts workloads: what a listing from before it settled shows is no death,
    // but a death may hide in it (a workload that exits at once): such a listing is followed by a fresh one,
    // and a pass counts the deaths its own listing shows before it starts anything (countDeaths).
    const jobsSettled = !this.jobsBusy && listedAt >= this.jobsSettledAt;
    const webSettled = !this.converging() && listedAt >= this.webSettledAt;
    if (jobsSettled) this.countDeaths(workloads, "job", now);
    if (webSettled) this.countDeaths(workloads, "web", now);
    if ((!this.jobsBusy && !jobsSettled) || (!this.converging() && !webSettled)) this.h.scheduleRefresh();
    this.armRestart();
  }

  /**
   * Counts the deaths of `kind` a listing shows (each death once: restarts.look) and logs them. Returns one
   * promise per death, settled once its last log lines are kept (before a pass removes the dead workload).
   */
  private countDeaths(workloads: readonly Workload[], kind: "web" | "job", now: number): Promise<void>[] {
    const died = this.looks(workloads, kind).filter((l) => this.restarts.look(l, now));
    const tails = died.map((l) => {
      const r = this.restarts.status(l.service)!;
      const again = r.nextRestartAt !== null;
      this.h.logger.warn({ service: l.service, exit: r.lastExit, restarts: r.count, nextRestartAt: r.nextRestartAt }, again ? "workload stopped; starting it again after its backoff" : "workload stopped");
      return l.dead ? this.keepLogTail(l.service, l.dead.id) : Promise.resolve();
    });
    if (died.length > 0) this.h.changed();
    return tails;
  }

  /**
   * A pass's own listing, before it starts anything: a workload the agent started that is dead in it is a
   * death (the observer leaves listings taken during a pass uncounted, and this pass would otherwise remove
   * it and start it again uncounted, one backoff step early ever after). Returns once their log lines are kept.
   */
  private async deathsBeforeStart(workloads: readonly Workload[], kind: "web" | "job"): Promise<void> {
    const tails = this.countDeaths(workloads, kind, Date.now());
    if (tails.length === 0) return;
    this.armRestart();
    await Promise.all(tails);
  }

  /** What should run of `kind` now, as the listing shows it; services that should not run are forgotten. */
  private looks(workloads: readonly Workload[], kind: "web" | "job"): ServiceLook[] {
    const spec = this.h.spec();
    const lease = this.h.lease();
    const runs = spec !== null && !spec.stopped && spec.tag !== undefined && (kind === "web" || lease.held());
    const epoch = lease.currentEpoch();
    const out: ServiceLook[] = [];
    for (const [name, svc] of Object.entries(runs ? spec.services : {})) {
      if (svc.job !== (kind === "job")) continue;
      const key = kind === "job" ? `epoch:${epoch}` : specHash(spec!, name, svc);
      const mine = workloads.filter((w) => w.service === name && w.kind === kind && (kind === "job" ? w.epoch === epoch : w.specHash === key));
      const running = mine.find((w) => w.running);
      const dead = mine.find((w) => !w.running);
      out.push({ service: name, kind, key, runningSince: running?.since ?? null, dead: dead ? { id: dead.id, stateText: dead.stateText } : null });
    }
    this.restarts.keepOnly(kind, new Set(out.map((l) => l.service)));
    return out;
  }

  /** The last log lines of a dead workload, into its restart record (secret-looking env values hidden). */
  private async keepLogTail(service: string, id: string): Promise<void> {
    const at = this.restarts.lastExitAt(service);
    if (!this.h.runtime.logTail || at === undefined) return;
    try {
      const lines = await this.h.runtime.logTail(id, RESTART_LOG_LINES * 4);
      const env = this.h.spec()?.services[service]?.env ?? {};
      const secrets = Object.entries(env).filter(([k]) => SECRET_NAME.test(k)).map(([, v]) => String(v));
      secrets.push(...(this.secretValues.get(service) ?? await this.readSecretValues(service)));
      this.restarts.setLogTail(service, at, lines, secrets);
      this.h.changed();
    } catch (err) {
      this.h.logger.debug({ service, err: (err as Error).message }, "cannot read the last log lines");
    }
  }

  /**
   * Starts a service's workload with its secrets read from the node's files now (a missing or insecure
   * file throws its coded error and nothing starts). The secrets' fingerprints go on the workload's labels.
   */
  private async startWorkload(spec: NodeSpec, name: string, svc: NodeServiceSpec, epoch?: number): Promise<string> {
    return this.h.runtime.start(await this.prepareWorkload(spec, name, svc, epoch));
  }

  /**
   * What to create for a service, with its secrets read and checked (a SecretError when they cannot be):
   * done before the workload it replaces is stopped, so a broken secret file never takes a running one down.
   */
  private async prepareWorkload(spec: NodeSpec, name: string, svc: NodeServiceSpec, epoch?: number): Promise<WorkloadDef> {
    const def = workloadDef(spec, name, svc, this.h.publishAddress, epoch);
    if (!svc.secrets?.length) return def;
    const s = await loadSecrets(this.h.secretsDir, name, svc.secrets, spec.secretsKey);
    try {
      this.h.runtime.checkEnv?.(name, s.env);
    } catch (err) {
      throw new SecretError("AGENT_ERR_SECRET_INVALID", `a secret of ${name} sets a name this runtime refuses (${(err as Error).message.replace(/^services\.[^.]+\.env\./, "")}); ${name} was not started`);
    }
    this.secretValues.set(name, s.values);
    return { ...def, env: { ...def.env, ...s.env }, secrets: fingerprintLabel(s.fingerprints) };
  }

  /** The values of a service's secrets as the files hold them now (none when they cannot be read). */
  private async readSecretValues(service: string): Promise<string[]> {
    const spec = this.h.spec();
    const names = spec?.services[service]?.secrets ?? [];
    return loadSecrets(this.h.secretsDir, service, names, undefined).then((s) => s.values, () => []);
  }

  /** (Re)arms the one timer for the next due restart, if any. */
  private armRestart(): void {
    if (this.restartTimer) clearTimeout(this.restartTimer);
    this.restartTimer = undefined;
    const wait = this.restarts.nextWait(Date.now());
    if (wait === null || this.closed) return;
    this.restartTimer = setTimeout(() => {
      this.restartTimer = undefined;
      const due = this.restarts.due(Date.now());
      if (due.has("web")) this.restartWeb();
      else if (due.has("job")) {
        void this.convergeJobs()
          .catch((err: Error) => this.h.logger.error({ err: err.message }, "starting jobs again failed"))
          .finally(() => this.requeueUnstarted());
      }
      this.armRestart();
    }, wait);
    this.restartTimer.unref();
  }

  /**
   * At the agent's start, and when the engine answers again after it went away: a web service of the spec
   * whose own workload is there but stopped (the engine or the VM restarted; the agent owns restarts, so
   * Docker's restart policy is off) is started again, as the engine's restart policy used to. Running
   * workloads are left as they are, and so is a first death from before the engine went away (`lostAt`,
   * Date.now(); none at the agent's start): that one waits for the reconciler.
   */
  async reviveStopped(lostAt?: number): Promise<void> {
    const spec = this.h.spec();
    if (!spec || spec.stopped || spec.tag === undefined) return;
    const since = lostAt === undefined ? Infinity : lostAt - ENGINE_STOP_WINDOW_MS;
    const all = await this.h.runtime.list(spec.app, this.h.name);
    const stopped = Object.entries(spec.services).filter(([name, svc]) => !svc.job
      && !(this.restarts.down(name) && (this.restarts.lastExitAt(name) ?? 0) < since)
      && !all.some((w) => w.service === name && w.running)
      && all.some((w) => w.service === name && w.tag === spec.tag && w.specHash === specHash(spec, name, svc)));
    if (stopped.length === 0) return;
    this.h.logger.info({ services: stopped.map(([n]) => n) }, "web services of the spec found stopped after an engine or VM restart: starting them again");
    if (lostAt !== undefined) this.reviveSince = Math.min(this.reviveSince ?? Infinity, since);
    this.restartWeb();
  }

  /** A web service's backoff is over: converge the accepted spec again (its jobs too), keeping pulls in flight. */
  private restartWeb(): void {
    this.wanted++;
    this.loop ??= this.runLoop().finally(() => {
      this.loop = undefined;
    });
  }

  private async runLoop(): Promise<void> {
    while (this.done < this.wanted && !this.closed) {
      const target = this.wanted;
      const fromSpec = this.specAsked > this.done;
      try {
        await this.convergeOnce(() => this.wanted !== target || this.closed, fromSpec);
      } catch (err) {
        this.h.logger.error({ err: (err as Error).message }, "converge failed");
      }
      if (this.wanted === target) this.done = target;
      this.webSettledAt = performance.now();
      await this.h.refresh();
      this.h.changed();
    }
    this.requeueUnstarted();
  }

  /** A due restart that a pass did not get to start (the engine gone, a pull failed) is tried again later, not never. */
  private requeueUnstarted(): void {
    if (this.closed) return;
    const web = this.restarts.requeue("web", Date.now());
    if (this.restarts.requeue("job", Date.now()) || web) this.armRestart();
  }

  /** One pass; `fromSpec`: it includes a spec the reconciler sent (only such a pass starts a web service lying down). */
  private async convergeOnce(aborted: () => boolean, fromSpec: boolean): Promise<void> {
    const spec = this.h.spec();
    if (!spec) return;
    const pinned = pinnedImages(spec);
    if (pinned !== "" && pinned !== this.ensuredDigest && !spec.stopped && spec.tag !== undefined) {
      // The local tag must name the pinned content before containers are judged against it: after a
      // redeploy it names other content, and a container of the old content is then drift to replace.
      const web = Object.entries(spec.services).filter(([, s]) => !s.job).map(([n]) => n);
      if (!(await this.pull(spec, web, true)) || aborted()) return;
      this.ensuredDigest = pinned;
      this.judged.forget();
    }
    const all = await this.h.runtime.list(spec.app, this.h.name);
    await this.judge(all);
    await this.deathsBeforeStart(all, "web");
    this.reviveEngineStopped(spec);
    // Orphans: this node's workloads of services no longer in the spec (or of another app name).
    await Promise.all(all.filter((w) => !(w.service in spec.services)).map((w) => this.stopWorkload(w, 10)));
    if (aborted()) return;
    const web = Object.entries(spec.services).filter(([, s]) => !s.job);
    if (spec.stopped || spec.tag === undefined) {
      await Promise.all(all.filter((w) => w.service in spec.services).map((w) => this.stopWorkload(w, spec.services[w.service]!.stopTimeoutSeconds)));
      for (const [name] of Object.entries(spec.services)) {
        this.errors.delete(name);
        this.restarts.forget(name);
      }
      return;
    }
    for (const [name, svc] of web) {
      if (!satisfied(all, name, svc, spec, this.driftOf)) continue;
      this.restarts.started(name, "web", specHash(spec, name, svc));
      this.errors.delete(name); // it runs what this spec wants: an error left from an older spec (a failed pull) no longer holds
    }
    // A web service that keeps dying waits out its backoff: its timer converges again then. One lying down
    // after its first death waits for the reconciler: only a spec's pass starts it (its drift policy decides).
    const toStart = web.filter(([name, svc]) => !satisfied(all, name, svc, spec, this.driftOf) && !this.restarts.waiting(name, Date.now())
      && (fromSpec || !this.restarts.down(name)));
    if (toStart.length > 0) {
      const ok = await this.pull(spec, toStart.map(([n]) => n));
      if (!ok || aborted()) return;
    }
    for (const [name, svc] of toStart) {
      if (aborted()) return;
      const mine = all.filter((w) => w.service === name);
      try {
        const def = await this.prepareWorkload(spec, name, svc);
        // Never two containers on one host port: the old one goes first. This only ever happens on a
        // colour without live traffic (the reconciler guarantees that), or to heal in place.
        await Promise.all(mine.map((w) => this.stopWorkload(w, svc.stopTimeoutSeconds)));
        await this.h.runtime.start(def);
        this.restarts.started(name, "web", specHash(spec, name, svc));
        this.errors.delete(name);
      } catch (err) {
        this.errors.set(name, (err as Error).message);
        this.h.logger.warn({ service: name, err: (err as Error).message }, "cannot start service");
        this.restarts.failed(name, "web", specHash(spec, name, svc), `cannot start: ${(err as Error).message}`, Date.now());
        this.armRestart();
      }
      this.h.scheduleRefresh();
    }
    if (!aborted()) await this.convergeJobs();
  }

  /** The engine came back (reviveStopped): the web services its stop took down are the agent's to start again. */
  private reviveEngineStopped(spec: NodeSpec): void {
    if (this.reviveSince === undefined) return;
    for (const [name, svc] of Object.entries(spec.services)) if (!svc.job) this.restarts.revive(name, this.reviveSince);
    this.reviveSince = undefined;
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
    await this.deathsBeforeStart(listed, "job");
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
      this.restarts.keepOnly("job", new Set());
      this.armRestart();
      await this.h.refresh();
      return;
    }
    for (const [name, svc] of Object.entries(spec!.services)) {
      if (!svc.job) continue;
      const running = all.some((w) => w.service === name && w.running && w.epoch === epoch && matches(w, name, svc, spec!, this.driftOf));
      if (running) {
        this.restarts.started(name, "job", `epoch:${epoch}`);
        continue;
      }
      if (this.restarts.waiting(name, Date.now())) continue; // dying again and again: its backoff decides when
      if (!lease.confirmed()) return; // lapsed meanwhile, or adopted and not yet renewed: never start a job without a lease
      try {
        const image = serviceImage(spec!, svc);
        await this.h.runtime.ensureImage(image.repository, spec!.tag!, undefined, this.jobPulls.signal, image.digest);
        if (!lease.confirmed() || this.closed) return;
        await this.startWorkload(spec!, name, svc, epoch);
        this.restarts.started(name, "job", `epoch:${epoch}`);
        this.errors.delete(name);
      } catch (err) {
        if (err instanceof RuntimeError && err.kind === "aborted") return; // a newer spec or a revocation: no death
        this.errors.set(name, (err as Error).message);
        this.restarts.failed(name, "job", `epoch:${epoch}`, `cannot start: ${(err as Error).message}`, Date.now());
        this.armRestart();
      }
    }
    this.h.scheduleRefresh();
  }

  /** Pulls the images of `services`; `quiet` shows services as pulling only once bytes move (usually nothing is pulled). */
  private async pull(spec: NodeSpec, services: string[], quiet = false): Promise<boolean> {
    if (!quiet) {
      for (const s of services) this.pulling.set(s, { currentBytes: 0, totalBytes: 0 });
      this.h.changed();
    }
    const t0 = performance.now();
    const took = () => (performance.now() - t0) / 1000;
    // One pull per image the services run (each service may name its own repository).
    const byImage = new Map<string, { image: ServiceImage; services: string[] }>();
    for (const s of services) {
      const image = serviceImage(spec, spec.services[s]!);
      const key = `${image.repository}@${image.digest ?? ""}`;
      byImage.set(key, { image, services: [...(byImage.get(key)?.services ?? []), s] });
    }
    let failed: { image: ServiceImage; services: string[] } | undefined;
    try {
      for (const group of byImage.values()) {
        failed = group;
        await this.h.runtime.ensureImage(group.image.repository, spec.tag!, (p) => {
          for (const s of group.services) this.pulling.set(s, p);
          this.h.changedSoon();
        }, this.pulls.signal, group.image.digest);
      }
      for (const s of services) this.errors.delete(s);
      this.h.metrics?.pull(took(), true);
      return true;
    } catch (err) {
      if (err instanceof RuntimeError && err.kind === "aborted") return false; // a newer spec takes over
      this.h.metrics?.pull(took(), false);
      const repository = failed?.image.repository ?? spec.repository;
      const msg = err instanceof RuntimeError ? err.message : `cannot pull ${repository}:${spec.tag}: ${(err as Error).message}`;
      for (const s of failed?.services ?? services) this.errors.set(s, msg);
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
    } catch (err) {
      // Stopped but not removed: it holds no port and the runtime retries its removal, so it never keeps a
      // replacement from starting. Still running: that would hold the port, and blocks.
      if (!(err instanceof RuntimeError && err.kind === "unremovable")) throw err;
      this.h.logger.warn({ service: w.service, tag: w.tag, id: w.id.slice(0, 12), err: err.message }, "a stopped container cannot be removed; starting the new one beside it, its removal is retried");
    } finally {
      this.stopping.delete(w.id);
      this.h.scheduleRefresh();
    }
  }
}

/** The pinned contents a spec's services run (`repository@digest`, sorted), "" when nothing is pinned. */
function pinnedImages(spec: NodeSpec): string {
  const out = new Set<string>();
  for (const svc of Object.values(spec.services)) {
    const image = serviceImage(spec, svc);
    if (image.digest !== undefined && !svc.job) out.add(`${image.repository}@${image.digest}`);
  }
  return [...out].sort().join(",");
}
