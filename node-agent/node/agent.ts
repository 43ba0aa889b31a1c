/**
 * One node's agent core (role: node): holds the accepted spec, has it converged when a new one arrives, and
 * observes always. The parts: admission.ts (what is accepted), convergence.ts (bringing workloads to it),
 * observer.ts (what runs and how healthy), status.ts (NodeStatus services). Job containers run only under
 * a held lease (lease.ts); a workload that keeps dying is started again with a backoff (restarts.ts).
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import type { Logger } from "pino";
import { VERSION } from "../../common/version.js";
import { DEFAULT_LEASE_TTL_SECONDS } from "../../specs/defaults.js";
import { NODE_FEATURES, type NodeSpec, type NodeStatus } from "../../specs/wire.js";
import { specEcho } from "../../specs/secrets.js";
import { secretsKeyId } from "../../specs/secrets-key-id.js";
import { writeFileAtomic } from "../../common/atomic-file.js";
import { agentError } from "../errors.js";
import { Lease, type LeaseMemory } from "../lease.js";
import type { LogOptions, Runtime, Workload } from "../runtime.js";
import type { LogLine } from "../../specs/logs.js";
import { admitSpec, restoreSpec, type NodeBounds } from "./admission.js";
import { Converger } from "./convergence.js";
import { Observer } from "./observer.js";
import { ServiceStatusBook } from "./status.js";
import { jobLike } from "./judgements.js";
import type { ContainerBounds } from "../container-bounds.js";
import type { Registry } from "../../common/metrics.js";
import { NodeMetrics } from "./metrics.js";
import { TaskRunner } from "./tasks.js";
import type { TaskRecord, TaskRunRequest } from "../../specs/tasks.js";

export interface NodeAgentOptions {
  name: string;
  dataDir: string;
  runtime: Runtime;
  publishAddress: string;
  allowedRepositories: readonly string[];
  logger: Logger;
  bootId: string;
  /** agent.yaml containers: the most memory, processes and capabilities a service may ask for. */
  containers: ContainerBounds;
  /** agent.yaml secretsDir (resolved); absent: a service that needs a secret is not started. */
  secretsDir?: string;
}

export class NodeAgent {
  readonly role = "node" as const;
  private spec: NodeSpec | null = null;
  /** Why the persisted spec could not be restored at start-up (it was moved aside); null once a spec is accepted. */
  private specError: string | null = null;
  private readonly listeners = new Set<() => void>();
  private lease!: Lease;
  private readonly seen: Observer;
  private readonly work: Converger;
  private readonly book: ServiceStatusBook;
  private emitTimer: NodeJS.Timeout | undefined;
  private readonly metrics = new NodeMetrics();
  private readonly tasks: TaskRunner;

  constructor(private readonly o: NodeAgentOptions) {
    const host = {
      name: o.name,
      runtime: o.runtime,
      publishAddress: o.publishAddress,
      ...(o.secretsDir !== undefined ? { secretsDir: o.secretsDir } : {}),
      logger: o.logger,
      metrics: this.metrics,
      spec: () => this.spec,
      changed: () => this.emit(),
      changedSoon: () => this.emitSoon(),
      refresh: () => this.seen.refresh(),
      scheduleRefresh: () => this.seen.scheduleRefresh(),
      observed: (ws: readonly Workload[], listedAt: number) => this.work.observed(ws, listedAt),
      judge: (ws: readonly Workload[]) => this.work.judge(ws, true),
    };
    this.seen = new Observer(host);
    this.work = new Converger({ ...host, lease: () => this.lease });
    this.book = new ServiceStatusBook(this.seen, this.work);
    this.tasks = new TaskRunner({ ...host, node: o.name, dataDir: o.dataDir, changed: () => this.emit() });
  }

  /** Restores the last spec and observes; touches nothing except job leftovers (those of no unexpired lease it adopts). */
  async start(): Promise<void> {
    const restored = await restoreSpec(this.o.dataDir, this.bounds(), this.o.logger);
    this.spec = restored.spec;
    this.specError = restored.error;
    const mem = (await readJson<LeaseMemory>(join(this.o.dataDir, "lease.json"))) ?? { highestEpoch: 0, revokedThrough: 0 };
    this.lease = new Lease(mem, () => {
      this.o.logger.warn({ epoch: this.lease.currentEpoch() }, "job lease lapsed; stopping job containers");
      void this.work.convergeJobs();
      this.emit();
    });
    const adopted = this.lease.adopt();
    if (adopted !== null) this.o.logger.info({ epoch: this.lease.currentEpoch(), remainingMs: adopted }, "job lease adopted from before the restart; its running job workloads are kept, and stopped unless the reconciler renews it in time");
    await this.persistLease();
    await this.work.convergeJobs(); // never run jobs without a lease: only an adopted one's running jobs stay
    await this.seen.refresh();
    // An engine restart under a running agent stops every container, as a reboot does.
    this.seen.watch((lostAt) => void this.work.reviveStopped(lostAt).catch((err: Error) => this.o.logger.error({ err: err.message }, "starting web services again after the engine came back failed")));
    await this.work.reviveStopped();
    await this.tasks.start();
  }

  /** POST /v1/tasks/run: starts the run once (idempotent by its id) and answers its record. */
  runTask(req: TaskRunRequest): Promise<TaskRecord> {
    return this.tasks.run(req);
  }

  /** GET /v1/tasks/:id. */
  task(id: string): TaskRecord {
    return this.tasks.get(id);
  }

  /**
   * Stopping the agent: its job workloads are stopped first (each within the lease TTL, then killed), and
   * the lease is given up, so no job outlives its agent unfenced; web workloads keep running.
   */
  async close(): Promise<void> {
    if (this.lease) await this.stopJobsForExit();
    this.seen.close();
    this.tasks.close();
    this.lease?.close();
    await this.work.close();
  }

  private async stopJobsForExit(): Promise<void> {
    const boundSeconds = (this.lease.lastTtlMs() || DEFAULT_LEASE_TTL_SECONDS * 1000) / 1000;
    this.lease.giveUp();
    const t0 = Date.now();
    this.o.logger.info({ epoch: this.lease.currentEpoch(), boundSeconds }, "agent stopping: stopping its job workloads");
    try {
      await this.persistLease();
      const n = await this.work.stopJobsForExit(boundSeconds);
      this.o.logger.info({ stopped: n, ms: Date.now() - t0 }, "agent stopping: job workloads stopped");
    } catch (err) {
      this.o.logger.error({ err: (err as Error).message }, "agent stopping: cannot stop its job workloads; they stop when this node's agent starts again (the lease has lapsed by then)");
    }
  }

  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** PUT /v1/spec. Idempotent for the same generation and content; refuses anything not allowed here. */
  async applySpec(spec: NodeSpec): Promise<{ changed: boolean }> {
    if (!(await admitSpec(this.o.dataDir, this.spec, spec, this.bounds()))) return { changed: false };
    this.spec = spec;
    this.specError = null;
    this.metrics.unconvergedSince = Date.now();
    this.o.logger.info({ generation: spec.generation, tag: spec.tag, stopped: spec.stopped }, "spec accepted");
    this.work.kick();
    this.emit();
    return { changed: true };
  }

  registerMetrics(registry: Registry): void {
    this.metrics.register(registry, () => this.status());
  }

  /** PUT /v1/lease. */
  async grantLease(epoch: number, ttlMs: number): Promise<void> {
    const adopted = this.lease.held() && !this.lease.confirmed();
    const changed = this.lease.grant(epoch, ttlMs);
    await this.persistLease();
    if (changed) {
      this.o.logger.info({ epoch, ttlMs }, adopted ? "job lease confirmed after the restart; its job workloads keep running" : "job lease granted");
      void this.work.convergeJobs();
    }
    this.emit();
  }

  /** DELETE /v1/lease: resolves once every job container of this node has stopped. */
  async revokeLease(): Promise<void> {
    this.lease.revoke();
    this.work.abandonJobPulls();
    await this.persistLease();
    this.o.logger.info({ epoch: this.lease.currentEpoch() }, "job lease revoked");
    this.emit();
    await this.work.convergeJobs();
    const left = (await this.o.runtime.list(this.spec?.app ?? "", this.o.name)).filter((w) => jobLike(w, this.spec) && w.running);
    if (left.length > 0) throw agentError("AGENT_ERR_RUNTIME", `${left.length} job container(s) still running after revocation`);
  }

  /** GET /v1/logs: the service's current workload (the running one, else the newest) on this node. */
  async logs(service: string, opts: LogOptions, signal: AbortSignal): Promise<AsyncIterable<LogLine | { type: "caught-up" }>> {
    const rt = this.o.runtime;
    if (!rt.logs) throw agentError("AGENT_ERR_RUNTIME", `the ${rt.name} runtime serves no logs`);
    const mine = (await rt.list(this.spec?.app ?? "", this.o.name)).filter((w) => w.service === service);
    const w = mine.find((x) => x.running) ?? mine.sort((a, b) => b.since.localeCompare(a.since))[0];
    if (!w) throw agentError("AGENT_ERR_NO_WORKLOAD", `node ${this.o.name} runs no ${service} workload${this.spec ? "" : " (it has no spec yet)"}`);
    return rt.logs(w.id, opts, signal);
  }

  status(): NodeStatus {
    const spec = this.spec;
    return {
      kind: "NodeStatus",
      node: this.o.name,
      role: "node",
      bootId: this.o.bootId,
      version: VERSION,
      features: [...NODE_FEATURES],
      observedGeneration: spec?.generation ?? 0,
      // Never the fingerprint key: the echo carries its id instead.
      spec: spec ? specEcho(spec, spec.secretsKey !== undefined ? secretsKeyId(spec.secretsKey) : undefined) : null,
      converging: this.work.converging(),
      services: this.book.services(spec),
      lease: this.lease.status(),
      error: [this.seen.runtimeError, this.specError].filter((e) => e !== null).join("; ") || null,
    };
  }

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

  private async persistLease(): Promise<void> {
    await writeFileAtomic(join(this.o.dataDir, "lease.json"), JSON.stringify(this.lease.memory()));
  }
}

async function readJson<T>(file: string): Promise<T | null> {
  try {
    return JSON.parse(await readFile(file, "utf8")) as T;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw new Error(`cannot read ${file}: ${(err as Error).message}; move it aside to start from scratch`);
  }
}
