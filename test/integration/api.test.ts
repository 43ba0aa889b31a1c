/**
 * The reconciler API: authentication, roles, CSRF, If-Match, git commits by the signed-in user, and a
 * few hundred hostile requests that must all be refused with nothing changed or committed.
 */
import { describe, expect, it } from "vitest";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { startReconciler } from "../../reconciler/main.js";
import { waitFor } from "../support/agent-bed.js";
import { apiLogin, apiRequester, git, localDeployDir, useApiReconciler } from "../support/api-rig.js";

describe("reconciler API", () => {
  let adminToken = "";
  let viewerToken = "";
  const rig = useApiReconciler("sy-api-", async (users) => {
    await users.addUser("alice", "deployer", "alice-password-1");
    await users.addUser("victor", "viewer", "victor-password-1");
    await users.addUser("root", "admin", "root-password-12");
    adminToken = await users.createToken("root");
    viewerToken = await users.createToken("victor");
  });
  const { deploy, root, data } = rig;

  const req = apiRequester(rig.url);

  async function login(username: string, password: string): Promise<{ cookie: string; csrf: string }> {
    const s = await apiLogin(req, username, password);
    expect(s.setCookie).toMatch(/^sy_session=[^;]+; Path=\/; HttpOnly; SameSite=Strict; Max-Age=\d+$/);
    return s;
  }

  const routes: [string, string][] = [
    ["GET", "/api/v1/status"], ["GET", "/api/v1/state"], ["PUT", "/api/v1/state"], ["GET", "/api/v1/tags"], ["GET", "/api/v1/history"],
    ["GET", "/api/v1/alerts"], ["GET", "/api/v1/events"], ["POST", "/api/v1/actions/deploy"], ["POST", "/api/v1/actions/promote"],
    ["POST", "/api/v1/actions/rollback"], ["POST", "/api/v1/actions/jobs"], ["POST", "/api/v1/actions/restore"], ["POST", "/api/v1/auth/logout"],
    ["GET", "/api/v1/auth/me"], ["GET", "/metrics"], ["GET", "/api/v1/nope"],
  ];

  it("every route but login and health refuses without a session or token", async () => {
    expect((await req("GET", "/healthz")).status).toBe(200);
    for (const [m, p] of routes) {
      const res = await req(m, p, m === "GET" ? {} : { body: {} });
      expect(res.status, `${m} ${p}`).toBe(401);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe("RECON_ERR_UNAUTHORIZED");
    }
    for (const [m, p] of routes.slice(0, 3)) expect((await req(m, p, { token: "sy_forged" })).status, `${m} ${p}`).toBe(401);
  });

  it("viewers read; they may not change anything", async () => {
    for (const p of ["/api/v1/status", "/api/v1/state", "/api/v1/history", "/api/v1/alerts", "/api/v1/events", "/metrics", "/api/v1/auth/me"]) {
      expect((await req("GET", p, { token: viewerToken })).status, p).toBe(200);
    }
    const res = await req("POST", "/api/v1/actions/jobs", { token: viewerToken, body: { owner: "none", dryRun: true } });
    expect(res.status).toBe(403);
    expect(((await res.json()) as { error: { message: string } }).error.message).toContain("viewer");
  });

  it("sessions: HttpOnly cookie, CSRF on every change", async () => {
    const s = await login("alice", "alice-password-1");
    expect((await req("GET", "/api/v1/auth/me", { cookie: s.cookie })).status).toBe(200);
    const noCsrf = await req("POST", "/api/v1/actions/jobs", { cookie: s.cookie, body: { owner: "none", dryRun: true } });
    expect(noCsrf.status).toBe(403);
    const wrong = await req("POST", "/api/v1/actions/jobs", { cookie: s.cookie, csrf: "x".repeat(43), body: { owner: "none", dryRun: true } });
    expect(wrong.status).toBe(403);
    const ok = await req("POST", "/api/v1/actions/jobs", { cookie: s.cookie, csrf: s.csrf, body: { owner: "none", dryRun: true } });
    expect(ok.status).toBe(200);
    const body = (await ok.json()) as { message: string; diff: string };
    expect(body.message).toBe("stop all jobs");
    expect(body.diff).toContain("-  jobs: { owner: active }");
    expect(body.diff).toContain("+  jobs: { owner: none }");
    expect((await req("POST", "/api/v1/auth/logout", { cookie: s.cookie, csrf: s.csrf })).status).toBe(204);
    expect((await req("GET", "/api/v1/auth/me", { cookie: s.cookie })).status).toBe(401);
  });

  it("deploy commits state.yaml with the user as author and a message a person understands", async () => {
    const s = await login("alice", "alice-password-1");
    const state = (await (await req("GET", "/api/v1/state", { cookie: s.cookie })).json()) as { revision: string };
    const before = git(deploy, "rev-parse", "HEAD");
    const res = await req("POST", "/api/v1/actions/deploy", { cookie: s.cookie, csrf: s.csrf, body: { tag: "v3", dryRun: false }, headers: { "if-match": state.revision } });
    expect(res.status, await res.clone().text()).toBe(200);
    expect(((await res.json()) as { message: string }).message).toBe("deploy v3 to green");
    expect(git(deploy, "log", "-1", "--format=%an <%ae>|%s")).toBe("alice <alice@switchyard.local>|deploy v3 to green");
    expect(git(deploy, "rev-parse", "HEAD~1")).toBe(before);
    expect(readFileSync(join(deploy, "state.yaml"), "utf8")).toMatch(/green: \{ tag: v3 \}/);
    expect(readFileSync(join(deploy, "state.yaml"), "utf8")).toMatch(/^# yaml-language-server/); // comments kept
    await waitFor("the watcher picked it up", async () => rig.r().source.get()!.desired.state.spec.colors.green.tag === "v3", 5000);
  });

  it("a stale revision is a 409 and nothing is committed", async () => {
    const head = git(deploy, "rev-parse", "HEAD");
    const res = await req("POST", "/api/v1/actions/jobs", { token: adminToken, body: { owner: "blue", dryRun: false }, headers: { "if-match": "000000000000" } });
    expect(res.status).toBe(409);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe("RECON_ERR_CONFLICT");
    expect(git(deploy, "rev-parse", "HEAD")).toBe(head);
  });

  it("an unknown tag, or a deploy to the live colour, is refused with the reason", async () => {
    const { revision } = (await (await req("GET", "/api/v1/state", { token: adminToken })).json()) as { revision: string };
    const unknown = await req("POST", "/api/v1/actions/deploy", { token: adminToken, body: { tag: "v99", dryRun: false }, headers: { "if-match": revision } });
    expect(unknown.status).toBe(422);
    expect(((await unknown.json()) as { error: { message: string } }).error.message).toMatch(/tag v99 is not in the registry/);
    const live = await req("POST", "/api/v1/actions/deploy", { token: adminToken, body: { tag: "v2", color: "blue", dryRun: false }, headers: { "if-match": revision } });
    expect(live.status).toBe(422);
    expect(((await live.json()) as { error: { message: string } }).error.message).toMatch(/blue is live/);
  });

  it("history shows each commit with its diff; restoring a revision is a new commit", async () => {
    const h = (await (await req("GET", "/api/v1/history", { token: adminToken })).json()) as { enabled: boolean; entries: { commit: string; message: string; author: string; diff: string }[] };
    expect(h.enabled).toBe(true);
    expect(h.entries.map((e) => e.message)).toEqual(["deploy v3 to green", "initial"]);
    expect(h.entries[0]!.diff).toContain("+    green: { tag: v3 }");
    const { revision } = (await (await req("GET", "/api/v1/state", { token: adminToken })).json()) as { revision: string };
    const res = await req("POST", "/api/v1/actions/restore", { token: adminToken, body: { commit: h.entries[1]!.commit, dryRun: false }, headers: { "if-match": revision } });
    expect(res.status).toBe(200);
    expect(git(deploy, "log", "-1", "--format=%an|%s")).toMatch(/^root\|roll back to [0-9a-f]+ \(initial\)$/);
    expect(readFileSync(join(deploy, "state.yaml"), "utf8")).toMatch(/green: \{ tag: v2 \}/);
  });

  it("a commit made by hand shows up at once", async () => {
    const text = readFileSync(join(deploy, "state.yaml"), "utf8").replace("owner: active", "owner: none");
    writeFileSync(join(deploy, "state.yaml"), text);
    git(deploy, "-c", "user.name=ci", "-c", "user.email=ci@example.com", "commit", "-qam", "ci: stop jobs");
    await waitFor("picked up", async () => ((await (await req("GET", "/api/v1/state", { token: adminToken })).json()) as { state: { spec: { jobs: { owner: string } } } }).state.spec.jobs.owner === "none", 5000);
    const h = (await (await req("GET", "/api/v1/history", { token: adminToken })).json()) as { entries: { author: string; message: string }[] };
    expect(h.entries[0]).toMatchObject({ author: "ci", message: "ci: stop jobs" });
  });

  it("300+ malformed or hostile requests: all 4xx, nothing changed or committed", async () => {
    const head = git(deploy, "rev-parse", "HEAD");
    const stateText = readFileSync(join(deploy, "state.yaml"), "utf8");
    const { revision } = (await (await req("GET", "/api/v1/state", { token: adminToken })).json()) as { revision: string };
    const bad: { m: string; p: string; raw?: string; body?: unknown; headers?: Record<string, string> }[] = [];
    const junk = [null, 1, -1, true, "", "x".repeat(10_000), [], {}, { $ne: 1 }, "../../etc/passwd", "v1;rm -rf /", "\u0000", "--upload-pack=touch /tmp/pwned", "HEAD~1", "-p"];
    for (const j of junk) {
      bad.push({ m: "POST", p: "/api/v1/actions/deploy", body: { tag: j, dryRun: false }, headers: { "if-match": revision } });
      bad.push({ m: "POST", p: "/api/v1/actions/deploy", body: { tag: "v2", color: j, dryRun: false }, headers: { "if-match": revision } });
      bad.push({ m: "POST", p: "/api/v1/actions/jobs", body: { owner: j, dryRun: false }, headers: { "if-match": revision } });
      bad.push({ m: "POST", p: "/api/v1/actions/restore", body: { commit: j, dryRun: false }, headers: { "if-match": revision } });
      bad.push({ m: "POST", p: "/api/v1/actions/promote", body: { dryRun: j }, headers: { "if-match": revision } });
      bad.push({ m: "PUT", p: "/api/v1/state", body: { text: j }, headers: { "if-match": revision } });
      bad.push({ m: "PUT", p: "/api/v1/state", body: { text: stateText, message: j }, headers: { "if-match": encodeURIComponent(String(j)).slice(0, 100) } });
      if (!/^\d+$/.test(String(j))) {
        bad.push({ m: "GET", p: `/api/v1/history?limit=${encodeURIComponent(String(j).slice(0, 100))}` });
        bad.push({ m: "GET", p: `/api/v1/events?after=${encodeURIComponent(String(j).slice(0, 100))}` });
      }
    }
    const broken = ["apiVersion: switchyard.dev/v1\nkind: State\nspec:\n  active: purple\n", "a: &a [*a]", "kind: State\nspec: [1, 2\n", "\u0000\u0001", "- 1\n- 2\n", "x".repeat(300_000), "apiVersion: switchyard.dev/v1\nkind: Cluster\n"];
    for (const t of broken) bad.push({ m: "PUT", p: "/api/v1/state", body: { text: t }, headers: { "if-match": revision } });
    for (const raw of ["{", "[]", "null", '"x"', '{"__proto__":{"admin":true}}', '{"constructor":{"prototype":{"x":1}}}', "x".repeat(70_000)]) {
      for (const p of ["/api/v1/actions/deploy", "/api/v1/actions/jobs", "/api/v1/auth/login"]) bad.push({ m: "POST", p, raw, headers: { "if-match": revision } });
    }
    for (const p of ["/api/v1/../../etc/passwd", "/api/v1/%2e%2e/%2e%2e/etc/passwd", "/api/v1/state/../users.json", "/api/v1/actions/../../users.json", "/api/v1/actions/deploy%00", "/api/v1/actions/", "/api/v1/actions/DEPLOY"]) {
      bad.push({ m: "POST", p, body: { tag: "v2", dryRun: false }, headers: { "if-match": revision } });
      bad.push({ m: "GET", p });
    }
    for (let i = 0; i < 140; i++) bad.push({ m: "POST", p: "/api/v1/actions/deploy", body: { tag: `v${i}.bad tag`, dryRun: i % 3 === 0, extra: i }, headers: { "if-match": i % 2 ? "" : `"${"f".repeat(12)}"` } });
    expect(bad.length).toBeGreaterThanOrEqual(300);
    const outcomes = new Map<number, number>();
    for (const b of bad) {
      const res = await req(b.m, b.p, { token: adminToken, ...(b.raw !== undefined ? { raw: b.raw } : b.body !== undefined ? { body: b.body } : {}), ...(b.headers ? { headers: b.headers } : {}) });
      outcomes.set(res.status, (outcomes.get(res.status) ?? 0) + 1);
      expect(res.status, `${b.m} ${b.p} ${JSON.stringify(b.body ?? b.raw)?.slice(0, 120)}`).toBeGreaterThanOrEqual(400);
      expect(res.status, `${b.m} ${b.p}`).toBeLessThan(500);
      const text = await res.text();
      expect(text).not.toContain(adminToken);
      expect(text).not.toMatch(/at [A-Za-z]+ \(.*\.js:\d+/); // no stack traces
    }
    expect(git(deploy, "rev-parse", "HEAD")).toBe(head);
    expect(readFileSync(join(deploy, "state.yaml"), "utf8")).toBe(stateText);
    expect(git(deploy, "status", "--porcelain")).toBe("");
    expect(({} as Record<string, unknown>).admin).toBeUndefined();
  });

  it("login attempts are rate-limited", async () => {
    let last = 0;
    for (let i = 0; i < 7; i++) last = (await req("POST", "/api/v1/auth/login", { body: { username: "victor", password: "wrong-password" } })).status;
    expect(last).toBe(429);
  });

  it("the CLI works over the API with SWITCHYARD_TOKEN, with clear exit codes", async () => {
    const { execFile } = await import("node:child_process");
    // Asynchronous on purpose: the reconciler answers from this very process.
    const cli = (args: string[], token = adminToken) =>
      new Promise<{ status: number; stdout: string; stderr: string }>((resolve) => {
        execFile(process.execPath, ["bin/switchyard.js", ...args], { encoding: "utf8", env: { ...process.env, SWITCHYARD_SERVER: rig.url(), SWITCHYARD_TOKEN: token } }, (err, stdout, stderr) =>
          resolve({ status: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }));
      });
    const status = await cli(["status", "--json"]);
    expect(status.status).toBe(0);
    expect(JSON.parse(status.stdout)).toMatchObject({ app: "demo", active: "blue" });
    const table = await cli(["status"]);
    expect(table.stdout).toMatch(/^CONDITION\s+STATUS\s+REASON/m);
    expect(table.stdout).toMatch(/^blue\s+/m);
    const tags = await cli(["tags"]);
    expect(tags.status).toBe(0);
    expect(tags.stdout).toMatch(/^v1\b/m);
    const head = git(deploy, "rev-parse", "HEAD");
    const dry = await cli(["jobs", "blue", "--dry-run"]);
    expect(dry.status).toBe(0);
    expect(dry.stdout).toContain("move jobs to blue");
    expect(git(deploy, "rev-parse", "HEAD")).toBe(head); // a dry run commits nothing
    const refused = await cli(["deploy", "v99"]);
    expect(refused.status).toBe(1);
    expect(refused.stderr).toMatch(/^switchyard deploy: tag v99 is not in the registry/);
    const denied = await cli(["jobs", "none"], viewerToken);
    expect(denied.status).toBe(1);
    expect(denied.stderr).toMatch(/your role \(viewer\) may not change the deployment/);
    const unauth = await cli(["status"], "");
    expect(unauth.status).toBe(1);
  });

  it("a second reconciler on the same deploy dir is refused, whatever its data dir", async () => {
    await expect(startReconciler({ dir: deploy, dataDir: join(root, "data2"), listen: "127.0.0.1:0", dashboardRoot: null })).rejects.toThrow(
      /another reconciler \(pid \d+\) already runs on the deploy dir/,
    );
    await expect(startReconciler({ dir: deploy, dataDir: data, listen: "127.0.0.1:0", dashboardRoot: null })).rejects.toThrow(/another reconciler/);
  });

  it("/metrics speaks Prometheus text", async () => {
    const text = await (await req("GET", "/metrics", { token: viewerToken })).text();
    expect(text).toMatch(/^# HELP switchyard_reconciles_total /m);
    expect(text).toMatch(/^switchyard_agent_reachable\{node="blue-1",color="blue"\} 0$/m);
  });
});
