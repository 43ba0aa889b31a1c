/**
 * The planner's part for pre-promotion tasks (cluster.yaml tasks), pure like plan.ts. A colour that may go
 * live runs its tasks once it is ready on its tag, one after the other in cluster.yaml's order, each once per
 * attempt; it may take live traffic (and its tag's jobs may start) only once every one succeeded. A colour
 * the routers already serve is never held back and never runs tasks (they are for the colour going live).
 */
import type { Action } from "./actions.js";
import type { Observed } from "../../specs/observed.js";
import type { Color } from "../../specs/types.js";
import type { Desired } from "./desired.js";
import type { NodeView } from "./views.js";

export interface TaskGate {
  /** Every task succeeded for the colour's tag (or there are none, or the colour already serves live). */
  done: boolean;
  /** The runTask and wait actions for now. */
  actions: Action[];
  /** A task failed: the message for the TaskFailed refusal. */
  failed?: string;
}

export function taskGate(d: Desired, o: Observed, c: Color, views: readonly NodeView[], serving: boolean, ready: boolean): TaskGate {
  const tasks = d.cluster.spec.tasks;
  const want = d.state.spec.colors[c];
  if (tasks.length === 0 || serving) return { done: true, actions: [] };
  if (want.stopped || want.tag === undefined) return { done: false, actions: [] };
  const tag = want.tag;
  const rec = o.tasks?.[c]?.tag === tag ? o.tasks[c] : undefined;
  if (rec?.served) return { done: true, actions: [] };
  for (const t of tasks) {
    const attempt = rec?.attempts[t.name] ?? 1;
    const run = rec?.runs[t.name];
    const mine = run?.attempt === attempt ? run : undefined;
    if (mine?.state === "succeeded") continue;
    if (mine?.state === "failed") {
      const why = mine.error ?? `exit code ${mine.exitCode}`;
      const tail = mine.output.length > 0 ? `; last output: ${mine.output.slice(-3).join(" | ")}` : "";
      return {
        done: false,
        actions: [],
        failed: `task ${t.name} failed on ${mine.node} for ${c} (${tag}): ${why}${tail}. ${c} does not take live traffic; fix it and retry the task (switchyard task retry ${t.name} --color ${c}), or deploy another tag`,
      };
    }
    const req = { name: t.name, service: t.service, color: c, tag, command: [...t.command], timeoutSeconds: t.timeoutSeconds };
    if (mine?.state === "running") {
      // Follow the run already asked for (after a reconciler restart too): the agent answers it by its id.
      return { done: false, actions: [{ type: "runTask", node: mine.node, color: c, app: d.cluster.metadata.name, attempt, run: req }, { type: "wait", reason: "TaskRunning", color: c, message: `task ${t.name} runs on ${mine.node} for ${c} (${tag}); ${c} takes live traffic once every task succeeded` }] };
    }
    const node = ready ? views.find((v) => v.ready)?.node.name : undefined;
    if (node === undefined) {
      return { done: false, actions: [{ type: "wait", reason: "TasksPending", color: c, message: `task ${t.name} runs for ${c} (${tag}) once ${c} is ready` }] };
    }
    return { done: false, actions: [{ type: "runTask", node, color: c, app: d.cluster.metadata.name, attempt, run: req }, { type: "wait", reason: "TaskRunning", color: c, message: `task ${t.name} starts on ${node} for ${c} (${tag}); ${c} takes live traffic once every task succeeded` }] };
  }
  return { done: true, actions: [] };
}
