/**
 * StateRepo against real git repositories in temp dirs, with no global git configuration: commits and
 * their authors, only state.yaml committed, history with diffs, roll back to a revision, conflicts,
 * invalid input refused with nothing committed, hostile commit ids, concurrency, push, a non-git dir.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { revisionOf as hash } from "../../specs/revision.js";
import type { ReconError } from "../../reconciler/errors.js";
import { alice, bed, bob, count, refused, sh, stateText, temps, useGitSandbox } from "../support/git-bed.js";

useGitSandbox();

describe("StateRepo in a git repository", () => {
  it("commits state.yaml with the user as author and committer and the given message, without any git config", async () => {
    const b = bed();
    expect(await b.repo.init()).toEqual({ enabled: true });
    const text = stateText({ green: "v3" });
    const r = await b.repo.commitState({ text, author: alice, message: "deploy v3 to green", expectedRevision: hash(stateText()) });
    expect(r.revision).toBe(hash(text));
    expect(r.commit).toBe(sh(b.root, "rev-parse", "HEAD").trim());
    expect(sh(b.root, "log", "-1", "--format=%an|%ae|%cn|%ce|%B").trim()).toBe("Alice Example|alice@example.com|Alice Example|alice@example.com|deploy v3 to green");
    expect(readFileSync(join(b.dir, "state.yaml"), "utf8")).toBe(text);
    expect(sh(b.root, "status", "--porcelain")).toBe("");
    expect(count(b.root)).toBe(2);
  });

  it("commits only state.yaml: other staged and unstaged changes stay as they were", async () => {
    const b = bed();
    writeFileSync(join(b.root, "README"), "staged edit\n");
    sh(b.root, "add", "README");
    writeFileSync(join(b.root, "notes.txt"), "untracked\n");
    writeFileSync(join(b.dir, "cluster.yaml"), readFileSync(join(b.dir, "cluster.yaml"), "utf8") + "# unstaged edit\n");
    const r = await b.repo.commitState({ text: stateText({ active: "green" }), author: bob, message: "promote green (v2)" });
    expect(sh(b.root, "show", "--name-only", "--format=", r.commit!).trim()).toBe("deploy/state.yaml");
    expect(sh(b.root, "diff", "--cached", "--name-only").trim()).toBe("README");
    expect(sh(b.root, "diff", "--name-only").trim()).toBe("deploy/cluster.yaml");
    expect(sh(b.root, "status", "--porcelain", "--untracked-files=all")).toContain("?? notes.txt");
  });

  it("ignores GIT_DIR and GIT_INDEX_FILE inherited from its environment (a reconciler started from a git hook)", async () => {
    const b = bed();
    const elsewhere = bed();
    process.env.GIT_DIR = join(elsewhere.root, ".git");
    process.env.GIT_INDEX_FILE = join(elsewhere.root, "bogus-index");
    try {
      await b.repo.commitState({ text: stateText({ green: "v6" }), author: alice, message: "deploy v6 to green" });
    } finally {
      delete process.env.GIT_DIR;
      delete process.env.GIT_INDEX_FILE;
    }
    expect(count(b.root)).toBe(2);
    expect(count(elsewhere.root)).toBe(1);
    expect(existsSync(join(elsewhere.root, "bogus-index"))).toBe(false);
  });

  it("makes the first commit in a repository that has none yet", async () => {
    const b = bed({ initialCommit: false });
    const r = await b.repo.commitState({ text: stateText({ green: "v5" }), author: alice, message: "deploy v5 to green" });
    expect(r.commit).toMatch(/^[0-9a-f]{40}$/);
    expect(sh(b.root, "show", "--name-only", "--format=", "HEAD").trim()).toBe("deploy/state.yaml");
    // The state.yaml found on disk was never committed: it is recorded first, by Switchyard, then the change.
    expect((await b.repo.history()).map((e) => `${e.author}: ${e.message.split("\n")[0]}`)).toEqual(["Alice Example: deploy v5 to green", "Switchyard: state.yaml saved by hand, not committed"]);
  });

  it("makes no commit when the text is what HEAD already has", async () => {
    const b = bed();
    const r = await b.repo.commitState({ text: stateText(), author: alice, message: "nothing" });
    expect(r).toEqual({ revision: hash(stateText()), commit: null });
    expect(count(b.root)).toBe(1);
  });

  it("lists the history of state.yaml newest first with authors, diffs and revisions, including commits made by hand", async () => {
    const b = bed();
    const t1 = stateText({ green: "v3" });
    const t2 = stateText({ active: "green", green: "v3" });
    await b.repo.commitState({ text: t1, author: alice, message: "deploy v3 to green" });
    writeFileSync(join(b.root, "README"), "unrelated\n");
    sh(b.root, "commit", "--quiet", "-am", "unrelated change");
    await b.repo.commitState({ text: t2, author: bob, message: "promote green (v3)" });
    const t3 = stateText({ active: "green", green: "v3", owner: "green" });
    writeFileSync(join(b.dir, "state.yaml"), t3);
    sh(b.root, "commit", "--quiet", "-am", "jobs to green, by hand\n\nwith a body");

    const h = await b.repo.history();
    expect(h.map((e) => e.message)).toEqual(["jobs to green, by hand\n\nwith a body", "promote green (v3)", "deploy v3 to green", "initial state"]);
    expect(h.map((e) => e.author)).toEqual(["Fixture", "Bob", "Alice Example", "Fixture"]);
    expect(h[1]!.email).toBe("bob@example.com");
    expect(h.map((e) => e.revision)).toEqual([hash(t3), hash(t2), hash(t1), hash(stateText())]);
    expect(h[1]!.commit).toMatch(/^[0-9a-f]{40}$/);
    expect(Number.isNaN(Date.parse(h[1]!.date))).toBe(false);
    expect(h[1]!.diff).toBe(
      ["--- a/state.yaml", "+++ b/state.yaml", "@@ -1,7 +1,7 @@", " apiVersion: switchyard.dev/v1", " kind: State", " spec:", "-  active: blue", "+  active: green", "   colors:", "     blue: { tag: v1 }", "     green: { tag: v3 }", ""].join("\n"),
    );
    expect(h[3]!.diff).toContain("--- /dev/null");
    expect(await b.repo.history({ limit: 2 })).toHaveLength(2);
    expect(await b.repo.history({ limit: Number.NaN })).toHaveLength(4);
    expect(await b.repo.history({ limit: -3 })).toHaveLength(1);
  });

  it("shows a proposed change as the same diff the commit will have, without touching the repository", async () => {
    const b = bed();
    const next = stateText({ green: "v9", owner: "green" });
    const before = sh(b.root, "status", "--porcelain");
    const diff = await b.repo.diffFor(next);
    expect(sh(b.root, "status", "--porcelain")).toBe(before);
    expect(diff).toContain("-    green: { tag: v2 }\n-  jobs: { owner: active }\n+    green: { tag: v9 }\n+  jobs: { owner: green }\n");
    await b.repo.commitState({ text: next, author: alice, message: "deploy v9 to green" });
    expect((await b.repo.history({ limit: 1 }))[0]!.diff).toBe(diff);
    expect(await b.repo.diffFor(next)).toBe("");
  });

  it("rolls back to a revision with a new commit that restores it", async () => {
    const b = bed();
    const first = (await b.repo.history())[0]!;
    await b.repo.commitState({ text: stateText({ green: "v3" }), author: alice, message: "deploy v3 to green" });
    const promoted = await b.repo.commitState({ text: stateText({ active: "green", green: "v3" }), author: alice, message: "promote green (v3)" });
    const r = await b.repo.rollbackTo(first.commit.slice(0, 10), bob, promoted.revision);
    expect(r.revision).toBe(first.revision);
    expect(readFileSync(join(b.dir, "state.yaml"), "utf8")).toBe(stateText());
    expect(count(b.root)).toBe(4);
    const short = sh(b.root, "rev-parse", "--short", first.commit).trim();
    expect(sh(b.root, "log", "-1", "--format=%an|%s").trim()).toBe(`Bob|roll back to ${short} (initial state)`);
    const h = await b.repo.history();
    expect(h[0]!.revision).toBe(first.revision);
    expect(h[0]!.diff).toContain("-  active: green\n+  active: blue\n");
  });

  it("refuses a stale revision with RECON_ERR_CONFLICT and writes nothing", async () => {
    const b = bed();
    const stale = hash(stateText());
    await b.repo.commitState({ text: stateText({ green: "v3" }), author: alice, message: "deploy v3 to green", expectedRevision: stale });
    const err = await refused(b.repo.commitState({ text: stateText({ active: "green" }), author: bob, message: "promote green", expectedRevision: stale }));
    expect(err.code).toBe("RECON_ERR_CONFLICT");
    expect(err.statusCode).toBe(409);
    expect(readFileSync(join(b.dir, "state.yaml"), "utf8")).toBe(stateText({ green: "v3" }));
    expect(count(b.root)).toBe(2);
    const rb = await refused(b.repo.rollbackTo(sh(b.root, "rev-parse", "HEAD~1").trim(), bob, stale));
    expect(rb.code).toBe("RECON_ERR_CONFLICT");
  });

  it("refuses invalid state with RECON_ERR_INVALID_STATE and path:line:col messages; nothing written or committed", async () => {
    const b = bed();
    const cases: [string, RegExp][] = [
      ["apiVersion: switchyard.dev/v1\nkind: State\nspec: [unclosed\n", /^state\.yaml:\d+:\d+: YAML syntax error/],
      [stateText().replace("active: blue", "active: purple"), /^state\.yaml:4:11: spec\.active/],
      [stateText().replace("kind: State", "kind: Cluster"), /^state\.yaml:2:7: kind: expected State/],
      [stateText().replace("blue: { tag: v1 }", "blue: { stopped: true }"), /^state\.yaml:\d+:\d+: .*active/],
      [stateText().replace("tag: v2", "tag: 'v2; rm -rf /'"), /^state\.yaml:7:\d+: /],
      [stateText({ extra: "metadata: { name: other }" }), /^state\.yaml:\d+:\d+: .*metadata\.name/],
      ["", /^state\.yaml:1:1: file is empty/],
    ];
    for (const [text, message] of cases) {
      const err = await refused(b.repo.commitState({ text, author: alice, message: "bad" }));
      expect(err.code).toBe("RECON_ERR_INVALID_STATE");
      expect(err.statusCode).toBe(422);
      const issues = (err.details as { issues: string[] }).issues;
      expect(issues[0]).toMatch(message);
    }
    expect(readFileSync(join(b.dir, "state.yaml"), "utf8")).toBe(stateText());
    expect(count(b.root)).toBe(1);
    expect(sh(b.root, "status", "--porcelain")).toBe("");
  });

  it("refuses hostile commit ids, authors and messages; option injection and path tricks have no effect", async () => {
    const b = bed();
    const pwned = join(b.root, "pwned");
    const otherCommit = (() => {
      writeFileSync(join(b.root, "README"), "other\n");
      sh(b.root, "commit", "--quiet", "-am", "touches only README");
      return sh(b.root, "rev-parse", "HEAD").trim();
    })();
    const before = count(b.root);
    const ids = [
      `--upload-pack=touch ${pwned}`, "-p", "--output=" + pwned, "HEAD", "HEAD~1", "main", ":/initial", "../../etc/passwd", "abc123", "a".repeat(41), "0123456789abcdefg",
      "deadbeefdeadbeef", `${otherCommit.slice(0, 12)}:README`, `${otherCommit.slice(0, 8)} -p`, otherCommit, "", " 1234567",
    ];
    for (const id of ids) {
      const err = await refused(b.repo.rollbackTo(id, alice), id);
      expect(["RECON_ERR_BAD_REQUEST", "RECON_ERR_NOT_FOUND"]).toContain(err.code);
    }
    expect((await refused(b.repo.rollbackTo(otherCommit, alice))).code).toBe("RECON_ERR_NOT_FOUND");
    expect((await refused(b.repo.rollbackTo(undefined as unknown as string, alice))).code).toBe("RECON_ERR_BAD_REQUEST");
    for (const author of [{ name: "x <evil@example.com>", email: "a@b" }, { name: "x\nCommitter: y", email: "a@b" }, { name: "", email: "a@b" }, { name: "x", email: "a b@c" }]) {
      expect((await refused(b.repo.commitState({ text: stateText({ green: "v7" }), author, message: "m" }))).code).toBe("RECON_ERR_BAD_REQUEST");
    }
    expect((await refused(b.repo.commitState({ text: stateText({ green: "v7" }), author: alice, message: " \u001b\u0007 \t" }))).code).toBe("RECON_ERR_BAD_REQUEST");
    expect(count(b.root)).toBe(before);
    expect(existsSync(pwned)).toBe(false);

    // A message that looks like an option is only a message.
    const r = await b.repo.commitState({ text: stateText({ green: "v7" }), author: alice, message: "--amend\n#1 is kept" });
    expect(count(b.root)).toBe(before + 1);
    expect(sh(b.root, "log", "-1", "--format=%B", r.commit!).trim()).toBe("--amend\n#1 is kept");
  });

  it("serialises concurrent commits: all land, in order, and only one of several racing on one revision wins", async () => {
    const b = bed();
    const texts = Array.from({ length: 8 }, (_, i) => stateText({ green: `v${10 + i}` }));
    const results = await Promise.all(texts.map((text, i) => b.repo.commitState({ text, author: i % 2 ? alice : bob, message: `deploy v${10 + i} to green` })));
    expect(results.every((r) => r.commit !== null)).toBe(true);
    expect(new Set(results.map((r) => r.commit)).size).toBe(8);
    expect(count(b.root)).toBe(9);
    expect(readFileSync(join(b.dir, "state.yaml"), "utf8")).toBe(texts[7]);
    expect((await b.repo.history({ limit: 8 })).map((h) => h.message)).toEqual(texts.map((_, i) => `deploy v${10 + i} to green`).reverse());

    const rev = hash(texts[7]!);
    const racing = await Promise.allSettled(["blue", "green", "none"].map((owner) => b.repo.commitState({ text: stateText({ green: "v17", owner }), author: alice, message: `jobs ${owner}`, expectedRevision: rev })));
    expect(racing.filter((r) => r.status === "fulfilled")).toHaveLength(1);
    expect(racing.filter((r) => r.status === "rejected").map((r) => ((r as PromiseRejectedResult).reason as ReconError).code)).toEqual(["RECON_ERR_CONFLICT", "RECON_ERR_CONFLICT"]);
    sh(b.root, "fsck", "--no-progress");
  });

  it("writes nothing when git cannot make the commit (the branch is locked by another git)", async () => {
    const b = bed();
    const lock = join(b.root, ".git", "refs", "heads", "main.lock");
    writeFileSync(lock, "");
    const err = await refused(b.repo.commitState({ text: stateText({ green: "v4" }), author: alice, message: "deploy v4 to green" }));
    expect(err.code).toBe("RECON_ERR_UNAVAILABLE");
    expect(err.message).toContain("main.lock");
    expect(readFileSync(join(b.dir, "state.yaml"), "utf8")).toBe(stateText());
    expect(count(b.root)).toBe(1);
    rmSync(lock);
    expect(sh(b.root, "status", "--porcelain")).toBe("");
  });

  it("pushes each commit to the configured remote; a failing push is logged and never fatal", async () => {
    const remoteDir = mkdtempSync(join(tmpdir(), "sy-git-remote-"));
    temps.push(remoteDir);
    sh(remoteDir, "init", "--quiet", "--bare");
    const b = bed({ remote: remoteDir });
    const r = await b.repo.commitState({ text: stateText({ green: "v3" }), author: alice, message: "deploy v3 to green" });
    await b.repo.idle();
    expect(sh(remoteDir, "rev-parse", "main").trim()).toBe(r.commit);

    const broken = bed({ remote: "https://user:s3cret-token@127.0.0.1:1/nothing.git" });
    const r2 = await broken.repo.commitState({ text: stateText({ green: "v3" }), author: alice, message: "deploy v3 to green" });
    expect(r2.commit).not.toBeNull();
    await broken.repo.idle();
    const warn = broken.logs.find((l) => l.includes("git push failed"));
    expect(warn).toBeDefined();
    expect(broken.logs.join("")).not.toContain("s3cret-token");
  });
});

describe("StateRepo without history", () => {
  it("works in a dir outside git, with a warning a person understands", async () => {
    const b = bed({ git: false });
    const init = await b.repo.init();
    expect(init.enabled).toBe(false);
    expect(init.warning).toMatch(/^history is off: the deploy dir .* is not in a git repository\. To turn history on: git -C .* init/);
    const text = stateText({ green: "v3" });
    expect(await b.repo.diffFor(text)).toContain("+    green: { tag: v3 }");
    const r = await b.repo.commitState({ text, author: alice, message: "deploy v3 to green", expectedRevision: hash(stateText()) });
    expect(r).toEqual({ revision: hash(text), commit: null });
    expect(readFileSync(join(b.dir, "state.yaml"), "utf8")).toBe(text);
    expect(await b.repo.history()).toEqual([]);
    expect((await refused(b.repo.rollbackTo("abcdef1", alice))).code).toBe("RECON_ERR_UNAVAILABLE");
    expect((await refused(b.repo.commitState({ text, author: alice, message: "again", expectedRevision: hash(stateText()) }))).code).toBe("RECON_ERR_CONFLICT");
    expect(b.logs.some((l) => l.includes("history is off"))).toBe(true);
  });

  it("turns history off when state.yaml is ignored by git", async () => {
    const b = bed({ initialCommit: false });
    writeFileSync(join(b.root, ".gitignore"), "state.yaml\n");
    const init = await b.repo.init();
    expect(init).toEqual({ enabled: false, warning: expect.stringContaining("state.yaml is ignored by git") });
  });
});
