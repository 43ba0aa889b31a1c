/**
 * Performs the planner's actions. Each action runs at most once at a time (keyed by what it acts on);
 * a failed one is retried only after a backoff. Actions never wait for each other here: the planner
 * only ever asks for steps that are safe together, and the next plan sees their results.
 */
import type { Logger } from "pino";
import type { Action } from "./actions.js";
import type { AgentClient } from "./agent-client.js";
import type { Memory } from "./memory.js";
import type { Observer } from "./observer.js";
import type { Color } from "../../specs/types.js";
import type { TaskRunRecord } from "../../specs/observed.js";
import { followTask } from "./task-follow.js";

export interface ExecutorOptions {
  clients: ReadonlyMap<string, AgentClient>;
  memory: Memory;
  observer: Observer;
  logger: Logger;
  /** Called when an action finished (either way), so that the controller plans again. */
  onSettled: () => void;
  /** Each action start and result, for the event log. */
  onEvent?: (e: { type: "action" | "result"; action: Action; ok?: boolean; error?: string; ms?: number }) => void;
  /** Longest job stop timeout of the app, for revoke calls. */
  revokeTimeoutMs: number;
  /** A task run ended (either way), for the event log and alerts. */
  onTaskResult?: (a: Extract<Action, { type: "runTask" }>, run: TaskRunRecord) => void;
}

const BACKOFF_MIN_MS = 500;
const BACKOFF_MAX_MS = 30_000;

export class Executor {
  private readonly inFlight = new Map<string, Promise<void>>();
  /** In-flight keys running routine upkeep (lease renewals): not progress towards a change. */
  private readonly routine = new Set<string>();
  private readonly failures = new Map<string, { count: number; retryAt: number; error: string }>();
  /** Aborted on drain (the controller closes): a task being followed stops being waited for (its run goes on). */
  private readonly closing = new AbortController();

  constructor(private readonly o: ExecutorOptions) {}

  /** Starts every action that is not already running or backing off. Returns the ones started. */
  launch(actions: readonly Action[], now = Date.now()): Action[] {
    const started: Action[] = [];
    for (const a of actions) {
      if (a.type === "wait" || a.type === "refuse") continue;
      const key = keyOf(a);
      if (this.inFlight.has(key)) continue;
      const f = this.failures.get(key);
      if (f && f.retryAt > now) continue;
      started.push(a);
      if (a.type === "renewLease") this.routine.add(key);
      const p = this.run(a, key).finally(() => {
        this.inFlight.delete(key);
        this.routine.delete(key);
        this.o.onSettled();
      });
      this.inFlight.set(key, p);
    }
    return started;
  }

  /** Earliest time a backed-off action may run again (for the requeue timer). */
  nextRetryAt(): number | undefined {
    let t: number | undefined;
    for (const f of this.failures.values()) t = t === undefined ? f.retryAt : Math.min(t, f.retryAt);
    return t;
  }

  /** Whether an action towards a change is running (routine renewals do not count). */
  busy(): boolean {
    return this.inFlight.size > this.routine.size;
  }

  async drain(): Promise<void> {
    this.closing.abort();
    await Promise.allSettled([...this.inFlight.values()]);
  }

  private async run(a: Action, key: string): Promise<void> {
    const started = Date.now();
    this.o.onEvent?.({ type: "action", action: a });
    const log = this.o.logger.child({ action: a.type, node: "node" in a ? a.node : undefined });
    try {
      await this.perform(a);
      this.failures.delete(key);
      this.o.onEvent?.({ type: "result", action: a, ok: true, ms: Date.now() - started });
    } catch (err) {
      const prev = this.failures.get(key);
      const count = (prev?.count ?? 0) + 1;
      const delay = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** (count - 1)) * (0.8 + Math.random() * 0.4);
      const error = (err as Error).message;
      this.failures.set(key, { count, retryAt: Date.now() + delay, error });
      log.warn({ err: error, attempt: count, retryInMs: Math.round(delay) }, "action failed");
      this.o.onEvent?.({ type: "result", action: a, ok: false, error, ms: Date.now() - started });
    }
  }

  private async perform(a: Action): Promise<void> {
    const m = this.o.memory;
    switch (a.type) {
      case "applyNodeSpec": {
        if ((a.reason === "deploy" || a.reason === "start") && a.spec.tag) await m.recordDeploy(a.color, a.spec.tag, Date.now());
        await this.client(a.node).putSpec(a.spec);
        this.o.logger.info({ node: a.node, tag: a.spec.tag, generation: a.spec.generation, reason: a.reason }, "node spec sent");
        break;
      }
      case "applyRouterSpec": {
        await this.client(a.node).putSpec(a.spec);
        await m.recordRouterLive(a.spec.live as Color | null);
        this.o.logger.info({ node: a.node, live: a.spec.live, preview: a.spec.preview, reason: a.reason }, a.reason === "switch" ? "router switched" : "router updated");
        break;
      }
      case "revokeLease": {
        await this.client(a.node).deleteLease(this.o.revokeTimeoutMs);
        await m.recordRevoked(a.node);
        this.o.logger.info({ node: a.node }, "job lease revoked; jobs stopped");
        break;
      }
      case "grantLease":
      case "renewLease": {
        // Write-ahead: the grant is on disk (epoch and send time) before the agent can act on it.
        await m.recordGrant(a.node, a.epoch, a.ttlMs, Date.now());
        await this.client(a.node).putLease(a.epoch, a.ttlMs);
        if (a.type === "grantLease") this.o.logger.info({ node: a.node, epoch: a.epoch }, "job lease granted");
        break;
      }
      case "runTask": {
        const run = await followTask(this.client(a.node), a, m, this.closing.signal);
        if (run) this.o.onTaskResult?.(a, run);
        return;
      }
      default:
        return;
    }
    // See the result before the next plan, so the same step is not asked for twice.
    await this.o.observer.refresh(a.node);
  }

  private client(node: string): AgentClient {
    const c = this.o.clients.get(node);
    if (!c) throw new Error(`no agent client for node ${node}`);
    return c;
  }
}

function keyOf(a: Exclude<Action, { type: "wait" | "refuse" }>): string {
  if (a.type === "runTask") return `task:${a.color}`;
  const family = a.type === "grantLease" || a.type === "renewLease" || a.type === "revokeLease" ? "lease" : "spec";
  return `${family}:${a.node}`;
}
