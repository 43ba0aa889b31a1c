import { describe, expect, it } from "vitest";
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { renderSchemas, schemasDir } from "../../specs/write-schemas.js";

/** Every module plan.ts reaches through value imports (type-only imports erase at compile time). */
function valueImports(file: string, seen = new Set<string>()): Set<string> {
  if (seen.has(file)) return seen;
  seen.add(file);
  const src = readFileSync(file, "utf8");
  for (const m of src.matchAll(/^import\s+(type\s+)?[^;]*?from\s+"([^"]+)";/gms)) {
    if (m[1]) continue;
    const spec = m[2]!;
    if (spec.startsWith(".")) valueImports(resolve(dirname(file), spec.replace(/\.js$/, ".ts")), seen);
    else seen.add(spec);
  }
  return seen;
}

describe("the planner is pure", () => {
  it("plan.ts reaches no module that does I/O", () => {
    const reached = [...valueImports(resolve("reconciler/loop/plan.ts"))];
    const external = reached.filter((m) => !m.startsWith("/"));
    expect(external, `plan.ts imports ${external.join(", ")}`).toEqual([]);
    const local = reached.filter((m) => m.startsWith("/")).map((m) => m.slice(resolve(".").length + 1)).sort();
    expect(local).toEqual(["reconciler/loop/desired.ts", "reconciler/loop/plan-tasks.ts", "reconciler/loop/plan.ts", "reconciler/loop/views.ts", "specs/defaults.ts", "specs/equality.ts", "specs/errors.ts", "specs/images.ts", "specs/secrets.ts", "specs/types.ts"]);
  });

  it("the import scanner sees a real I/O import (it can fail)", () => {
    const reached = [...valueImports(resolve("specs/load.ts"))];
    expect(reached).toContain("node:fs/promises");
  });
});

describe("published JSON Schemas", () => {
  it("the files in specs/schemas match the TypeScript schemas (run npm run schemas)", () => {
    for (const [file, text] of Object.entries(renderSchemas())) {
      expect(readFileSync(schemasDir + file, "utf8"), file).toBe(text);
    }
  });

  it("example files point editors at them", () => {
    expect(readFileSync("examples/local/cluster.yaml", "utf8")).toMatch(/^# yaml-language-server: \$schema=\.\.\/\.\.\/specs\/schemas\/cluster\.schema\.json$/m);
    expect(readFileSync("examples/local/state.yaml", "utf8")).toMatch(/^# yaml-language-server: \$schema=\.\.\/\.\.\/specs\/schemas\/state\.schema\.json$/m);
  });
});

/** Every relative import and re-export in the source files under `dir`: the folder it reaches and whether it is type-only. */
function importsUnder(dir: string): { file: string; target: string; typeOnly: boolean }[] {
  const out: { file: string; target: string; typeOnly: boolean }[] = [];
  for (const entry of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile() || !/\.(ts|mts|js|mjs|svelte)$/.test(entry.name)) continue;
    const file = join(entry.parentPath, entry.name);
    const src = readFileSync(file, "utf8");
    for (const m of src.matchAll(/^[ \t]*(import|export)\s+(type\s+)?(?:[^;"'`]*?\sfrom\s+)?["']([^"']+)["']|import\(\s*["']([^"']+)["']\s*\)/gm)) {
      const spec = m[3] ?? m[4]!;
      if (!spec.startsWith(".")) continue;
      out.push({ file: relative(".", file), target: relative(".", resolve(dirname(file), spec)), typeOnly: m[2] !== undefined });
    }
  }
  return out;
}

describe("the parts import only what the architecture allows", () => {
  const top = (path: string) => path.split("/")[0]!;

  it("the dashboard imports types only, and only from specs/", () => {
    const leaving = importsUnder("dashboard/src").filter((i) => top(i.target) !== "dashboard");
    expect(leaving.length).toBeGreaterThan(0); // it does use the contract
    const wrong = leaving.filter((i) => top(i.target) !== "specs" || !i.typeOnly).map((i) => `${i.file} → ${i.target}${i.typeOnly ? "" : " (value import)"}`);
    expect(wrong).toEqual([]);
  });

  it("the reconciler and the node agent never import each other; specs/ imports neither", () => {
    const crossing = [
      ...importsUnder("reconciler").filter((i) => top(i.target) === "node-agent"),
      ...importsUnder("node-agent").filter((i) => top(i.target) === "reconciler"),
      ...importsUnder("specs").filter((i) => ["reconciler", "node-agent", "dashboard", "cli"].includes(top(i.target))),
    ].map((i) => `${i.file} → ${i.target}`);
    expect(crossing).toEqual([]);
  });

  it("the import scanner sees imports of every form (it can fail)", () => {
    const seen = importsUnder("test/unit/fixtures/imports").map((i) => `${i.target} ${i.typeOnly ? "type" : "value"}`).sort();
    expect(seen).toEqual(["reconciler/a.js type", "reconciler/b.js value", "reconciler/c.js value", "reconciler/d.js value", "reconciler/e.js type"]);
  });
});
