/**
 * The typed steps the planner asks for and the executor performs. Every action is safe to perform on
 * its own in the order given; anything that must wait for a later observation is left to a later plan.
 */
import type { NodeSpec, RouterSpec } from "../../specs/wire.js";
import type { Color } from "../../specs/types.js";
import type { TaskRunRequest } from "../../specs/tasks.js";

export type NodeSpecReason = "deploy" | "stop" | "heal" | "update" | "start";
export type RouterSpecReason = "switch" | "update";

/** Conditions the planner can raise when it refuses a desired state (human action needed). */
export type RefuseReason = "WouldReplaceLive" | "WouldStopLive" | "LiveSpecChange" | "DeployFailed" | "TagMissing" | "TaskFailed";
/** Refusals that mean a deploy failed (the colour is Failed), not that a change was refused. */
export const DEPLOY_FAILURES: ReadonlySet<string> = new Set(["DeployFailed", "TagMissing", "TaskFailed"]);

/** Things the plan waits for; each clears by itself once the world moves on. */
export type WaitReason =
  | "WaitingForHealth"
  | "Converging"
  | "NodeUnreachable"
  | "RouterUnreachable"
  | "Draining"
  | "SwitchFirst"
  | "LeaseRevocation"
  | "LeaseExpiry"
  | "TaskRunning"
  | "TasksPending";

export type Action =
  /** PUT /v1/spec on a node agent. */
  | { readonly type: "applyNodeSpec"; readonly node: string; readonly color: Color; readonly reason: NodeSpecReason; readonly spec: NodeSpec }
  /** PUT /v1/spec on a router agent (atomic table swap). */
  | { readonly type: "applyRouterSpec"; readonly node: string; readonly reason: RouterSpecReason; readonly spec: RouterSpec }
  /** DELETE /v1/lease: answers once the node's job containers stopped. */
  | { readonly type: "revokeLease"; readonly node: string }
  /** PUT /v1/lease with a new epoch (the ledger is written before sending). */
  | { readonly type: "grantLease"; readonly node: string; readonly epoch: number; readonly ttlMs: number }
  /** PUT /v1/lease with the epoch the node already holds. */
  | { readonly type: "renewLease"; readonly node: string; readonly epoch: number; readonly ttlMs: number }
  /**
   * POST /v1/tasks/run on one node of the colour, then follow the run to its end. The run's id comes from
   * (app, colour, tag, task, attempt) (task-follow.ts), so asking again follows the same run.
   */
  | { readonly type: "runTask"; readonly node: string; readonly color: Color; readonly app: string; readonly attempt: number; readonly run: Omit<TaskRunRequest, "id"> }
  /** Nothing done: the desired state asks for something unsafe. Becomes a condition and an alert. */
  | { readonly type: "refuse"; readonly reason: RefuseReason; readonly color?: Color; readonly message: string }
  /** Nothing to do yet; plan again after the world changes or at `untilMs`. */
  | { readonly type: "wait"; readonly reason: WaitReason; readonly node?: string; readonly color?: Color; readonly message: string; readonly untilMs?: number };

export type ActionType = Action["type"];

/** One action in words, for the event log. */
export function describeAction(a: Action): string {
  switch (a.type) {
    case "applyNodeSpec":
      return a.spec.stopped ? `stop ${a.node} (${a.color})` : `${a.reason} ${a.spec.tag} on ${a.node} (${a.color})`;
    case "applyRouterSpec":
      return a.reason === "switch" ? `switch ${a.node}: live → ${a.spec.live ?? "none"}, preview → ${a.spec.preview ?? "none"}` : `update the routing table on ${a.node}`;
    case "runTask":
      return `run task ${a.run.name} for ${a.color} (${a.run.tag}) on ${a.node}${a.attempt > 1 ? `, attempt ${a.attempt}` : ""}`;
    case "revokeLease":
      return `revoke the job lease of ${a.node}`;
    case "grantLease":
      return `grant the job lease to ${a.node} (epoch ${a.epoch})`;
    case "renewLease":
      return `renew the job lease of ${a.node} (epoch ${a.epoch})`;
    case "refuse":
    case "wait":
      return a.message;
  }
}
