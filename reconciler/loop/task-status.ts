/** A colour's pre-promotion tasks as status shows them (ClusterStatus colors.*.tasks), from memory's runs. */
import type { Observed } from "../../specs/observed.js";
import type { TaskStatus } from "../../specs/tasks.js";
import type { Color } from "../../specs/types.js";
import type { Desired } from "./desired.js";

export function taskStatuses(d: Desired, o: Observed, c: Color): TaskStatus[] | undefined {
  const tasks = d.cluster.spec.tasks;
  const tag = d.state.spec.colors[c].tag;
  if (tasks.length === 0 || tag === undefined) return undefined;
  const rec = o.tasks?.[c]?.tag === tag ? o.tasks[c] : undefined;
  return tasks.map((t) => {
    const attempt = rec?.attempts[t.name] ?? 1;
    const run = rec?.runs[t.name];
    if (!run || run.attempt !== attempt) {
      const message = rec?.served ? `not run: ${c} served live traffic with ${tag} already` : `runs once ${c} is ready with ${tag}`;
      return { name: t.name, state: rec?.served ? "succeeded" : "pending", attempt, node: null, exitCode: null, durationMs: null, finishedAt: null, output: [], message };
    }
    const message = run.state === "running" ? `running on ${run.node}` : run.state === "succeeded" ? `succeeded on ${run.node}` : `failed on ${run.node}: ${run.error ?? `exit code ${run.exitCode}`}`;
    return { name: t.name, state: run.state, attempt, node: run.node, exitCode: run.exitCode, durationMs: run.durationMs, finishedAt: run.finishedAt, output: [...run.output], message };
  });
}
