import { describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync, cpSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** Runs the real CLI entry point (built by `npm run build`, as `npx switchyard` does). */
function cli(...args: string[]) {
  const r = spawnSync(process.execPath, ["bin/switchyard.js", ...args], { encoding: "utf8" });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

describe("switchyard validate", () => {
  it("accepts the local example: one ok line per file, exit 0", () => {
    const r = cli("validate", "examples/local");
    expect(r.code).toBe(0);
    expect(r.out.trim().split("\n")).toEqual(["ok examples/local/cluster.yaml (Cluster)", "ok examples/local/state.yaml (State)"]);
    expect(r.err).toBe("");
  });

  it("the five-VM example validates (its secrets live on the VMs, so files are not checked)", () => {
    const r = cli("validate", "--no-files", "examples/vms", "examples/vms/agents");
    expect(r.code, r.err).toBe(0);
    expect(r.out.trim().split("\n")).toHaveLength(5);
    expect(cli("validate", "examples/vms").code).toBe(1); // with file checks: the tokens are not here
  });

  it("reports purple at :4: with the column of the value, exit 1", () => {
    const r = cli("validate", "examples/broken/state-purple.yaml");
    expect(r.code).toBe(1);
    expect(r.err).toBe('examples/broken/state-purple.yaml:4:11: spec.active: must be one of blue, green (got "purple")\n');
  });

  it("reports every independent error", () => {
    const r = cli("validate", "examples/broken/state-three-errors.yaml");
    expect(r.code).toBe(1);
    expect(r.err.trim().split("\n")).toHaveLength(4);
  });

  it("applies the cross-file rules to a directory", () => {
    const dir = mkdtempSync(join(tmpdir(), "sy-validate-"));
    cpSync("examples/local", dir, { recursive: true });
    writeFileSync(join(dir, "state.yaml"), "apiVersion: switchyard.dev/v1\nkind: State\nmetadata: { name: other }\nspec:\n  active: blue\n  colors: { blue: { tag: v1 }, green: { tag: v2 } }\n");
    const r = cli("validate", dir);
    expect(r.code).toBe(1);
    expect(r.err).toContain(`${dir}/state.yaml:3:19: metadata.name: "other" does not match the cluster's name "demo"`);
  });

  it("checks an agent's secretsDir: it exists, is a folder, and neither it nor its .env files are open to group or others", () => {
    const dir = mkdtempSync(join(tmpdir(), "sy-validate-secrets-"));
    writeFileSync(join(dir, "token"), "x".repeat(32) + "\n", { mode: 0o600 });
    const agent = join(dir, "agent.yaml");
    writeFileSync(agent, "apiVersion: switchyard.dev/v1\nkind: Agent\nname: blue-1\ntokenFile: token\ndataDir: data\nallowedRepositories: [127.0.0.1:5000/switchyard-demo/app]\nsecretsDir: secrets\n");
    const secrets = join(dir, "secrets");
    expect(cli("validate", agent)).toMatchObject({ code: 1, err: `${agent}:7:13: secretsDir: folder ${secrets} does not exist; create it with install -d -m 0700 -o <the agent's user> ${secrets}\n` });
    writeFileSync(secrets, "");
    expect(cli("validate", agent).err).toBe(`${agent}:7:13: secretsDir: ${secrets} is not a folder; secretsDir names the folder that holds the <name>.env files\n`);
    expect(cli("validate", "--no-files", agent).code).toBe(0); // --no-files: the folder lives on the VM
    rmSync(secrets);
    mkdirSync(secrets, { mode: 0o755 });
    chmodSync(secrets, 0o755);
    expect(cli("validate", agent).err).toBe(`${agent}:7:13: secretsDir: folder ${secrets} has mode 0755, open to group or others; chmod 700 ${secrets}\n`);
    chmodSync(secrets, 0o700);
    writeFileSync(join(secrets, "database.env"), "DATABASE_URL=postgres://u:p@db/shop\n", { mode: 0o644 });
    chmodSync(join(secrets, "database.env"), 0o644);
    const r = cli("validate", agent);
    expect(r.err).toBe(`${agent}:7:13: secretsDir: ${secrets}/database.env has mode 0644, open to group or others (the agent refuses it); chmod 600 ${secrets}/database.env\n`);
    expect(r.err).not.toContain("postgres"); // names the file, never its content
    chmodSync(join(secrets, "database.env"), 0o600);
    expect(cli("validate", agent)).toMatchObject({ code: 0, out: `ok ${agent} (Agent)\n` });
  });

  it("checks a directory's agent files against the repositories its cluster's services run", () => {
    const dir = mkdtempSync(join(tmpdir(), "sy-validate-images-"));
    cpSync("examples/local", dir, { recursive: true });
    const cluster = readFileSync(join(dir, "cluster.yaml"), "utf8").replace(/^  services:\n/m, "  services:\n    api:\n      image: 127.0.0.1:5000/switchyard-demo/api\n      port: 8081\n");
    writeFileSync(join(dir, "cluster.yaml"), cluster);
    writeFileSync(join(dir, "token"), "x".repeat(32) + "\n", { mode: 0o600 });
    const agent = join(dir, "agent-blue-1.yaml");
    writeFileSync(agent, "apiVersion: switchyard.dev/v1\nkind: Agent\nname: blue-1\ntokenFile: token\ndataDir: data\nallowedRepositories: [127.0.0.1:5000/switchyard-demo/app]\n");
    const r = cli("validate", dir);
    expect(r.code).toBe(1);
    expect(r.err).toBe(`${agent}:6:1: allowedRepositories: image repository 127.0.0.1:5000/switchyard-demo/api (service api of cluster demo) is not listed; add it, or this agent refuses every spec of the app\n`);
    writeFileSync(agent, readFileSync(agent, "utf8").replace("app]", "app, 127.0.0.1:5000/switchyard-demo/api]"));
    expect(cli("validate", dir).code).toBe(0);
  });

  it("--json prints a machine-readable report", () => {
    const r = cli("validate", "--json", "examples/broken/state-purple.yaml");
    expect(r.code).toBe(1);
    const doc = JSON.parse(r.out) as { ok: boolean; files: { errors: { line: number; col: number }[] }[] };
    expect(doc.ok).toBe(false);
    expect(doc.files[0]!.errors[0]).toMatchObject({ line: 4, col: 11 });
  });

  it("missing files and unknown commands fail with one clear line", () => {
    expect(cli("validate", "/nonexistent.yaml")).toMatchObject({ code: 1, err: "/nonexistent.yaml:1:1: no such file or directory\n" });
    expect(cli("frobnicate")).toMatchObject({ code: 2, err: 'switchyard: unknown command "frobnicate"; run "switchyard --help" for the list\n' });
  });

  it("--help works for the tool and the command", () => {
    expect(cli("--help")).toMatchObject({ code: 0, out: expect.stringContaining("validate") });
    expect(cli("validate", "--help")).toMatchObject({ code: 0, out: expect.stringContaining("Usage: switchyard validate") });
  });
});

