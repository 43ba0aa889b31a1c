import { describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync, cpSync } from "node:fs";
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

