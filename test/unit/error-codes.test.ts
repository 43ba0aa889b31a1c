import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { errorCodes } from "../../specs/errors.js";
import { agentErrors } from "../../node-agent/errors.js";
import { reconErrors } from "../../reconciler/errors.js";

const root = join(import.meta.dirname, "..", "..");

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    if (statSync(p).isDirectory()) return n === "node_modules" ? [] : sources(p);
    return /\.(ts|mjs|js|svelte)$/.test(n) ? [p] : [];
  });
}

function codesUsedIn(dirs: string[]): Set<string> {
  const found = new Set<string>();
  for (const d of dirs) for (const f of sources(join(root, d))) for (const m of readFileSync(f, "utf8").matchAll(/\b(?:AGENT|RECON)_ERR_[A-Z_]+\b/g)) found.add(m[0]);
  return found;
}

describe("error codes are published in specs/errors.ts", () => {
  const published = Object.keys(errorCodes).sort();

  it("every code the services and the CLI use is published, and every published code is used", () => {
    const used = [...codesUsedIn(["node-agent", "reconciler", "cli"])].sort();
    expect(used.filter((c) => !(c in errorCodes))).toEqual([]);
    expect(published.filter((c) => !used.includes(c))).toEqual([]);
  });

  it("each service's status table has exactly its published codes", () => {
    expect(Object.keys(agentErrors).sort()).toEqual(published.filter((c) => errorCodes[c as keyof typeof errorCodes].service === "agent" && !("statusOnly" in errorCodes[c as keyof typeof errorCodes])));
    expect(Object.keys(reconErrors).sort()).toEqual(published.filter((c) => errorCodes[c as keyof typeof errorCodes].service === "reconciler"));
  });
});
