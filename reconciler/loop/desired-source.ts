/**
 * The desired state as files on disk: cluster.yaml and state.yaml in the deploy dir, watched with
 * chokidar (editors that save by rename, in-place writes, git checkout and git pull all show up as
 * events on the folder). An invalid file never acts: the last valid pair stays in force. With history on,
 * a state.yaml acts only once it is a commit: a hand edit saved without one is first recorded as
 * Switchyard's own commit (`record`); while that cannot be done, the last committed state stays in force.
 */
import { revisionOf } from "../../specs/revision.js";
import { basename } from "node:path";
import { watch, type FSWatcher } from "chokidar";
import type { Logger } from "pino";
import { loadDeployDir, parseDeployFiles, readDeployFiles, type DeployDir, type DeployFiles } from "../../specs/load.js";
import { formatIssue, type SpecIssue } from "../../specs/source.js";
import type { Desired } from "./desired.js";

export const WATCHED_FILES = ["cluster.yaml", "state.yaml"] as const;
/** Writes come in bursts (truncate, write, rename); act once the burst is over. */
export const DEBOUNCE_MS = 10;
/**
 * chokidar reports at most one change per file in 50 ms and drops the others (a leading-edge throttle), so
 * a save that follows another within 50 ms raises no event of its own. Every event is therefore followed
 * by a second read once that window is over.
 */
export const TRAILING_READ_MS = 120;
/** An invalid read is confirmed after this pause, so a half-written file raises nothing. */
export const INVALID_CONFIRM_MS = 150;
/** While a hand edit cannot be recorded as a commit (a merge in progress, a detached HEAD), try again this often. */
export const RECORD_RETRY_MS = 5_000;
/** While history asks to wait (a hand edit in its grace period, a git operation running), ask again this often. */
export const RECORD_WAIT_MS = 250;

export interface DesiredSnapshot {
  desired: Desired;
  /** Content hash of cluster.yaml + state.yaml. */
  revision: string;
  /** Content hash of state.yaml alone (what the API's If-Match compares). */
  stateRevision: string;
  dir: DeployDir;
}

export interface DesiredSourceOptions {
  dir: string;
  logger: Logger;
  /** A new valid desired state is in force. */
  onChange: (s: DesiredSnapshot) => void;
  /** The files became invalid (issues) or valid again (empty list). */
  onInvalid: (issues: SpecIssue[]) => void;
  /**
   * Makes sure a valid state.yaml text read from disk is a commit before it acts (StateRepo.recordIfUncommitted):
   * "changed" means the file changed meanwhile (read it again); a throw means it cannot be recorded.
   */
  record?: (stateText: string) => Promise<"committed" | "recorded" | "changed" | "wait">;
  /** A hand edit could not be recorded, so it does not act (the problem), or it can again (null). */
  onNotRecorded?: (problem: string | null) => void;
  /** A hand edit is waiting to be recorded (true), or no longer (false). */
  onRecording?: (recording: boolean) => void;
}

export class DesiredSource {
  private current: DesiredSnapshot | null = null;
  private issues: SpecIssue[] = [];
  private watcher: FSWatcher | undefined;
  private timer: NodeJS.Timeout | undefined;
  private trailing: NodeJS.Timeout | undefined;
  private loading: Promise<void> | undefined;
  private again = false;
  /** Content key of the files last found invalid (see contentKey). */
  private invalidKey: string | undefined;
  private notRecorded: string | null = null;
  private recording = false;
  /** The state in force at start was not a commit yet: record it when history lets us. */
  private startedUnrecorded = false;
  private retry: NodeJS.Timeout | undefined;

  constructor(private readonly o: DesiredSourceOptions) {}

  /** Loads once (the files must be valid to start), then watches. */
  async start(): Promise<void> {
    const r = await loadDeployDir(this.o.dir);
    if (!r.ok) throw new Error(`the deploy dir ${this.o.dir} is not valid:\n${r.issues.map(formatIssue).join("\n")}`);
    this.current = snapshot(r.dir);
    // A hand edit made while the reconciler was down is recorded before the first reconcile; if it cannot
    // be, the reconciler still starts on it (there is nothing older in force) and says so.
    const settled = await this.settle(this.current);
    this.startedUnrecorded = settled !== "ok";
    if (settled === "changed") this.schedule();
    this.watcher = watch(this.o.dir, {
      ignoreInitial: true,
      depth: 0,
      ignored: (p: string) => p !== this.o.dir && !WATCHED_FILES.includes(basename(p) as (typeof WATCHED_FILES)[number]),
    });
    this.watcher.on("all", (_event, path) => {
      if (WATCHED_FILES.includes(basename(path) as (typeof WATCHED_FILES)[number])) this.schedule();
    });
    this.watcher.on("error", (err) => this.o.logger.error({ err: (err as Error).message }, "file watcher error"));
    await new Promise<void>((resolve) => this.watcher!.once("ready", () => resolve()));
  }

  get(): DesiredSnapshot | null {
    return this.current;
  }

  errors(): SpecIssue[] {
    return this.issues;
  }

  /** A hand edit of state.yaml is waiting to be recorded as a commit (it acts once it is). */
  recordingHandEdit(): boolean {
    return this.recording;
  }

  /** Why the state.yaml on disk is not acted on (a hand edit that could not be recorded as a commit), or null. */
  notRecordedProblem(): string | null {
    return this.notRecorded;
  }

  /** Re-reads the files now (also used after the API writes state.yaml). */
  reload(): Promise<void> {
    if (this.loading) {
      this.again = true;
      return this.loading;
    }
    this.loading = (async () => {
      do {
        this.again = false;
        await this.loadOnce();
      } while (this.again);
    })().finally(() => {
      this.loading = undefined;
    });
    return this.loading;
  }

  async close(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    if (this.trailing) clearTimeout(this.trailing);
    if (this.retry) clearTimeout(this.retry);
    await this.watcher?.close();
  }

  /** Asks history to make `next`'s state.yaml a commit (recording a hand edit); "ok" when it may act. */
  private async settle(next: DesiredSnapshot): Promise<"ok" | "changed" | "failed"> {
    if (!this.o.record) return "ok";
    try {
      const r = await this.o.record(next.dir.state.text);
      if (r === "changed") return "changed";
      if (r === "wait") {
        this.setRecording(true);
        this.retryIn(RECORD_WAIT_MS);
        return "failed";
      }
      this.setRecording(false);
      this.setNotRecorded(null);
      return "ok";
    } catch (err) {
      this.setRecording(false);
      const why = (err as Error).message;
      this.setNotRecorded(`state.yaml was changed by hand without a commit, and Switchyard could not record it as one: ${why}. The last committed state stays in force`);
      this.retryIn(RECORD_RETRY_MS);
      return "failed";
    }
  }

  private setRecording(recording: boolean): void {
    if (recording === this.recording) return;
    this.recording = recording;
    this.o.onRecording?.(recording);
  }

  private retryIn(ms: number): void {
    if (this.retry) clearTimeout(this.retry);
    this.retry = setTimeout(() => {
      this.retry = undefined;
      this.schedule();
    }, ms);
    this.retry.unref?.();
  }

  private setNotRecorded(problem: string | null): void {
    if (problem === this.notRecorded) return;
    this.notRecorded = problem;
    if (problem) this.o.logger.warn({ err: problem }, "state.yaml changed by hand and not recorded; not acting on it");
    else this.o.logger.info("state.yaml on disk is a commit again");
    this.o.onNotRecorded?.(problem);
  }

  private schedule(): void {
    const read = () => this.reload().catch((err: unknown) => this.o.logger.error({ err: (err as Error).message }, "reading the desired state failed; keeping the last valid one"));
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void read();
    }, DEBOUNCE_MS);
    if (this.trailing) clearTimeout(this.trailing);
    this.trailing = setTimeout(() => {
      this.trailing = undefined;
      void read();
    }, TRAILING_READ_MS);
    this.trailing.unref?.();
  }

  private async loadOnce(): Promise<void> {
    // The bytes that are hashed are the bytes that are parsed: a save landing between two reads can
    // never make a valid file count as the invalid one.
    const files = await readDeployFiles(this.o.dir);
    const key = contentKey(files);
    // The same files that were invalid last time: parsing them again (up to a second for a hostile
    // 256 KiB file) would only say the same thing.
    if (key === this.invalidKey) return;
    const r = parseDeployFiles(files);
    if (!r.ok) {
      // A save in progress looks invalid for a moment; only a state that stays invalid counts.
      await new Promise((res) => setTimeout(res, INVALID_CONFIRM_MS));
      if (contentKey(await readDeployFiles(this.o.dir)) !== key) {
        this.again = true; // changed meanwhile: read it again
        return;
      }
    }
    this.invalidKey = r.ok ? undefined : key;
    if (!r.ok) {
      const lines = r.issues.map(formatIssue).join(" | ");
      if (lines !== this.issues.map(formatIssue).join(" | ")) {
        this.o.logger.warn({ errors: r.issues.map(formatIssue) }, "desired state invalid; keeping the last valid one");
        this.issues = r.issues;
        this.o.onInvalid(r.issues);
      }
      return;
    }
    if (this.issues.length > 0) {
      this.issues = [];
      this.o.onInvalid([]);
    }
    const next = snapshot(r.dir);
    if (next.revision === this.current?.revision) {
      if (this.startedUnrecorded) this.startedUnrecorded = (await this.settle(next)) !== "ok";
      else this.setNotRecorded(null); // back to what is in force (an edit undone)
      return; // a write that changes nothing
    }
    if (next.stateRevision !== this.current?.stateRevision) {
      const settled = await this.settle(next);
      if (settled === "changed") this.again = true;
      if (settled !== "ok") return;
    }
    this.current = next;
    this.o.logger.info({ revision: next.revision, active: next.desired.state.spec.active }, "desired state changed");
    this.o.onChange(next);
  }
}

/** A hash of both files as read: their bytes, or for a file that could not be read (too large, missing) why and its stamp. */
function contentKey(f: DeployFiles): string {
  const part = (r: DeployFiles["state"]) => (r.ok ? r.bytes.toString("latin1") : `\u0000${r.stamp}`);
  return revisionOf(part(f.cluster) + "\u0000\u0001" + part(f.state));
}

function snapshot(dir: DeployDir): DesiredSnapshot {
  return {
    desired: { cluster: dir.cluster.value, state: dir.state.value },
    revision: revisionOf(dir.cluster.text + "\u0000" + dir.state.text),
    stateRevision: revisionOf(dir.state.text),
    dir,
  };
}

