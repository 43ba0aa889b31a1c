/**
 * What the reconciler knows about the world when it plans: one observation per node (from the agent's
 * status and watch stream), plus the little the reconciler itself must remember across restarts
 * (the job-lease ledger and when a deploy started). Snapshots are frozen before planning.
 */
import type { NodeStatus } from "./wire.js";
import type { Color } from "./types.js";

export type NodeObservation =
  | { readonly reachable: true; readonly status: NodeStatus }
  | { readonly reachable: false; readonly error: string };

/** What the reconciler sent to each node about the job lease. Persisted (write-ahead) in the data dir. */
export interface LeaseGrantRecord {
  readonly epoch: number;
  /** Wall-clock ms when the grant or renewal was sent (before the answer came back). */
  readonly sentAtMs: number;
  readonly ttlMs: number;
}

export interface JobsLedger {
  /** Highest epoch ever issued. Only grows, also across restarts. */
  readonly epoch: number;
  readonly grants: Readonly<Record<string, LeaseGrantRecord>>;
  /**
   * When this reconciler process started. A node we cannot reach and have no grant record for may still
   * hold a lease granted by an earlier process until this time plus TTL plus the safety margin.
   */
  readonly startedAtMs: number;
}

/** When the reconciler first sent a colour its current tag, for the deploy timeout. */
export interface DeployRecord {
  readonly tag: string;
  readonly startedAtMs: number;
}

/** One task's last run for a colour's tag, as the reconciler remembers it (memory.json, write-ahead). */
export interface TaskRunRecord {
  readonly id: string;
  readonly attempt: number;
  readonly node: string;
  readonly state: "running" | "succeeded" | "failed";
  readonly exitCode: number | null;
  readonly durationMs: number | null;
  readonly finishedAt: string | null;
  /** Last lines of output, secrets redacted by the agent. */
  readonly output: readonly string[];
  /** Why it failed without an exit code of its own (timeout, could not start), else null. */
  readonly error: string | null;
}

/** A colour's tasks for its tag: each task's attempt (Retry raises it) and its last run. */
export interface ColorTasksRecord {
  readonly tag: string;
  readonly attempts: Readonly<Record<string, number>>;
  readonly runs: Readonly<Record<string, TaskRunRecord>>;
  /** The colour served live traffic with this tag: its tasks count as done (they are never run behind it). */
  readonly served?: boolean;
}

export interface Observed {
  /** Every node of the cluster by name; a node never observed yet is `reachable: false`. */
  readonly nodes: Readonly<Record<string, NodeObservation>>;
  readonly jobs: JobsLedger;
  readonly deploys: Readonly<Partial<Record<Color, DeployRecord>>>;
  /** Pre-promotion task runs per colour (absent: none remembered). */
  readonly tasks?: Readonly<Partial<Record<Color, ColorTasksRecord>>>;
}
