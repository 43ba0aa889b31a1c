/**
 * Reading YAML with source positions, refusing hostile input cleanly. Every problem becomes a
 * `SpecIssue` that prints as `file:line:col: message`.
 */
import { isMap, isPair, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node } from "yaml";
import { MAX_YAML_ALIAS_COUNT, MAX_YAML_BYTES } from "./defaults.js";
import type { PathIssue } from "./validate.js";

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
  const doc = parseDocument(text, { lineCounter: lines, uniqueKeys: true, prettyErrors: false, strict: true, version: "1.2" });
  const problems = [...doc.errors, ...doc.warnings];
  if (problems.length > 0) {
    return {
      ok: false,
      issues: problems.map((e) => {
        const pos = lines.linePos(e.pos[0]);
        const snippet = /^[^:\n]{1,60}/.exec(text.slice(e.pos[0]))?.[0] ?? "";
        return { file, line: pos.line, col: pos.col, message: yamlMessage(e.code, e.message, snippet) };
      }),
    };
  }
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
  return { file: src.file, line, col, message: issue.message };
}

/** Position of the node at `path`; `atKey` prefers the mapping key over its value. */
export function findPosition(src: YamlSource, path: readonly (string | number)[], atKey: boolean): { line: number; col: number } {
  let node: unknown = src.doc.contents;
  let keyNode: unknown = undefined;
  let best: unknown = node;
  let found = 0;
  for (const seg of path) {
    if (isMap(node)) {
      const pair = node.items.find((p) => isPair(p) && isScalar(p.key) && String(p.key.value) === String(seg));
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

function yamlMessage(code: string, message: string, snippet: string): string {
  const first = message.split("\n")[0] ?? message;
  const clean = first.replace(/ at line \d+, column \d+:?$/, "");
  if (code === "DUPLICATE_KEY") return `duplicate key ${JSON.stringify(snippet.trim())}: each key may appear once in a mapping`;
  return `YAML syntax error: ${clean}`;
}
