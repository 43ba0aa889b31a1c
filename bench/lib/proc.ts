/** Reading a process's memory and CPU time from /proc (Linux). */
import { readFileSync } from "node:fs";
import { execFileSync, spawn } from "node:child_process";

/**
 * Resident set size (VmRSS), its peak (VmHWM), and the part of it that is the process's own memory
 * (RssAnon: heap, stacks) rather than file pages such as the node binary, shared with other processes.
 */
export function readMemoryMb(pid: number): { rssMb: number; peakMb: number; anonMb: number } {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? NaN);
  return { rssMb: kb("VmRSS") / 1024, peakMb: kb("VmHWM") / 1024, anonMb: kb("RssAnon") / 1024 };
}

/** utime + stime in clock ticks (fields 14 and 15 of /proc/<pid>/stat). */
export function readCpuTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  // The command name (field 2) is in parentheses and may contain spaces: count fields after it.
  const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return Number(rest[11]) + Number(rest[12]);
}

let ticks: number | undefined;
/** Clock ticks per second (usually 100). */
export function clockTicksPerSecond(): number {
  if (ticks === undefined) {
    try {
      ticks = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;
    } catch {
      ticks = 100;
    }
  }
  return ticks;
}

/** Memory of a node process that loads nothing (the floor any Node agent starts from), in MB. */
export async function bareNodeMemoryMb(settleMs = 500): Promise<{ rssMb: number; anonMb: number }> {
  const child = spawn(process.execPath, ["-e", "setInterval(() => {}, 1000)"], { stdio: "ignore", env: { ...process.env, NODE_OPTIONS: "" } });
  try {
    await new Promise((r) => setTimeout(r, settleMs));
    return readMemoryMb(child.pid!);
  } finally {
    child.kill("SIGKILL");
  }
}
