/**
 * The process runtime's bookkeeping, its equivalent of Docker's container list and labels: one JSON file
 * per workload in `<dataDir>/processes/<id>.json`, written atomically, so an agent that restarts finds
 * the processes it started (and that kept running) with everything it needs to know about them.
 */
import { mkdir, readdir, readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import type { Logger } from "pino";
import { writeFileAtomic } from "../common/atomic-file.js";
import type { ProcessIdentity } from "./process-identity.js";

export interface ProcessExit {
  /** Exit code, 128 + signal number for a signal (as Docker reports it); null when unknown (the process was not our child). */
  code: number | null;
  at: string;
}

export interface ProcessRecord {
  id: string;
  /** Like a container name: sy-<app>-<node>-<service>. */
  name: string;
  /** The same labels a container would carry (LABEL.*). */
  labels: Record<string, string>;
  identity: ProcessIdentity;
  /** What runs, for people reading the file: the executable, its arguments and working directory. */
  file: string;
  args: string[];
  cwd: string;
  log: string;
  /** Offset in `log` of this workload's first byte of output (absent in records of older agents). */
  logFrom?: number;
  startedAt: string;
  /** null while it runs (as far as the agent has seen). */
  exit: ProcessExit | null;
}

const ID = /^[a-f0-9]{32}$/;

export class ProcessBook {
  private readonly records = new Map<string, ProcessRecord>();
  private readonly writes = new Map<string, Promise<void>>();
  readonly dir: string;

  constructor(dataDir: string, private readonly log: Logger) {
    this.dir = join(dataDir, "processes");
  }

  /** Reads every record left by an earlier run of this agent. An unreadable record is logged and skipped. */
  async load(): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    for (const f of await readdir(this.dir)) {
      const id = f.replace(/\.json$/, "");
      if (!f.endsWith(".json") || !ID.test(id)) continue;
      try {
        const rec = JSON.parse(await readFile(join(this.dir, f), "utf8")) as ProcessRecord;
        if (rec.id !== id || typeof rec.identity?.pid !== "number") throw new Error("not a process record");
        this.records.set(id, rec);
      } catch (err) {
        this.log.warn({ file: join(this.dir, f), err: (err as Error).message }, "skipping an unreadable process record");
      }
    }
  }

  all(): ProcessRecord[] {
    return [...this.records.values()];
  }

  get(id: string): ProcessRecord | undefined {
    return this.records.get(id);
  }

  /** Adds or updates a record in memory at once and on disk in order (writes of one record never overtake). */
  put(rec: ProcessRecord): Promise<void> {
    this.records.set(rec.id, rec);
    return this.chain(rec.id, () => writeFileAtomic(join(this.dir, `${rec.id}.json`), JSON.stringify(rec, null, 2)));
  }

  remove(id: string): Promise<void> {
    this.records.delete(id);
    return this.chain(id, () => rm(join(this.dir, `${id}.json`), { force: true }));
  }

  private chain(id: string, write: () => Promise<void>): Promise<void> {
    const next = (this.writes.get(id) ?? Promise.resolve()).then(write);
    const settled = next.catch(() => undefined);
    this.writes.set(id, settled);
    void settled.then(() => {
      if (this.writes.get(id) === settled) this.writes.delete(id);
    });
    return next;
  }
}
