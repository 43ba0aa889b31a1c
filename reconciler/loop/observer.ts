/**
 * The reconciler's eyes: one watch stream per agent, plus a status read on resync. It only records what
 * it saw and asks for a reconcile; it never decides anything.
 */
import type { NodeObservation } from "../../specs/observed.js";
import type { NodeStatus } from "../../specs/wire.js";
import type { AgentClient } from "./agent-client.js";
import { NOT_OBSERVED } from "./views.js";
import { deepFreeze } from "../../common/values.js";

export interface ObserverOptions {
  clients: ReadonlyMap<string, AgentClient>;
  /** Called whenever an observation changed (cheap; the controller coalesces). */
  onChange: (node: string) => void;
}

interface Entry {
  obs: NodeObservation;
  /** Bumped on every change, so readers can tell fresh from stale. */
  version: number;
}

export class Observer {
  private readonly entries = new Map<string, Entry>();
  private readonly stops: (() => void)[] = [];

  constructor(private readonly o: ObserverOptions) {
    for (const node of o.clients.keys()) this.entries.set(node, { obs: { reachable: false, error: NOT_OBSERVED }, version: 0 });
  }

  start(): void {
    for (const [node, client] of this.o.clients) {
      this.stops.push(
        client.watch(
          (s) => this.record(node, { reachable: true, status: s }),
          (why) => this.record(node, { reachable: false, error: why }),
        ),
      );
    }
  }

  /** A frozen copy of every observation, keyed by node name. */
  snapshot(): Record<string, NodeObservation> {
    const out: Record<string, NodeObservation> = {};
    for (const [node, e] of this.entries) out[node] = e.obs;
    return out;
  }

  get(node: string): NodeObservation | undefined {
    return this.entries.get(node)?.obs;
  }

  /** Reads /v1/status of one node now (after an action, and on resync). */
  async refresh(node: string): Promise<void> {
    const client = this.o.clients.get(node);
    if (!client) return;
    try {
      this.record(node, { reachable: true, status: await client.status() });
    } catch (err) {
      this.record(node, { reachable: false, error: (err as Error).message });
    }
  }

  async refreshAll(): Promise<void> {
    await Promise.all([...this.o.clients.keys()].map((n) => this.refresh(n)));
  }

  /** Nodes whose observation has been attempted at least once. */
  observedAll(): boolean {
    return [...this.entries.values()].every((e) => e.version > 0);
  }

  close(): void {
    for (const s of this.stops.splice(0)) s();
  }

  private record(node: string, obs: NodeObservation): void {
    const e = this.entries.get(node);
    if (!e) return;
    if (sameObservation(e.obs, obs) && e.version > 0) return;
    this.entries.set(node, { obs: deepFreeze(obs), version: e.version + 1 });
    this.o.onChange(node);
  }
}

function sameObservation(a: NodeObservation, b: NodeObservation): boolean {
  if (a.reachable !== b.reachable) return false;
  if (!a.reachable && !b.reachable) return a.error === b.error;
  return JSON.stringify(stripVolatile((a as { status: NodeStatus }).status)) === JSON.stringify(stripVolatile((b as { status: NodeStatus }).status));
}

/** The lease's remaining time changes on every read; it is not a change worth a reconcile by itself. */
function stripVolatile(s: NodeStatus): unknown {
  return { ...s, lease: { ...s.lease, remainingMs: Math.round(s.lease.remainingMs / 1000) } };
}
