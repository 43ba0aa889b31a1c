/**
 * The level-triggered loop. File changes, agent events and timers only queue a reconcile; each
 * reconcile re-reads the desired and observed state, plans from scratch, launches the next safe
 * actions and requeues. Restarting at any moment is safe: it resumes from observation, not memory.
 *
 * One piece (~310 lines) on purpose: the pass, its scheduling from the outcome and the wiring of observer,
 * executor, alerts and status are the loop itself; the decisions live in plan, drift and status.
 */
import type { AcmeCertificateStatus } from "../acme/manager.js";
import { readFileSync, statSync } from "node:fs";
import { resolve as resolvePath, dirname } from "node:path";
import type { Logger } from "pino";
import { describeAction, type Action } from "./actions.js";
import { AgentClient } from "./agent-client.js";
import { Observer } from "./observer.js";
import { Executor } from "./executor.js";
import type { Memory } from "./memory.js";
import type { DesiredSnapshot, DesiredSource } from "./desired-source.js";
import { plan } from "./plan.js";
import { viewCluster } from "./views.js";
import { Pins, type DigestOf } from "./pins.js";
import { detectDrift, type DriftAlert } from "./drift.js";
import { buildStatus, startingStatus, type ClusterStatus, type Condition, type HistoryCondition } from "./status.js";
import type { AlertManager } from "../notify/alerts.js";
import type { EventLog } from "../notify/events.js";
import type { Observed } from "../../specs/observed.js";
import { deepFreeze } from "../../common/values.js";
import { LEASE_RENEW_FRACTION } from "../../specs/defaults.js";
import { formatIssue } from "../../specs/source.js";
import { COLORS, otherColor, type Color } from "../../specs/types.js";
import { BucketCounts, SLOW_BUCKETS_SECONDS } from "../../common/metrics.js";
import { reconError } from "../errors.js";
import { secretsKeyId } from "../../specs/secrets-key-id.js";
import type { Analysis } from "./analysis.js";
import type { Lifecycle } from "../notify/lifecycle.js";
import { analysisView } from "./analysis-view.js";

/** Even with nothing happening, re-read every agent's status this often. */
export const RESYNC_MS = 10_000;
/** Coalesce bursts of triggers into one reconcile. */
export const QUEUE_DELAY_MS = 2;
/** While memory.json cannot be written, try again this often (and so notice when it can be again). */
export const MEMORY_RETRY_MS = 1_000;
/** After a failed pass, try again after this long, doubling per failure in a row up to ERROR_RETRY_MAX_MS. */
export const ERROR_RETRY_MS = 1_000;
export const ERROR_RETRY_MAX_MS = 30_000;
/** How often the agents' token files are checked for a change (a token rotation needs no restart). */
export const TOKEN_RECHECK_MS = 1_000;
/** Alert (and Degraded reason) raised while the data dir cannot be written. */
export const DATA_DIR_ALERT = "DataDirUnwritable";

/**
 * What one pass says about the next: run again after `requeueAfterMs` (null: only when something
 * changes), or it failed and is retried with backoff. Agent events and file changes always queue a pass.
 */
export type Outcome = { requeueAfterMs: number | null } | { error: Error };

export interface ControllerOptions {
  source: DesiredSource;
  memory: Memory;
  alerts: AlertManager;
  events: EventLog;
  logger: Logger;
  /** Conditions about state.yaml's git history (HistoryNotRecorded, HistoryNotPushed). */
  history?: () => HistoryCondition[];
  /** The registry's digest of a tag, or null when cluster.yaml names no registry. */
  digestOf?: () => DigestOf | null;
  /** The ACME certificate's state (reconciler/acme), for status and the renewal alert. */
  acme?: () => AcmeCertificateStatus | null;
  /** The key of the secrets' fingerprints (reconciler/secrets-key.ts); never in status, events or logs. */
  secretsKey?: string;
  /** Automatic rollback and the colours' traffic figures (reconciler/loop/analysis.ts). */
  analysis?: Analysis;
  /** Lifecycle notifications; loop code reports what status cannot show, e.g. `lifecycle.taskFailed(…)`. */
  lifecycle?: Lifecycle;
}

export class Controller {
  private clients = new Map<string, AgentClient>();
  private observer: Observer | undefined;
  private executor: Executor | undefined;
  private topology = "";
  private timer: NodeJS.Timeout | undefined;
  private resync: NodeJS.Timeout | undefined;
  private running = false;
  private errorStreak = 0;
  private dirty = false;
  private closed = false;
  private conditions: Condition[] = [];
  private current: ClusterStatus = startingStatus();
  private currentJson: string | undefined;
  private currentKey = "";
  private memoryRetryAt = 0;
  /** Each node's token file as last read (path, and its mtime and size then), to notice a rotation. */
  private tokenFiles = new Map<string, { path: string; seen: string }>();
  private tokenTimer: NodeJS.Timeout | undefined;
  private readonly listeners = new Set<(s: ClusterStatus) => void>();
  /** Reconcile counters and timings, for /metrics. */
  readonly stats = {
    reconciles: 0, reconcileMsTotal: 0, lastReconcileMs: 0, flips: 0, deploys: 0, actions: 0, actionFailures: 0, renewals: 0,
    /** Pass durations in seconds. */
    reconcileSeconds: new BucketCounts(SLOW_BUCKETS_SECONDS),
    /** Finished actions by action type. */
    actionResults: new Map<string, { ok: number; failed: number }>(),
    /** From the first pass that saw a new live colour in the desired state until the routers served it. */
    switchSeconds: new BucketCounts(SLOW_BUCKETS_SECONDS),
    /** Job handoffs: how long no node held the job lease (see timeJobsHandoff). */
    jobsHandoffSeconds: new BucketCounts(SLOW_BUCKETS_SECONDS),
  };
  /** When the pass saw the desired live colour differ from what the routers serve (null: they agree). */
  private switchWaitSince: number | null = null;
  /** When a pass first saw nobody holding the job lease after someone did (null: someone holds it). */
  private jobsGapSince: number | null = null;
  /** The epoch last seen held. */
  private lastHeldEpoch: number | null = null;

  private readonly pins: Pins;
  private secretsKeyId: string | undefined;

  constructor(private readonly o: ControllerOptions) {
    this.pins = new Pins({ memory: o.memory, logger: o.logger, digestOf: o.digestOf ?? (() => null), onChange: () => this.queue() });
  }

  start(): void {
    this.resync = setInterval(() => {
      this.observer?.refreshAll().then(() => this.queue(), (err: unknown) => this.o.logger.error({ err: (err as Error).message }, "resync failed"));
    }, RESYNC_MS);
    this.resync.unref();
    this.tokenTimer = setInterval(() => this.refreshTokens(), TOKEN_RECHECK_MS);
    this.tokenTimer.unref();
    this.queue();
  }

  /** Asks for a reconcile soon (file changes, agent events). Safe to call from anywhere, any number of times. */
  queue(delayMs = QUEUE_DELAY_MS): void {
    if (this.closed) return;
    if (this.timer) {
      if (delayMs > QUEUE_DELAY_MS) return; // an earlier one is already queued
      clearTimeout(this.timer);
    }
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.reconcile();
    }, delayMs);
  }

  status(): ClusterStatus {
    return this.current;
  }

  /** The status as JSON, serialised once per change (the API serves it to many clients). */
  statusJson(): string {
    return (this.currentJson ??= JSON.stringify(this.current));
  }

  onStatus(fn: (s: ClusterStatus) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /**
   * Re-creates the workloads of a colour that is not live, so they read their secret files again: a new
   * restart request (on disk first), which the colour's node specs carry. Throws RECON_ERR_INVALID_STATE
   * for the live colour, a stopped or empty one, or a colour any router serves as live.
   */
  async restart(color: Color, by: string): Promise<{ color: Color; restartToken: number }> {
    const snap = this.o.source.get();
    if (!snap) throw reconError("RECON_ERR_UNAVAILABLE", "the desired state is not loaded yet; try again shortly");
    const spec = snap.desired.state.spec;
    if (color === spec.active) throw reconError("RECON_ERR_INVALID_STATE", `${color} is live and is never restarted under traffic; restart ${otherColor(color)}, then promote it`);
    if (this.current.router?.live === color) throw reconError("RECON_ERR_INVALID_STATE", `${color} still serves live traffic on the routers; wait for the switch to finish, then restart it`);
    if (spec.colors[color].stopped) throw reconError("RECON_ERR_INVALID_STATE", `${color} is stopped; start it, and it reads its secrets then`);
    if (spec.colors[color].tag === undefined) throw reconError("RECON_ERR_INVALID_STATE", `${color} runs nothing yet; deploy a tag to it`);
    const token = Math.max(Date.now(), (this.o.memory.get().restarts?.[color] ?? 0) + 1);
    await this.o.memory.recordRestart(color, token);
    this.o.logger.info({ color, by }, "restart requested: the colour's workloads are re-created and read their secrets again");
    this.o.events.append({ type: "info", message: `restart ${color} requested by ${by}: its workloads are re-created and read their secrets again` });
    this.queue();
    return { color, restartToken: token };
  }

  /** Nodes and their observations, for tests and benchmarks. */
  /** Clients of the router agents of the current cluster.yaml (ACME hands them challenges and certificates). */
  routerClients(): AgentClient[] {
    const c = this.o.source.get()?.desired.cluster;
    if (c === undefined) return [];
    return c.spec.nodes.filter((n) => n.role === "router").map((n) => this.clients.get(n.name)).filter((x): x is AgentClient => x !== undefined);
  }

  /**
   * The colour nodes whose logs a request asks for, with their clients: every node of a colour (`live` is
   * the active colour of state.yaml, `preview` the other one), or one node. A message when none fits.
   */
  logTargets(sel: { color?: "blue" | "green" | "live" | "preview"; node?: string; service: string }): { node: string; color: "blue" | "green"; client: AgentClient }[] | string {
    const d = this.o.source.get()?.desired;
    if (!d) return "the desired state is not loaded yet";
    if (!(sel.service in d.cluster.spec.services)) return `cluster.yaml has no service ${sel.service}`;
    const active = d.state.spec.active;
    const color = sel.color === "live" ? active : sel.color === "preview" ? (active === "blue" ? "green" : "blue") : sel.color;
    const nodes = d.cluster.spec.nodes.filter((n) => n.role !== "router" && (color === undefined || n.color === color) && (sel.node === undefined || n.name === sel.node));
    if (nodes.length === 0) return sel.node ? `no colour node ${sel.node}${color ? ` in ${color}` : ""} in cluster.yaml` : `no node of ${color} in cluster.yaml`;
    return nodes.flatMap((n) => {
      const client = this.clients.get(n.name);
      return client && n.color ? [{ node: n.name, color: n.color, client }] : [];
    });
  }

  observedNodes(): Observed["nodes"] {
    return this.observer?.snapshot() ?? {};
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.resync) clearInterval(this.resync);
    if (this.tokenTimer) clearInterval(this.tokenTimer);
    this.observer?.close();
    await this.executor?.drain();
    await Promise.all([...this.clients.values()].map((c) => c.close()));
  }

  /** One pass of the loop, then the next one scheduled from its outcome. Exposed for tests and benchmarks; normally driven by queue(). */
  async reconcile(): Promise<void> {
    if (this.running) {
      this.dirty = true;
      return;
    }
    this.running = true;
    let outcome: Outcome;
    try {
      do {
        this.dirty = false;
        outcome = this.reconcileOnce();
      } while (this.dirty && !this.closed);
    } finally {
      this.running = false;
    }
    this.schedule(outcome);
  }

  /** Like controller-runtime's Reconcile: never throws; says when to run again, or what went wrong. */
  private reconcileOnce(): Outcome {
    try {
      const outcome = this.pass();
      this.errorStreak = 0;
      return outcome;
    } catch (err) {
      return { error: err as Error };
    }
  }

  private schedule(outcome: Outcome): void {
    if ("error" in outcome) {
      this.errorStreak++;
      this.o.logger.error({ err: outcome.error.stack, attempt: this.errorStreak }, "reconcile failed");
      this.queue(Math.min(ERROR_RETRY_MAX_MS, ERROR_RETRY_MS * 2 ** (this.errorStreak - 1)));
    } else if (outcome.requeueAfterMs !== null) {
      this.queue(outcome.requeueAfterMs);
    }
  }

  private pass(): Outcome {
    const snap = this.o.source.get();
    // Nothing valid to act on yet: the desired-state watcher queues a pass when that changes.
    if (!snap || this.closed) return { requeueAfterMs: null };
    const started = performance.now();
    this.connect(snap);
    const memory = this.o.memory.get();
    const observed: Observed = deepFreeze({
      nodes: this.observer!.snapshot(),
      jobs: this.o.memory.jobsLedger(),
      deploys: { ...memory.deploys },
      tasks: { ...memory.tasks },
    });
    const now = Date.now();
    const desired = {
      ...snap.desired,
      ...this.pins.forPassAll(snap.desired, observed, now),
      ...(this.o.secretsKey !== undefined ? { secretsKey: this.o.secretsKey, secretsKeyId: this.secretsKeyId ??= secretsKeyId(this.o.secretsKey) } : {}),
      restarts: { ...memory.restarts },
    };
    const views = viewCluster(desired, observed);
    // A deploy waits for its tag's digest (one registry request), so its nodes get one spec, pinned.
    const actions = plan(desired, observed, now, views).filter((a) => a.type !== "applyNodeSpec" || !this.pins.pending(a.color));
    const launched = this.executor!.launch(actions, now);
    for (const a of launched) {
      if (a.type === "applyRouterSpec" && a.reason === "switch") this.stats.flips++;
      if (a.type === "applyNodeSpec" && a.reason === "deploy") this.stats.deploys++;
    }
    this.stats.actions += launched.length;
    // The routers all do what the desired state says (nothing to send them), yet memory says otherwise (an
    // older memory.json restored from a backup, a crash between a switch and its record): that is no
    // router elsewhere; remember what they do.
    const routerLive = views.routers.consensus;
    this.rememberServed(desired, views.routers.known ? views.routers.live : new Set());
    this.o.analysis?.onPass(analysisView(desired, observed, routerLive));
    this.timeSwitch(desired.state.spec.active, routerLive, now);
    this.timeJobsHandoff(observed, desired.state.spec.jobs.owner !== "none", now);
    if (routerLive === desired.state.spec.active && memory.routerLive !== routerLive && !actions.some((a) => a.type === "applyRouterSpec")) {
      this.o.logger.warn({ remembered: memory.routerLive, routers: routerLive }, "memory.json named another live colour than the routers serve as desired; it now records theirs");
      this.remember(this.o.memory.recordRouterLive(routerLive));
    }
    const faults = this.memoryFaults(now);
    // Firing or pending: a problem being healed stays observed while the agent converges, so its grace
    // period keeps counting across heal attempts that fail (a live container that cannot come back).
    const firing = new Set([...this.o.alerts.firing().map((a) => a.fingerprint), ...this.o.alerts.pendingFingerprints()]);
    const acme = this.o.acme?.() ?? null;
    const drift = detectDrift({ desired, observed, actions, routerLive: this.o.memory.get().routerLive, firing, views, now, acme });
    this.o.alerts.setGraceMs(snap.desired.cluster.spec.alerts.graceSeconds * 1000);
    // A moved tag is news, not a fault: the colour runs what it was deployed with (no condition changes).
    this.o.alerts.sync([...faults, ...drift, ...this.pins.alerts(desired)]);
    // Conditions count a problem once its alert fires, not while it is pending (no blips on a normal flip).
    const firingNow = new Set(this.o.alerts.firing().map((a) => a.fingerprint));
    const held = (a: DriftAlert) => firingNow.has(a.fingerprint);
    const status = buildStatus(
      {
        desired,
        revision: snap.revision,
        stateRevision: snap.stateRevision,
        observed,
        views,
        actions,
        drift: drift.filter(held),
        faults: faults.filter(held),
        specErrors: this.o.source.errors().map(formatIssue),
        history: this.o.history?.() ?? [],
        busy: this.executor!.busy(),
        now: new Date(now),
        acme: acme === null ? null : { hosts: acme.hosts, notAfter: acme.notAfter, renewAt: acme.renewAt, failures: acme.failures, lastError: acme.lastError, routers: acme.routers },
      },
      this.conditions,
    );
    if (this.o.analysis) Object.assign(status, { traffic: this.o.analysis.traffic(), analysis: this.o.analysis.summary(), rolledBack: this.o.analysis.rolledBack() });
    for (const c of COLORS) {
      if (status.colors?.[c].phase === "Ready" && memory.deploys[c]?.tag === status.colors[c].tag) this.remember(this.o.memory.clearDeploy(c));
    }
    this.publish(status);
    const ms = performance.now() - started;
    this.stats.reconciles++;
    this.stats.reconcileMsTotal += ms;
    this.stats.reconcileSeconds.observe(ms / 1000);
    this.stats.lastReconcileMs = ms;
    return { requeueAfterMs: this.nextDue(snap, actions, now) };
  }

  /** A colour the routers serve with its tag: its tasks count as done for that tag from now on (a rollback runs none). */
  private rememberServed(desired: DesiredSnapshot["desired"], live: ReadonlySet<Color>): void {
    if (desired.cluster.spec.tasks.length === 0) return;
    for (const c of live) {
      const tag = desired.state.spec.colors[c].tag;
      const rec = this.o.memory.get().tasks?.[c];
      if (tag !== undefined && !(rec?.tag === tag && rec.served)) this.remember(this.o.memory.recordTasksServed(c, tag));
    }
  }

  /**
   * Runs a task again for a colour that does not serve live traffic: its next attempt (a new run id, on disk
   * first). Throws RECON_ERR_NOT_FOUND for a task cluster.yaml does not have, RECON_ERR_INVALID_STATE for a
   * live, stopped or empty colour, or while the task runs.
   */
  async retryTask(color: Color, task: string, by: string): Promise<{ color: Color; task: string; tag: string; attempt: number }> {
    const snap = this.o.source.get();
    if (!snap) throw reconError("RECON_ERR_UNAVAILABLE", "the desired state is not loaded yet; try again shortly");
    const d = snap.desired;
    if (!d.cluster.spec.tasks.some((t) => t.name === task)) throw reconError("RECON_ERR_NOT_FOUND", `cluster.yaml has no task ${task}`);
    const want = d.state.spec.colors[color];
    if (want.stopped || want.tag === undefined) throw reconError("RECON_ERR_INVALID_STATE", `${color} is stopped or has no tag; deploy a tag to it first`);
    if (this.current.router?.live === color) throw reconError("RECON_ERR_INVALID_STATE", `${color} serves live traffic; tasks run only before a colour goes live`);
    const run = this.o.memory.get().tasks?.[color];
    if (run?.tag === want.tag && run.runs[task]?.state === "running") throw reconError("RECON_ERR_INVALID_STATE", `task ${task} is running on ${run.runs[task]!.node}; wait for it to end`);
    const attempt = await this.o.memory.retryTask(color, want.tag, task);
    this.o.logger.info({ color, task, tag: want.tag, attempt, by }, "task retry requested");
    this.o.events.append({ type: "info", message: `retry task ${task} for ${color} (${want.tag}) requested by ${by}: attempt ${attempt}` });
    this.queue();
    return { color, task, tag: want.tag, attempt };
  }

  /** Times a switch: from the pass that first sees the routers serve another colour than desired until they serve it. */
  /**
   * A job handoff's gap: from the pass that first sees no node holding the job lease (after one did) until
   * one holds it again under a higher epoch. Only while some colour should own the jobs.
   */
  private timeJobsHandoff(observed: Observed, ownerWanted: boolean, now: number): void {
    const held = Object.values(observed.nodes).flatMap((o) => (o.reachable && o.status.lease.state === "held" ? [o.status.lease.epoch] : []));
    if (held.length === 0) {
      if (ownerWanted && this.lastHeldEpoch !== null) this.jobsGapSince ??= now;
      return;
    }
    const epoch = Math.max(...held);
    if (this.jobsGapSince !== null && this.lastHeldEpoch !== null && epoch > this.lastHeldEpoch) this.stats.jobsHandoffSeconds.observe((now - this.jobsGapSince) / 1000);
    this.jobsGapSince = null;
    this.lastHeldEpoch = epoch;
  }

  private timeSwitch(active: Color, routers: Color | null, now: number): void {
    if (routers === null) return; // no router answers, or they disagree: nothing to time against
    if (routers !== active) this.switchWaitSince ??= now;
    else if (this.switchWaitSince !== null) {
      this.stats.switchSeconds.observe((now - this.switchWaitSince) / 1000);
      this.switchWaitSince = null;
    }
  }

  /**
   * A memory write nobody waits for (the acted revision, a finished deploy). A failure is not lost: the
   * document stays in memory and is written again, and `memoryFaults` reports it until a write succeeds.
   */
  private remember(write: Promise<void>): void {
    write.catch(() => this.queue());
  }

  /** While memory.json cannot be written: one critical alert, and a retry every MEMORY_RETRY_MS. */
  private memoryFaults(now: number): DriftAlert[] {
    const f = this.o.memory.writeFailure();
    if (!f) return [];
    if (now >= this.memoryRetryAt) {
      this.memoryRetryAt = now + MEMORY_RETRY_MS;
      this.remember(this.o.memory.retry().then(() => this.queue()));
    }
    const summary = `cannot write ${f.file} since ${new Date(f.sinceMs).toISOString()}: ${f.error}. Job-lease grants and renewals wait until it can be written (jobs stop when a lease lapses); live traffic is untouched. Make the data dir writable (permissions, free space, read-only mount)`;
    return [{ fingerprint: DATA_DIR_ALERT, name: DATA_DIR_ALERT, severity: "critical", summary, labels: { file: f.file } }];
  }

  private publish(status: ClusterStatus): void {
    for (const c of status.conditions) {
      const prev = this.conditions.find((p) => p.type === c.type);
      if (!prev || prev.status !== c.status || prev.reason !== c.reason) {
        this.o.events.append({ type: "condition", message: `${c.type}=${c.status} (${c.reason}): ${c.message}`, condition: c.type, status: c.status, reason: c.reason });
      }
    }
    this.conditions = status.conditions;
    // Compared without its timestamp; the previous key is kept, so each pass serialises once.
    const key = JSON.stringify({ ...status, lastReconcileAt: null });
    const changed = key !== this.currentKey;
    this.currentKey = key;
    this.current = status;
    this.currentJson = undefined;
    if (changed) for (const l of this.listeners) l(status);
  }

  /** How long until the earliest thing this pass waits for is due. */
  private nextDue(snap: DesiredSnapshot, actions: readonly Action[], now: number): number {
    let due = now + RESYNC_MS;
    for (const a of actions) if (a.type === "wait" && a.untilMs !== undefined) due = Math.min(due, a.untilMs + 1);
    const ttlMs = snap.desired.cluster.spec.jobs.leaseTtlSeconds * 1000;
    for (const g of Object.values(this.o.memory.get().jobs.grants)) due = Math.min(due, g.sentAtMs + ttlMs * LEASE_RENEW_FRACTION + 1);
    if (this.o.memory.writeFailure()) due = Math.min(due, this.memoryRetryAt);
    const alertDue = this.o.alerts.nextDueAt();
    if (alertDue !== undefined) due = Math.min(due, alertDue + 1);
    const recheck = this.pins.nextRecheckAt();
    if (recheck !== undefined) due = Math.min(due, recheck + 1);
    const retry = this.executor!.nextRetryAt();
    if (retry !== undefined) due = Math.min(due, retry + 1);
    return Math.max(QUEUE_DELAY_MS + 1, due - now);
  }

  /**
   * Re-reads the token files that changed since they were read (every TOKEN_RECHECK_MS): rotating
   * a node's token is writing the new one into its file, here after the agent accepts both.
   */
  private refreshTokens(): void {
    for (const [node, f] of this.tokenFiles) {
      const seen = fileStamp(f.path);
      if (seen === f.seen) continue;
      try {
        const token = readFileSync(f.path, "utf8").trim();
        if (!token) throw new Error("the file is empty");
        this.clients.get(node)?.setToken(token);
        f.seen = seen;
        this.o.logger.info({ node, file: f.path }, "token file changed: the new token is used from now on");
      } catch (err) {
        this.o.logger.error({ node, file: f.path, err: (err as Error).message }, "token file changed but cannot be read; the token in use stays");
      }
    }
  }

  /** (Re)builds agent clients and watches when the set of nodes changes. */
  private connect(snap: DesiredSnapshot): void {
    const c = snap.desired.cluster;
    const base = dirname(resolvePath(snap.dir.cluster.file));
    const topology = JSON.stringify(c.spec.nodes.map((n) => [n.name, n.agent, n.tokenFile, n.caFile]));
    if (topology === this.topology && this.observer) return;
    this.observer?.close();
    for (const old of this.clients.values()) void old.close();
    this.clients = new Map();
    this.tokenFiles = new Map();
    for (const n of c.spec.nodes) {
      const path = resolvePath(base, n.tokenFile);
      this.tokenFiles.set(n.name, { path, seen: fileStamp(path) });
      const token = readFileSync(path, "utf8").trim();
      const ca = n.caFile ? readFileSync(resolvePath(base, n.caFile), "utf8") : undefined;
      this.clients.set(n.name, new AgentClient({ node: n.name, url: n.agent, token, ...(ca ? { ca } : {}) }));
    }
    this.observer = new Observer({ clients: this.clients, onChange: () => this.queue() });
    const stopTimeouts = Object.values(c.spec.services).filter((s) => s.job).map((s) => s.stopTimeoutSeconds);
    this.executor = new Executor({
      clients: this.clients,
      memory: this.o.memory,
      observer: this.observer,
      logger: this.o.logger,
      revokeTimeoutMs: (Math.max(0, ...stopTimeouts) + 15) * 1000,
      onSettled: () => this.queue(),
      onTaskResult: (a, run) => {
        const took = run.durationMs === null ? "" : ` in ${(run.durationMs / 1000).toFixed(1)} s`;
        const how = run.state === "succeeded" ? `succeeded${took}` : `failed${took}: ${run.error ?? `exit code ${run.exitCode}`}${run.output.length ? `; last output: ${run.output.slice(-5).join(" | ")}` : ""}`;
        this.o.events.append({ type: "result", message: `task ${a.run.name} for ${a.color} (${a.run.tag}) on ${run.node} ${how}`, action: "runTask", node: run.node, ok: run.state === "succeeded", ...(run.durationMs !== null ? { ms: run.durationMs } : {}) });
        if (run.state === "failed") this.o.lifecycle?.taskFailed({ color: a.color, tag: a.run.tag, task: a.run.name, message: `${how} on ${run.node}` });
      },
      onEvent: (e) => {
        if (e.type === "result" && e.ok === false) this.stats.actionFailures++;
        if (e.type === "result") {
          const n = this.stats.actionResults.get(e.action.type) ?? { ok: 0, failed: 0 };
          n[e.ok ? "ok" : "failed"]++;
          this.stats.actionResults.set(e.action.type, n);
        }
        // Routine upkeep is counted, not shown to people: a renewal appears in the feed only when it fails.
        if (e.action.type === "renewLease") {
          if (e.type === "result" && e.ok) this.stats.renewals++;
          if (e.type === "action" || e.ok) return;
        }
        this.o.events.append({
          type: e.type,
          message: e.type === "action" ? describeAction(e.action) : `${describeAction(e.action)}: ${e.ok ? "done" : `failed: ${e.error}`}`,
          action: e.action.type,
          ...("node" in e.action ? { node: e.action.node } : {}),
          ...(e.ok !== undefined ? { ok: e.ok } : {}),
          ...(e.ms !== undefined ? { ms: e.ms } : {}),
        });
      },
    });
    this.topology = topology;
    this.observer.start();
  }
}

/** What identifies a version of a file cheaply: inode, size and mtime ("" when it cannot be read). */
function fileStamp(path: string): string {
  try {
    const st = statSync(path);
    return `${st.ino}:${st.size}:${st.mtimeMs}`;
  } catch {
    return "";
  }
}
