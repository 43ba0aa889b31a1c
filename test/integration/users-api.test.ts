/**
 * Revoking access: admins list users, change roles, remove users and revoke tokens, over the API and
 * with the CLI against a running reconciler. A token acts with its user's current role; a removed
 * user's sessions and tokens get 401 at their very next request.
 */
import { describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { execFile } from "node:child_process";
import { join } from "node:path";
import { Users } from "../../reconciler/auth/users.js";
import { apiLogin, apiRequester, localDeployDir, useApiReconciler } from "../support/api-rig.js";

/** The CLI as a child process (asynchronous: the reconciler answers from this very process). */
function cli(args: string[], input = ""): Promise<{ status: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile(process.execPath, ["bin/switchyard.js", ...args], { encoding: "utf8" }, (err, stdout, stderr) =>
      resolve({ status: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }));
    child.stdin!.end(input);
  });
}

describe("revoking access", () => {
  const tokens: Record<string, string> = {};
  const rig = useApiReconciler("sy-users-api-", async (users) => {
    for (const [name, role] of [["root", "admin"], ["dora", "deployer"], ["dave", "deployer"], ["vera", "viewer"], ["rick", "deployer"]] as const) {
      await users.addUser(name, role, `${name}-password-1`);
      tokens[name] = await users.createToken(name);
    }
  });
  const { data } = rig;

  const req = apiRequester(rig.url);
  const login = (username: string) => apiLogin(req, username, `${username}-password-1`);

  /** A change only a deployer or admin may make (a dry run: nothing is committed). */
  const deployProbe = (o: { token?: string; cookie?: string; csrf?: string }) => req("POST", "/api/v1/actions/jobs", { ...o, body: { owner: "none", dryRun: true } });

  it("only admins manage users: 401 without credentials, 403 for viewers and deployers, 200 for admins", async () => {
    const routes: [string, string, unknown?][] = [
      ["GET", "/api/v1/users"], ["PUT", "/api/v1/users/vera/role", { role: "admin" }], ["DELETE", "/api/v1/users/vera"],
      ["DELETE", "/api/v1/users/vera/tokens"], ["DELETE", "/api/v1/users/vera/tokens/0123456789ab"],
    ];
    for (const [m, p, body] of routes) {
      const anon = await req(m, p, body !== undefined ? { body } : {});
      expect(anon.status, `${m} ${p} anonymous`).toBe(401);
      for (const who of ["vera", "dora"]) {
        const res = await req(m, p, { token: tokens[who]!, ...(body !== undefined ? { body } : {}) });
        expect(res.status, `${m} ${p} as ${who}`).toBe(403);
        expect(((await res.json()) as { error: { code: string } }).error.code).toBe("RECON_ERR_FORBIDDEN");
      }
    }
    const s = await login("vera");
    expect((await req("GET", "/api/v1/users", { cookie: s.cookie })).status).toBe(403);
    const list = await req("GET", "/api/v1/users", { token: tokens.root! });
    expect(list.status).toBe(200);
    const text = await list.text();
    const body = JSON.parse(text) as { users: { name: string; role: string; tokens: { id: string; createdAt: string }[] }[] };
    expect(body.users.map((u) => [u.name, u.role, u.tokens.length])).toEqual([["root", "admin", 1], ["dora", "deployer", 1], ["dave", "deployer", 1], ["vera", "viewer", 1], ["rick", "deployer", 1]]);
    expect(body.users[0]!.tokens[0]).toEqual({ id: expect.stringMatching(/^[0-9a-f]{12}$/), createdAt: expect.any(String), lastUsedAt: expect.any(String) });
    for (const t of Object.values(tokens)) expect(text).not.toContain(t.slice(3));
    expect(text).not.toContain("scrypt$");
    expect(text).not.toMatch(/[0-9a-f]{64}/);
  });

  it("a deployer demoted to viewer can no longer deploy with the old token, and their open session gets the new role at once", async () => {
    const s = await login("dora");
    expect((await deployProbe({ token: tokens.dora! })).status).toBe(200);
    expect((await deployProbe(s)).status).toBe(200);
    const admin = await login("root");
    const noCsrf = await req("PUT", "/api/v1/users/dora/role", { cookie: admin.cookie, body: { role: "viewer" } });
    expect(noCsrf.status).toBe(403); // CSRF like every other change
    const demote = await req("PUT", "/api/v1/users/dora/role", { cookie: admin.cookie, csrf: admin.csrf, body: { role: "viewer" } });
    expect(demote.status).toBe(200);
    expect(await demote.json()).toEqual({ user: { name: "dora", role: "viewer", createdAt: expect.any(String) } });
    const byToken = await deployProbe({ token: tokens.dora! });
    expect(byToken.status).toBe(403);
    expect(((await byToken.json()) as { error: { message: string } }).error.message).toContain("viewer");
    expect((await deployProbe(s)).status).toBe(403);
    expect(await (await req("GET", "/api/v1/auth/me", { cookie: s.cookie })).json()).toMatchObject({ user: { name: "dora", role: "viewer" } });
    expect((await req("GET", "/api/v1/status", { token: tokens.dora! })).status).toBe(200); // still reads
    expect((await req("PUT", "/api/v1/users/dora/role", { token: tokens.root!, body: { role: "root" } })).status).toBe(400);
    expect((await req("PUT", "/api/v1/users/nobody/role", { token: tokens.root!, body: { role: "viewer" } })).status).toBe(404);
  });

  it("a removed user's session cookie and token get 401 at once; revoking one token leaves the others", async () => {
    const s = await login("dave");
    expect((await deployProbe(s)).status).toBe(200);
    const users = new Users({ file: join(data, "users.json"), scrypt: { N: 1024, r: 8, p: 1 } });
    const second = await users.createToken("dave");
    const id = (await (await req("GET", "/api/v1/users", { token: tokens.root! })).json() as { users: { name: string; tokens: { id: string }[] }[] }).users.find((u) => u.name === "dave")!.tokens[0]!.id;
    const one = await req("DELETE", `/api/v1/users/dave/tokens/${id}`, { token: tokens.root! });
    expect(await one.json()).toEqual({ revoked: [id] });
    expect((await req("GET", "/api/v1/status", { token: tokens.dave! })).status).toBe(401);
    expect((await req("GET", "/api/v1/status", { token: second })).status).toBe(200);
    expect((await req("DELETE", `/api/v1/users/dave/tokens/${id}`, { token: tokens.root! })).status).toBe(404);
    const gone = await req("DELETE", "/api/v1/users/dave", { token: tokens.root! });
    expect(gone.status).toBe(200);
    expect(await gone.json()).toEqual({ removed: "dave", tokensRevoked: 1, sessionsEnded: 1 });
    expect((await req("GET", "/api/v1/status", { token: second })).status).toBe(401);
    expect((await req("GET", "/api/v1/auth/me", { cookie: s.cookie })).status).toBe(401);
    expect((await deployProbe(s)).status).toBe(401);
    expect((await req("DELETE", "/api/v1/users/dave", { token: tokens.root! })).status).toBe(404);
  });

  it("an open event stream ends when its user is removed or its token revoked", async () => {
    const users = new Users({ file: join(data, "users.json"), scrypt: { N: 1024, r: 8, p: 1 } });
    await users.addUser("sam", "viewer", "sam-password-1");
    const token = await users.createToken("sam");
    const s = await login("sam");
    const open = async (o: { token?: string; cookie?: string }) => {
      const res = await fetch(rig.url() + "/api/v1/events", { headers: { accept: "text/event-stream", ...(o.token ? { authorization: `Bearer ${o.token}` } : {}), ...(o.cookie ? { cookie: o.cookie } : {}) } });
      expect(res.status).toBe(200);
      const reader = res.body!.getReader();
      await reader.read(); // the stream is live
      // Resolves with how long after `from` the server ended the stream.
      return (from: () => number) => (async () => {
        while (!(await reader.read()).done);
        return Date.now() - from();
      })();
    };
    let removedAt = 0;
    const byToken = (await open({ token }))(() => removedAt);
    const bySession = (await open({ cookie: s.cookie }))(() => removedAt);
    await new Promise((r) => setTimeout(r, 200));
    removedAt = Date.now();
    expect((await req("DELETE", "/api/v1/users/sam", { token: tokens.root! })).status).toBe(200);
    const ended = await Promise.race([Promise.all([byToken, bySession]), new Promise<null>((r) => setTimeout(() => r(null), 10_000))]);
    expect(ended, "both streams ended").not.toBeNull();
    console.log(`event streams of a removed user ended ${ended!.join(" and ")} ms after the removal`);
  }, 20_000);

  it("the last admin can be neither removed nor demoted", async () => {
    for (const [m, p, body] of [["DELETE", "/api/v1/users/root", undefined], ["PUT", "/api/v1/users/root/role", { role: "deployer" }]] as const) {
      const res = await req(m, p, { token: tokens.root!, ...(body ? { body } : {}) });
      expect(res.status, `${m} ${p}`).toBe(409);
      expect(((await res.json()) as { error: { message: string } }).error.message).toContain("root is the last admin");
    }
  });

  it("CLI: user role, user token revoke and user remove against a running reconciler take effect at the next request", async () => {
    const s = await login("rick");
    expect((await deployProbe({ token: tokens.rick! })).status).toBe(200);
    const role = await cli(["user", "role", "rick", "viewer", "--data", data]);
    expect(role, role.stderr).toMatchObject({ status: 0, stdout: "user rick is now viewer; their sessions and tokens act with it from their next request\n" });
    expect((await deployProbe({ token: tokens.rick! })).status).toBe(403);
    expect((await deployProbe(s)).status).toBe(403);
    expect(await (await req("GET", "/api/v1/auth/me", { cookie: s.cookie })).json()).toMatchObject({ user: { role: "viewer" } });

    const made = await cli(["user", "token", "rick", "--data", data]);
    expect(made.status, made.stderr).toBe(0);
    const extra = made.stdout.trim();
    expect((await req("GET", "/api/v1/status", { token: extra })).status).toBe(200);
    const listed = await cli(["user", "list", "--data", data]);
    const ids = [...listed.stdout.matchAll(/^token ([0-9a-f]{12}) for rick, created /gm)].map((m) => m[1]!);
    expect(ids).toHaveLength(2);
    expect(listed.stdout).not.toContain(extra.slice(3));
    const wrongId = await cli(["user", "token", "revoke", "rick", "ffffffffffff", "--data", data]);
    expect(wrongId.status).toBe(1);
    expect(wrongId.stderr).toBe("switchyard user: user rick has no token ffffffffffff; see switchyard user list\n");
    const all = await cli(["user", "token", "revoke", "rick", "--data", data]);
    expect(all.status, all.stderr).toBe(0);
    expect(all.stdout).toContain(`revoked token ${ids[0]}, token ${ids[1]} of rick`);
    expect((await req("GET", "/api/v1/status", { token: extra })).status).toBe(401);
    expect((await req("GET", "/api/v1/status", { token: tokens.rick! })).status).toBe(401);
    expect((await req("GET", "/api/v1/status", { cookie: s.cookie })).status).toBe(200); // tokens revoked, the session stays

    const removed = await cli(["user", "remove", "rick", "--data", data]);
    expect(removed, removed.stderr).toMatchObject({ status: 0, stdout: "user rick removed, 0 API token(s) revoked; their sessions end at their next request\n" });
    expect((await req("GET", "/api/v1/status", { cookie: s.cookie })).status).toBe(401);
    // Re-adding the name is a new account: the old session stays dead.
    const readd = await cli(["user", "add", "rick", "--role", "admin", "--data", data], "rick-password-2\n");
    expect(readd.status, readd.stderr).toBe(0);
    expect((await req("GET", "/api/v1/status", { cookie: s.cookie })).status).toBe(401);
    expect(await cli(["user", "remove", "nobody", "--data", data])).toMatchObject({ status: 1, stderr: "switchyard user: no user nobody\n" });
    expect(await cli(["user", "role", "vera", "root", "--data", data])).toMatchObject({ status: 1 });
    expect(JSON.parse(readFileSync(join(data, "users.json"), "utf8")).users.map((u: { name: string }) => u.name)).toEqual(["root", "dora", "vera", "rick"]);
  });
});
