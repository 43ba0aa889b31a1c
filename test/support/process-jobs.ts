/**
 * Ground truth for job tests on the process runtime: the demo notification store as a plain process on
 * loopback, and a timeline of worker processes taken from /proc every few milliseconds (not from the
 * agents' own bookkeeping). A process's start comes from the kernel (its start time in /proc, 10 ms
 * ticks, taken 10 ms early); its end is the first scan that no longer sees it. Intervals can only grow,
 * so an overlap can only be overstated, never hidden.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { freePort } from "./cluster-bed.js";
import { JobTimeline, Store } from "./jobs-rig.js";
import { findProcs } from "./procs.js";
import { demoAppDir } from "../../cli/demo/releases.js";

export class ProcessStore extends Store {
  private proc: ChildProcess | undefined;

  override async start(_prefix: string): Promise<void> {
    const port = await freePort();
    this.proc = spawn(process.execPath, [join(demoAppDir(), "store.js")], { env: { PATH: process.env.PATH ?? "", HOST: "127.0.0.1", PORT: String(port), CLAIM_TIMEOUT_MS: "3000" }, stdio: "ignore" });
    this.url = `http://127.0.0.1:${port}`;
    this.workerUrl = this.url;
    for (let i = 0; i < 100; i++) {
      if (await fetch(this.url + "/healthz").then((r) => r.ok, () => false)) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error("the store did not start");
  }

  override async close(): Promise<void> {
    if (!this.proc || this.proc.exitCode !== null) return;
    const exited = new Promise((r) => this.proc!.once("exit", r));
    this.proc.kill("SIGKILL");
    await exited;
  }
}

/** USER_HZ: /proc counts process start times in 1/100 s on every Linux we run on. */
const TICK_MS = 10;

function startTicks(pid: number): number {
  try {
    const raw = readFileSync(`/proc/${pid}/stat`, "utf8");
    return Number(raw.slice(raw.lastIndexOf(")") + 2).split(" ")[19]);
  } catch {
    return Infinity; // gone already: counts as started now
  }
}

export class ProcessTimeline extends JobTimeline {
  private timer: NodeJS.Timeout | undefined;

  override async start(prefix: string, everyMs = 10): Promise<void> {
    const open = new Map<number, (typeof this.intervals)[number]>();
    const scan = () => {
      const now = Date.now();
      const uptimeMs = Number(readFileSync("/proc/uptime", "utf8").split(" ")[0]) * 1000;
      const seen = new Set<number>();
      for (const p of findProcs((e) => e.SWITCHYARD_APP === prefix && e.SWITCHYARD_SERVICE === "worker")) {
        seen.add(p.pid);
        if (open.has(p.pid)) continue;
        const x = { node: p.env.SWITCHYARD_NODE!, color: p.env.SWITCHYARD_COLOR!, id: String(p.pid), start: Math.min(now, now - (uptimeMs - startTicks(p.pid) * TICK_MS) - TICK_MS), end: null as number | null };
        open.set(p.pid, x);
        this.intervals.push(x);
      }
      for (const [pid, x] of open) {
        if (seen.has(pid)) continue;
        x.end = now;
        open.delete(pid);
      }
    };
    scan();
    this.timer = setInterval(scan, everyMs);
  }

  override close(): void {
    if (this.timer) clearInterval(this.timer);
  }
}
