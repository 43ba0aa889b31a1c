/**
 * What a soak records, in one plain object the invariant checker reads: every request the load made
 * through the routers, every fault and desired-state change with its window, the reconciler's status
 * sampled, every alert the webhook received, every job delivery the store accepted, and what was left
 * on the machine afterwards. Times are epoch milliseconds.
 */
import type { Color } from "../../../specs/types.js";
import type { DesiredModel } from "./model.js";

export interface RequestRecord {
  at: number;
  end: number;
  router: string;
  /** 0: no HTTP answer (connection refused or reset, timeout). */
  status: number;
  /** x-switchyard-color: set when the answer came from the app. */
  color: string | null;
  /** The tag that answered (from /version). */
  tag: string | null;
  error?: string;
}

/** One direct probe of a node's web service (not through a router, not from the reconciler). */
export interface NodeProbe {
  at: number;
  node: string;
  color: string;
  healthy: boolean;
  tag: string | null;
}

export type FaultKind =
  | "kill-reconciler" | "kill-agent" | "kill-router" | "stop-agent" | "partition-agent" | "partition-router"
  | "slow-agent" | "crash-loop" | "disk-full" | "registry-down" | "engine-restart";

export interface FaultRecord {
  kind: FaultKind;
  target: string;
  /** e.g. the partition's mode. */
  detail: string;
  start: number;
  /** When the fault was healed (the process is back, the link open); null while it lasts. */
  end: number | null;
  /** Heal → the desired state reached again (null: not within the bound). */
  recoveryMs?: number | null;
  /** What was still wrong at the bound, when it was not reached. */
  notReachedWhy?: string | null;
  /** crash-loop: node specs the reconciler sent per crash-looping node per minute while it lasted. */
  specsPerMinute?: number;
}

export type ChangeKind = "deploy" | "promote" | "rollback" | "jobs" | "stop" | "start" | "bad-promote" | "invalid";

export interface ChangeRecord {
  kind: ChangeKind;
  at: number;
  detail: string;
  /** The desired state in force after the change (for an invalid edit: the one that stays in force). */
  desired: DesiredModel;
  /** For invalid edits and bad promotes: refused with no effect on live traffic and the state in force. */
  refusedWithoutEffect?: boolean;
  note?: string;
  /** Change → the desired state reached (null: not within the bound; absent: not waited for, e.g. during a fault). */
  reachedMs?: number | null;
  /** What was still wrong at the bound, when it was not reached. */
  notReachedWhy?: string | null;
}

export interface StatusSample {
  at: number;
  active: Color | null;
  ready: boolean;
  phases: Record<Color, string>;
  tags: Record<Color, string | null>;
  routersLive: (Color | null)[];
  holders: Color[];
}

export interface AlertEvent {
  at: number;
  name: string;
  fingerprint: string;
  state: "firing" | "resolved";
  labels: Record<string, string>;
  summary: string;
}

export interface Delivery {
  id: number;
  epoch: number;
  color: string;
  node: string;
  at: number;
}

export interface ConvergenceRecord {
  /** When the last fault healed and the final desired state was written. */
  from: number;
  reachedAt: number | null;
  boundMs: number;
  desired: DesiredModel;
}

export interface History {
  seed: number;
  start: number;
  end: number;
  requests: RequestRecord[];
  faults: FaultRecord[];
  changes: ChangeRecord[];
  samples: StatusSample[];
  probes: NodeProbe[];
  alerts: AlertEvent[];
  deliveries: Delivery[];
  duplicates: number;
  final: ConvergenceRecord | null;
  /** Processes, ports, namespaces or mounts still there after the soak closed. */
  leftovers: string[];
  /** An alert counts as caused when it fires within this long after a fault or change began (or a fault healed). */
  causeSlackMs: number;
  /** Faults stopped and the last change was made before this; from here on no alert may fire. */
  quietFrom: number | null;
}
