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

export interface Observed {
  /** Every node of the cluster by name; a node never observed yet is `reachable: false`. */
  readonly nodes: Readonly<Record<string, NodeObservation>>;
  readonly jobs: JobsLedger;
  readonly deploys: Readonly<Partial<Record<Color, DeployRecord>>>;
}
