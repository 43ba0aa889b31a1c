/**
 * A node agent run as a child process (`switchyard agent --config …`) so its memory and CPU can be read
 * from /proc, with a small authenticated client for its API and a reader for its /v1/watch stream.
 */
import { requestJson } from "../../test/support/agent-bed.js";
import { SseParser } from "../../common/sse.js";
import { spawn, type ChildProcess } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { performance } from "node:perf_hooks";
import type { NodeSpec, NodeStatus } from "../../specs/wire.js";

export interface AgentProcessOptions {
  /** Repository root (holds bin/switchyard.js). */
  root: string;
  /** Temp folder for agent.yaml, the token and the data dir. */
  dir: string;
  name: string;
  allowedRepositories: string[];
  dockerSocket: string;
}

export class AgentProcess {
  /** The agent's last output lines, for error messages. */
  readonly output: string[] = [];

  private constructor(readonly child: ChildProcess, readonly url: string, readonly token: string) {}

  get pid(): number {
    return this.child.pid!;
  }

  static async start(o: AgentProcessOptions, timeoutMs = 15_000): Promise<AgentProcess> {
    const token = randomBytes(24).toString("hex");
    writeFileSync(join(o.dir, "token"), token + "\n", { mode: 0o600 });
    const configFile = join(o.dir, "agent.yaml");
    writeFileSync(
      configFile,
      [
        "apiVersion: switchyard.dev/v1",
        "kind: Agent",
        `name: ${o.name}`,
        "listen: 127.0.0.1:0",
        "tokenFile: token",
        "role: node",
        `allowedRepositories: [${o.allowedRepositories.join(", ")}]`,
        "publishAddress: 127.0.0.1",
        "dataDir: data",
        "docker:",
        `  socketPath: ${o.dockerSocket}`,
        "",
      ].join("\n"),
    );
    const child = spawn(process.execPath, [join(o.root, "bin/switchyard.js"), "agent", "--config", configFile], {
      cwd: o.dir,
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, SWITCHYARD_LOG_LEVEL: process.env.SWITCHYARD_LOG_LEVEL ?? "info" },
    });
    const output: string[] = [];
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`the agent did not report listening within ${timeoutMs} ms:\n${output.join("\n")}`)), timeoutMs);
      const onLine = (line: string) => {
        output.push(line);
        if (output.length > 200) output.shift();
        const m = /listening on (https?:\/\/\S+)/.exec(line);
        if (m && !line.startsWith("{")) {
          clearTimeout(timer);
          resolve(m[1]!);
        }
      };
      for (const stream of [child.stdout!, child.stderr!]) {
        let tail = "";
        stream.setEncoding("utf8");
        stream.on("data", (chunk: string) => {
          const lines = (tail + chunk).split("\n");
          tail = lines.pop() ?? "";
          lines.forEach(onLine);
        });
      }
      child.once("exit", (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`the agent exited (${signal ?? code}) before listening:\n${output.join("\n")}`));
      });
    });
    const agent = new AgentProcess(child, url, token);
    agent.output.push(...output);
    return agent;
  }

  /** SIGTERM, then SIGKILL if it has not exited after graceMs. */
  async stop(graceMs = 5_000): Promise<void> {
    const child = this.child;
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    child.kill("SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
    await exited;
    clearTimeout(timer);
  }

  async req(method: string, path: string, body?: unknown): Promise<{ status: number; json: unknown }> {
    return requestJson(this.url + path, this.token, method, body, {}, 10_000);
  }

  async putSpec(spec: NodeSpec): Promise<void> {
    const r = await this.req("PUT", "/v1/spec", spec);
    if (r.status !== 200 && r.status !== 202) throw new Error(`PUT /v1/spec answered ${r.status}: ${JSON.stringify(r.json)}`);
  }

  watch(): StatusWatch {
    return new StatusWatch(this.url, this.token);
  }
}

export interface StatusEvent {
  /** performance.now() when the event arrived. */
  at: number;
  status: NodeStatus;
}

/** Reads /v1/watch; keeps every status event with its arrival time and wakes waiters at once. */
export class StatusWatch {
  readonly events: StatusEvent[] = [];
  private readonly ctrl = new AbortController();
  private readonly waiters = new Set<() => void>();
  private failure: Error | undefined;

  constructor(url: string, token: string) {
    void (async () => {
      const res = await fetch(url + "/v1/watch", { headers: { authorization: `Bearer ${token}` }, signal: this.ctrl.signal });
      if (!res.ok || !res.body) throw new Error(`/v1/watch answered ${res.status}`);
      const sse = new SseParser();
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        for (const data of sse.push(chunk)) {
          this.events.push({ at: performance.now(), status: JSON.parse(data) as NodeStatus });
          for (const w of this.waiters) w();
        }
      }
      throw new Error("/v1/watch ended");
    })().catch((err: Error) => {
      if (err.name === "AbortError") return;
      this.failure = err;
      for (const w of this.waiters) w();
    });
  }

  /** The first event at or after index `from` that satisfies pred. */
  waitFor(what: string, pred: (s: NodeStatus) => boolean, from: number, timeoutMs: number): Promise<StatusEvent> {
    return new Promise((resolve, reject) => {
      let next = from;
      const check = () => {
        if (this.failure) return finish(() => reject(this.failure));
        for (; next < this.events.length; next++) {
          const ev = this.events[next]!;
          if (pred(ev.status)) return finish(() => resolve(ev));
        }
      };
      const timer = setTimeout(() => {
        const last = this.events[this.events.length - 1]?.status;
        finish(() => reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}; last status: ${JSON.stringify(last?.services)}`)));
      }, timeoutMs);
      const finish = (f: () => void) => {
        clearTimeout(timer);
        this.waiters.delete(check);
        f();
      };
      this.waiters.add(check);
      check();
    });
  }

  close(): void {
    this.ctrl.abort();
  }
}
