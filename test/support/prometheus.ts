/**
 * A Prometheus server for tests (Debian's prometheus package): started on a free loopback port with a
 * configuration file and a storage folder of its own, stopped by its pid.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "./cluster-bed.js";
import { waitFor } from "./agent-bed.js";

export const PROMETHEUS = process.env.PROMETHEUS ?? "prometheus";

export class TestPrometheus {
  private proc: ChildProcess | undefined;
  private readonly dir = mkdtempSync(join(tmpdir(), "sy-prometheus-"));
  url = "";
  log = "";

  async start(configFile: string): Promise<void> {
    const port = await freePort();
    this.url = `http://127.0.0.1:${port}`;
    this.proc = spawn(PROMETHEUS, [`--config.file=${configFile}`, `--storage.tsdb.path=${join(this.dir, "data")}`, `--web.listen-address=127.0.0.1:${port}`], { stdio: ["ignore", "pipe", "pipe"] });
    this.proc.stdout!.on("data", (d: Buffer) => (this.log = (this.log + d).slice(-4000)));
    this.proc.stderr!.on("data", (d: Buffer) => (this.log = (this.log + d).slice(-4000)));
    await waitFor(`prometheus ready (${this.log})`, async () => (await fetch(`${this.url}/-/ready`).catch(() => null))?.ok === true, 30_000);
  }

  /** Every active target with its job, health and last error. */
  async targets(): Promise<{ job: string; health: string; lastError: string }[]> {
    const j = (await (await fetch(`${this.url}/api/v1/targets?state=active`)).json()) as { data: { activeTargets: { labels: { job: string }; health: string; lastError: string }[] } };
    return j.data.activeTargets.map((t) => ({ job: t.labels.job, health: t.health, lastError: t.lastError }));
  }

  /** An instant query's first value (undefined when the result is empty). */
  async value(query: string): Promise<number | undefined> {
    const j = (await (await fetch(`${this.url}/api/v1/query?query=${encodeURIComponent(query)}`)).json()) as { data: { result: { value: [number, string] }[] } };
    const v = j.data.result[0]?.value[1];
    return v === undefined ? undefined : Number(v);
  }

  async stop(): Promise<void> {
    const p = this.proc;
    if (p?.pid && p.exitCode === null) {
      const exited = new Promise((r) => p.once("exit", r));
      process.kill(p.pid, "SIGTERM");
      await exited;
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}
