/**
 * Reading YAML with source positions, refusing hostile input cleanly. Every problem becomes a
 * `SpecIssue` that prints as `file:line:col: message`.
 */
import { isMap, isPair, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node, type Pair, type YAMLMap } from "yaml";
import { MAX_ISSUE_MESSAGE_CHARS, MAX_SPEC_ISSUES, MAX_YAML_ALIAS_COUNT, MAX_YAML_BYTES, SUMMARY_SPEC_ISSUES } from "./defaults.js";
import type { PathIssue } from "./validate.js";
import { clip } from "../common/values.js";

export interface SpecIssue {
  file: string;
  line: number;
  col: number;
  message: string;
}

export interface YamlSource {
  file: string;
  doc: Document.Parsed;
  lines: LineCounter;
  /** The plain value of the document (a fresh copy each parse; validation fills in defaults). */
  value: unknown;
}

export type Parsed = { ok: true; source: YamlSource } | { ok: false; issues: SpecIssue[] };

export function formatIssue(i: SpecIssue): string {
  return `${i.file}:${i.line}:${i.col}: ${i.message}`;
}

/**
 * At most `MAX_SPEC_ISSUES` issues, sorted by position, messages cut to `MAX_ISSUE_MESSAGE_CHARS`; the
 * rest are counted in a last issue ("… and N more issues"). Every caller reports what this returns, so a
 * hostile file costs a bounded status, alert and log line.
 */
export function capIssues(issues: readonly SpecIssue[]): SpecIssue[] {
  const sorted = [...issues].sort((a, b) => a.line - b.line || a.col - b.col);
  const kept = sorted.slice(0, MAX_SPEC_ISSUES).map((i) => (i.message.length > MAX_ISSUE_MESSAGE_CHARS ? { ...i, message: clip(i.message, MAX_ISSUE_MESSAGE_CHARS) } : i));
  const rest = sorted.length - kept.length;
  if (rest > 0) {
    const next = sorted[MAX_SPEC_ISSUES]!;
    kept.push({ file: next.file, line: next.line, col: next.col, message: `… and ${rest} more issue${rest === 1 ? "" : "s"} in this file (fix the ones above first)` });
  }
  return kept;
}

/** One line for alerts, events and conditions: the first few formatted issues and how many more there are. */
export function summarizeIssues(lines: readonly string[], max = SUMMARY_SPEC_ISSUES): string {
  const shown = lines.slice(0, max);
  const more = lines.length - shown.length;
  return shown.join("; ") + (more > 0 ? `; … and ${more} more (see status.specErrors)` : "");
}

/** Parses one YAML document from raw bytes. Never throws on bad input. */
export function parseYaml(file: string, bytes: Uint8Array | string): Parsed {
  const buf = typeof bytes === "string" ? Buffer.from(bytes, "utf8") : Buffer.from(bytes);
  if (buf.length > MAX_YAML_BYTES) {
    return fail(file, 1, 1, `file is ${buf.length} bytes; the limit is ${MAX_YAML_BYTES} bytes. Is this the right file?`);
  }
  const nul = buf.indexOf(0);
  if (nul >= 0) {
    const { line, col } = byteToPos(buf, nul);
    return fail(file, line, col, "file contains a NUL byte: it looks binary, not YAML text");
  }
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(buf);
  } catch {
    return fail(file, 1, 1, "file is not valid UTF-8 text: save it as UTF-8");
  }
  const lines = new LineCounter();
  // The yaml package's own duplicate-key check compares each key with every earlier one (quadratic):
  // ours below is one pass with a set per mapping.
  const doc = parseDocument(text, { lineCounter: lines, uniqueKeys: false, prettyErrors: false, strict: true, version: "1.2" });
  const problems = [...doc.errors, ...doc.warnings];
  const issues: SpecIssue[] = problems.map((e) => {
    const pos = lines.linePos(e.pos[0]);
    return { file, line: pos.line, col: pos.col, message: yamlMessage(e.message) };
  });
  for (const key of duplicateKeys(doc)) {
    const pos = position(lines, key as Node);
    const name = isScalar(key) ? String(key.value) : "";
    issues.push({ file, line: pos.line, col: pos.col, message: `duplicate key ${JSON.stringify(clip(name, 60))}: each key may appear once in a mapping` });
  }
  if (issues.length > 0) return { ok: false, issues: capIssues(issues) };
  if (doc.contents === null) return fail(file, 1, 1, "file is empty: expected a mapping with apiVersion, kind and spec");
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: MAX_YAML_ALIAS_COUNT });
  } catch (err) {
    return fail(file, 1, 1, `cannot resolve YAML aliases: ${(err as Error).message}`);
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    const at = position(lines, doc.contents as Node);
    const got = Array.isArray(value) ? "a list" : value === null ? "nothing" : `the ${typeof value} ${JSON.stringify(value)}`;
    return fail(file, at.line, at.col, `expected a mapping with apiVersion, kind and spec, got ${got}`);
  }
  return { ok: true, source: { file, doc, lines, value } };
}

/** Places a path issue on the key or value it names (or the nearest existing parent). */
export function locate(src: YamlSource, issue: PathIssue): SpecIssue {
  const { line, col } = findPosition(src, issue.path, issue.atKey);
  return { file: src.file, line, col, message: clip(issue.message, MAX_ISSUE_MESSAGE_CHARS) };
}

/** Position of the node at `path`; `atKey` prefers the mapping key over its value. */
export function findPosition(src: YamlSource, path: readonly (string | number)[], atKey: boolean): { line: number; col: number } {
  let node: unknown = src.doc.contents;
  let keyNode: unknown = undefined;
  let best: unknown = node;
  let found = 0;
  for (const seg of path) {
    if (isMap(node)) {
      const pair = keyIndex(node).get(String(seg));
      if (!pair) break;
      keyNode = pair.key;
      node = pair.value;
    } else if (isSeq(node) && typeof seg === "number" && node.items[seg] !== undefined) {
      keyNode = undefined;
      node = node.items[seg];
    } else {
      break;
    }
    found++;
    best = node ?? keyNode;
    if (node === null || node === undefined) break;
  }
  const target = atKey && found === path.length && keyNode ? keyNode : best;
  return position(src.lines, target as Node | undefined);
}

/** Each mapping's pairs by key, built once per mapping, so locating n issues costs O(n · depth). */
const keyIndexes = new WeakMap<YAMLMap, Map<string, Pair>>();

function keyIndex(map: YAMLMap): Map<string, Pair> {
  let index = keyIndexes.get(map);
  if (!index) {
    index = new Map();
    for (const p of map.items) {
      if (isPair(p) && isScalar(p.key) && !index.has(String(p.key.value))) index.set(String(p.key.value), p as Pair);
    }
    keyIndexes.set(map, index);
  }
  return index;
}

/**
 * Every key that repeats an earlier key of its mapping, in one pass. Keys compare as the plain value
 * sees them (`1` and `"1"` are the same property), so nothing is silently overwritten.
 */
function duplicateKeys(doc: Document.Parsed): unknown[] {
  const out: unknown[] = [];
  const stack: unknown[] = [doc.contents];
  while (stack.length > 0) {
    const node = stack.pop();
    if (isMap(node)) {
      const seen = new Set<string>();
      for (const p of node.items) {
        if (isScalar(p.key)) {
          const k = String(p.key.value);
          if (seen.has(k)) out.push(p.key);
          seen.add(k);
        } else if (p.key) stack.push(p.key);
        stack.push(p.value);
      }
    } else if (isSeq(node)) {
      for (const item of node.items) stack.push(item);
    } else if (isPair(node)) {
      stack.push(node.key, node.value);
    }
  }
  return out;
}

function position(lines: LineCounter, node: Node | undefined | null): { line: number; col: number } {
  const offset = node && "range" in node && node.range ? node.range[0] : 0;
  return lines.linePos(offset);
}

function fail(file: string, line: number, col: number, message: string): Parsed {
  return { ok: false, issues: [{ file, line, col, message }] };
}

function byteToPos(buf: Buffer, offset: number): { line: number; col: number } {
  let line = 1;
  let start = 0;
  for (let i = 0; i < offset; i++) {
    if (buf[i] === 0x0a) {
      line++;
      start = i + 1;
    }
  }
  return { line, col: offset - start + 1 };
}

function yamlMessage(message: string): string {
  const first = message.split("\n")[0] ?? message;
  const clean = first.replace(/ at line \d+, column \d+:?$/, "");
  return `YAML syntax error: ${clean}`;
}
