/**
 * unifiedDiff: exact output for the cases people read, and, for many random texts, a patch that
 * `git apply` (the reference implementation) accepts and that turns the old text into the new one.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { unifiedDiff } from "../../reconciler/history/text-diff.js";

const dir = mkdtempSync(join(tmpdir(), "sy-diff-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function applyWithGit(before: string, diff: string): string {
  writeFileSync(join(dir, "state.yaml"), before);
  writeFileSync(join(dir, "change.diff"), diff);
  execFileSync("git", ["apply", "-p1", "change.diff"], { cwd: dir });
  return readFileSync(join(dir, "state.yaml"), "utf8");
}

describe("unifiedDiff", () => {
  it("is empty for equal texts", () => {
    expect(unifiedDiff("a\nb\n", "a\nb\n")).toBe("");
  });

  it("prints one hunk with three lines of context, like git", () => {
    const before = ["a", "b", "c", "d", "e", "f", "g", "h", ""].join("\n");
    const after = before.replace("e\n", "E\n");
    expect(unifiedDiff(before, after)).toBe(["--- a/state.yaml", "+++ b/state.yaml", "@@ -2,7 +2,7 @@", " b", " c", " d", "-e", "+E", " f", " g", " h", ""].join("\n"));
  });

  it("splits far-apart changes into hunks and marks a missing final newline", () => {
    const lines = Array.from({ length: 20 }, (_, i) => `line ${i}`);
    const before = lines.join("\n") + "\n";
    const after = ["LINE 0", ...lines.slice(1)].join("\n");
    const d = unifiedDiff(before, after);
    expect(d.match(/^@@/gm)).toHaveLength(2);
    expect(d).toContain("@@ -1,4 +1,4 @@\n-line 0\n+LINE 0\n");
    expect(d).toContain("-line 19\n+line 19\n\\ No newline at end of file\n");
  });

  it("shows a new file against /dev/null", () => {
    expect(unifiedDiff("", "x\n", { from: null })).toBe("--- /dev/null\n+++ b/state.yaml\n@@ -0,0 +1 @@\n+x\n");
  });

  it("produces patches that git apply accepts and that give the new text (300 random cases)", () => {
    let seed = 42;
    const rand = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    const text = (n: number) => {
      const lines = Array.from({ length: n }, () => ["spec:", "  active: blue", "  active: green", "", "x", "y"][rand(6)]!);
      return lines.join("\n") + (n > 0 && rand(4) === 0 ? "" : n > 0 ? "\n" : "");
    };
    for (let i = 0; i < 300; i++) {
      const before = text(rand(14));
      const after = rand(3) === 0 ? before.replace(/x/g, "z") : text(rand(14));
      const d = unifiedDiff(before, after);
      if (before === after) {
        expect(d).toBe("");
        continue;
      }
      expect(applyWithGit(before, d), JSON.stringify({ before, after, d })).toBe(after);
    }
  });
});
