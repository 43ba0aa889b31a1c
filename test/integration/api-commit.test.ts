/**
 * Commit, then effect, through a running reconciler (issue 20 items 1, 8, 12; issue 14 item 3): an API
 * change whose commit fails (slowly, or at once in a merge) never changes the desired state the loop acts
 * on; a hand edit is recorded as Switchyard's commit before it acts and before an API change commits; a
 * demoted user's old session cannot move jobs; every API answer says Cache-Control: no-store.
 */
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { execFileSync } from "node:child_process";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { apiLogin, apiRequester, git, localDeployDir, useApiReconciler } from "../support/api-rig.js";
import { startReconciler, type RunningReconciler } from "../../reconciler/main.js";
import { Users } from "../../reconciler/auth/users.js";
import type { ClusterStatus } from "../../reconciler/loop/status.js";
import { waitFor } from "../support/agent-bed.js";
import { revisionOf as hash } from "../../specs/revision.js";

const rig = useApiReconciler("sy-api-commit-", async (users) => {
  await users.addUser("root", "admin", "root-password-1");
  await users.addUser("dora", "deployer", "dora-password-1");
});
const req = apiRequester(rig.url);
const log = () => git(rig.deploy, "log", "--format=%an|%s").split("\n");
const stateOnDisk = () => readFileSync(join(rig.deploy, "state.yaml"), "utf8");

async function changeJobs(owner: string, session: { cookie: string; csrf: string }) {
  const state = (await (await req("GET", "/api/v1/state", session)).json()) as { revision: string };
  return req("POST", "/api/v1/actions/jobs", { ...session, body: { owner }, headers: { "if-match": state.revision } });
}

/** Every desired state the loop was handed (its onChange events), from now on. */
function desiredSeen(): () => string[] {
  const seen: string[] = [];
  const off = rig.r().events.subscribe((e) => {
    if (e.type === "spec" && typeof e.revision === "string") seen.push(e.revision);
  });
  return () => {
    off();
    return seen;
  };
}

describe("commit, then effect", () => {
  it("a hand edit is recorded as Switchyard's commit before it acts; the next dashboard action commits only its own change and History marks it in force", async () => {
    const admin = await apiLogin(req, "root", "root-password-1");
    const before = log().length;
    const edited = stateOnDisk().replace(/owner: \w+/, "owner: blue");
    expect(edited).not.toBe(stateOnDisk());
    writeFileSync(join(rig.deploy, "state.yaml"), edited);
    await waitFor("the hand edit in force", async () => rig.r().source.get()!.stateRevision === hash(edited), 10_000);
    expect(log()[0]).toBe("Switchyard|state.yaml saved by hand, not committed");
    const dry = (await (await req("POST", "/api/v1/actions/jobs", { ...admin, body: { owner: "green", dryRun: true } })).json()) as { diff: string };
    const res = await changeJobs("green", admin);
    expect(res.status).toBe(200);
    expect(log().slice(0, 2)).toEqual(["root|move jobs to green", "Switchyard|state.yaml saved by hand, not committed"]);
    expect(log()).toHaveLength(before + 2);
    const history = (await (await req("GET", "/api/v1/history", admin)).json()) as { entries: { diff: string; revision: string }[] };
    expect(history.entries[0]!.diff).toBe(dry.diff);
    expect(history.entries[0]!.diff).toContain("-  jobs: { owner: blue }");
    const state = (await (await req("GET", "/api/v1/state", admin)).json()) as { revision: string };
    expect(history.entries[0]!.revision).toBe(state.revision);
  });

  it("an API change whose commit fails slowly (signing that hangs, then fails) never reaches the loop; nor one refused in a merge", async () => {
    const admin = await apiLogin(req, "root", "root-password-1");
    const gpg = join(rig.root, "slow-gpg");
    writeFileSync(gpg, "#!/bin/sh\nsleep 3\necho 'gpg: signing failed' >&2\nexit 2\n");
    chmodSync(gpg, 0o755);
    git(rig.deploy, "config", "gpg.program", gpg);
    const cluster = readFileSync(join(rig.deploy, "cluster.yaml"), "utf8");
    writeFileSync(join(rig.deploy, "cluster.yaml"), cluster.replace(/^spec:\n/m, "spec:\n  history: { signCommits: true }\n"));
    await waitFor("signing on", async () => rig.r().source.get()!.desired.cluster.spec.history.signCommits === true, 10_000);
    const text = stateOnDisk();
    const commits = log().length;
    const seen = desiredSeen();
    const revision = rig.r().source.get()!.revision;
    const slow = await changeJobs("none", admin);
    expect(slow.status).toBe(503);
    expect(((await slow.json()) as { error: { message: string } }).error.message).toContain("gpg failed to sign");

    writeFileSync(join(rig.deploy, "cluster.yaml"), cluster);
    await waitFor("signing off", async () => rig.r().source.get()!.desired.cluster.spec.history.signCommits === false, 10_000);
    writeFileSync(join(rig.deploy, ".git", "MERGE_HEAD"), git(rig.deploy, "rev-parse", "HEAD"));
    try {
      const merging = await changeJobs("none", admin);
      expect(merging.status).toBe(503);
      expect(((await merging.json()) as { error: { message: string } }).error.message).toContain("a merge is in progress");
    } finally {
      rmSync(join(rig.deploy, ".git", "MERGE_HEAD"));
    }
    await new Promise((r) => setTimeout(r, 1_000));
    expect(stateOnDisk()).toBe(text);
    expect(log()).toHaveLength(commits);
    expect(rig.r().source.get()!.stateRevision).toBe(hash(text));
    // The loop was handed one new desired state meanwhile: cluster.yaml with signing off again; never a state.yaml without a commit.
    expect(seen()).toHaveLength(1);
    expect(rig.r().source.get()!.revision).not.toBe(revision);
  }, 30_000);
});

describe("history conditions and alerts", () => {
  const condition = async (type: string) => ((await (await req("GET", "/api/v1/status", await apiLogin(req, "root", "root-password-1"))).json()) as ClusterStatus).conditions.find((c) => c.type === type);
  const firing = () => rig.r().alerts.firing().map((a) => a.name);

  it("a hand edit made during a merge does not act: HistoryNotRecorded and its alert until the merge is over, then it is recorded and acts", async () => {
    expect(await condition("HistoryNotRecorded")).toMatchObject({ status: "False" });
    const inForce = rig.r().source.get()!.stateRevision;
    writeFileSync(join(rig.deploy, ".git", "MERGE_HEAD"), git(rig.deploy, "rev-parse", "HEAD"));
    const edited = stateOnDisk().replace(/owner: \w+/, "owner: none");
    writeFileSync(join(rig.deploy, "state.yaml"), edited);
    await waitFor("HistoryNotRecorded", async () => (await condition("HistoryNotRecorded"))?.status === "True", 10_000);
    expect((await condition("HistoryNotRecorded"))!.message).toContain("a merge is in progress");
    expect(firing()).toContain("HistoryNotRecorded");
    expect(rig.r().source.get()!.stateRevision).toBe(inForce);
    rmSync(join(rig.deploy, ".git", "MERGE_HEAD"));
    await waitFor("recorded and in force", async () => rig.r().source.get()!.stateRevision === hash(edited), 15_000);
    expect(log()[0]).toBe("Switchyard|state.yaml saved by hand, not committed");
    await waitFor("condition clear", async () => (await condition("HistoryNotRecorded"))?.status === "False", 5_000);
    expect(firing()).not.toContain("HistoryNotRecorded");
  }, 30_000);

  it("a push the remote refuses raises HistoryNotPushed (condition and alert) with the reason", async () => {
    const root = mkdtempSync(join(tmpdir(), "sy-api-push-"));
    const deploy = join(root, "deploy");
    const remote = join(root, "remote.git");
    let r: RunningReconciler | undefined;
    try {
      localDeployDir(deploy);
      execFileSync("git", ["clone", "--quiet", "--bare", deploy, remote]);
      const other = join(root, "other");
      execFileSync("git", ["clone", "--quiet", remote, other]);
      writeFileSync(join(other, "README"), "theirs\n");
      git(other, "add", "README");
      git(other, "-c", "user.name=them", "-c", "user.email=them@example.com", "commit", "-qm", "their change");
      git(other, "push", "-q", "origin", "HEAD");
      const users = new Users({ file: join(root, "data", "users.json"), scrypt: { N: 1024, r: 8, p: 1 } });
      await users.load();
      await users.addUser("root", "admin", "root-password-1");
      const token = await users.createToken("root");
      await users.flush();
      r = await startReconciler({ dir: deploy, dataDir: join(root, "data"), listen: "127.0.0.1:0", dashboardRoot: null, gitRemote: remote });
      const call = apiRequester(() => r!.url);
      expect(((await (await call("GET", "/api/v1/status", { token })).json()) as ClusterStatus).conditions.find((c) => c.type === "HistoryNotPushed")).toMatchObject({ status: "False" });
      const state = (await (await call("GET", "/api/v1/state", { token })).json()) as { revision: string };
      expect((await call("POST", "/api/v1/actions/jobs", { token, body: { owner: "none" }, headers: { "if-match": state.revision } })).status).toBe(200);
      await waitFor("HistoryNotPushed", async () => ((await (await call("GET", "/api/v1/status", { token })).json()) as ClusterStatus).conditions.find((c) => c.type === "HistoryNotPushed")?.status === "True", 15_000);
      const c = ((await (await call("GET", "/api/v1/status", { token })).json()) as ClusterStatus).conditions.find((x) => x.type === "HistoryNotPushed")!;
      expect(c).toMatchObject({ reason: "NonFastForward", message: expect.stringContaining("pull") });
      const alerts = (await (await call("GET", "/api/v1/alerts", { token })).json()) as { alerts: { name: string; state: string; labels: Record<string, string> }[] };
      expect(alerts.alerts.filter((a) => a.state === "firing" && a.name.startsWith("History")).map((a) => [a.name, a.labels.reason])).toEqual([["HistoryNotPushed", "NonFastForward"]]); // beside NodeUnreachable: no agents here
    } finally {
      await r?.close();
      rmSync(root, { recursive: true, force: true });
    }
  }, 30_000);
});

describe("sessions and caching", () => {
  it("a deployer demoted to viewer cannot move jobs with the session opened before; a password reset ends it", async () => {
    const admin = await apiLogin(req, "root", "root-password-1");
    const dora = await apiLogin(req, "dora", "dora-password-1");
    expect((await req("PUT", "/api/v1/users/dora/role", { ...admin, body: { role: "viewer" } })).status).toBe(200);
    const commits = log().length;
    const moved = await changeJobs("blue", dora);
    expect(moved.status).toBe(403);
    expect(log()).toHaveLength(commits);
    expect((await req("PUT", "/api/v1/users/dora/role", { ...admin, body: { role: "deployer" } })).status).toBe(200);
    const users = new Users({ file: join(rig.data, "users.json"), scrypt: { N: 1024, r: 8, p: 1 } });
    await users.load();
    await users.addUser("dora", "deployer", "dora-password-2", { replace: true });
    await users.flush();
    expect((await changeJobs("blue", dora)).status).toBe(401);
    expect(log()).toHaveLength(commits);
  });

  it("answers every API request with Cache-Control: no-store, errors and the CSRF token included", async () => {
    const admin = await apiLogin(req, "root", "root-password-1");
    const answers = [
      await req("GET", "/api/v1/auth/me", admin),
      await req("GET", "/api/v1/status", admin),
      await req("GET", "/api/v1/state", admin),
      await req("GET", "/api/v1/history", admin),
      await req("GET", "/metrics", admin),
      await req("GET", "/api/v1/status"),
      await req("GET", "/api/v1/nothing-here", admin),
      await req("POST", "/api/v1/actions/jobs", { ...admin, body: { owner: "purple" } }),
      await req("POST", "/api/v1/auth/login", { body: { username: "root", password: "wrong-password" } }),
      await req("GET", "/healthz"),
    ];
    expect(answers.map((r) => [r.url.replace(rig.url(), ""), r.status, r.headers.get("cache-control")])).toEqual(answers.map((r) => [r.url.replace(rig.url(), ""), r.status, "no-store"]));
    expect(answers.map((r) => r.status)).toEqual([200, 200, 200, 200, 200, 401, 404, 400, 401, 200]);
  });

  it("keeps the dashboard's own caching: hashed assets for a year, index.html revalidated", async () => {
    const root = mkdtempSync(join(tmpdir(), "sy-api-static-"));
    let r: RunningReconciler | undefined;
    try {
      localDeployDir(join(root, "deploy"));
      const ui = join(root, "ui");
      mkdirSync(join(ui, "assets"), { recursive: true });
      writeFileSync(join(ui, "index.html"), "<!doctype html><title>switchyard</title>");
      writeFileSync(join(ui, "assets", "index-By2Qys5I.js"), "console.log(1)");
      r = await startReconciler({ dir: join(root, "deploy"), dataDir: join(root, "data"), listen: "127.0.0.1:0", dashboardRoot: ui });
      const asset = await fetch(r.url + "/assets/index-By2Qys5I.js");
      expect([asset.status, asset.headers.get("cache-control")]).toEqual([200, "public, max-age=31536000, immutable"]);
      const page = await fetch(r.url + "/");
      expect([page.status, page.headers.get("cache-control")]).toEqual([200, "no-cache"]);
      const api = await fetch(r.url + "/api/v1/auth/me");
      expect([api.status, api.headers.get("cache-control")]).toEqual([401, "no-store"]);
    } finally {
      await r?.close();
      rmSync(root, { recursive: true, force: true });
    }
  });
});
