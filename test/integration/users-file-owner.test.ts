/**
 * The users file between root and the reconciler's own user (issue 21, the five-VM guide): `switchyard user add`
 * run as root into the data dir of a reconciler that runs as its own user must leave a file that user can read,
 * and a users file the reconciler cannot read is said, naming the fix, instead of failing every login as
 * "wrong user name or password" with nothing in the log. The reconciler's side runs as `nobody` (65534), as
 * the guide's unit runs it as `switchyard`.
 */
import { spawn, spawnSync } from "node:child_process";
import { chmodSync, chownSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";

const NOBODY = 65534;
const USERS_JS = resolve("dist/reconciler/auth/users.js");
const root = mkdtempSync(join(tmpdir(), "sy-users-owner-"));
chmodSync(root, 0o755);
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** Runs the CLI as root (this test's user), the password on standard input. */
function userAdd(data: string, name: string): void {
  const r = spawnSync(process.execPath, ["bin/switchyard.js", "user", "add", name, "--role", "admin", "--data", data], { input: "correct horse battery\n", encoding: "utf8" });
  expect(r.status, r.stderr).toBe(0);
}

/** What the reconciler's Users sees as `nobody` when it loads the file: its users, or the load's error. */
function asReconciler(data: string): { users?: string[]; loadError?: string; reported: string[] } {
  const script = `
    import { Users } from ${JSON.stringify(USERS_JS)};
    const reported = [];
    const users = new Users({ file: ${JSON.stringify(join(data, "users.json"))}, onUnreadable: (m) => reported.push(m) });
    const out = { reported };
    try { await users.load(); out.users = users.list().users.map((u) => u.name); } catch (e) { out.loadError = e.message; }
    process.stdout.write(JSON.stringify(out) + "\\n");`;
  const r = spawnSync(process.execPath, ["--input-type=module", "-e", script], { uid: NOBODY, gid: NOBODY, encoding: "utf8" });
  expect(r.status, r.stderr).toBe(0);
  return JSON.parse(r.stdout.trim().split("\n").at(-1)!) as { users?: string[]; loadError?: string; reported: string[] };
}

describe("the users file and the reconciler's user", { timeout: 180_000 }, () => {
  it("`switchyard user add` as root gives users.json the data dir's owner, so the reconciler's user can log people in", () => {
    const data = join(root, "owned");
    mkdirSync(data, { mode: 0o700 });
    chownSync(data, NOBODY, NOBODY);
    userAdd(data, "alice");
    const st = statSync(join(data, "users.json"));
    expect({ uid: st.uid, gid: st.gid, mode: st.mode & 0o777 }).toEqual({ uid: NOBODY, gid: NOBODY, mode: 0o600 });
    expect(asReconciler(data)).toEqual({ users: ["alice"], reported: [] });
  });

  it("a users file the reconciler's user cannot read stops its start with the fix, not with an empty user list", () => {
    const data = join(root, "root-owned");
    mkdirSync(data, { mode: 0o755 });
    userAdd(data, "alice"); // the data dir is root's: the file stays root's, 0600
    const seen = asReconciler(data);
    expect(seen.users).toBeUndefined();
    expect(seen.loadError).toMatch(/^cannot read the users file .*users\.json \(EACCES\): logins and API tokens fail until it can be read\. It must belong to the user the reconciler runs as \(chown <that user> /);
  });

  it("a users file that becomes unreadable while the reconciler runs is reported once; the last good copy stays", async () => {
    const data = join(root, "later");
    mkdirSync(data, { mode: 0o700 });
    chownSync(data, NOBODY, NOBODY);
    userAdd(data, "alice");
    const script = `
      import { Users } from ${JSON.stringify(USERS_JS)};
      const reported = [];
      const users = new Users({ file: ${JSON.stringify(join(data, "users.json"))}, onUnreadable: (m) => reported.push(m) });
      await users.load();
      process.stdout.write("ready\\n");
      await new Promise((r) => process.stdin.once("data", r));
      const first = (await users.verify("alice", "correct horse battery")) !== null;
      const second = (await users.verify("alice", "correct horse battery")) !== null;
      process.stdout.write(JSON.stringify({ first, second, reported }) + "\\n");
      process.exit(0); // the scrypt worker threads would keep it`;
    // A file, not -e: the scrypt worker threads would inherit --input-type=module.
    const file = join(root, "reconciler-side.mjs");
    writeFileSync(file, script);
    const child = spawn(process.execPath, [file], { uid: NOBODY, gid: NOBODY });
    let out = "";
    let err = "";
    child.stdout.setEncoding("utf8");
    child.stderr.setEncoding("utf8");
    child.stderr.on("data", (d: string) => { err += d; });
    const exited = new Promise((res) => child.on("exit", res));
    await Promise.race([new Promise<void>((res) => child.stdout.on("data", (d: string) => { out += d; if (out.includes("ready\n")) res(); })), exited]);
    // Root rewrites it the old way: a new file (new inode), root's, 0600.
    rmSync(join(data, "users.json"));
    userAdd(join(root, "later-copy"), "bob");
    spawnSync("cp", [join(root, "later-copy", "users.json"), join(data, "users.json")]);
    chownSync(join(data, "users.json"), 0, 0);
    chmodSync(join(data, "users.json"), 0o600);
    child.stdin.write("go\n");
    await exited;
    expect(err).toBe("");
    const r = JSON.parse(out.trim().split("\n").at(-1)!) as { first: boolean; second: boolean; reported: string[] };
    expect(r.first).toBe(true); // alice from the last good copy
    expect(r.second).toBe(true);
    expect(r.reported).toHaveLength(1);
    expect(r.reported[0]).toMatch(/^cannot read the users file .* \(EACCES\)/);
  });
});
