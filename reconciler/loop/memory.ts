/**
 * The little the reconciler must remember across restarts, written ahead of the actions it covers:
 * the job-lease ledger (the epoch only grows; when each grant was sent), when each colour's deploy
 * started (for the deploy timeout), the live colour it last set on the routers (router drift), the
 * content (digest) each colour's tag was pinned to when it was deployed, and each colour's pre-promotion
 * task runs for its tag (a run is written as running before the agent is asked for it).
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import type { ColorTasksRecord, DeployRecord, JobsLedger, LeaseGrantRecord, TaskRunRecord } from "../../specs/observed.js";
import type { Color } from "../../specs/types.js";
import { writeFileAtomic } from "../../common/atomic-file.js";

export interface MemoryDoc {
  version: 1;
  jobs: { epoch: number; grants: Record<string, LeaseGrantRecord> };
  deploys: Partial<Record<Color, DeployRecord>>;
  /** Live colour the reconciler last set on every router (null: none yet). */
  routerLive: Color | null;
  /** The content each colour's tag was pinned to; a pin for another tag than the colour's is stale. */
  pins: Partial<Record<Color, DigestPin>>;
  /** Each colour's last restart request (NodeSpec.restartToken); absent in files from before restarts. */
  restarts?: Partial<Record<Color, number>>;
  /** Pins in the services' own repositories (cluster.yaml services.*.image): colour → repository → pin. */
  imagePins?: Partial<Record<Color, Record<string, DigestPin>>>;
  /** Pre-promotion task runs per colour, for its current tag only; absent in files from before tasks. */
  tasks?: Partial<Record<Color, ColorTasksRecord>>;
}

/** A colour's tag pinned to one image content (manifest digest). */
export interface DigestPin {
  tag: string;
  digest: string;
  /** Where it came from: what the colour's nodes already ran, the registry at deploy time, or a redeploy. */
  source: "observed" | "registry" | "redeploy";
  atMs: number;
}

/** The last write of memory.json failed (disk full, read-only, permissions): what and since when. */
export interface MemoryWriteFailure {
  file: string;
  error: string;
  sinceMs: number;
}

export class Memory {
  private doc: MemoryDoc = { version: 1, jobs: { epoch: 0, grants: {} }, deploys: {}, routerLive: null, pins: {} };
  private writing: Promise<void> = Promise.resolve();
  private failure: MemoryWriteFailure | null = null;
  readonly startedAtMs = Date.now();

  constructor(private readonly dataDir: string) {}

  private get file(): string {
    return join(this.dataDir, "memory.json");
  }

  async load(): Promise<void> {
    try {
      const parsed = JSON.parse(await readFile(this.file, "utf8")) as MemoryDoc;
      if (parsed.version !== 1 || typeof parsed.jobs?.epoch !== "number") throw new Error("unknown format");
      // Only the fields this version knows (an older file's extra fields are dropped at the next write).
      this.doc = { version: 1, jobs: parsed.jobs, deploys: parsed.deploys ?? {}, routerLive: parsed.routerLive ?? null, pins: parsed.pins ?? {}, ...(parsed.restarts ? { restarts: parsed.restarts } : {}), ...(parsed.imagePins ? { imagePins: parsed.imagePins } : {}), ...(parsed.tasks ? { tasks: parsed.tasks } : {}) };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") {
        throw new Error(`cannot read ${this.file}: ${(err as Error).message}. It holds the job-lease epoch; restore it from a backup rather than deleting it`);
      }
    }
  }

  /** Why the last write failed, or null when the last write reached the disk. */
  writeFailure(): MemoryWriteFailure | null {
    return this.failure;
  }

  /** Writes the current document again (after a failure); resolves once it is on disk. */
  retry(): Promise<void> {
    return this.persist();
  }

  get(): Readonly<MemoryDoc> {
    return this.doc;
  }

  jobsLedger(): JobsLedger {
    return { epoch: this.doc.jobs.epoch, grants: { ...this.doc.jobs.grants }, startedAtMs: this.startedAtMs };
  }

  /** Records a grant or renewal before it is sent; resolves once it is on disk. */
  recordGrant(node: string, epoch: number, ttlMs: number, sentAtMs: number): Promise<void> {
    this.doc = {
      ...this.doc,
      jobs: { epoch: Math.max(this.doc.jobs.epoch, epoch), grants: { ...this.doc.jobs.grants, [node]: { epoch, sentAtMs, ttlMs } } },
    };
    return this.persist();
  }

  /** The node confirmed its job containers stopped: it holds nothing any more. */
  recordRevoked(node: string): Promise<void> {
    const grants = { ...this.doc.jobs.grants };
    delete grants[node];
    this.doc = { ...this.doc, jobs: { ...this.doc.jobs, grants } };
    return this.persist();
  }

  recordDeploy(color: Color, tag: string, atMs: number): Promise<void> {
    if (this.doc.deploys[color]?.tag === tag) return Promise.resolve();
    this.doc = { ...this.doc, deploys: { ...this.doc.deploys, [color]: { tag, startedAtMs: atMs } } };
    return this.persist();
  }

  /** The colour became ready with its tag: the deploy is over (later trouble is drift, not a failed deploy). */
  clearDeploy(color: Color): Promise<void> {
    if (!this.doc.deploys[color]) return Promise.resolve();
    const deploys = { ...this.doc.deploys };
    delete deploys[color];
    this.doc = { ...this.doc, deploys };
    return this.persist();
  }

  recordRouterLive(live: Color | null): Promise<void> {
    if (this.doc.routerLive === live) return Promise.resolve();
    this.doc = { ...this.doc, routerLive: live };
    return this.persist();
  }

  /**
   * Pins a colour's tag to a digest (in a service's own repository when `repository` is given); resolves once
   * it is on disk (before any spec carries it).
   */
  recordPin(color: Color, pin: DigestPin, repository?: string): Promise<void> {
    const old = repository === undefined ? this.doc.pins[color] : this.doc.imagePins?.[color]?.[repository];
    if (old?.tag === pin.tag && old.digest === pin.digest) return Promise.resolve();
    if (repository === undefined) this.doc = { ...this.doc, pins: { ...this.doc.pins, [color]: pin } };
    else this.doc = { ...this.doc, imagePins: { ...this.doc.imagePins, [color]: { ...this.doc.imagePins?.[color], [repository]: pin } } };
    return this.persist();
  }

  /** Records a colour's restart request; resolves once it is on disk (before any spec carries it). */
  recordRestart(color: Color, token: number): Promise<void> {
    this.doc = { ...this.doc, restarts: { ...this.doc.restarts, [color]: token } };
    return this.persist();
  }

  /** A task run about to be asked for (before the agent is asked): a restart finds it and follows the same run. */
  recordTaskRun(color: Color, tag: string, task: string, run: TaskRunRecord): Promise<void> {
    const cur = this.colorTasks(color, tag);
    const old = cur.runs[task];
    // A result is kept only for the run remembered as running: a late answer about an earlier run (another
    // tag, or a run a retry replaced) changes nothing.
    if (run.state !== "running" && (this.doc.tasks?.[color]?.tag !== tag || old?.id !== run.id)) return Promise.resolve();
    if (old && old.id === run.id && old.state === run.state && old.node === run.node) return Promise.resolve();
    this.doc = { ...this.doc, tasks: { ...this.doc.tasks, [color]: { ...cur, runs: { ...cur.runs, [task]: run } } } };
    return this.persist();
  }

  /** The colour serves live traffic with `tag`: its tasks never run for it afterwards (a rollback needs none). */
  recordTasksServed(color: Color, tag: string): Promise<void> {
    const cur = this.colorTasks(color, tag);
    if (cur.served && this.doc.tasks?.[color]?.tag === tag) return Promise.resolve();
    this.doc = { ...this.doc, tasks: { ...this.doc.tasks, [color]: { ...cur, served: true } } };
    return this.persist();
  }

  /** Retry: the task's next attempt for the colour's tag (a new run id); its last run is forgotten. */
  retryTask(color: Color, tag: string, task: string): Promise<number> {
    const cur = this.colorTasks(color, tag);
    const attempt = (cur.attempts[task] ?? 1) + 1;
    const runs = { ...cur.runs };
    delete runs[task];
    this.doc = { ...this.doc, tasks: { ...this.doc.tasks, [color]: { tag, attempts: { ...cur.attempts, [task]: attempt }, runs } } };
    return this.persist().then(() => attempt);
  }

  /** The colour's task record for `tag` (an empty one when it holds another tag's). */
  private colorTasks(color: Color, tag: string): ColorTasksRecord {
    const cur = this.doc.tasks?.[color];
    return cur?.tag === tag ? cur : { tag, attempts: {}, runs: {} };
  }

  /** Every write goes through here; the callers that must not act before it is on disk await it. */
  private persist(): Promise<void> {
    const snapshot = JSON.stringify(this.doc, null, 2);
    const write = this.writing.catch(() => undefined).then(() => writeFileAtomic(this.file, snapshot));
    this.writing = write.then(
      () => {
        this.failure = null;
      },
      (err: unknown) => {
        this.failure = { file: this.file, error: (err as Error).message, sinceMs: this.failure?.sinceMs ?? Date.now() };
        throw err;
      },
    );
    return this.writing;
  }
}
