/**
 * Pushing state.yaml's history to `--git-remote`, with the outcome classified so that a failure becomes
 * a condition and an alert (HistoryNotPushed) that says why, not only a log line.
 */
import { firstLines, redactUrls, runGit } from "./git-exec.js";

export const PUSH_TIMEOUT_MS = 60_000;

/** Why a push failed: the branch is not checked out, the remote has commits we lack, the remote said no, or anything else. */
export type PushReason = "DetachedHead" | "NonFastForward" | "Rejected" | "Failed";

export type PushOutcome = { ok: true; remote: string } | { ok: false; remote: string; reason: PushReason; message: string };

/** Pushes HEAD's branch to the branch of the same name on `remote` (URL credentials masked in what it returns). */
export async function pushHead(cwd: string, remote: string): Promise<PushOutcome> {
  const shown = redactUrls(remote);
  const fail = (reason: PushReason, message: string): PushOutcome => ({ ok: false, remote: shown, reason, message: redactUrls(message) });
  try {
    const sym = await runGit(["symbolic-ref", "--quiet", "HEAD"], { cwd });
    if (sym.code !== 0) return fail("DetachedHead", "HEAD is detached in the deploy dir's repository: there is no branch to push. Check out the branch (git switch main)");
    const branch = sym.stdout.toString("utf8").trim();
    const r = await runGit(["push", "--porcelain", "--", remote, `${branch}:${branch}`], { cwd, timeoutMs: PUSH_TIMEOUT_MS });
    if (r.code === 0) return { ok: true, remote: shown };
    const out = r.stdout.toString("utf8");
    const line = out.split("\n").find((l) => l.startsWith("!")) ?? "";
    const why = /\t\[([^\]]+)\](?: \(([^)]*)\))?/.exec(line);
    if (why && why[1] === "rejected") {
      return fail("NonFastForward", `the remote's ${branch.replace(/^refs\/heads\//, "")} has commits this repository does not (${why[2] ?? "rejected"}); pull (or merge) them in the deploy dir, and the next push takes both`);
    }
    if (why) return fail("Rejected", `the remote refused the push: ${why[1]}${why[2] ? ` (${why[2]})` : ""}`);
    return fail("Failed", firstLines(r.stderr) || `git push exited with ${r.code ?? "a timeout"}`);
  } catch (err) {
    return fail("Failed", (err as Error).message);
  }
}
