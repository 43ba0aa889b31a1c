/**
 * One agent per data dir: the agent holds `<dataDir>/agent.lock` for as long as it runs, and a second agent
 * on the same data dir refuses to start before it touches anything. The file names the holder's pid and,
 * on Linux, the holder's start time (from /proc), so a lock left by a crash is recognised as stale even if
 * its pid was reused, and taken over.
 */
import { randomUUID } from "node:crypto";
import { link, open, readFile, stat, unlink } from "node:fs/promises";
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

/** A takeover guard older than this was left by a takeover that died midway: it may be removed. */
const TAKEOVER_GUARD_STALE_MS = 10_000;
const LOCK_ATTEMPTS = 20;

export async function lockDataDir(dataDir: string): Promise<DataDirLock> {
  const file = join(dataDir, "agent.lock");
  const me: Holder = { pid: process.pid, started: await startTicks(process.pid), token: randomUUID(), since: new Date().toISOString() };
  for (let attempt = 0; attempt < LOCK_ATTEMPTS; attempt++) {
    if (await create(file, me, dataDir)) return { file, release: () => releaseIfMine(file, me.token) };
    const seen = await readFile(file, "utf8").catch(() => null);
    if (seen === null) continue; // gone meanwhile: try again
    const holder = parseHolder(seen);
    if (holder && (await alive(holder))) {
      throw new Error(`the data dir ${dataDir} is in use by another agent (pid ${holder.pid}, since ${holder.since}); nothing was changed. Stop that agent first, or give this one a dataDir of its own`);
    }
    // Left by an agent that is gone (a crash, a power cut): take it over, one taker at a time.
    if (!(await takeOver(file, seen))) await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`cannot lock the data dir ${dataDir}: ${file} keeps coming back; is another agent starting at the same time?`);
}

/**
 * Creates the lock file with its whole content at once (written aside, then hard-linked into place, which
 * fails if the file exists): nobody ever reads a half-written lock and mistakes it for a stale one.
 */
async function create(file: string, me: Holder, dataDir: string): Promise<boolean> {
  const tmp = `${file}.${me.token}.tmp`;
  try {
    const fh = await open(tmp, "wx", 0o600);
    try {
      await fh.writeFile(JSON.stringify(me) + "\n");
      await fh.sync();
    } finally {
      await fh.close();
    }
    await link(tmp, file);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "EEXIST") return false;
    throw new Error(`cannot lock the data dir ${dataDir}: ${(err as Error).message}`);
  } finally {
    await unlink(tmp).catch(() => undefined);
  }
}

/**
 * Removes a stale lock only under a takeover guard, and only if it is still the very lock judged stale:
 * two agents that found the same stale lock cannot both take it (the second finds the first one's fresh
 * lock, alive). Returns false when another taker holds the guard.
 */
async function takeOver(file: string, stale: string): Promise<boolean> {
  const guard = `${file}.takeover`;
  try {
    await (await open(guard, "wx", 0o600)).close();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    const st = await stat(guard).catch(() => null);
    if (st && Date.now() - st.mtimeMs > TAKEOVER_GUARD_STALE_MS) await unlink(guard).catch(() => undefined);
    return false;
  }
  try {
    if ((await readFile(file, "utf8").catch(() => null)) === stale) await unlink(file).catch(() => undefined);
    return true;
  } finally {
    await unlink(guard).catch(() => undefined);
  }
}

async function readHolder(file: string): Promise<Holder | null> {
  return parseHolder(await readFile(file, "utf8").catch(() => ""));
}

function parseHolder(text: string): Holder | null {
  try {
    const h = JSON.parse(text) as Partial<Holder>;
    return typeof h.pid === "number" && Number.isInteger(h.pid) && h.pid > 0 ? (h as Holder) : null;
  } catch {
    return null; // damaged: nobody can be holding it through this file
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
