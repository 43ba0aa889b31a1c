/**
 * Switchyard's own commits, built with git plumbing so that the commit exists before any file changes:
 * the blob, a tree from a temporary index (the user's index and work tree are not involved), a commit
 * object, then HEAD's branch moved with a compare-and-swap on its old value. No hooks run, nothing is
 * signed unless the team asks for it (cluster.yaml `spec.history.signCommits`), and a repository that
 * is in the middle of something (a merge, a rebase, a detached HEAD) is refused with a clear reason.
 */
import { mkdtemp, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { isAbsolute, join } from "node:path";
import type { Logger } from "pino";
import { reconError } from "../errors.js";
import { firstLines, git, gitProcessesRunning, runGit } from "./git-exec.js";

/** An index.lock older than this, while no git process of ours runs, is left over from a killed git. */
export const STALE_INDEX_LOCK_MS = 2 * 60 * 1000;

/** Operations in progress that a commit of ours must not land in the middle of, with how to end each. */
const IN_PROGRESS: readonly [string, string][] = [
  ["MERGE_HEAD", "a merge is in progress (finish it with git commit or abort it with git merge --abort)"],
  ["CHERRY_PICK_HEAD", "a cherry-pick is in progress (git cherry-pick --continue or --abort)"],
  ["REVERT_HEAD", "a revert is in progress (git revert --continue or --abort)"],
  ["rebase-merge", "a rebase is in progress (git rebase --continue or --abort)"],
  ["rebase-apply", "a rebase or git am is in progress (--continue or --abort)"],
];

export interface PlumbingCommit {
  /** The deploy dir (git runs there). */
  cwd: string;
  /** The file's path from the top of the work tree. */
  path: string;
  text: string;
  message: string;
  /** GIT_AUTHOR_* and GIT_COMMITTER_* */
  env: Record<string, string>;
  sign: boolean;
}

/**
 * Throws RECON_ERR_UNAVAILABLE when HEAD is detached (a commit would be orphaned and its push fails)
 * or a merge, rebase, cherry-pick or revert is in progress. Returns the branch HEAD points at.
 */
export async function checkRepoState(cwd: string): Promise<string> {
  const sym = await runGit(["symbolic-ref", "--quiet", "HEAD"], { cwd });
  if (sym.code !== 0) {
    throw reconError(
      "RECON_ERR_UNAVAILABLE",
      "the deploy dir's repository has a detached HEAD, so a commit would belong to no branch and nothing was written. Check out the branch the deploy dir follows (git switch main) and try again",
      { reason: "DetachedHead" },
    );
  }
  const paths = (await git(["rev-parse", ...IN_PROGRESS.flatMap(([p]) => ["--git-path", p])], { cwd })).split("\n");
  for (let i = 0; i < IN_PROGRESS.length; i++) {
    const p = paths[i]!;
    if (await exists(isAbsolute(p) ? p : join(cwd, p))) {
      throw reconError("RECON_ERR_UNAVAILABLE", `in the deploy dir's repository ${IN_PROGRESS[i]![1]}, so nothing was written; try again once it is over`, { reason: "InProgress" });
    }
  }
  return sym.stdout.toString("utf8").trim();
}

/** The blob id `text` has (or would have) in this repository, and the one HEAD holds at `path` (null when none). */
export async function blobIds(cwd: string, path: string, text: string, write = false): Promise<{ blob: string; head: string | null; mode: string | null }> {
  const blob = (await git(["hash-object", ...(write ? ["-w"] : []), "--no-filters", "--stdin"], { cwd, input: text })).trim();
  const entry = await runGit(["ls-tree", "--full-tree", "HEAD", "--", path], { cwd });
  const m = entry.code === 0 ? /^(\d{6}) blob ([0-9a-f]+)\t/.exec(entry.stdout.toString("utf8")) : null;
  return { blob, head: m ? m[2]! : null, mode: m ? m[1]! : null };
}

/**
 * Commits `text` as `path` on HEAD's branch; null when HEAD already holds exactly that. The branch moves
 * only if it still points where it did when we started (otherwise RECON_ERR_CONFLICT, nothing changed).
 */
export async function commitText(c: PlumbingCommit): Promise<{ commit: string; blob: string; mode: string } | null> {
  const { cwd } = c;
  const head = await runGit(["rev-parse", "--verify", "--quiet", "HEAD^{commit}"], { cwd });
  const parent = head.code === 0 ? head.stdout.toString("utf8").trim() : null;
  const ids = await blobIds(cwd, c.path, c.text, true);
  if (parent !== null && ids.head === ids.blob) return null;
  const mode = ids.mode ?? "100644";
  const tmp = await mkdtemp(join(tmpdir(), "switchyard-index-"));
  try {
    const env = { GIT_INDEX_FILE: join(tmp, "index") };
    if (parent !== null) await git(["read-tree", parent], { cwd, env });
    await git(["update-index", "--add", "--cacheinfo", `${mode},${ids.blob},${c.path}`], { cwd, env });
    const tree = (await git(["write-tree"], { cwd, env })).trim();
    const commit = (
      await git(["commit-tree", tree, ...(parent ? ["-p", parent] : []), c.sign ? "--gpg-sign" : "--no-gpg-sign", "-m", c.message], { cwd, env: c.env })
    ).trim();
    const moved = await runGit(["update-ref", "-m", `switchyard: ${c.message.split("\n")[0]}`, "HEAD", commit, parent ?? ""], { cwd });
    if (moved.code !== 0) {
      const now = await runGit(["rev-parse", "--verify", "--quiet", "HEAD^{commit}"], { cwd });
      const nowHead = now.code === 0 ? now.stdout.toString("utf8").trim() : null;
      if (nowHead !== parent) throw reconError("RECON_ERR_CONFLICT", "the branch moved while Switchyard was committing (someone committed at the same moment); nothing was written. Reload and try again");
      throw reconError("RECON_ERR_UNAVAILABLE", `git could not move the branch: ${firstLines(moved.stderr)}`);
    }
    return { commit, blob: ids.blob, mode };
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

/**
 * Points the user's index entry for `path` at the committed blob, so `git status` stays clean. Best
 * effort: the commit stands whatever happens here. An index.lock left by a git of ours that was killed
 * is removed first (only when no git process of ours runs and the lock is older than STALE_INDEX_LOCK_MS).
 */
export async function syncIndex(cwd: string, path: string, mode: string, blob: string, logger: Logger): Promise<void> {
  try {
    await removeStaleIndexLock(cwd, logger);
    const r = await runGit(["update-index", "--add", "--cacheinfo", `${mode},${blob},${path}`], { cwd });
    if (r.code !== 0) logger.warn({ err: firstLines(r.stderr) }, "could not update git's index for state.yaml (the commit is made; git status may show it as changed)");
  } catch (err) {
    logger.warn({ err: (err as Error).message }, "could not update git's index for state.yaml (the commit is made)");
  }
}

/**
 * Throws RECON_ERR_UNAVAILABLE while another git operation holds the index (a pull or checkout moving the
 * branch, which a commit of ours in between would break); a stale lock is removed first.
 */
export async function ensureIndexFree(cwd: string, logger: Logger): Promise<void> {
  await removeStaleIndexLock(cwd, logger);
  if (await indexBusy(cwd)) {
    throw reconError(
      "RECON_ERR_UNAVAILABLE",
      `another git operation is running in the deploy dir's repository (it holds .git/index.lock), so nothing was written; try again in a moment. If no git is running, the lock is left over and Switchyard removes it once it is ${STALE_INDEX_LOCK_MS / 60_000} minutes old`,
      { reason: "IndexLocked" },
    );
  }
}

/** True while a git operation holds the index (an index.lock younger than STALE_INDEX_LOCK_MS). */
export async function indexBusy(cwd: string, now = Date.now()): Promise<boolean> {
  const st = await stat(await indexLockPath(cwd)).catch(() => null);
  return st !== null && now - st.mtimeMs < STALE_INDEX_LOCK_MS;
}

/** Removes `.git/index.lock` when it is stale: older than the bound and no git of ours is running. */
export async function removeStaleIndexLock(cwd: string, logger: Logger, now = Date.now()): Promise<boolean> {
  const lock = await indexLockPath(cwd);
  const st = await stat(lock).catch(() => null);
  if (!st || gitProcessesRunning() > 0 || now - st.mtimeMs < STALE_INDEX_LOCK_MS) return false;
  await rm(lock, { force: true });
  logger.warn({ lock, ageSeconds: Math.round((now - st.mtimeMs) / 1000) }, "removed a stale git index.lock (left by a git process that was killed)");
  return true;
}

async function indexLockPath(cwd: string): Promise<string> {
  const p = (await git(["rev-parse", "--git-path", "index.lock"], { cwd })).trim();
  return isAbsolute(p) ? p : join(cwd, p);
}

async function exists(p: string): Promise<boolean> {
  return (await stat(p).catch(() => null)) !== null;
}
