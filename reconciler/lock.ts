/**
 * Never two reconcilers on one deploy dir or one data dir: an exclusive lock file in the data dir, and
 * one per deploy dir (in the system's temp folder, keyed by the dir's real path, so the deploy dir's
 * git repository stays clean). A lock whose process is gone is taken over.
 */
import { mkdirSync, openSync, readFileSync, realpathSync, rmSync, writeSync, closeSync } from "node:fs";
import { createHash } from "node:crypto";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** Locks this process holds (a second reconciler in the same process is refused too). */
const held = new Set<string>();

export interface Lock {
  release(): void;
}

export function lockReconciler(deployDir: string, dataDir: string): Lock {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const key = createHash("sha256").update(realpathSync(deployDir)).digest("hex").slice(0, 16);
  const files = [join(dataDir, "reconciler.lock"), join(tmpdir(), `switchyard-reconciler-${key}.lock`)];
  const taken: string[] = [];
  try {
    for (const f of files) {
      acquire(f, f === files[0] ? `data dir ${dataDir}` : `deploy dir ${deployDir}`);
      taken.push(f);
    }
  } catch (err) {
    for (const f of taken) {
      held.delete(f);
      rmSync(f, { force: true });
    }
    throw err;
  }
  let released = false;
  const release = () => {
    if (released) return;
    released = true;
    for (const f of taken) {
      held.delete(f);
      try {
        if (readFileSync(f, "utf8").trim() === String(process.pid)) rmSync(f, { force: true });
      } catch {
        /* already gone */
      }
    }
  };
  process.once("exit", release);
  return { release };
}

function acquire(file: string, what: string): void {
  if (held.has(file)) throw new Error(`another reconciler (pid ${process.pid}) already runs on the ${what}; stop it first (lock: ${file})`);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(file, "wx", 0o600);
      writeSync(fd, String(process.pid));
      closeSync(fd);
      held.add(file);
      return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      const pid = Number(readFileSync(file, "utf8").trim());
      if (pid > 0 && pid !== process.pid && alive(pid)) {
        throw new Error(`another reconciler (pid ${pid}) already runs on the ${what}; stop it first (lock: ${file})`);
      }
      rmSync(file, { force: true }); // stale: its process is gone
    }
  }
  throw new Error(`cannot take the lock ${file}`);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}
