/**
 * Ground truth for the process runtime, independent of the agent's own bookkeeping: the processes that
 * run on this machine right now, found in /proc by the SWITCHYARD_* variables the agent gave them.
 */
import { readdirSync, readFileSync } from "node:fs";

export interface Proc {
  pid: number;
  env: Record<string, string>;
}

/** Every live (not zombie) process whose environment matches. Linux only. */
export function findProcs(match: (env: Record<string, string>) => boolean): Proc[] {
  const out: Proc[] = [];
  for (const d of readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    const pid = Number(d);
    if (pid === process.pid) continue;
    let raw: string;
    try {
      raw = readFileSync(`/proc/${d}/environ`, "latin1");
    } catch {
      continue;
    }
    if (!raw.includes("SWITCHYARD_NODE=")) continue;
    if (isZombie(pid)) continue;
    const env: Record<string, string> = {};
    for (const kv of raw.split("\0")) {
      const i = kv.indexOf("=");
      if (i > 0) env[kv.slice(0, i)] = kv.slice(i + 1);
    }
    if (match(env)) out.push({ pid, env });
  }
  return out;
}

export function procsOfNode(node: string): Proc[] {
  return findProcs((e) => e.SWITCHYARD_NODE === node);
}

/** SIGKILLs every process a test agent of this node started (by environment, never by name). */
export async function killProcsOfNode(node: string): Promise<void> {
  for (const p of procsOfNode(node)) {
    try {
      process.kill(-p.pid, "SIGKILL");
    } catch {
      try {
        process.kill(p.pid, "SIGKILL");
      } catch {
        /* gone */
      }
    }
  }
  for (let i = 0; i < 100 && procsOfNode(node).length > 0; i++) await new Promise((r) => setTimeout(r, 20));
}

export function isZombie(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const state = stat.slice(stat.lastIndexOf(")") + 2).split(" ")[0];
    return state === "Z" || state === "X";
  } catch {
    return true;
  }
}

/** Waits until the process is gone (or a zombie). */
export async function waitGone(pid: number, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!isZombie(pid)) {
    if (Date.now() > deadline) throw new Error(`process ${pid} still runs after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
