/**
 * Pre-promotion task runs on this node (POST /v1/tasks/run, GET /v1/tasks/:id). A run is a workload of kind
 * `task` from the service's image (or release) with the service's env and secrets and the task's command,
 * labelled with the run's id. Its record is in `<dataDir>/tasks/<id>.json` before the workload starts, so
 * asking again for the same id never starts it twice, and an agent restart adopts the run by its label and
 * finishes the record. Output keeps the last TASK_OUTPUT_LINES lines, secret values redacted.
 */
import { mkdir, readdir, readFile, unlink } from "node:fs/promises";
import { join } from "node:path";
import type { Logger } from "pino";
import type { NodeSpec } from "../../specs/wire.js";
import type { TaskRecord, TaskRunRequest } from "../../specs/tasks.js";
import { TASK_OUTPUT_LINES, TASK_OUTPUT_LINE_CHARS, TASK_POLL_MS, TASK_RECORDS_KEPT } from "../../specs/defaults.js";
import { writeFileAtomic } from "../../common/atomic-file.js";
import { agentError } from "../errors.js";
import { RuntimeError, type Runtime, type WorkloadDef } from "../runtime.js";
import { serviceImage } from "../../specs/images.js";
import { workloadDef } from "./workload.js";
import { loadSecrets } from "./secrets.js";
import { clipLog, exitCodeOf } from "./restarts.js";

export interface TaskRunnerOptions {
  node: string;
  dataDir: string;
  runtime: Runtime;
  publishAddress: string;
  secretsDir?: string;
  logger: Logger;
  spec: () => NodeSpec | null;
  /** A run changed state (status watchers may want to know). */
  changed: () => void;
}

/** Seconds a timed-out task gets between SIGTERM and SIGKILL. */
const TASK_STOP_SECONDS = 5;

export class TaskRunner {
  private readonly records = new Map<string, TaskRecord>();
  private readonly watching = new Set<string>();
  /** Secret values a run was started with, for redacting its output (memory only). */
  private readonly secretValues = new Map<string, readonly string[]>();
  private closed = false;

  constructor(private readonly o: TaskRunnerOptions) {}

  private get dir(): string {
    return join(this.o.dataDir, "tasks");
  }

  /** Loads the records and adopts the runs that were still running when the agent stopped. */
  async start(): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    for (const f of await readdir(this.dir)) {
      if (!/^[a-f0-9]{32}\.json$/.test(f)) continue;
      try {
        const rec = JSON.parse(await readFile(join(this.dir, f), "utf8")) as TaskRecord;
        this.records.set(rec.id, rec);
      } catch (err) {
        this.o.logger.warn({ file: f, err: (err as Error).message }, "task record unreadable; left out");
      }
    }
    for (const rec of this.records.values()) if (rec.state === "running") this.watch(rec);
  }

  close(): void {
    this.closed = true;
  }

  get(id: string): TaskRecord {
    const rec = this.records.get(id);
    if (!rec) throw agentError("AGENT_ERR_NO_TASK", `node ${this.o.node} has no record of task run ${id}`);
    return rec;
  }

  /** Starts the run unless its id is known (then answers its record as it is): idempotent by id. */
  async run(req: TaskRunRequest): Promise<TaskRecord> {
    const known = this.records.get(req.id);
    if (known) return known;
    const spec = this.o.spec();
    const svc = spec?.services[req.service];
    if (!spec || spec.stopped || spec.tag !== req.tag || spec.color !== req.color || !svc) {
      const holds = spec ? `${spec.color} ${spec.stopped ? "(stopped)" : spec.tag ?? "without a tag"}` : "no spec";
      throw agentError("AGENT_ERR_TASK_REFUSED", `task ${req.name} is for ${req.color} ${req.tag} with service ${req.service}, but node ${this.o.node} holds ${holds}${spec && !svc ? ` and no service ${req.service}` : ""}; nothing was run`);
    }
    const rec: TaskRecord = {
      id: req.id, name: req.name, service: req.service, color: req.color, tag: req.tag, node: this.o.node, timeoutSeconds: req.timeoutSeconds,
      state: "running", exitCode: null, startedAt: new Date().toISOString(), finishedAt: null, durationMs: null, output: [], error: null,
    };
    // On disk before the run starts: a second request (or an agent restart) finds it.
    await this.save(rec);
    this.o.logger.info({ task: req.name, id: req.id, tag: req.tag }, "task started");
    void this.execute(rec, spec, req).catch((err: Error) => this.o.logger.error({ task: req.name, err: err.message }, "task bookkeeping failed"));
    return rec;
  }

  private async execute(rec: TaskRecord, spec: NodeSpec, req: TaskRunRequest): Promise<void> {
    const svc = spec.services[req.service]!;
    try {
      const image = serviceImage(spec, svc); // the service's own repository, when it names one
      await this.o.runtime.ensureImage(image.repository, req.tag, undefined, undefined, image.digest);
      const base = workloadDef(spec, req.service, svc, this.o.publishAddress);
      const def: WorkloadDef = { ...base, kind: "task", task: { id: req.id, name: req.name }, command: [...req.command], env: { ...base.env, SWITCHYARD_TASK: req.name } };
      delete def.port;
      delete def.hostPort;
      delete def.env.PORT;
      if (svc.secrets?.length) {
        const s = await loadSecrets(this.o.secretsDir, req.service, svc.secrets, spec.secretsKey);
        this.secretValues.set(req.id, s.values);
        def.env = { ...def.env, ...s.env };
      }
      await this.o.runtime.start(def);
    } catch (err) {
      await this.finish(rec, { exitCode: null, output: [], error: `could not start: ${(err as Error).message}` });
      return;
    }
    this.watch(rec);
  }

  /** Polls the run until it exits, is gone, or outlives its timeout (then it is stopped). */
  private watch(rec: TaskRecord): void {
    if (this.watching.has(rec.id)) return;
    this.watching.add(rec.id);
    const timeoutMs = rec.timeoutSeconds * 1000;
    const tick = async (): Promise<void> => {
      if (this.closed) return;
      const w = (await this.o.runtime.list(this.o.spec()?.app ?? "", this.o.node, "tasks")).find((x) => x.task === rec.id);
      if (!w) return this.finish(rec, { exitCode: null, output: [], error: "its container or process is gone (removed by hand, or the engine lost it)" });
      const elapsed = Date.now() - Date.parse(rec.startedAt);
      if (w.running && elapsed < timeoutMs) {
        setTimeout(() => void tick().catch(retry), TASK_POLL_MS).unref();
        return;
      }
      const output = await this.output(rec, w.id);
      if (w.running) {
        await this.remove(rec, w.id);
        return this.finish(rec, { exitCode: null, output, error: `timed out after ${Math.round(timeoutMs / 1000)} s and was stopped` });
      }
      const exitCode = exitCodeOf(w.stateText);
      await this.remove(rec, w.id);
      return this.finish(rec, { exitCode, output, error: exitCode === null ? `it ended without an exit code the agent could read (${w.stateText})` : null });
    };
    const retry = (err: Error) => {
      this.o.logger.warn({ task: rec.name, err: err.message }, "task check failed; trying again");
      if (!this.closed) setTimeout(() => void tick().catch(retry), TASK_POLL_MS * 4).unref();
    };
    void tick().catch(retry);
  }

  /** Stops and removes a run's workload; one stopped but not removable is left to the runtime's retries (its result stands). */
  private async remove(rec: TaskRecord, workloadId: string): Promise<void> {
    try {
      await this.o.runtime.stopAndRemove(workloadId, TASK_STOP_SECONDS);
    } catch (err) {
      if (!(err instanceof RuntimeError && err.kind === "unremovable")) throw err;
      this.o.logger.warn({ task: rec.name, id: workloadId.slice(0, 12), err: err.message }, "a finished task's container cannot be removed; its removal is retried");
    }
  }

  private async output(rec: TaskRecord, workloadId: string): Promise<string[]> {
    const lines = (await this.o.runtime.logTail?.(workloadId, TASK_OUTPUT_LINES * 4).catch(() => [])) ?? [];
    return clipLog(lines, await this.secretsOf(rec), TASK_OUTPUT_LINES, TASK_OUTPUT_LINE_CHARS);
  }

  /** The values to redact: those the run started with, else what the service's secret files hold now. */
  private async secretsOf(rec: TaskRecord): Promise<readonly string[]> {
    const known = this.secretValues.get(rec.id);
    if (known) return known;
    const names = this.o.spec()?.services[rec.service]?.secrets ?? [];
    return loadSecrets(this.o.secretsDir, rec.service, names, undefined).then((s) => s.values, () => []);
  }

  private async finish(rec: TaskRecord, r: { exitCode: number | null; output: string[]; error: string | null }): Promise<void> {
    const finishedAt = new Date();
    const done: TaskRecord = {
      ...rec,
      state: r.exitCode === 0 && r.error === null ? "succeeded" : "failed",
      exitCode: r.exitCode,
      finishedAt: finishedAt.toISOString(),
      durationMs: Math.max(0, finishedAt.getTime() - Date.parse(rec.startedAt)),
      output: r.output,
      error: r.error,
    };
    this.watching.delete(rec.id);
    this.secretValues.delete(rec.id);
    await this.save(done);
    this.o.logger.info({ task: rec.name, id: rec.id, state: done.state, exitCode: done.exitCode, ms: done.durationMs }, "task finished");
    await this.prune();
  }

  private async save(rec: TaskRecord): Promise<void> {
    await writeFileAtomic(join(this.dir, `${rec.id}.json`), JSON.stringify(rec));
    this.records.set(rec.id, rec);
    this.o.changed();
  }

  /** Keeps the newest TASK_RECORDS_KEPT records; running ones always stay. */
  private async prune(): Promise<void> {
    const done = [...this.records.values()].filter((r) => r.state !== "running").sort((a, b) => (a.finishedAt ?? "").localeCompare(b.finishedAt ?? ""));
    for (const r of done.slice(0, Math.max(0, this.records.size - TASK_RECORDS_KEPT))) {
      this.records.delete(r.id);
      await unlink(join(this.dir, `${r.id}.json`)).catch(() => undefined);
    }
  }
}
