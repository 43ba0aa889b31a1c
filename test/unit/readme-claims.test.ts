/**
 * Every README claim has a test (issue 22 item 4): test/claims.ts maps README quotes to tests. This file holds the
 * README to that table — see the head of test/claims.ts for the rules.
 */
import { existsSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { CLAIMS, type Claim } from "../claims.js";
import { readmeBlocks } from "../support/readme-blocks.js";

const README = readFileSync("README.md", "utf8");
const flat = (s: string) => s.replace(/\s+/g, " ").trim();
const blocks = readmeBlocks(README).map((b) => ({ ...b, flat: flat(b.text) }));

describe("README claims are backed by tests (test/claims.ts)", () => {
  it("every paragraph, list item and code block of README.md has a row", () => {
    const bare = blocks.filter((b) => !CLAIMS.some((c) => b.flat.includes(flat(c.quote))));
    expect(bare.map((b) => `${b.heading} › ${b.flat.slice(0, 100)}`), "README text with no row in test/claims.ts: add the claim with its test").toEqual([]);
  });

  it("every row quotes the README as it reads now", () => {
    const stale = CLAIMS.filter((c) => !blocks.some((b) => b.flat.includes(flat(c.quote))));
    expect(stale.map((c) => c.quote), "quotes no longer in README.md (reworded or removed): update the row").toEqual([]);
  });

  it("every test a row names exists in its file", () => {
    const missing: string[] = [];
    for (const c of CLAIMS) {
      if (!("tests" in c)) continue;
      expect(c.tests.length, c.quote).toBeGreaterThan(0);
      for (const [file, name] of c.tests) {
        if (!existsSync(file)) missing.push(`${file} (no such file)`);
        else if (!readFileSync(file, "utf8").includes(name)) missing.push(`${file}: "${name}"`);
      }
    }
    expect(missing, "tests named in test/claims.ts that do not exist").toEqual([]);
  });

  it("the check sees a README paragraph without a row, and a test name that is not there (it can fail)", () => {
    const extra = flat("A brand-new promise nobody wrote a test for.");
    expect(CLAIMS.some((c) => extra.includes(flat(c.quote)))).toBe(false);
    const blocksOf = readmeBlocks("## Heading\n\nFirst paragraph\nwrapped.\n\n- an item\n  continued\n- another\n\n```sh\ncode here\n```\nafter\n");
    expect(blocksOf.map((b) => [b.heading, b.kind, flat(b.text)])).toEqual([
      ["## Heading", "para", "First paragraph wrapped."],
      ["## Heading", "item", "- an item continued"],
      ["## Heading", "item", "- another"],
      ["## Heading", "code", "code here"],
      ["## Heading", "para", "after"],
    ]);
    expect(readFileSync("test/unit/plan.test.ts", "utf8").includes("a test name nobody wrote")).toBe(false);
  });

  // Claims no test backs yet: each shows as a todo until a test is written or the claim goes (the lead decides).
  for (const c of CLAIMS.filter((c): c is Claim & { gap: string } => "gap" in c)) it.todo(`README: "${c.quote}" — ${c.gap}`);
});
