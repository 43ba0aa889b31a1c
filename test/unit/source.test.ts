/**
 * specs/source.ts directly: issue capping and summaries, where a binary byte is reported, what a document
 * that is not a mapping is called, duplicate keys at any depth, and positions for keys and values.
 */
import { describe, expect, it } from "vitest";
import { capIssues, findPosition, parseYaml, summarizeIssues, type SpecIssue, type YamlSource } from "../../specs/source.js";
import { MAX_ISSUE_MESSAGE_CHARS, MAX_SPEC_ISSUES } from "../../specs/defaults.js";

const issue = (line: number, col: number, message = `m${line}:${col}`): SpecIssue => ({ file: "f.yaml", line, col, message });
const problems = (text: string | Uint8Array) => {
  const r = parseYaml("f.yaml", text);
  return r.ok ? [] : r.issues.map((i) => `${i.line}:${i.col} ${i.message}`);
};
const source = (text: string): YamlSource => {
  const r = parseYaml("f.yaml", text);
  if (!r.ok) throw new Error(r.issues[0]!.message);
  return r.source;
};

describe("capIssues", () => {
  it("sorts by line, then column; keeps short messages as they are", () => {
    const list = [issue(3, 1), issue(1, 9), issue(1, 2), issue(2, 5)];
    expect(capIssues(list).map((i) => `${i.line}:${i.col}`)).toEqual(["1:2", "1:9", "2:5", "3:1"]);
    expect(capIssues(list)[0]).toBe(list[2]);
  });

  it("cuts messages longer than the limit, and only those", () => {
    const long = "x".repeat(MAX_ISSUE_MESSAGE_CHARS + 1);
    const exact = "y".repeat(MAX_ISSUE_MESSAGE_CHARS);
    const [a, b] = capIssues([issue(1, 1, long), issue(2, 1, exact)]);
    expect(a!.message).toBe("x".repeat(MAX_ISSUE_MESSAGE_CHARS - 1) + "…");
    expect(b!.message).toBe(exact);
  });

  it("keeps the first MAX_SPEC_ISSUES and counts the rest at the position of the first one left out", () => {
    const many = Array.from({ length: MAX_SPEC_ISSUES + 2 }, (_, i) => issue(i + 1, 1));
    const capped = capIssues(many);
    expect(capped).toHaveLength(MAX_SPEC_ISSUES + 1);
    expect(capped.at(-1)).toEqual({ file: "f.yaml", line: MAX_SPEC_ISSUES + 1, col: 1, message: "… and 2 more issues in this file (fix the ones above first)" });
    expect(capIssues(many.slice(0, MAX_SPEC_ISSUES + 1)).at(-1)!.message).toBe("… and 1 more issue in this file (fix the ones above first)");
    expect(capIssues(many.slice(0, MAX_SPEC_ISSUES))).toHaveLength(MAX_SPEC_ISSUES);
  });
});

describe("summarizeIssues", () => {
  it("the first three and how many more", () => {
    expect(summarizeIssues(["a", "b", "c"])).toBe("a; b; c");
    expect(summarizeIssues(["a", "b", "c", "d", "e"])).toBe("a; b; c; … and 2 more (see status.specErrors)");
    expect(summarizeIssues(["a", "b"], 1)).toBe("a; … and 1 more (see status.specErrors)");
    expect(summarizeIssues([])).toBe("");
  });
});

describe("parseYaml: hostile and odd input, each with one clear issue where it is", () => {
  it("a NUL byte is reported at its line and column", () => {
    expect(problems(Buffer.from("a: 1\nbb: \u0000\n"))).toEqual(["2:5 file contains a NUL byte: it looks binary, not YAML text"]);
    expect(problems(Buffer.from("\u0000"))).toEqual(["1:1 file contains a NUL byte: it looks binary, not YAML text"]);
    expect(problems(Buffer.from("a: 1\n\nc: x\u0000"))).toEqual(["3:5 file contains a NUL byte: it looks binary, not YAML text"]);
  });

  it("bytes that are not UTF-8, and a file just over the size limit", () => {
    expect(problems(Buffer.from([0x61, 0x3a, 0x20, 0xff]))).toEqual(["1:1 file is not valid UTF-8 text: save it as UTF-8"]);
    expect(problems("#".repeat(256 * 1024 + 1))).toEqual([`1:1 file is ${256 * 1024 + 1} bytes; the limit is ${256 * 1024} bytes. Is this the right file?`]);
    expect(problems("a: 1\n" + "#".repeat(256 * 1024 - 5))).toEqual([]); // exactly at the limit
  });

  it("aliases are bounded by MAX_YAML_ALIAS_COUNT (50), not by the yaml package's default of 100", () => {
    const aliases = (n: number) => `a: &x [1]\nb: [${Array(n).fill("*x").join(", ")}]\n`;
    expect(problems(aliases(40))).toEqual([]);
    // 60 aliases pass the package's default limit (checked by the mutant with no maxAliasCount) but not ours
    expect(problems(aliases(60))).toEqual(["1:1 cannot resolve YAML aliases: Excessive alias count indicates a resource exhaustion attack"]);
  });

  it("a document that is not a mapping says what it is", () => {
    expect(problems("")).toEqual(["1:1 file is empty: expected a mapping with apiVersion, kind and spec"]);
    expect(problems("- a\n- b\n")).toEqual(["1:1 expected a mapping with apiVersion, kind and spec, got a list"]);
    expect(problems("\n\n  42\n")).toEqual(['3:3 expected a mapping with apiVersion, kind and spec, got the number 42']);
    expect(problems("hello")).toEqual(['1:1 expected a mapping with apiVersion, kind and spec, got the string "hello"']);
    expect(problems("~")).toEqual(["1:1 expected a mapping with apiVersion, kind and spec, got nothing"]);
  });

  it("a YAML syntax error without the parser's own position text", () => {
    const [p] = problems("a: [1, 2\n");
    expect(p).toMatch(/^\d+:\d+ YAML syntax error: /);
    expect(p).not.toMatch(/at line \d+, column \d+/);
    expect(p).not.toContain("\n");
  });

  it("duplicate keys at any depth: in mappings inside lists and inside complex keys", () => {
    expect(problems("a:\n  - { x: 1, x: 2 }\n")).toEqual(['2:13 duplicate key "x": each key may appear once in a mapping']);
    expect(problems("? { k: 1, k: 2 }\n: v\n")).toEqual(['1:11 duplicate key "k": each key may appear once in a mapping']);
    expect(problems("a: 1\nb: { c: 1 }\nc: 2\n")).toEqual([]);
    expect(problems("1: a\n'1': b\n")).toEqual(['2:1 duplicate key "1": each key may appear once in a mapping']);
  });
});

describe("findPosition", () => {
  const src = source("spec:\n  nodes:\n    - name: a\n      ports: { web: 1 }\n    - name: b\n  empty:\n");

  it("a value, or its key when asked; list items by index", () => {
    expect(findPosition(src, ["spec", "nodes", 1, "name"], false)).toEqual({ line: 5, col: 13 });
    expect(findPosition(src, ["spec", "nodes", 1, "name"], true)).toEqual({ line: 5, col: 7 });
    expect(findPosition(src, ["spec", "nodes", 0, "ports", "web"], true)).toEqual({ line: 4, col: 16 });
    expect(findPosition(src, ["spec", "nodes", 0], true)).toEqual({ line: 3, col: 7 });
  });

  it("a path that exists only in part: the nearest existing parent, never the key of a missing child", () => {
    expect(findPosition(src, ["spec", "nodes", 7, "name"], true)).toEqual({ line: 3, col: 5 });
    expect(findPosition(src, ["spec", "nodes", "x"], false)).toEqual({ line: 3, col: 5 });
    expect(findPosition(src, ["spec", "nodes", 0, "name", "deeper"], true)).toEqual({ line: 3, col: 13 });
    expect(findPosition(src, ["spec", "missing"], true)).toEqual({ line: 2, col: 3 });
    expect(findPosition(src, [], true)).toEqual({ line: 1, col: 1 });
  });

  it("a key without a value: its key when asked; a path below it: where the value would be, after the colon", () => {
    expect(findPosition(src, ["spec", "empty"], true)).toEqual({ line: 6, col: 3 });
    expect(findPosition(src, ["spec", "empty", "x"], true)).toEqual({ line: 6, col: 9 });
  });
});
