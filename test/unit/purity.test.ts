import { describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
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
    expect(local).toEqual(["reconciler/loop/desired.ts", "reconciler/loop/plan.ts", "reconciler/loop/views.ts", "specs/defaults.ts", "specs/equality.ts", "specs/types.ts"]);
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
