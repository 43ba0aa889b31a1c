/**
 * The session cookie behind a TLS-terminating proxy: with `--public-url https://…` it is always Secure
 * (the reconciler itself speaks plain HTTP on loopback); without it, a client's X-Forwarded-Proto
 * changes nothing (forwarded headers are not trusted).
 */
import { afterAll, describe, expect, it } from "vitest";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startReconciler, type RunningReconciler } from "../../reconciler/main.js";
import { Users } from "../../reconciler/auth/users.js";
import { apiLogin, apiRequester, localDeployDir } from "../support/api-rig.js";

describe("session cookie behind a TLS-terminating proxy", () => {
  const roots: string[] = [];
  const running: RunningReconciler[] = [];
  afterAll(async () => {
    for (const r of running) await r.close();
    for (const d of roots) rmSync(d, { recursive: true, force: true });
  });

  async function reconciler(publicUrl?: string): Promise<RunningReconciler> {
    const root = mkdtempSync(join(tmpdir(), "sy-cookie-"));
    roots.push(root);
    localDeployDir(join(root, "deploy"));
    const users = new Users({ file: join(root, "data", "users.json"), scrypt: { N: 1024, r: 8, p: 1 } });
    await users.addUser("root", "admin", "root-password-1");
    const r = await startReconciler({ dir: join(root, "deploy"), dataDir: join(root, "data"), listen: "127.0.0.1:0", dashboardRoot: null, ...(publicUrl ? { publicUrl } : {}) });
    running.push(r);
    return r;
  }

  it("--public-url https://…: login and logout cookies are Secure", async () => {
    const r = await reconciler("https://deploy.example.com");
    const req = apiRequester(() => r.url);
    const s = await apiLogin(req, "root", "root-password-1");
    expect(s.setCookie).toMatch(/^sy_session=[^;]+; Path=\/; HttpOnly; SameSite=Strict; Max-Age=\d+; Secure$/);
    const out = await req("POST", "/api/v1/auth/logout", { cookie: s.cookie, csrf: s.csrf });
    expect(out.status).toBe(204);
    expect(out.headers.get("set-cookie")).toMatch(/^sy_session=; .*Max-Age=0; Secure$/);
  });

  it("without it (plain http on loopback), a forwarded header from the client does not decide", async () => {
    const r = await reconciler();
    const req = apiRequester(() => r.url);
    const s = await apiLogin(req, "root", "root-password-1", { "x-forwarded-proto": "https" });
    expect(s.setCookie).not.toContain("Secure");
    const plain = await reconciler("http://127.0.0.1:7000");
    expect((await apiLogin(apiRequester(() => plain.url), "root", "root-password-1")).setCookie).not.toContain("Secure");
  });

  it("a --public-url that is not an http(s) URL is refused at start", async () => {
    await expect(reconciler("deploy.example.com")).rejects.toThrow(/--public-url "deploy.example.com" is not a URL/);
    await expect(reconciler("ftp://deploy.example.com")).rejects.toThrow(/--public-url must be an http or https URL, not ftp:/);
  });
});
