import { describe, expect, it } from "vitest";
import { plan } from "../../reconciler/loop/plan.js";
import { taskRunId } from "../../reconciler/loop/task-follow.js";
import type { ColorTasksRecord, Observed, TaskRunRecord } from "../../specs/observed.js";
import type { Cluster } from "../../specs/cluster.js";
import { deepFreeze as freeze } from "../../common/values.js";
import { NOW, cluster1x1, desired, ledger, node, router, summarize, world } from "../support/world.js";

/** The local cluster with one migration task on the web service. */
function withTasks(): Cluster {
  const c = structuredClone(cluster1x1());
  c.spec.tasks = [{ name: "migrate", service: "web", command: ["node", "migrate.js"], timeoutSeconds: 60 }];
  return c;
}

const c = withTasks();
const app = c.metadata.name;
const dGreen = desired(c, { active: "green" }); // green v2 asked to go live; blue v1 serves
const blueOwns = { epoch: 3 };
const blueLedger = ledger({ epoch: 3, grants: { "blue-1": { epoch: 3, sentAtMs: NOW - 1_000, ttlMs: 10_000 } } });

function run(state: TaskRunRecord["state"], o: Partial<TaskRunRecord> = {}, attempt = 1): TaskRunRecord {
  return { id: taskRunId(app, "green", "v2", "migrate", attempt), attempt, node: "green-1", state, exitCode: state === "succeeded" ? 0 : state === "failed" ? 1 : null, durationMs: state === "running" ? null : 1200, finishedAt: null, output: state === "failed" ? ["relation users already exists"] : [], error: null, ...o };
}

function greenTasks(r: TaskRunRecord | null, attempts: Record<string, number> = {}, tag = "v2"): ColorTasksRecord {
  return { tag, attempts, runs: r ? { migrate: r } : {} };
}

/** Green ready on v2 (or still starting), blue v1 live and owning the jobs, with green's task records. */
function greenWorld(tasks: ColorTasksRecord | undefined, greenWeb: "healthy" | "starting" = "healthy", live: "blue" | "green" = "blue"): Observed {
  const o = world({ "blue-1": node(dGreen, "blue-1", { tag: "v1", lease: blueOwns }), "green-1": node(dGreen, "green-1", { tag: "v2", web: greenWeb }), "router-1": router(dGreen, "router-1", { live }) }, blueLedger);
  return { ...o, ...(tasks ? { tasks: { green: tasks } } : {}) };
}

const rows: { name: string; o: Observed; expect: string[] }[] = [
  { name: "green not ready yet: no task, no switch; the task waits for green", o: greenWorld(undefined, "starting"), expect: ["wait TasksPending green", "wait WaitingForHealth green"] },
  { name: "green ready, task never run: run it on a green node, and do not switch", o: greenWorld(undefined), expect: ["task migrate green-1 v2#1", "wait TaskRunning green"] },
  { name: "task running (after a reconciler restart too): follow the same run, still no switch", o: greenWorld(greenTasks(run("running"))), expect: ["task migrate green-1 v2#1", "wait TaskRunning green"] },
  { name: "task failed: green is refused as TaskFailed and the router stays on blue", o: greenWorld(greenTasks(run("failed"))), expect: ["refuse TaskFailed green"] },
  { name: "task timed out: refused the same way", o: greenWorld(greenTasks(run("failed", { exitCode: null, error: "timed out after 60 s and was stopped" }))), expect: ["refuse TaskFailed green"] },
  { name: "retry (attempt 2): the failed first run no longer counts; run attempt 2", o: greenWorld(greenTasks(run("failed"), { migrate: 2 })), expect: ["task migrate green-1 v2#2", "wait TaskRunning green"] },
  { name: "task succeeded: the switch goes ahead", o: greenWorld(greenTasks(run("succeeded"))), expect: ["switch router-1 live=green"] },
  { name: "a record for another tag does not count: run the task for v2", o: greenWorld(greenTasks(run("succeeded"), {}, "v1")), expect: ["task migrate green-1 v2#1", "wait TaskRunning green"] },
  { name: "green already serves live: it is never held back and runs no task (blue served v1: none for it either)", o: { ...greenWorld(undefined, "healthy", "green"), tasks: { blue: { tag: "v1", attempts: {}, runs: {}, served: true } } }, expect: ["revoke blue-1", "wait LeaseRevocation blue-1"] },
  { name: "a colour that served its tag before (served): no task on rollback", o: greenWorld({ tag: "v2", attempts: {}, runs: {}, served: true }), expect: ["switch router-1 live=green"] },
];

describe("plan with pre-promotion tasks", () => {
  it.each(rows.map((r) => [r.name, r] as const))("%s", (_name, row) => {
    expect(plan(dGreen, freeze(row.o), NOW).map(summarize)).toEqual(row.expect);
  });

  it("the TaskFailed refusal names the task, the node, why and the last output, and how to retry", () => {
    const refusal = plan(dGreen, freeze(greenWorld(greenTasks(run("failed")))), NOW).find((a) => a.type === "refuse");
    expect(refusal?.type === "refuse" && refusal.message).toBe(
      "task migrate failed on green-1 for green (v2): exit code 1; last output: relation users already exists. green does not take live traffic; fix it and retry the task (switchyard task retry migrate --color green), or deploy another tag",
    );
  });

  it("the jobs owner's tag waits for its tasks: an explicit owner green on v2 gets no lease before they succeeded", () => {
    const d = desired(c, { active: "blue", owner: "green" });
    const o = world({ "blue-1": node(d, "blue-1", { tag: "v1" }), "green-1": node(d, "green-1", { tag: "v2" }), "router-1": router(d, "router-1", { live: "blue" }) });
    const before = plan(d, freeze(o), NOW).map(summarize);
    expect(before).toContain("wait TasksPending green");
    expect(before.some((s) => s.startsWith("grant"))).toBe(false);
    const after = plan(d, freeze({ ...o, tasks: { green: greenTasks(run("succeeded")) } }), NOW).map(summarize);
    expect(after).toContain("grant green-1 epoch 1");
  });

  it("the run id is the same for the same (colour, tag, task, attempt), and differs otherwise", () => {
    expect(taskRunId(app, "green", "v2", "migrate", 1)).toBe(taskRunId(app, "green", "v2", "migrate", 1));
    expect(new Set([taskRunId(app, "green", "v2", "migrate", 1), taskRunId(app, "green", "v2", "migrate", 2), taskRunId(app, "blue", "v2", "migrate", 1), taskRunId(app, "green", "v3", "migrate", 1)]).size).toBe(4);
  });
});
