/**
 * The agent's task runner (node-agent/node/tasks.ts) against a scripted runtime: one run per id, the output's
 * secret values redacted (in the answer and on disk), a run past its timeout stopped and failed, a run refused
 * for another tag than the spec's, and a run still going when the agent restarts adopted by its label.
 */
import { mkdtempSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import { describe, expect, it } from "vitest";
import { TaskRunner } from "../../node-agent/node/tasks.js";
import { RuntimeError, type Runtime, type Workload, type WorkloadDef } from "../../node-agent/runtime.js";
import type { NodeSpec } from "../../specs/wire.js";
import type { TaskRecord, TaskRunRequest } from "../../specs/tasks.js";
import { waitFor } from "../support/agent-bed.js";

const SECRET = "hunter2-very-secret";

/** A runtime whose task workloads end when the test says, printing what the test says. */
class ScriptedRuntime {
  readonly name = "docker" as const;
  readonly started: WorkloadDef[] = [];
  readonly removed: string[] = [];
  readonly w = new Map<string, Workload & { log: string[] }>();

  async list(_app: string, _node: string, which: "workloads" | "tasks" = "workloads"): Promise<Workload[]> {
    return which === "tasks" ? [...this.w.values()] : [];
  }
  async ensureImage(): Promise<void> {}
  async start(def: WorkloadDef): Promise<string> {
    this.started.push(def);
    const id = `w${this.started.length}`;
    this.w.set(id, { id, name: "x", service: def.service, tag: def.tag, kind: "task", specHash: "", task: def.task!.id, running: true, stateText: "running", since: "", log: [] });
    return id;
  }
  exit(code: number, log: string[]): void {
    for (const x of this.w.values()) Object.assign(x, { running: false, stateText: `exited (${code})`, log });
  }
  async logTail(id: string): Promise<string[]> {
    return this.w.get(id)?.log ?? [];
  }
  async stopAndRemove(id: string): Promise<void> {
    this.removed.push(id);
    this.w.delete(id);
  }
  watch(): () => void {
    return () => undefined;
  }
  async ping(): Promise<void> {}
  async close(): Promise<void> {}
}

function setup(rt: ScriptedRuntime = new ScriptedRuntime()) {
  const dir = mkdtempSync(join(tmpdir(), "sy-agent-tasks-"));
  const secretsDir = join(dir, "secrets");
  mkdirSync(secretsDir, { mode: 0o700 });
  writeFileSync(join(secretsDir, "database.env"), `DB_PASSWORD=${SECRET}\n`, { mode: 0o600 });
  const spec = {
    kind: "NodeSpec", app: "shop", node: "green-1", color: "green", generation: 2, repository: "127.0.0.1:5000/shop/app", tag: "v2", stopped: false,
    services: { web: { port: 8080, hostPort: 18082, env: { LOG_LEVEL: "info" }, secrets: ["database"], job: false } },
  } as unknown as NodeSpec;
  const make = () => new TaskRunner({ node: "green-1", dataDir: dir, runtime: rt as unknown as Runtime, publishAddress: "127.0.0.1", secretsDir, logger: pino({ level: "silent" }), spec: () => spec, changed: () => undefined });
  return { dir, rt, make };
}

const req = (o: Partial<TaskRunRequest> = {}): TaskRunRequest => ({ id: "a".repeat(32), name: "migrate", service: "web", color: "green", tag: "v2", command: ["node", "migrate.js"], timeoutSeconds: 60, ...o });

describe("the agent's task runner", () => {
  it("runs once per id with the service's env and secrets, and answers its output with secret values redacted", async () => {
    const { dir, rt, make } = setup();
    const runner = make();
    await runner.start();
    const first = await runner.run(req());
    expect(first.state).toBe("running");
    await waitFor("started", async () => rt.started.length === 1);
    expect(await runner.run(req())).toMatchObject({ id: first.id, state: "running" });
    const def = rt.started[0]!;
    expect(def).toMatchObject({ kind: "task", task: { id: first.id, name: "migrate" }, command: ["node", "migrate.js"], tag: "v2" });
    expect(def.env).toMatchObject({ LOG_LEVEL: "info", DB_PASSWORD: SECRET, SWITCHYARD_TASK: "migrate", SWITCHYARD_COLOR: "green" });
    expect(def.hostPort).toBeUndefined();
    rt.exit(3, ["connecting", `using password ${SECRET} for shop`, "relation users already exists"]);
    const done = await waitFor("failed", async () => runner.get(first.id).state === "failed" && runner.get(first.id));
    expect(done).toMatchObject({ exitCode: 3, error: null, output: ["connecting", "using password [redacted] for shop", "relation users already exists"] });
    expect(rt.started).toHaveLength(1);
    expect(rt.removed).toEqual(["w1"]);
    const onDisk = readFileSync(join(dir, "tasks", `${first.id}.json`), "utf8");
    expect(onDisk).not.toContain(SECRET);
    expect((JSON.parse(onDisk) as TaskRecord).state).toBe("failed");
    expect((await runner.run(req())).state).toBe("failed"); // still the same run: no second start
    expect(rt.started).toHaveLength(1);
    runner.close();
  });

  it("a finished run whose container the engine cannot remove keeps its result (the runtime retries the removal)", async () => {
    const rt = new ScriptedRuntime();
    rt.stopAndRemove = async (id) => {
      rt.removed.push(id);
      rt.w.delete(id); // listed no more, as DockerRuntime does with a leftover
      throw new RuntimeError(`container ${id} is stopped but Docker cannot remove it (device or resource busy)`, "unremovable");
    };
    const { make } = setup(rt);
    const runner = make();
    await runner.start();
    const r = await runner.run(req());
    await waitFor("started", async () => rt.started.length === 1);
    rt.exit(0, ["migrated"]);
    const done = await waitFor("finished", async () => runner.get(r.id).state !== "running" && runner.get(r.id));
    expect(done).toMatchObject({ state: "succeeded", exitCode: 0, error: null, output: ["migrated"] });
    runner.close();
  });

  it("refuses a run for another tag or colour than the spec holds, and starts nothing", async () => {
    const { rt, make } = setup();
    const runner = make();
    await runner.start();
    await expect(runner.run(req({ tag: "v3" }))).rejects.toThrow(/task migrate is for green v3 with service web, but node green-1 holds green v2; nothing was run/);
    await expect(runner.run(req({ color: "blue" }))).rejects.toThrow(/AGENT_ERR_TASK_REFUSED|holds green v2/);
    expect(rt.started).toEqual([]);
    runner.close();
  });

  it("a run past its timeout is stopped and fails as timed out", async () => {
    const { rt, make } = setup();
    const runner = make();
    await runner.start();
    const r = await runner.run(req({ timeoutSeconds: 1 }));
    const done = await waitFor("timed out", async () => runner.get(r.id).state === "failed" && runner.get(r.id), 10_000);
    expect(done).toMatchObject({ exitCode: null, error: "timed out after 1 s and was stopped" });
    expect(rt.removed).toHaveLength(1);
    runner.close();
  });

  it("after an agent restart, a run still going is adopted by its label and its result recorded", async () => {
    const { dir, rt, make } = setup();
    const before = make();
    await before.start();
    const r = await before.run(req());
    await waitFor("started", async () => rt.started.length === 1);
    before.close();
    const after = make();
    await after.start();
    expect(after.get(r.id).state).toBe("running");
    rt.exit(0, ["migrated 3 tables"]);
    const done = await waitFor("succeeded", async () => after.get(r.id).state === "succeeded" && after.get(r.id));
    expect(done).toMatchObject({ exitCode: 0, output: ["migrated 3 tables"] });
    expect(rt.started).toHaveLength(1);
    expect(readdirSync(join(dir, "tasks"))).toEqual([`${r.id}.json`]);
    after.close();
  });
});
