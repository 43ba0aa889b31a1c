/**
 * Performs a runTask action: the run is remembered as running (write-ahead) before the agent is asked,
 * then asked for (idempotent by its id: a reconciler restart asks again and follows the same run) and
 * followed until it ends; its result goes to memory.json. Resolves with the result, or null when the
 * reconciler closes meanwhile (the run goes on; the next reconciler follows it).
 */
import { createHash } from "node:crypto";
import type { Action } from "./actions.js";
import type { Color } from "../../specs/types.js";
import type { AgentClient } from "./agent-client.js";
import type { Memory } from "./memory.js";
import type { TaskRunRecord } from "../../specs/observed.js";
import type { TaskRecord } from "../../specs/tasks.js";
import { TASK_POLL_MS } from "../../specs/defaults.js";

/** How long past its timeout a run may still say running before the reconciler stops believing the agent. */
const TASK_FOLLOW_SLACK_MS = 60_000;

/** The id of a run: the same (app, colour, tag, task, attempt) always gives the same id. */
export function taskRunId(app: string, color: Color, tag: string, task: string, attempt: number): string {
  return createHash("sha256").update(JSON.stringify([app, color, tag, task, attempt])).digest("hex").slice(0, 32);
}

export async function followTask(client: AgentClient, a: Extract<Action, { type: "runTask" }>, memory: Memory, signal: AbortSignal): Promise<TaskRunRecord | null> {
  const run = { ...a.run, id: taskRunId(a.app, a.color, a.run.tag, a.run.name, a.attempt) };
  await memory.recordTaskRun(a.color, run.tag, run.name, { id: run.id, attempt: a.attempt, node: a.node, state: "running", exitCode: null, durationMs: null, finishedAt: null, output: [], error: null });
  let rec = await client.runTask(run);
  const giveUpAt = Date.parse(rec.startedAt) + run.timeoutSeconds * 1000 + TASK_FOLLOW_SLACK_MS;
  while (rec.state === "running") {
    if (signal.aborted) return null;
    if (Date.now() > giveUpAt) throw new Error(`task ${run.name} on ${a.node} still runs ${TASK_FOLLOW_SLACK_MS / 1000} s past its timeout; the agent should have stopped it`);
    await new Promise((r) => setTimeout(r, TASK_POLL_MS));
    rec = await client.task(run.id);
  }
  const result = toRun(rec, a.attempt);
  await memory.recordTaskRun(a.color, run.tag, run.name, result);
  return result;
}

function toRun(rec: TaskRecord, attempt: number): TaskRunRecord {
  return { id: rec.id, attempt, node: rec.node, state: rec.state, exitCode: rec.exitCode, durationMs: rec.durationMs, finishedAt: rec.finishedAt, output: rec.output, error: rec.error };
}
