/**
 * state.yaml as a git-backed source of truth. Every change made through the API is validated, committed
 * in the deploy dir's repository with the signed-in user as author, and only then written to the work
 * tree (atomically), so no state that is not a commit ever reaches the file the reconciler acts on. A hand
 * edit saved without a commit is recorded as Switchyard's own commit before anything acts on it (see
 * `recordIfUncommitted`). History and "roll back to this revision" come from git. A deploy dir outside
 * git still works, without history.
 *
 * One piece (~430 lines) on purpose: every git operation on state.yaml goes through one StateRepo, which
 * serialises them and owns the index handling; the plumbing, exec, push and diff helpers are apart.
 */
import { lstat, readFile, readlink, realpath, stat } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { userInfo } from "node:os";
import type { Logger } from "pino";
import { crossFiles, loadSpecFile, parseSpec, type LoadedSpec } from "../../specs/load.js";
import { formatIssue } from "../../specs/source.js";
import { writeFileAtomic } from "../../common/atomic-file.js";
import { revisionOf } from "../../specs/revision.js";
import { reconError } from "../errors.js";
import { firstLines, git, GitError, redactUrls, runGit } from "./git-exec.js";
import { blobIds, checkRepoState, commitText, ensureIndexFree, indexBusy, syncIndex } from "./git-commit.js";
import { pushHead, type PushOutcome } from "./push.js";
import { unifiedDiff } from "./text-diff.js";

export const STATE_FILE = "state.yaml";
export const DEFAULT_HISTORY_LIMIT = 50;
export const MAX_HISTORY_LIMIT = 500;
/** Who Switchyard's own commits are by (a hand edit recorded, an automatic decision). */
export const SWITCHYARD_AUTHOR: Author = { name: "Switchyard", email: "switchyard@switchyard.local" };
/**
 * A hand edit is recorded once state.yaml has differed from HEAD for this long and no git operation holds
 * the index: `git pull` and `git checkout` write the file a moment before they move the branch, and a
 * commit of ours in between would break them.
 */
export const HAND_EDIT_GRACE_MS = 1_000;
/** The message of the commit that records a hand edit of state.yaml saved without a commit. */
export const HAND_EDIT_MESSAGE =
  "state.yaml saved by hand, not committed\n\nSwitchyard found state.yaml changed on disk without a commit and recorded it as this commit before acting on it.";
/** A commit id as the API accepts it: abbreviated or full hex, nothing else (no refs, no options). */
export const COMMIT_ID_PATTERN = /^[0-9a-f]{7,40}$/i;
const MAX_MESSAGE_CHARS = 4000;

export interface Author {
  name: string;
  email: string;
}

export interface CommitResult {
  /** Content revision of state.yaml after the change (what If-Match compares). */
  revision: string;
  /** The new commit, or null when history is off or state.yaml already was exactly this text in HEAD. */
  commit: string | null;
}

export interface HistoryEntry {
  commit: string;
  author: string;
  email: string;
  /** Author date, ISO 8601. */
  date: string;
  message: string;
  /** Unified diff of state.yaml in this commit (against its first parent). */
  diff: string;
  /** Content revision of state.yaml at this commit; null when the commit deleted it. */
  revision: string | null;
}

export interface StateRepoOptions {
  /** The deploy dir (holds state.yaml and cluster.yaml). */
  dir: string;
  logger: Logger;
  /** Push every commit here (a remote name or URL); failures are reported through onPush, never fatal. */
  remote?: string;
  /** Sign Switchyard's commits with the repository's configured key (cluster.yaml spec.history.signCommits); read at each commit. */
  sign?: () => boolean;
  /** The outcome of each push (HistoryNotPushed when it failed). */
  onPush?: (outcome: PushOutcome) => void;
  /** Default HAND_EDIT_GRACE_MS. */
  handEditGraceMs?: number;
}

export class StateRepo {
  private readonly file: string;
  private detected: Promise<{ enabled: boolean; warning?: string }> | undefined;
  /** Path of the deploy dir inside the work tree, "" or ending in "/" (for `<rev>:<path>`). */
  private prefix = "";
  private tail: Promise<unknown> = Promise.resolve();
  private pushes: Promise<void> = Promise.resolve();
  private lastPush: PushOutcome | null = null;
  /** A hand edit seen on disk and not yet recorded: its text and when it was first seen. */
  private handEdit: { text: string; at: number } | null = null;

  constructor(private readonly o: StateRepoOptions) {
    this.file = join(o.dir, STATE_FILE);
  }

  /** Finds out whether history is possible here. Safe to call more than once. */
  init(): Promise<{ enabled: boolean; warning?: string }> {
    this.detected ??= this.detect().catch((err: unknown) => {
      this.detected = undefined; // a deploy dir that appears later is found on the next call
      throw err;
    });
    return this.detected;
  }

  /**
   * Validates `text`, checks it against `expectedRevision`, commits it (state.yaml only; the user's index
   * and anything staged are left alone) and then writes state.yaml atomically. A commit that fails
   * leaves the file untouched, so nothing acts on it. A hand edit not yet committed is recorded as its own
   * commit first, so this commit holds only this change. Concurrent calls run one after another.
   */
  async commitState(o: { text: string; author: Author; message: string; expectedRevision?: string }): Promise<CommitResult> {
    const env = authorEnv(o.author);
    const message = cleanMessage(o.message);
    // Validation runs now, but the place in the queue is taken now too: commits land in call order.
    const valid = this.validate(o.text);
    valid.catch(() => undefined);
    return this.serial(async () => {
      await valid;
      const { enabled } = await this.init();
      const link = enabled ? await this.linkTarget() : null;
      if (link !== null) {
        throw reconError(
          "RECON_ERR_UNAVAILABLE",
          `state.yaml is a symbolic link (to ${link}): git would commit the link, not the desired state, so nothing was written. Replace the link with the file itself, or run the reconciler on the folder it points into`,
        );
      }
      if (enabled) {
        await checkRepoState(this.o.dir);
        await ensureIndexFree(this.o.dir, this.o.logger);
        const onDisk = await this.readCurrent();
        if (onDisk !== null && (await this.validate(onDisk).then(() => true, () => false))) await this.recordLocked(onDisk);
      }
      const current = await this.readCurrent();
      const currentRevision = current === null ? null : revisionOf(current);
      if (o.expectedRevision !== undefined && o.expectedRevision !== currentRevision) {
        throw reconError(
          "RECON_ERR_CONFLICT",
          `state.yaml changed since you loaded it (your revision ${o.expectedRevision}, now ${currentRevision ?? "no file"}); nothing was written. Reload and try again`,
          { expectedRevision: o.expectedRevision, currentRevision },
        );
      }
      const revision = revisionOf(o.text);
      if (!enabled) {
        if (current !== o.text) await this.write(o.text);
        this.o.logger.info({ revision, author: o.author.name }, "state.yaml written (not committed: history is off)");
        return { revision, commit: null };
      }
      const commit = await this.commitThenWrite(o.text, message, env, current);
      if (commit) this.o.logger.info({ commit, revision, author: o.author.name, message }, "state.yaml committed");
      return { revision, commit };
    });
  }

  /**
   * For the file watcher, before it acts on `text` (valid state.yaml just read from disk): "committed" when
   * HEAD holds exactly this text (or history is off), "recorded" when it was a hand edit now committed by
   * Switchyard, "changed" when state.yaml on disk is no longer `text` (read it again), "wait" while a hand
   * edit is younger than the grace period or a git operation holds the index (ask again shortly). Throws
   * RECON_ERR_UNAVAILABLE when it cannot be recorded (detached HEAD, a merge in progress, git failing).
   */
  recordIfUncommitted(text: string): Promise<"committed" | "recorded" | "changed" | "wait"> {
    return this.serial(async () => {
      const { enabled } = await this.init();
      if (!enabled || (await this.linkTarget()) !== null) return "committed"; // a link: git holds the link, not the text
      if ((await this.readCurrent()) !== text) return "changed";
      const ids = await blobIds(this.o.dir, this.path(), text);
      if (ids.blob === ids.head) {
        this.handEdit = null;
        return "committed";
      }
      const now = Date.now();
      if (this.handEdit?.text !== text) this.handEdit = { text, at: now };
      if (now - this.handEdit.at < (this.o.handEditGraceMs ?? HAND_EDIT_GRACE_MS) || (await indexBusy(this.o.dir))) return "wait";
      this.handEdit = null;
      return (await this.recordLocked(text)) ? "recorded" : "committed";
    });
  }

  /** Pushes now (at start: commits a failed push left behind go, and HistoryNotPushed learns the truth). */
  pushNow(): void {
    if (this.o.remote) this.schedulePush();
  }

  /** The last push's outcome while it is a failure (HistoryNotPushed), else null. */
  pushProblem(): Extract<PushOutcome, { ok: false }> | null {
    return this.lastPush && !this.lastPush.ok ? this.lastPush : null;
  }

  /** The git log of state.yaml, newest first, with each commit's diff and the revision it left. */
  async history(o: { limit?: number } = {}): Promise<HistoryEntry[]> {
    const { enabled } = await this.init();
    if (!enabled || !(await this.hasHead())) return [];
    const wanted = Number.isFinite(o.limit) ? Math.floor(o.limit!) : DEFAULT_HISTORY_LIMIT;
    const limit = Math.max(1, Math.min(MAX_HISTORY_LIMIT, wanted));
    const out = await this.git([
      "log", `--max-count=${limit}`, "--format=%x00%H%x00%an%x00%ae%x00%aI%x00%B%x00", "--patch", "--relative", "--diff-merges=first-parent",
      "--no-color", "--no-ext-diff", "--no-textconv", "--no-renames", "--", STATE_FILE,
    ]);
    const fields = out.split("\0");
    const entries: Omit<HistoryEntry, "revision">[] = [];
    for (let i = 1; i + 4 < fields.length; i += 6) {
      entries.push({
        commit: fields[i]!,
        author: fields[i + 1]!,
        email: fields[i + 2]!,
        date: fields[i + 3]!,
        message: fields[i + 4]!.trimEnd(),
        diff: cleanDiff(fields[i + 5] ?? ""),
      });
    }
    const revisions = await this.revisionsAt(entries.map((e) => e.commit));
    return entries.map((e, i) => ({ ...e, revision: revisions[i] ?? null }));
  }

  /** A new commit that restores state.yaml as it was in `commit` (which must be in its history). */
  async rollbackTo(commit: string, author: Author, expectedRevision?: string): Promise<CommitResult> {
    const old = await this.textAt(commit);
    return this.commitState({ text: old.text, author, message: old.message, ...(expectedRevision !== undefined ? { expectedRevision } : {}) });
  }

  /** state.yaml as it was in `commit` (validated: in its history), with the message a restore would use. */
  async textAt(commit: string): Promise<{ text: string; message: string }> {
    if (typeof commit !== "string" || !COMMIT_ID_PATTERN.test(commit)) {
      throw reconError("RECON_ERR_BAD_REQUEST", "a commit id is 7 to 40 hexadecimal digits");
    }
    const { enabled, warning } = await this.init();
    if (!enabled) throw reconError("RECON_ERR_UNAVAILABLE", `cannot roll back to a revision: ${warning}`);
    const notFound = () => reconError("RECON_ERR_NOT_FOUND", `commit ${commit} is not in the history of state.yaml`);
    const resolved = await this.run(["rev-parse", "--verify", "--quiet", `${commit}^{commit}`]);
    if (resolved.code !== 0) throw notFound();
    const full = resolved.stdout.toString("utf8").trim();
    const touching = (await this.git(["log", "--format=%H", "--", STATE_FILE])).split("\n");
    if (!touching.includes(full)) throw notFound();
    const blob = await this.run(["cat-file", "blob", `${full}:${this.prefix}${STATE_FILE}`]);
    if (blob.code !== 0) throw reconError("RECON_ERR_BAD_REQUEST", `commit ${commit} deleted state.yaml; there is nothing to restore from it`);
    const subject = (await this.git(["log", "-1", "--format=%s", full, "--"])).trim();
    const short = (await this.git(["rev-parse", "--short", full])).trim();
    return { text: blob.stdout.toString("utf8"), message: `roll back to ${short} (${subject})` };
  }

  /** The unified diff from the current state.yaml to `newText`; the repository is not touched. */
  async diffFor(newText: string): Promise<string> {
    const current = await this.readCurrent();
    return unifiedDiff(current ?? "", newText, { from: current === null ? null : STATE_FILE, to: STATE_FILE });
  }

  /** Resolves once every push queued so far has finished (for shutdown and tests). */
  async idle(): Promise<void> {
    await this.tail.catch(() => undefined);
    await this.pushes;
  }

  private async detect(): Promise<{ enabled: boolean; warning?: string }> {
    const st = await stat(this.o.dir).catch(() => null);
    if (!st?.isDirectory()) throw new Error(`the deploy dir ${this.o.dir} does not exist or is not a folder`);
    const off = (why: string) => {
      const warning = `history is off: ${why}. Changes are still written to state.yaml, but not committed, so there is no history and no roll back to a revision`;
      this.o.logger.warn({ dir: this.o.dir }, warning);
      return { enabled: false, warning };
    };
    let inside;
    try {
      inside = await this.run(["rev-parse", "--is-inside-work-tree"]);
    } catch (err) {
      if (err instanceof GitError && err.notInstalled) return off("git is not installed on this machine; install git to turn history on");
      throw err;
    }
    if (inside.code !== 0 || inside.stdout.toString().trim() !== "true") {
      const why = firstLines(inside.stderr, 1);
      if (/dubious ownership/i.test(why)) {
        const me = userInfo();
        return off(
          `git refuses the deploy dir ${this.o.dir}: its repository belongs to another user than the one the reconciler runs as (${me.username}, uid ${me.uid}) ("detected dubious ownership"). ` +
            `Give it to the reconciler's user: chown -R ${me.username}: ${this.o.dir}, and make your own commits there as that user (sudo -u ${me.username} git -C ${this.o.dir} commit …) so nothing in .git belongs to someone else`,
        );
      }
      const hint = /not a git repository/i.test(why) || !why ? "" : ` (git says: ${why})`;
      return off(`the deploy dir ${this.o.dir} is not in a git repository${hint}. To turn history on: git -C ${this.o.dir} init && git -C ${this.o.dir} add ${STATE_FILE} && git -C ${this.o.dir} commit -m "initial state"`);
    }
    this.prefix = (await this.git(["rev-parse", "--show-prefix"])).trim();
    const ignored = await this.run(["check-ignore", "--quiet", "--", STATE_FILE], { env: { GIT_LITERAL_PATHSPECS: "0" } }); // no pathspec magic here
    if (ignored.code === 0) return off(`${STATE_FILE} is ignored by git here (see .gitignore); remove it from there to turn history on`);
    this.o.logger.info({ dir: this.o.dir, remote: this.o.remote ? redactUrls(this.o.remote) : undefined }, "state.yaml history is on (git)");
    return { enabled: true };
  }

  private async validate(text: string): Promise<void> {
    if (typeof text !== "string") throw reconError("RECON_ERR_BAD_REQUEST", "state.yaml text must be a string");
    const r = parseSpec(STATE_FILE, text, { expectKind: "State", checkFiles: false });
    let issues = r.ok ? [] : r.issues;
    if (r.ok) {
      // The rules between the two files too, so a commit never makes the deploy dir invalid.
      const cluster = await loadSpecFile(join(this.o.dir, "cluster.yaml"), { expectKind: "Cluster", checkFiles: false });
      if (cluster.ok) issues = crossFiles(cluster.spec as LoadedSpec<"Cluster">, r.spec as LoadedSpec<"State">);
    }
    if (issues.length > 0) {
      const lines = issues.map(formatIssue);
      throw reconError("RECON_ERR_INVALID_STATE", `state.yaml is not valid, nothing was written: ${lines.join("; ")}`, { issues: lines });
    }
  }

  /** In the queue: commits `text` as a hand edit by Switchyard when HEAD does not hold it; true when it did. */
  private async recordLocked(text: string): Promise<boolean> {
    const ids = await blobIds(this.o.dir, this.path(), text);
    if (ids.blob === ids.head) return false;
    await checkRepoState(this.o.dir);
    const commit = await this.commitThenWrite(text, HAND_EDIT_MESSAGE, authorEnv(SWITCHYARD_AUTHOR), text);
    if (commit) this.o.logger.warn({ commit, revision: revisionOf(text) }, "state.yaml was saved by hand without a commit; recorded it as a commit by Switchyard");
    return commit !== null;
  }

  /** The commit first (nothing on disk changes if it fails), then the file, then the user's index entry, then the push. */
  private async commitThenWrite(text: string, message: string, env: Record<string, string>, onDisk: string | null): Promise<string | null> {
    let made;
    try {
      made = await commitText({ cwd: this.o.dir, path: this.path(), text, message, env, sign: this.o.sign?.() === true });
    } catch (err) {
      if ((err as { code?: string }).code === "RECON_ERR_CONFLICT") throw err;
      throw reconError("RECON_ERR_UNAVAILABLE", `${(err as Error).message}; state.yaml was not written and nothing changed. Fix the repository (see the reconciler's log) and try again`);
    }
    if (onDisk !== text) await this.write(text);
    if (!made) return null;
    await syncIndex(this.o.dir, this.path(), made.mode, made.blob, this.o.logger);
    if (this.o.remote) this.schedulePush();
    return made.commit;
  }

  /** state.yaml's path from the top of the work tree. */
  private path(): string {
    return `${this.prefix}${STATE_FILE}`;
  }

  private schedulePush(): void {
    const remote = this.o.remote!;
    this.pushes = this.pushes.then(async () => {
      const r = await pushHead(this.o.dir, remote);
      this.lastPush = r;
      if (r.ok) this.o.logger.info({ remote: r.remote }, "pushed state.yaml history");
      else this.o.logger.warn({ remote: r.remote, reason: r.reason, err: r.message }, "git push failed; the commit is kept here and goes with the next push");
      try {
        this.o.onPush?.(r);
      } catch (err) {
        this.o.logger.error({ err: (err as Error).message }, "reporting a push failed");
      }
    });
  }

  /** Revision of state.yaml at each commit, read in one `git cat-file --batch`. */
  private async revisionsAt(commits: string[]): Promise<(string | null)[]> {
    if (commits.length === 0) return [];
    const input = commits.map((c) => `${c}:${this.prefix}${STATE_FILE}\n`).join("");
    const r = await this.run(["cat-file", "--batch"], { input });
    const out = r.stdout;
    const revisions: (string | null)[] = [];
    let pos = 0;
    for (let i = 0; i < commits.length && pos < out.length; i++) {
      const eol = out.indexOf(0x0a, pos);
      if (eol < 0) break;
      const header = out.subarray(pos, eol).toString("utf8");
      pos = eol + 1;
      const m = /^[0-9a-f]+ (\w+) (\d+)$/.exec(header);
      if (!m) {
        revisions.push(null); // "<object> missing": state.yaml was deleted in that commit
        continue;
      }
      const size = Number(m[2]);
      revisions.push(m[1] === "blob" ? revisionOf(out.subarray(pos, pos + size).toString("utf8")) : null);
      pos += size + 1;
    }
    return revisions;
  }

  private async readCurrent(): Promise<string | null> {
    try {
      return await readFile(this.file, "utf8");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return null;
      throw err;
    }
  }

  /**
   * Atomic write that keeps the file's permissions (state.yaml is not a secret: 0644 when new). A
   * state.yaml that is a symbolic link stays one: the file it points at is replaced, not the link.
   */
  private async write(text: string): Promise<void> {
    const target = (await this.linkTarget()) ?? this.file;
    const st = await stat(target).catch(() => null);
    await writeFileAtomic(target, text, st ? st.mode & 0o777 : 0o644);
  }

  /** Where state.yaml points when it is a symbolic link (followed to the end), else null. */
  private async linkTarget(): Promise<string | null> {
    const st = await lstat(this.file).catch(() => null);
    if (!st?.isSymbolicLink()) return null;
    return realpath(this.file).catch(async () => resolve(dirname(this.file), await readlink(this.file))); // a dangling link: create its target
  }

  private async hasHead(): Promise<boolean> {
    return (await this.run(["rev-parse", "--verify", "--quiet", "HEAD"])).code === 0;
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const r = this.tail.then(fn, fn);
    this.tail = r.catch(() => undefined);
    return r;
  }

  private git(args: string[], o: { env?: Record<string, string> } = {}): Promise<string> {
    return git(args, { cwd: this.o.dir, ...o });
  }

  private run(args: string[], o: { input?: string; timeoutMs?: number; env?: Record<string, string> } = {}) {
    return runGit(args, { cwd: this.o.dir, ...o });
  }
}

function authorEnv(a: Author): Record<string, string> {
  const bad = (s: unknown, max: number) => typeof s !== "string" || s.trim() === "" || s.length > max || /[<>\p{Cc}]/u.test(s);
  if (!a || bad(a.name, 200)) throw reconError("RECON_ERR_BAD_REQUEST", "the author name must be 1–200 characters without <, > or control characters");
  if (bad(a.email, 254) || /\s/.test(a.email)) throw reconError("RECON_ERR_BAD_REQUEST", "the author email must be 1–254 characters without spaces, <, > or control characters");
  return { GIT_AUTHOR_NAME: a.name, GIT_AUTHOR_EMAIL: a.email, GIT_COMMITTER_NAME: a.name, GIT_COMMITTER_EMAIL: a.email };
}

function cleanMessage(m: string): string {
  if (typeof m !== "string") throw reconError("RECON_ERR_BAD_REQUEST", "a commit message must be text");
  // Newlines and tabs stay; other control characters (terminal escapes) go.
  const clean = m.replace(/[^\P{Cc}\n\t]/gu, "").trim();
  if (clean === "") throw reconError("RECON_ERR_BAD_REQUEST", "a commit message cannot be empty");
  if (clean.length > MAX_MESSAGE_CHARS) throw reconError("RECON_ERR_BAD_REQUEST", `a commit message is at most ${MAX_MESSAGE_CHARS} characters`);
  return clean;
}

/**
 * From git's `diff --git` block keep what a unified diff shows (from the `---` line on), without the
 * section names git appends to hunk headers: the same format as `unifiedDiff`.
 */
function cleanDiff(patch: string): string {
  const body = patch.replace(/^\n+/, "");
  const at = body.search(/^--- /m);
  const diff = (at >= 0 ? body.slice(at) : body).replace(/\n+$/, "").replace(/^(@@ -[\d,]+ \+[\d,]+ @@).*$/gm, "$1");
  return diff === "" ? "" : diff + "\n";
}
