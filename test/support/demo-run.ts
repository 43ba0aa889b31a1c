/**
 * `switchyard demo` as a user runs it: a child process whose output is read until it prints that it is
 * up, then driven through its router and its API, then stopped with SIGINT.
 */
import { requestJson } from "./agent-bed.js";
import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { request } from "undici";
import type { DemoInfo } from "../../cli/demo/cluster.js";
import { waitFor } from "./agent-bed.js";

export class DemoRun {
  proc: ChildProcess | undefined;
  out = "";
  info!: DemoInfo;
  token = "";
  startedMs = 0;

  constructor(readonly dir: string, readonly runtime: "process" | "docker") {}

  async start(timeoutMs = 60_000, extraArgs: string[] = []): Promise<DemoInfo> {
    const t0 = Date.now();
    this.out = "";
    const proc = spawn(process.execPath, ["bin/switchyard.js", "demo", "--runtime", this.runtime, "--dir", this.dir, "--dashboard-port", "0", "--router-port", "0", ...extraArgs], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    this.proc = proc;
    proc.stdout!.on("data", (d: Buffer) => (this.out += d.toString()));
    proc.stderr!.on("data", (d: Buffer) => (this.out += d.toString()));
    await waitFor("the demo to say it is up", async () => {
      if (proc.exitCode !== null) throw new Error(`the demo exited with ${proc.exitCode}: ${this.out}`);
      return this.out.includes("Press Ctrl-C");
    }, timeoutMs, 50);
    this.startedMs = Date.now() - t0;
    this.info = JSON.parse(readFileSync(`${this.dir}/demo.json`, "utf8")) as DemoInfo;
    this.token = readFileSync(this.info.apiTokenFile, "utf8").trim();
    return this.info;
  }

  /** GET /version through the demo's router with the live or preview host name. */
  async viaRouter(which: "live" | "preview"): Promise<{ status: number; version?: string; color?: string }> {
    const host = new URL(this.info[which]).host;
    const res = await request(`${this.info.router}version`, { headers: { host }, headersTimeout: 5000, bodyTimeout: 5000 });
    const text = await res.body.text();
    return res.statusCode === 200 ? { status: 200, ...(JSON.parse(text) as { version: string; color: string }) } : { status: res.statusCode };
  }

  async api(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<{ status: number; json: any }> {
    return requestJson(this.info.dashboard.replace(/\/$/, "") + path, this.token, method, body, headers);
  }

  /** An action (deploy, promote, …) against the current revision. */
  async act(action: string, body: Record<string, unknown> = {}): Promise<{ status: number; json: any }> {
    const state = await this.api("GET", "/api/v1/state");
    return this.api("POST", `/api/v1/actions/${action}`, body, { "if-match": state.json.revision });
  }

  /** SIGINT, then the exit code and how long the stop took. */
  async interrupt(timeoutMs = 30_000): Promise<{ code: number | null; ms: number }> {
    const proc = this.proc!;
    const t0 = Date.now();
    const exited = new Promise<number | null>((r) => (proc.exitCode !== null ? r(proc.exitCode) : proc.once("exit", (c) => r(c))));
    proc.kill("SIGINT");
    const code = await Promise.race([exited, new Promise<never>((_, rej) => setTimeout(() => rej(new Error(`the demo did not stop within ${timeoutMs} ms: ${this.out}`)), timeoutMs))]);
    return { code, ms: Date.now() - t0 };
  }

  kill(): void {
    if (this.proc && this.proc.exitCode === null) this.proc.kill("SIGKILL");
  }
}
