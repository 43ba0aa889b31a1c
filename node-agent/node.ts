/**
 * One node's agent core (role: node): holds the accepted spec, converges the runtime towards it when a
 * new spec arrives, and observes always. Between specs it never repairs drift by itself: it reports it,
 * and the reconciler's drift policy decides. Job containers run only under a held lease.
 */
import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import type { Logger } from "pino";
import type { NodeSpec, NodeServiceSpec, NodeStatus, ServiceStatus, ServiceState } from "../specs/wire.js";
import { canonical, sameSpec } from "../specs/equality.js";
import { agentError } from "./errors.js";
import { HealthProbe, type Health } from "./health.js";
import { Lease, type LeaseMemory } from "./lease.js";
import { RuntimeError, type PullProgress, type Runtime, type Workload, type WorkloadDef } from "./runtime.js";
import { writeFileAtomic } from "../common/atomic-file.js";
import { refuseNotAllowed, restoreSpec, specFile, type NodeBounds } from "./node-spec-store.js";
import { containerLimits, type ContainerBounds } from "./container-bounds.js";
import { Judgements, jobLike } from "./judgements.js";

export interface NodeAgentOptions {
  name: string;
  dataDir: string;
  runtime: Runtime;
  publishAddress: string;
  allowedRepositories: readonly string[];
  logger: Logger;
  bootId: string;
  containers: ContainerBounds;
}

/** Resync with the runtime this often even without events (events do the real work). */
const RESYNC_MS = 30_000;
/** Coalesce bursts of runtime events into one refresh. */
const REFRESH_DEBOUNCE_MS = 25;

interface ServiceMemo {
  state: ServiceState;
  tag: string | null;
  since: string;
}

export class NodeAgent {
  private spec: NodeSpec | null = null;
  private workloads: Workload[] = [];
  private readonly probes = new Map<string, HealthProbe>(); // by workload id + probe settings
  private readonly errors = new Map<string, string>(); // by service
  private readonly pulling = new Map<string, PullProgress>(); // by service
  private readonly stopping = new Set<string>(); // workload ids
  private readonly memo = new Map<string, ServiceMemo>();
  private judged!: Judgements;
  private runtimeError: string | null = null;
  /** Why the persisted spec could not be restored at start-up (it was moved aside); null once a spec is accepted. */
  private specError: string | null = null;
  private readonly listeners = new Set<() => void>();
  private lease!: Lease;
  private unwatch: (() => void) | undefined;
  private resync: NodeJS.Timeout | undefined;
  private refreshTimer: NodeJS.Timeout | undefined;
  private refreshing: Promise<void> | undefined;
  private refreshAgain = false;
  private wanted = 0;
  private done = 0;
  private loop: Promise<void> | undefined;
  private jobsLock: Promise<unknown> = Promise.resolve();
  /** Aborted (and replaced) when a newer spec arrives or the lease is revoked: no pull outlives its reason. */
  private pulls = new AbortController();
  private closed = false;

  constructor(private readonly o: NodeAgentOptions) {}

  /** Restores the last spec and observes; touches nothing except job leftovers (no lease after a start). */
  async start(): Promise<void> {
    this.judged = new Judgements(this.o.runtime);
    const restored = await restoreSpec(this.o.dataDir, this.bounds(), this.o.logger);
    this.spec = restored.spec;
    this.specError = restored.error;
    const mem = (await readJson<LeaseMemory>(join(this.o.dataDir, "lease.json"))) ?? { highestEpoch: 0, revokedThrough: 0 };
    this.lease = new Lease(mem, () => {
      this.o.logger.warn({ epoch: this.lease.currentEpoch() }, "job lease lapsed; stopping job containers");
      void this.convergeJobs();
      this.emit();
    });
    await this.convergeJobs(); // never run jobs without a fresh lease
    await this.refresh();
    this.unwatch = this.o.runtime.watch(this.o.name, () => this.scheduleRefresh());
    this.resync = setInterval(() => this.scheduleRefresh(), RESYNC_MS);
    this.resync.unref();
  }

  async close(): Promise<void> {
    this.closed = true;
    this.pulls.abort();
    this.unwatch?.();
    if (this.resync) clearInterval(this.resync);
    if (this.refreshTimer) clearTimeout(this.refreshTimer);
    for (const p of this.probes.values()) p.stop();
    this.lease?.close();
    await this.loop?.catch(() => undefined);
  }

  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** PUT /v1/spec. Idempotent for the same generation and content; refuses anything not allowed here. */
  async applySpec(spec: NodeSpec): Promise<{ changed: boolean }> {
    refuseNotAllowed(spec, this.bounds());
    const current = this.spec;
    if (current && spec.generation < current.generation) {
      throw agentError("AGENT_ERR_STALE_GENERATION", `generation ${spec.generation} is older than the accepted generation ${current.generation}`);
    }
    if (current && spec.generation === current.generation) {
      if (sameSpec(current, spec)) return { changed: false };
      throw agentError("AGENT_ERR_STALE_GENERATION", `generation ${spec.generation} was already accepted with different content; send a higher generation`);
    }
    await writeFileAtomic(specFile(this.o.dataDir), JSON.stringify(spec, null, 2));
    this.spec = spec;
    this.specError = null;
    this.o.logger.info({ generation: spec.generation, tag: spec.tag, stopped: spec.stopped }, "spec accepted");
    this.kick();
    this.emit();
    return { changed: true };
  }

  /** PUT /v1/lease. */
  async grantLease(epoch: number, ttlMs: number): Promise<void> {
    const changed = this.lease.grant(epoch, ttlMs);
    await this.persistLease();
    if (changed) {
      this.o.logger.info({ epoch, ttlMs }, "job lease granted");
      void this.convergeJobs();
    }
    this.emit();
  }

  /** DELETE /v1/lease: resolves once every job container of this node has stopped. */
  async revokeLease(): Promise<void> {
    this.lease.revoke();
    this.abandonPulls();
    await this.persistLease();
    this.o.logger.info({ epoch: this.lease.currentEpoch() }, "job lease revoked");
    this.emit();
    await this.convergeJobs();
    const left = (await this.o.runtime.list(this.appName(), this.o.name)).filter((w) => jobLike(w, this.spec) && w.running);
    if (left.length > 0) throw agentError("AGENT_ERR_RUNTIME", `${left.length} job container(s) still running after revocation`);
  }

  status(): NodeStatus {
    const services: Record<string, ServiceStatus> = {};
    const spec = this.spec;
    const names = new Set<string>([...Object.keys(spec?.services ?? {}), ...this.workloads.map((w) => w.service)]);
    for (const name of [...names].sort()) services[name] = this.serviceStatus(name, spec?.services[name]);
    return {
      kind: "NodeStatus",
      node: this.o.name,
      role: "node",
      bootId: this.o.bootId,
      observedGeneration: spec?.generation ?? 0,
      spec,
      converging: this.done < this.wanted,
      services,
      lease: this.lease.status(),
      error: [this.runtimeError, this.specError].filter((e) => e !== null).join("; ") || null,
    };
  }

  // ---- converging -------------------------------------------------------------------------

  private kick(): void {
    this.abandonPulls();
    this.wanted++;
    this.loop ??= this.runLoop().finally(() => {
      this.loop = undefined;
    });
  }

  private async runLoop(): Promise<void> {
    while (this.done < this.wanted && !this.closed) {
      const target = this.wanted;
      try {
        await this.convergeOnce(() => this.wanted !== target || this.closed);
      } catch (err) {
        this.o.logger.error({ err: (err as Error).message }, "converge failed");
      }
      if (this.wanted === target) this.done = target;
      await this.refresh();
      this.emit();
    }
  }

  private async convergeOnce(aborted: () => boolean): Promise<void> {
    const spec = this.spec;
    if (!spec) return;
    const all = await this.o.runtime.list(spec.app, this.o.name);
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
    const toStart = web.filter(([name, svc]) => !this.satisfied(all, name, svc, spec));
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
        await this.o.runtime.start(this.workloadDef(spec, name, svc));
        this.errors.delete(name);
      } catch (err) {
        this.errors.set(name, (err as Error).message);
        this.o.logger.warn({ service: name, err: (err as Error).message }, "cannot start service");
      }
      this.scheduleRefresh();
    }
    if (!aborted()) await this.convergeJobs();
  }

  /** Brings job containers in line with the lease. Serialised with revocation so none starts after one. */
  private convergeJobs(): Promise<void> {
    const run = this.jobsLock.then(() => this.convergeJobsNow());
    this.jobsLock = run.catch(() => undefined);
    return run;
  }

  private async convergeJobsNow(): Promise<void> {
    const spec = this.spec;
    const listed = await this.o.runtime.list(spec?.app ?? this.appName(), this.o.name);
    await this.judge(listed);
    const all = listed.filter((w) => jobLike(w, spec));
    const held = this.lease.held();
    const epoch = this.lease.currentEpoch();
    const run = held && spec && !spec.stopped && spec.tag !== undefined;
    // All at once: the reconciler's wait for an unreachable holder covers the longest stop, not their sum.
    await Promise.all(all.map((w) => {
      const svc = spec?.services[w.service];
      const keep = run && svc?.job && this.matches(w, w.service, svc, spec!) && w.epoch === epoch && w.running;
      return keep ? undefined : this.stopWorkload(w, svc?.stopTimeoutSeconds ?? 10);
    }));
    if (!run) {
      await this.refresh();
      return;
    }
    for (const [name, svc] of Object.entries(spec!.services)) {
      if (!svc.job) continue;
      const running = all.some((w) => w.service === name && w.running && w.epoch === epoch && this.matches(w, name, svc, spec!));
      if (running) continue;
      if (!this.lease.held()) return; // lapsed meanwhile: never start a job without a lease
      try {
        await this.o.runtime.ensureImage(spec!.repository, spec!.tag!, undefined, this.pulls.signal);
        if (!this.lease.held()) return;
        await this.o.runtime.start(this.workloadDef(spec!, name, svc, epoch));
        this.errors.delete(name);
      } catch (err) {
        this.errors.set(name, (err as Error).message);
      }
    }
    this.scheduleRefresh();
  }

  private async pull(spec: NodeSpec, services: string[]): Promise<boolean> {
    for (const s of services) this.pulling.set(s, { currentBytes: 0, totalBytes: 0 });
    this.emit();
    try {
      await this.o.runtime.ensureImage(spec.repository, spec.tag!, (p) => {
        for (const s of services) this.pulling.set(s, p);
        this.emitSoon();
      }, this.pulls.signal);
      for (const s of services) this.errors.delete(s);
      return true;
    } catch (err) {
      if (err instanceof RuntimeError && err.kind === "aborted") return false; // a newer spec takes over
      const msg = err instanceof RuntimeError ? err.message : `cannot pull ${spec.repository}:${spec.tag}: ${(err as Error).message}`;
      for (const s of services) this.errors.set(s, msg);
      this.o.logger.warn({ tag: spec.tag, err: msg }, "pull failed; running containers untouched");
      return false;
    } finally {
      for (const s of services) this.pulling.delete(s);
    }
  }

  private abandonPulls(): void {
    this.pulls.abort();
    this.pulls = new AbortController();
  }

  private async stopWorkload(w: Workload, timeoutSeconds: number): Promise<void> {
    this.stopping.add(w.id);
    this.emitSoon();
    try {
      await this.o.runtime.stopAndRemove(w.id, timeoutSeconds);
      this.o.logger.info({ service: w.service, tag: w.tag, id: w.id.slice(0, 12) }, "container removed");
    } finally {
      this.stopping.delete(w.id);
      this.scheduleRefresh();
    }
  }

  private satisfied(all: Workload[], name: string, svc: NodeServiceSpec, spec: NodeSpec): boolean {
    const mine = all.filter((w) => w.service === name);
    return mine.length === 1 && mine[0]!.running && this.matches(mine[0]!, name, svc, spec);
  }

  private matches(w: Workload, name: string, svc: NodeServiceSpec, spec: NodeSpec): boolean {
    const hash = specHash(spec, name, svc);
    return w.tag === spec.tag && w.specHash === hash && this.judged.of(w.id, hash).length === 0;
  }

  private judge(ws: readonly Workload[]): Promise<void> {
    const spec = this.spec;
    return this.judged.update(ws, spec, (name, svc, epoch) => this.workloadDef(spec!, name, svc, epoch));
  }

  private workloadDef(spec: NodeSpec, name: string, svc: NodeServiceSpec, epoch?: number): WorkloadDef {
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries(svc.env ?? {})) env[k] = String(v);
    if (svc.port !== undefined && env.PORT === undefined) env.PORT = String(svc.port);
    Object.assign(env, {
      SWITCHYARD_APP: spec.app,
      SWITCHYARD_COLOR: spec.color,
      SWITCHYARD_TAG: spec.tag!,
      SWITCHYARD_NODE: spec.node,
      SWITCHYARD_SERVICE: name,
      ...(epoch !== undefined ? { SWITCHYARD_JOBS_EPOCH: String(epoch) } : {}),
    });
    return {
      app: spec.app,
      node: spec.node,
      color: spec.color,
      service: name,
      repository: spec.repository,
      tag: spec.tag!,
      kind: svc.job ? "job" : "web",
      specHash: specHash(spec, name, svc),
      ...(epoch !== undefined ? { epoch } : {}),
      ...(svc.command ? { command: svc.command } : {}),
      env,
      ...(svc.port !== undefined ? { port: svc.port } : {}),
      ...(svc.hostPort !== undefined ? { hostPort: svc.hostPort } : {}),
      publishAddress: this.o.publishAddress,
      restart: svc.job ? "no" : "unless-stopped",
      ...containerLimits(svc),
    };
  }

  // ---- observing ----------------------------------------------------------------------------

  private scheduleRefresh(): void {
    if (this.closed || this.refreshTimer) return;
    this.refreshTimer = setTimeout(() => {
      this.refreshTimer = undefined;
      void this.refresh();
    }, REFRESH_DEBOUNCE_MS);
  }

  /** Re-lists this node's workloads and (re)starts health probes; emits when anything changed. */
  private async refresh(): Promise<void> {
    if (this.refreshing) {
      this.refreshAgain = true;
      return this.refreshing;
    }
    this.refreshing = (async () => {
      do {
        this.refreshAgain = false;
        try {
          const ws = await this.o.runtime.list(this.appName(), this.o.name);
          await this.judge(ws);
          this.workloads = ws;
          this.runtimeError = null;
        } catch (err) {
          this.runtimeError = (err as Error).message;
        }
        this.syncProbes();
        this.emit();
      } while (this.refreshAgain && !this.closed);
    })().finally(() => {
      this.refreshing = undefined;
    });
    return this.refreshing;
  }

  private syncProbes(): void {
    const live = new Set<string>();
    for (const w of this.workloads) {
      const svc = this.spec?.services[w.service];
      if (!w.running || w.kind !== "web" || !svc || svc.hostPort === undefined) continue;
      // A new spec may change how the service is probed: the key includes the settings.
      const key = probeKey(w.id, svc);
      live.add(key);
      if (this.probes.has(key)) continue;
      const probe = new HealthProbe(
        {
          host: this.o.publishAddress === "0.0.0.0" || this.o.publishAddress === "::" ? "127.0.0.1" : this.o.publishAddress,
          port: svc.hostPort,
          ...svc.health,
        },
        () => this.emit(),
      );
      this.probes.set(key, probe);
      probe.start();
    }
    for (const [id, p] of this.probes) {
      if (!live.has(id)) {
        p.stop();
        this.probes.delete(id);
      }
    }
  }

  private serviceStatus(name: string, svc: NodeServiceSpec | undefined): ServiceStatus {
    const mine = this.workloads.filter((w) => w.service === name);
    const w = mine.find((x) => x.running) ?? mine[0];
    const pull = this.pulling.get(name);
    let state: ServiceState;
    let health: Health = "unknown";
    if (pull) state = "pulling";
    else if (w && this.stopping.has(w.id)) state = "stopping";
    else if (!w) state = "missing";
    else if (!w.running) state = w.stateText === "created" || w.stateText === "restarting" ? "starting" : "exited";
    else {
      const probe = svc ? this.probes.get(probeKey(w.id, svc)) : undefined;
      if (w.kind === "web" && svc?.hostPort !== undefined && probe) {
        health = probe.health;
        state = health === "healthy" ? "running" : health === "unhealthy" ? "unhealthy" : "starting";
      } else state = "running";
    }
    const probeError = w && svc ? this.probes.get(probeKey(w.id, svc))?.lastError ?? null : null;
    const drift = w && svc && this.spec ? [...this.judged.of(w.id, specHash(this.spec, name, svc))] : [];
    const runningCount = mine.filter((x) => x.running).length;
    if (svc && runningCount > 1) drift.push(`is one of ${runningCount} running containers of this service; the spec asks for one`);
    const error = (drift.length > 0 ? `the container is not what the spec asks for: it ${drift.join("; ")}` : null) ?? this.errors.get(name) ?? (state === "unhealthy" || state === "starting" ? probeError : null) ?? (state === "exited" ? `container ${w!.stateText}` : null);
    // A drifted container's tag label says nothing: labels can be copied.
    const tag = pull || drift.length > 0 ? null : w?.tag ?? null;
    const prev = this.memo.get(name);
    const since = prev && prev.state === state && prev.tag === tag ? prev.since : new Date().toISOString();
    this.memo.set(name, { state, tag, since });
    return {
      tag,
      containerId: pull ? null : w?.id ?? null,
      state,
      health,
      since,
      error,
      ...(pull ? { pull } : {}),
      ...(drift.length > 0 ? { drift: [...drift] } : {}),
    };
  }

  private emitTimer: NodeJS.Timeout | undefined;
  private emitSoon(): void {
    if (this.emitTimer) return;
    this.emitTimer = setTimeout(() => {
      this.emitTimer = undefined;
      this.emit();
    }, 100);
    this.emitTimer.unref();
  }

  private emit(): void {
    for (const l of this.listeners) l();
  }

  private bounds(): NodeBounds {
    return { name: this.o.name, allowedRepositories: this.o.allowedRepositories, runtime: this.o.runtime, containers: this.o.containers };
  }

  private appName(): string {
    return this.spec?.app ?? "";
  }

  private async persistLease(): Promise<void> {
    await writeFileAtomic(join(this.o.dataDir, "lease.json"), JSON.stringify(this.lease.memory()));
  }
}

function probeKey(id: string, svc: NodeServiceSpec): string {
  return `${id}|${svc.hostPort}|${canonical(svc.health)}`;
}

/** Everything that defines a service's container; a change means the container is replaced. */
export function specHash(spec: NodeSpec, name: string, svc: NodeServiceSpec): string {
  const identity = { repository: spec.repository, tag: spec.tag, color: spec.color, name, port: svc.port, hostPort: svc.hostPort, env: svc.env, command: svc.command, job: svc.job, ...containerLimits(svc) };
  return createHash("sha256").update(canonical(identity)).digest("hex").slice(0, 16);
}

async function readJson<T>(file: string): Promise<T | null> {
  try {
    return JSON.parse(await readFile(file, "utf8")) as T;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw new Error(`cannot read ${file}: ${(err as Error).message}; move it aside to start from scratch`);
  }
}
