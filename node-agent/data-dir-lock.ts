/**
 * One agent per data dir: the agent holds `<dataDir>/agent.lock` for as long as it runs, and a second agent
 * on the same data dir refuses to start before it touches anything. The file names the holder's pid and,
 * on Linux, the holder's start time (from /proc), so a lock left by a crash is recognised as stale even if
 * its pid was reused, and taken over.
 */
import { randomUUID } from "node:crypto";
import { open, readFile, unlink } from "node:fs/promises";
import { join } from "node:path";

export interface DataDirLock {
  readonly file: string;
  /** Removes the lock file if it is still this agent's. */
  release(): Promise<void>;
}

interface Holder {
  pid: number;
  /** Start time of the process in clock ticks since boot (/proc/<pid>/stat field 22); null off Linux. */
  started: string | null;
  token: string;
  since: string;
}

export async function lockDataDir(dataDir: string): Promise<DataDirLock> {
  const file = join(dataDir, "agent.lock");
  const me: Holder = { pid: process.pid, started: await startTicks(process.pid), token: randomUUID(), since: new Date().toISOString() };
  for (let attempt = 0; ; attempt++) {
    try {
      const fh = await open(file, "wx", 0o600);
      try {
        await fh.writeFile(JSON.stringify(me) + "\n");
        await fh.sync();
      } finally {
        await fh.close();
      }
      return { file, release: () => releaseIfMine(file, me.token) };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw new Error(`cannot lock the data dir ${dataDir}: ${(err as Error).message}`);
    }
    const holder = await readHolder(file);
    if (holder && (await alive(holder))) {
      throw new Error(`the data dir ${dataDir} is in use by another agent (pid ${holder.pid}, since ${holder.since}); nothing was changed. Stop that agent first, or give this one a dataDir of its own`);
    }
    if (attempt > 0) throw new Error(`cannot lock the data dir ${dataDir}: ${file} keeps coming back; is another agent starting at the same time?`);
    // Left by an agent that is gone (a crash, a power cut): take it over.
    await unlink(file).catch((e: NodeJS.ErrnoException) => {
      if (e.code !== "ENOENT") throw e;
    });
  }
}

async function readHolder(file: string): Promise<Holder | null> {
  try {
    const h = JSON.parse(await readFile(file, "utf8")) as Partial<Holder>;
    return typeof h.pid === "number" && Number.isInteger(h.pid) && h.pid > 0 ? (h as Holder) : null;
  } catch {
    return null; // unreadable or half-written: nobody can be holding it through this file
  }
}

async function alive(h: Holder): Promise<boolean> {
  try {
    process.kill(h.pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EPERM") return false;
  }
  if (h.started === null) return true;
  const now = await startTicks(h.pid);
  return now === null || now === h.started; // another start time: the pid was reused
}

async function startTicks(pid: number): Promise<string | null> {
  try {
    const raw = await readFile(`/proc/${pid}/stat`, "utf8");
    return raw.slice(raw.lastIndexOf(")") + 2).split(" ")[19] ?? null;
  } catch {
    return null;
  }
}

async function releaseIfMine(file: string, token: string): Promise<void> {
  const h = await readHolder(file);
  if (h?.token === token) await unlink(file).catch(() => undefined);
}
