/**
 * Git on Switchyard's terms (issue 20 items 1, 7, 9; issue 14 item 3), against real git: a commit exists
 * before state.yaml changes on disk; the repository's hooks and signing settings do not run for
 * Switchyard's commits; every git call is bounded by killing its process group; a stale index.lock is
 * recovered; a detached HEAD or a merge in progress is refused; a hand edit is recorded as its own commit
 * before any other commit can include it; push failures are classified.
 */
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { runGit } from "../../reconciler/history/git-exec.js";
import { STALE_INDEX_LOCK_MS } from "../../reconciler/history/git-commit.js";
import { pushHead, type PushOutcome } from "../../reconciler/history/push.js";
import { revisionOf as hash } from "../../specs/revision.js";
import { HAND_EDIT_GRACE_MS } from "../../reconciler/history/state-repo.js";
import { isZombie } from "../support/procs.js";
import { alice, bed, bob, count, refused, sh, stateText, temps, useGitSandbox } from "../support/git-bed.js";

useGitSandbox();

/** A hook that sleeps `seconds` with a background child holding its stdout and stderr, then fails. */
function hangingHook(file: string, marker: string, seconds: number): void {
  writeFileSync(file, `#!/bin/sh\necho ran >> ${marker}\nsleep ${seconds} &\nsleep ${seconds}\nexit 1\n`);
  chmodSync(file, 0o755);
}

/** Running, not a zombie waiting for a parent that is gone. */
function alive(pid: number): boolean {
  try {
    return !isZombie(pid);
  } catch {
    return false;
  }
}

describe("git on Switchyard's terms", () => {
  it("runs no hooks: a pre-commit hook that sleeps 45 s (its child holding the pipes) neither delays nor blocks the commit, and no index.lock is left", async () => {
    const b = bed();
    const marker = join(b.root, "hook-ran");
    for (const h of ["pre-commit", "commit-msg", "prepare-commit-msg", "post-commit", "reference-transaction", "post-index-change"]) hangingHook(join(b.root, ".git", "hooks", h), marker, 45);
    const elsewhere = join(b.root, "team-hooks");
    mkdirSync(elsewhere);
    hangingHook(join(elsewhere, "pre-commit"), marker, 45);
    sh(b.root, "config", "core.hooksPath", elsewhere);
    const started = Date.now();
    const r = await b.repo.commitState({ text: stateText({ green: "v3" }), author: alice, message: "deploy v3 to green" });
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(r.commit).toBe(sh(b.root, "rev-parse", "HEAD").trim());
    expect(existsSync(marker)).toBe(false);
    expect(existsSync(join(b.root, ".git", "index.lock"))).toBe(false);
    expect(sh(b.root, "status", "--porcelain")).toBe("?? team-hooks/\n");
  }, 20_000);

  it("bounds every git call by killing its whole process group: a git whose child holds the pipes returns at the timeout and leaves nothing running", async () => {
    const b = bed();
    const pids = join(b.root, "pids");
    const started = Date.now();
    const r = await runGit(["-c", `alias.hang=!echo $$ >> ${pids}; sleep 45 & echo $! >> ${pids}; sleep 45`, "hang"], { cwd: b.dir, timeoutMs: 2_000 });
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(r.code).toBeNull();
    expect(r.stderr).toContain("did not finish within 2000 ms");
    const left = readFileSync(pids, "utf8").trim().split("\n").map(Number);
    expect(left).toHaveLength(2);
    await new Promise((res) => setTimeout(res, 200));
    expect(left.filter(alive)).toEqual([]);
  }, 20_000);

  it("does not sign unless asked: commit.gpgSign in the repository neither prompts nor fails; spec.history.signCommits makes git sign", async () => {
    const b = bed();
    const marker = join(b.root, "gpg-ran");
    const gpg = join(b.root, "fake-gpg");
    writeFileSync(gpg, `#!/bin/sh\necho ran >> ${marker}\necho 'gpg: signing failed: No pinentry' >&2\nexit 2\n`);
    chmodSync(gpg, 0o755);
    sh(b.root, "config", "commit.gpgSign", "true");
    sh(b.root, "config", "gpg.program", gpg);
    const r = await b.repo.commitState({ text: stateText({ green: "v3" }), author: alice, message: "deploy v3 to green" });
    expect(r.commit).not.toBeNull();
    expect(existsSync(marker)).toBe(false);

    let sign = true;
    const signing = bed({ repo: { sign: () => sign } });
    sh(signing.root, "config", "gpg.program", gpg);
    const err = await refused(signing.repo.commitState({ text: stateText({ green: "v3" }), author: alice, message: "deploy v3 to green" }));
    expect(err.code).toBe("RECON_ERR_UNAVAILABLE");
    expect(readFileSync(marker, "utf8")).toBe("ran\n");
    expect(readFileSync(join(signing.dir, "state.yaml"), "utf8")).toBe(stateText()); // the failed commit wrote nothing
    expect(count(signing.root)).toBe(1);
    sign = false;
    expect((await signing.repo.commitState({ text: stateText({ green: "v3" }), author: alice, message: "deploy v3 to green" })).commit).not.toBeNull();
  });

  it("refuses a detached HEAD and a merge in progress with a clear error, writing and committing nothing", async () => {
    const b = bed();
    sh(b.root, "checkout", "--quiet", "--detach");
    const detached = await refused(b.repo.commitState({ text: stateText({ green: "v3" }), author: alice, message: "deploy v3 to green" }));
    expect(detached.code).toBe("RECON_ERR_UNAVAILABLE");
    expect(detached.message).toContain("detached HEAD");
    sh(b.root, "checkout", "--quiet", "main");

    writeFileSync(join(b.root, ".git", "MERGE_HEAD"), sh(b.root, "rev-parse", "HEAD"));
    const merging = await refused(b.repo.commitState({ text: stateText({ green: "v3" }), author: alice, message: "deploy v3 to green" }));
    expect(merging.code).toBe("RECON_ERR_UNAVAILABLE");
    expect(merging.message).toContain("a merge is in progress");
    expect(readFileSync(join(b.dir, "state.yaml"), "utf8")).toBe(stateText());
    expect(count(b.root)).toBe(1);
  });

  it("refuses while a fresh index.lock says another git is working; removes a stale one (old, and no git of ours running) and commits", async () => {
    const b = bed();
    const lock = join(b.root, ".git", "index.lock");
    writeFileSync(lock, "");
    const busy = await refused(b.repo.commitState({ text: stateText({ green: "v3" }), author: alice, message: "deploy v3 to green" }));
    expect(busy.code).toBe("RECON_ERR_UNAVAILABLE");
    expect(busy.message).toContain("another git operation is running");
    expect(existsSync(lock)).toBe(true); // somebody's git may be working: not ours to remove
    expect(count(b.root)).toBe(1);
    expect(readFileSync(join(b.dir, "state.yaml"), "utf8")).toBe(stateText());
    const old = (Date.now() - STALE_INDEX_LOCK_MS - 60_000) / 1000;
    utimesSync(lock, old, old);
    const r2 = await b.repo.commitState({ text: stateText({ green: "v4" }), author: bob, message: "deploy v4 to green" });
    expect(r2.commit).toBe(sh(b.root, "rev-parse", "HEAD").trim());
    expect(existsSync(lock)).toBe(false);
    expect(sh(b.root, "status", "--porcelain")).toBe("");
  });
});

describe("the state acted on is always a commit", () => {
  it("records a hand edit as Switchyard's own commit; a following API change then commits only its own change, with the diff its dry run showed", async () => {
    const b = bed();
    const hand = stateText({ green: "v3" });
    writeFileSync(join(b.dir, "state.yaml"), hand);
    expect(await b.repo.recordIfUncommitted(stateText())).toBe("changed"); // the watcher read an older text: read again
    expect(await b.repo.recordIfUncommitted(hand)).toBe("wait"); // a git pull or checkout may be moving the branch right now
    await new Promise((r) => setTimeout(r, HAND_EDIT_GRACE_MS + 100));
    writeFileSync(join(b.root, ".git", "index.lock"), ""); // a git operation is running
    expect(await b.repo.recordIfUncommitted(hand)).toBe("wait");
    rmSync(join(b.root, ".git", "index.lock"));
    expect(count(b.root)).toBe(1);
    expect(await b.repo.recordIfUncommitted(hand)).toBe("recorded");
    expect(await b.repo.recordIfUncommitted(hand)).toBe("committed");
    const next = stateText({ green: "v3", active: "green" });
    const dryRun = await b.repo.diffFor(next);
    await b.repo.commitState({ text: next, author: alice, message: "promote green (v3)", expectedRevision: hash(hand) });
    const h = await b.repo.history();
    expect(h.map((e) => `${e.author} <${e.email}>: ${e.message.split("\n")[0]}`)).toEqual([
      "Alice Example <alice@example.com>: promote green (v3)",
      "Switchyard <switchyard@switchyard.local>: state.yaml saved by hand, not committed",
      "Fixture <fixture@example.com>: initial state",
    ]);
    expect(h[0]!.diff).toBe(dryRun);
    expect(h[0]!.diff).not.toMatch(/^[-+] +green/m);
    expect(h[1]!.diff).toContain("+    green: { tag: v3 }");
    expect(h[0]!.revision).toBe(hash(next)); // History marks the newest commit as the one in force
    expect(sh(b.root, "status", "--porcelain")).toBe("");
  });

  it("an API change that finds a hand edit nobody recorded yet records it first and refuses a stale revision, instead of committing both", async () => {
    const b = bed();
    const hand = stateText({ owner: "blue" });
    writeFileSync(join(b.dir, "state.yaml"), hand);
    const err = await refused(b.repo.commitState({ text: stateText({ green: "v5" }), author: alice, message: "deploy v5 to green", expectedRevision: hash(stateText()) }));
    expect(err.code).toBe("RECON_ERR_CONFLICT");
    expect(sh(b.root, "log", "--format=%an|%s").trim().split("\n")).toEqual(["Switchyard|state.yaml saved by hand, not committed", "Fixture|initial state"]);
    expect(readFileSync(join(b.dir, "state.yaml"), "utf8")).toBe(hand);
  });

  it("does not record a hand edit while a merge is in progress: the watcher gets an error and acts on nothing", async () => {
    const b = bed({ repo: { handEditGraceMs: 0 } });
    writeFileSync(join(b.root, ".git", "MERGE_HEAD"), sh(b.root, "rev-parse", "HEAD"));
    const hand = stateText({ green: "v3" });
    writeFileSync(join(b.dir, "state.yaml"), hand);
    const err = await refused(b.repo.recordIfUncommitted(hand));
    expect(err.message).toContain("a merge is in progress");
    expect(count(b.root)).toBe(1);
  });
});

describe("pushes with --git-remote", () => {
  it("reports each push failure with its reason (non-fast-forward, rejected, detached HEAD) and clears it on the next good push", async () => {
    const remote = mkdtempSync(join(tmpdir(), "sy-git-remote-"));
    temps.push(remote);
    sh(remote, "init", "--quiet", "--bare");
    const outcomes: PushOutcome[] = [];
    const b = bed({ remote, repo: { onPush: (o) => outcomes.push(o) } });
    await b.repo.commitState({ text: stateText({ green: "v3" }), author: alice, message: "deploy v3 to green" });
    await b.repo.idle();
    expect(outcomes.at(-1)).toEqual({ ok: true, remote });
    expect(b.repo.pushProblem()).toBeNull();

    // Someone else pushed to the remote first.
    const other = mkdtempSync(join(tmpdir(), "sy-git-other-"));
    temps.push(other);
    sh(other, "clone", "--quiet", "--branch", "main", remote, ".");
    writeFileSync(join(other, "README"), "theirs\n");
    sh(other, "commit", "--quiet", "-am", "their change");
    sh(other, "push", "--quiet", "origin", "main");
    await b.repo.commitState({ text: stateText({ green: "v4" }), author: alice, message: "deploy v4 to green" });
    await b.repo.idle();
    expect(outcomes.at(-1)).toMatchObject({ ok: false, reason: "NonFastForward" });
    expect(b.repo.pushProblem()).toMatchObject({ reason: "NonFastForward", message: expect.stringContaining("pull") });

    // A remote that refuses (a non-bare repository with the branch checked out).
    const refusing = bed({ remote: other, repo: { onPush: (o) => outcomes.push(o) } });
    sh(other, "checkout", "--quiet", "main");
    await refusing.repo.commitState({ text: stateText({ green: "v5" }), author: alice, message: "deploy v5 to green" });
    await refusing.repo.idle();
    expect(outcomes.at(-1)).toMatchObject({ ok: false, reason: expect.stringMatching(/^(Rejected|NonFastForward)$/) });

    sh(b.root, "checkout", "--quiet", "--detach");
    expect(await pushHead(b.dir, remote)).toMatchObject({ ok: false, reason: "DetachedHead" });
    sh(b.root, "checkout", "--quiet", "main");
    sh(b.root, "pull", "--quiet", "--no-rebase", "--no-edit", remote, "main");
    await b.repo.commitState({ text: stateText({ green: "v6" }), author: alice, message: "deploy v6 to green" });
    await b.repo.idle();
    expect(outcomes.at(-1)).toEqual({ ok: true, remote });
    expect(b.repo.pushProblem()).toBeNull();
  });
});
