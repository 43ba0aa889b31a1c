/**
 * For tests of the reconciler API: a deploy dir copied from examples/local under git, and a request
 * helper that speaks with a token, a session cookie and its CSRF token, or raw bodies.
 */
import { cpSync, mkdtempSync, rmSync } from "node:fs";
import { execFileSync } from "node:child_process";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect } from "vitest";
import { startReconciler, type RunningReconciler } from "../../reconciler/main.js";
import { Users } from "../../reconciler/auth/users.js";
import { contractCheck, type ContractCheck } from "./api-contract.js";

export const git = (dir: string, ...args: string[]) => execFileSync("git", ["-C", dir, ...args], { encoding: "utf8" }).trim();

/** examples/local copied to `deploy` and committed as its first revision. */
/** examples/local as a git repository; `prepare` changes its files before the first commit. */
export function localDeployDir(deploy: string, prepare?: (deploy: string) => void): void {
  cpSync("examples/local", deploy, { recursive: true });
  prepare?.(deploy);
  git(deploy, "init", "-q");
  git(deploy, "-c", "user.name=ops", "-c", "user.email=ops@example.com", "add", ".");
  git(deploy, "-c", "user.name=ops", "-c", "user.email=ops@example.com", "commit", "-qm", "initial");
}

export interface ApiRequest {
  token?: string;
  cookie?: string;
  csrf?: string;
  body?: unknown;
  raw?: string;
  headers?: Record<string, string>;
}

/** A request to the reconciler at `base()` (read at each call: the server starts after the helper is made). */
export function apiRequester(base: () => string) {
  return (method: string, path: string, o: ApiRequest = {}) =>
    fetch(base() + path, {
      method,
      headers: {
        ...(o.token ? { authorization: `Bearer ${o.token}` } : {}),
        ...(o.cookie ? { cookie: o.cookie } : {}),
        ...(o.csrf ? { "x-csrf-token": o.csrf } : {}),
        ...(o.body !== undefined || o.raw !== undefined ? { "content-type": "application/json" } : {}),
        ...o.headers,
      },
      ...(o.raw !== undefined ? { body: o.raw } : o.body !== undefined ? { body: JSON.stringify(o.body) } : {}),
    });
}

/** Logs in; the session cookie (name=value) and the CSRF token. */
export async function apiLogin(req: ReturnType<typeof apiRequester>, username: string, password: string, headers: Record<string, string> = {}): Promise<{ cookie: string; csrf: string; setCookie: string }> {
  const res = await req("POST", "/api/v1/auth/login", { body: { username, password }, headers });
  expect(res.status).toBe(200);
  const setCookie = res.headers.get("set-cookie")!;
  return { cookie: setCookie.split(";")[0]!, csrf: ((await res.json()) as { csrf: string }).csrf, setCookie };
}

/**
 * A reconciler on a local deploy dir, started before the file's tests with the users `seed` adds (cheap
 * scrypt), closed and removed after them. `r` and `url` are read once it runs. Every answer is checked
 * against its route's schema (specs/api/routes.ts): the file fails when one leaves it.
 */
export function useApiReconciler(prefix: string, seed: (users: Users) => Promise<void>, prepare?: (deploy: string) => void): { root: string; deploy: string; data: string; r: () => RunningReconciler; url: () => string; contract: ContractCheck } {
  const root = mkdtempSync(join(tmpdir(), prefix));
  const deploy = join(root, "deploy");
  const data = join(root, "data");
  let r: RunningReconciler | undefined;
  const contract = contractCheck();
  beforeAll(async () => {
    localDeployDir(deploy, prepare);
    const users = new Users({ file: join(data, "users.json"), scrypt: { N: 1024, r: 8, p: 1 } });
    await users.load();
    await seed(users);
    await users.flush();
    r = await startReconciler({ dir: deploy, dataDir: data, listen: "127.0.0.1:0", dashboardRoot: null, apiSetup: contract.setup });
  });
  afterAll(async () => {
    await r?.close();
    rmSync(root, { recursive: true, force: true });
    expect(contract.violations, "answers that left their schema (specs/api)").toEqual([]);
  });
  return { root, deploy, data, r: () => r!, url: () => r!.url, contract };
}
