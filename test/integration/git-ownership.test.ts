/**
 * A deploy dir whose git repository belongs to another user than the reconciler's (issue 21: the five-VM guide
 * hit git's "detected dubious ownership", and the reconciler suggested `git init`, the wrong fix). Here the
 * reconciler's side runs as root and the repository belongs to `nobody`: git refuses it the same way.
 */
import { execFileSync } from "node:child_process";
import { chownSync, cpSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { StateRepo } from "../../reconciler/history/state-repo.js";
import { makeLogger } from "../../common/log.js";

const root = mkdtempSync(join(tmpdir(), "sy-git-owner-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

function chownTree(dir: string, uid: number): void {
  chownSync(dir, uid, uid);
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) chownTree(p, uid);
    else chownSync(p, uid, uid);
  }
}

describe("a deploy dir in another user's repository", () => {
  it("history is off with the fix that works (chown to the reconciler's user, commit as that user), not `git init`", async () => {
    const deploy = join(root, "deploy");
    cpSync("examples/local", deploy, { recursive: true });
    const env = { ...process.env, GIT_CONFIG_NOSYSTEM: "1", GIT_CEILING_DIRECTORIES: root };
    const git = (...args: string[]) => execFileSync("git", ["-C", deploy, "-c", "user.name=ops", "-c", "user.email=ops@example.com", ...args], { env, encoding: "utf8" });
    git("init", "-q");
    git("add", ".");
    git("commit", "-qm", "initial");
    chownTree(deploy, 65534);
    const repo = new StateRepo({ dir: deploy, logger: makeLogger("git-owner-test") });
    const st = await repo.init();
    expect(st.enabled).toBe(false);
    expect(st.warning).toMatch(/^history is off: git refuses the deploy dir .*: its repository belongs to another user than the one the reconciler runs as \(root, uid 0\) \("detected dubious ownership"\)\. Give it to the reconciler's user: chown -R root: .*deploy, and make your own commits there as that user/);
    expect(st.warning).not.toMatch(/git init/);
  });
});
