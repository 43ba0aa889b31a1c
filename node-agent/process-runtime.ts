/**
 * The process runtime (`runtime: process`), for hosts without Docker and for the embedded demo. An image
 * tag is a release directory `<releasesDir>/<tag>/`; a workload is a child process started in it, in its
 * own session (setsid), with its output in `<dataDir>/logs/<name>.log`, so it outlives an agent restart
 * as a container does. Bookkeeping in `<dataDir>/processes/` plays the part of Docker's labels. The
 * env contract is a container's, except that processes share the host's network: PORT is the host port
 * and HOST the publish address. What may run, and with which env, is decided in release-command.ts.
 *
 * Restart policy: none at this level, for web services too. A process that exits is reported as exited
 * (within a second, on /v1/watch), exactly like a container stopped by hand: the reconciler sees the drift,
 * alerts, and with `policy: heal` starts it again. A silent restart here would hide a crash loop.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { closeSync, fstatSync, openSync, readSync, renameSync, statSync, writeSync } from "node:fs";
import { mkdir, stat } from "node:fs/promises";
import { createServer } from "node:net";
import { constants } from "node:os";
import { join } from "node:path";
import type { Logger } from "pino";
import { ProcessBook, type ProcessRecord } from "./process-book.js";
import { identify, liveness } from "./process-identity.js";
import { checkProcessEnv, processEnv, type ReleaseUser } from "./process-env.js";
import { releaseDir, resolveCommand } from "./release-command.js";
import { LogMarks, processLogs } from "./process-logs.js";
import type { LogLine } from "../specs/logs.js";
import { LABEL, RuntimeError, containerName, extraFromLabels, kindOf, labelsOf, listedAs, type LogOptions, type Runtime, type Workload, type WorkloadDef } from "./runtime.js";

export interface ProcessRuntimeOptions {
  /** Where release directories live: `<releasesDir>/<tag>/`. */
  releasesDir: string;
  /** The agent's data dir: bookkeeping and logs go below it. */
  dataDir: string;
  logger: Logger;
  /** How often processes this agent did not spawn itself (adopted after a restart) are checked (default 500 ms). */
  pollMs?: number;
  /** agent.yaml process.user, resolved: releases run with this uid and gid (the agent must be root). */
  user?: ReleaseUser;
}

/** A log bigger than this is moved to `<name>.log.1` when its workload starts again. */
const MAX_LOG_BYTES = 10 * 1024 * 1024;
/** How much of the end of a log is read for a dead workload's last lines. */
const LOG_TAIL_BYTES = 64 * 1024;
/** After SIGKILL, a process that is still there after this long is reported as unstoppable. */
const KILL_WAIT_MS = 5_000;
const STOP_POLL_MS = 25;

export class ProcessRuntime implements Runtime {
  readonly name = "process" as const;
  private readonly book: ProcessBook;
  private readonly children = new Map<string, ChildProcess>();
  private readonly watchers = new Set<{ node: string; onChange: () => void }>();
  private readonly log: Logger;
  private readonly logsDir: string;
  private readonly marks = new LogMarks();
  private poller: NodeJS.Timeout | undefined;
  private loaded: Promise<void> | undefined;
  private closed = false;

  constructor(private readonly o: ProcessRuntimeOptions) {
    this.log = o.logger;
    this.book = new ProcessBook(o.dataDir, o.logger);
    this.logsDir = join(o.dataDir, "logs");
  }

  async ping(): Promise<void> {
    if (process.platform === "win32") throw new RuntimeError("the process runtime needs Linux or macOS (process groups and sessions)", "engine-unreachable");
    const st = await stat(this.o.releasesDir).catch(() => undefined);
    if (!st?.isDirectory()) {
      throw new RuntimeError(`the releases dir ${this.o.releasesDir} does not exist; create it and put one folder per release in it (like ${join(this.o.releasesDir, "v1")})`, "engine-unreachable");
    }
    await this.ready();
  }

  async list(app: string, node: string, which: "workloads" | "tasks" = "workloads"): Promise<Workload[]> {
    await this.ready();
    this.sweep();
    return this.book
      .all()
      .filter((r) => r.labels[LABEL.node] === node && (!app || r.labels[LABEL.app] === app) && listedAs(r.labels, which))
      .map((r) => toWorkload(r));
  }

  async ensureImage(_repository: string, tag: string): Promise<void> {
    await releaseDir(this.o.releasesDir, tag);
  }

  async start(def: WorkloadDef): Promise<string> {
    await this.ready();
    const name = containerName(def);
    await this.removeByName(name, def);
    const dir = await releaseDir(this.o.releasesDir, def.tag);
    const cmd = await resolveCommand(dir, def.service, def.command);
    const user = this.o.user;
    const env = processEnv({ service: def.service, env: def.env, publishAddress: def.publishAddress, hostPort: def.hostPort, port: def.port, user });
    if (def.hostPort !== undefined) await assertPortFree(def.publishAddress, def.hostPort);
    const logFile = await this.openLog(name, `${def.service} ${def.tag}: ${[cmd.file, ...cmd.args].join(" ")} in ${cmd.cwd}`);
    let child: ChildProcess;
    try {
      // As root, spawn drops supplementary groups before it switches to the user's gid and uid.
      child = spawn(cmd.file, cmd.args, { cwd: cmd.cwd, env, detached: true, stdio: ["ignore", logFile.fd, logFile.fd], ...(user ? { uid: user.uid, gid: user.gid } : {}) });
    } finally {
      closeSync(logFile.fd);
    }
    if (child.pid === undefined) {
      const err = await new Promise<Error>((resolve) => child.once("error", resolve));
      throw new RuntimeError(`cannot start the ${def.service} process: ${err.message}`);
    }
    child.on("error", () => undefined); // a failed kill() is reported by its caller
    const id = randomBytes(16).toString("hex");
    const rec: ProcessRecord = {
      id,
      name,
      labels: labelsOf(def),
      identity: identify(child.pid),
      file: cmd.file,
      args: cmd.args,
      cwd: cmd.cwd,
      log: logFile.path,
      logFrom: logFile.from,
      startedAt: new Date().toISOString(),
      exit: null,
    };
    this.children.set(id, child);
    child.once("exit", (code, signal) => {
      this.children.delete(id);
      const cur = this.book.get(id);
      if (!cur) return;
      const exitCode = code ?? (signal ? 128 + (constants.signals[signal] ?? 0) : null);
      void this.book.put({ ...cur, exit: { code: exitCode, at: new Date().toISOString() } }).catch((err: Error) => this.log.warn({ id, err: err.message }, "cannot record a process exit"));
      this.notify(cur);
    });
    child.unref();
    await this.book.put(rec);
    this.log.info({ service: def.service, tag: def.tag, id: id.slice(0, 12), processId: child.pid }, "process started");
    this.notify(rec);
    return id;
  }

  /** Refuses a spec whose env this runtime would refuse at start, before anything changes. */
  checkEnv(service: string, env: Readonly<Record<string, unknown>>): void {
    checkProcessEnv(service, env);
  }

  /** The last lines of the workload's log written since its last start (the agent's header lines left out). */
  async logTail(id: string, lines: number): Promise<string[]> {
    const rec = this.book.get(id);
    if (!rec) return [];
    const fd = openSync(rec.log, "r");
    try {
      const size = fstatSync(fd).size;
      const len = Math.min(size, LOG_TAIL_BYTES);
      const buf = Buffer.alloc(len);
      readSync(fd, buf, 0, len, size - len);
      const all = buf.toString("utf8").split("\n");
      let from = all.length;
      while (from > 0 && !/^--- \S+ switchyard: starting /.test(all[from - 1]!)) from--;
      return all.slice(from).slice(-lines);
    } finally {
      closeSync(fd);
    }
  }

  /** The workload's part of its log file; a follow ends once the process exits or is removed. */
  logs(id: string, opts: LogOptions, signal: AbortSignal): AsyncIterable<LogLine | { type: "caught-up" }> {
    const rec = this.book.get(id);
    if (!rec) throw new RuntimeError(`no process ${id.slice(0, 12)}`);
    const running = () => this.book.get(id)?.exit === null;
    return processLogs({ log: rec.log, from: rec.logFrom ?? 0, running }, this.marks, opts, signal);
  }

  async stopAndRemove(id: string, timeoutSeconds: number): Promise<void> {
    await this.ready();
    const rec = this.book.get(id);
    if (!rec) return;
    if (this.alive(rec)) {
      const pid = rec.identity.pid;
      signalGroup(pid, "SIGTERM");
      if (!(await this.waitGone(rec, timeoutSeconds * 1000))) {
        signalGroup(pid, "SIGKILL");
        if (!(await this.waitGone(rec, KILL_WAIT_MS))) throw new RuntimeError(`cannot stop process ${pid} (${rec.name}): still running after SIGKILL`);
      }
      // Whatever it left behind in its process group goes too, as a container's processes do.
      signalGroup(pid, "SIGKILL");
    }
    await this.book.remove(id);
    this.notify(rec);
  }

  watch(node: string, onChange: () => void): () => void {
    const w = { node, onChange };
    this.watchers.add(w);
    if (!this.poller) {
      this.poller = setInterval(() => {
        if (this.loaded) this.sweep();
        this.markLogs();
      }, this.o.pollMs ?? 500);
      this.poller.unref();
    }
    void this.ready().then(onChange, () => undefined);
    return () => {
      this.watchers.delete(w);
      if (this.watchers.size === 0 && this.poller) {
        clearInterval(this.poller);
        this.poller = undefined;
      }
    };
  }

  async close(): Promise<void> {
    this.closed = true;
    this.watchers.clear();
    if (this.poller) clearInterval(this.poller);
    this.poller = undefined;
    // Processes keep running, like containers when the agent stops. Their records are no longer updated
    // (an exit after this is found by the next agent, through /proc); stopAndRemove still works.
    for (const child of this.children.values()) child.removeAllListeners("exit");
    this.children.clear();
  }

  private ready(): Promise<void> {
    this.loaded ??= this.book.load();
    return this.loaded;
  }

  /** Marks records whose process is gone as exited. Our own children report through their exit event. */
  private sweep(): void {
    if (this.closed) return;
    for (const rec of this.book.all()) {
      if (rec.exit !== null || this.children.has(rec.id)) continue;
      if (liveness(rec.identity) === "alive") continue;
      const exited = { ...rec, exit: { code: null, at: new Date().toISOString() } };
      void this.book.put(exited).catch((err: Error) => this.log.warn({ id: rec.id, err: err.message }, "cannot record a process exit"));
      this.log.info({ name: rec.name, processId: rec.identity.pid }, "process exited");
      this.notify(rec);
    }
  }

  /** How big each running workload's log is now: what gives its lines their times (process-logs.ts). */
  private markLogs(): void {
    for (const rec of this.book.all()) {
      if (rec.exit !== null) continue;
      try {
        this.marks.note(rec.log, statSync(rec.log).size);
      } catch {
        // moved aside or removed: the next start marks it again
      }
    }
  }

  private alive(rec: ProcessRecord): boolean {
    return rec.exit === null && liveness(rec.identity) === "alive";
  }

  private async waitGone(rec: ProcessRecord, ms: number): Promise<boolean> {
    const deadline = Date.now() + ms;
    for (;;) {
      if (liveness(rec.identity) === "gone") return true;
      if (Date.now() >= deadline) return false;
      await new Promise((r) => setTimeout(r, STOP_POLL_MS));
    }
  }

  /** A leftover with our name (say, an exited process never removed) is ours to replace. */
  private async removeByName(name: string, def: WorkloadDef): Promise<void> {
    for (const rec of this.book.all().filter((r) => r.name === name)) {
      if (rec.labels[LABEL.app] !== def.app || rec.labels[LABEL.node] !== def.node) {
        throw new RuntimeError(`a process named ${name} is recorded in ${this.book.dir} but is not this agent's (no matching labels); remove its record`);
      }
      await this.stopAndRemove(rec.id, 0);
    }
  }

  private async openLog(name: string, header: string): Promise<{ fd: number; path: string; from: number }> {
    await mkdir(this.logsDir, { recursive: true, mode: 0o700 });
    const path = join(this.logsDir, `${name}.log`);
    try {
      if (statSync(path).size > MAX_LOG_BYTES) renameSync(path, `${path}.1`);
    } catch {
      // no log yet
    }
    const fd = openSync(path, "a", 0o600);
    writeSync(fd, `--- ${new Date().toISOString()} switchyard: starting ${header}\n`);
    const from = fstatSync(fd).size;
    this.marks.forget(path);
    this.marks.note(path, from);
    return { fd, path, from };
  }

  private notify(rec: ProcessRecord): void {
    const node = rec.labels[LABEL.node];
    for (const w of this.watchers) if (w.node === node) w.onChange();
  }
}

function toWorkload(r: ProcessRecord): Workload {
  const l = r.labels;
  const epoch = l[LABEL.epoch] ? Number(l[LABEL.epoch]) : undefined;
  return {
    id: r.id,
    name: r.name,
    service: l[LABEL.service] ?? "",
    tag: l[LABEL.tag] ?? "",
    kind: kindOf(l),
    specHash: l[LABEL.specHash] ?? "",
    ...(epoch !== undefined ? { epoch } : {}),
    ...extraFromLabels(l),
    running: r.exit === null,
    stateText: r.exit === null ? "running" : `exited (${r.exit.code ?? "?"})`,
    since: r.exit?.at ?? r.startedAt,
  };
}

/** Signals a whole process group (the workload and anything it started). Gone already is fine. */
function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ESRCH") throw new RuntimeError(`cannot send ${signal} to process group ${pid}: ${(err as Error).message}`);
  }
}

/** The same check Docker makes when it publishes a port, with the same message. */
async function assertPortFree(host: string, port: number): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const s = createServer();
    s.once("error", (err: NodeJS.ErrnoException) => {
      if (err.code === "EADDRINUSE") {
        reject(new RuntimeError(`host port ${port} on ${host} is already in use by another program; free it or change the node's ports in cluster.yaml`, "port-in-use"));
      } else reject(new RuntimeError(`cannot listen on ${host}:${port}: ${err.message}`));
    });
    s.listen({ host, port, exclusive: true }, () => s.close(() => resolve()));
  });
}
