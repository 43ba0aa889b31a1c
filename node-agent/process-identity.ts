/**
 * Is a recorded process still the one we started? A pid alone is not enough: pids are reused. On Linux
 * a process is identified by (boot id, pid, start time in clock ticks since boot) from /proc; elsewhere
 * only by the pid being alive, which is weaker and said so in the docs.
 */
import { readFileSync } from "node:fs";

/** What identifies a process across an agent restart. */
export interface ProcessIdentity {
  pid: number;
  /** /proc/<pid>/stat field 22 (clock ticks after boot); null where /proc is not available. */
  startTicks: number | null;
  /** /proc/sys/kernel/random/boot_id; null where not available. A reboot means every process is gone. */
  bootId: string | null;
}

export type Liveness = "alive" | "gone";

let cachedBootId: string | null | undefined;

export function currentBootId(): string | null {
  if (cachedBootId === undefined) {
    try {
      cachedBootId = readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim() || null;
    } catch {
      cachedBootId = null;
    }
  }
  return cachedBootId;
}

/** The identity of a process that runs now (right after spawning it). */
export function identify(pid: number): ProcessIdentity {
  return { pid, startTicks: readStat(pid)?.startTicks ?? null, bootId: currentBootId() };
}

/** Alive and really the recorded process (not a reused pid, not a zombie waiting to be reaped). */
export function liveness(id: ProcessIdentity): Liveness {
  if (id.bootId !== null && id.bootId !== currentBootId()) return "gone";
  if (id.startTicks !== null) {
    const st = readStat(id.pid);
    if (!st || st.state === "Z" || st.state === "X" || st.startTicks !== id.startTicks) return "gone";
    return "alive";
  }
  try {
    process.kill(id.pid, 0);
    return "alive";
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM" ? "alive" : "gone";
  }
}

function readStat(pid: number): { state: string; startTicks: number } | null {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return null;
  }
  // The command name (field 2) may contain spaces and parentheses: split after the last ")".
  const rest = text.slice(text.lastIndexOf(")") + 2).split(" ");
  const state = rest[0] ?? "";
  const startTicks = Number(rest[19]);
  return Number.isFinite(startTicks) ? { state, startTicks } : null;
}
