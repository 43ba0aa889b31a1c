/**
 * A unified diff of two small texts, in the format `git diff` prints (3 lines of context, `\ No newline
 * at end of file` markers), computed in memory: used to show the exact change a dashboard action will
 * commit before it is made.
 */

export const DIFF_CONTEXT_LINES = 3;
/** Past this many cells the middle of the two texts is shown as replaced whole rather than aligned. */
const MAX_LCS_CELLS = 4_000_000;

export interface UnifiedDiffOptions {
  /** Label of the old text, without the `a/` prefix; null for a file that does not exist yet. */
  from?: string | null;
  /** Label of the new text, without the `b/` prefix. */
  to?: string;
  context?: number;
}

type Op = { kind: " " | "-" | "+"; line: string; a: number; b: number };

/** The unified diff from `before` to `after`; empty when they are equal. */
export function unifiedDiff(before: string, after: string, o: UnifiedDiffOptions = {}): string {
  if (before === after) return "";
  const context = o.context ?? DIFF_CONTEXT_LINES;
  const ops = editScript(splitLines(before), splitLines(after));
  const from = o.from === null ? "/dev/null" : `a/${o.from ?? "state.yaml"}`;
  let out = `--- ${from}\n+++ b/${o.to ?? o.from ?? "state.yaml"}\n`;
  for (const hunk of hunks(ops, context)) out += renderHunk(hunk);
  return out;
}

/** Lines with their terminator kept, so a missing final newline is a difference like any other. */
function splitLines(text: string): string[] {
  if (text === "") return [];
  const parts = text.split("\n").map((l) => l + "\n");
  const last = parts.pop()!;
  if (last !== "\n") parts.push(last.slice(0, -1));
  return parts;
}

function editScript(a: string[], b: string[]): Op[] {
  let pre = 0;
  while (pre < a.length && pre < b.length && a[pre] === b[pre]) pre++;
  let suf = 0;
  while (suf < a.length - pre && suf < b.length - pre && a[a.length - 1 - suf] === b[b.length - 1 - suf]) suf++;
  const ops: Op[] = [];
  for (let i = 0; i < pre; i++) ops.push({ kind: " ", line: a[i]!, a: i, b: i });
  const am = a.slice(pre, a.length - suf);
  const bm = b.slice(pre, b.length - suf);
  for (const op of middle(am, bm)) ops.push({ ...op, a: op.a + pre, b: op.b + pre });
  for (let k = suf; k > 0; k--) ops.push({ kind: " ", line: a[a.length - k]!, a: a.length - k, b: b.length - k });
  return ops;
}

/** Longest-common-subsequence alignment of the part between the common prefix and suffix. */
function middle(a: string[], b: string[]): Op[] {
  const n = a.length;
  const m = b.length;
  if (n * m > MAX_LCS_CELLS || n === 0 || m === 0) {
    return [...a.map((line, i) => ({ kind: "-" as const, line, a: i, b: 0 })), ...b.map((line, j) => ({ kind: "+" as const, line, a: n, b: j }))];
  }
  // lcs[i][j] = length of the LCS of a[i..] and b[j..], flattened.
  const w = m + 1;
  const lcs = new Uint32Array((n + 1) * w);
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) {
      lcs[i * w + j] = a[i] === b[j] ? lcs[(i + 1) * w + j + 1]! + 1 : Math.max(lcs[(i + 1) * w + j]!, lcs[i * w + j + 1]!);
    }
  }
  const ops: Op[] = [];
  let i = 0;
  let j = 0;
  while (i < n && j < m) {
    if (a[i] === b[j]) ops.push({ kind: " ", line: a[i]!, a: i++, b: j++ });
    else if (lcs[(i + 1) * w + j]! >= lcs[i * w + j + 1]!) ops.push({ kind: "-", line: a[i]!, a: i++, b: j });
    else ops.push({ kind: "+", line: b[j]!, a: i, b: j++ });
  }
  while (i < n) ops.push({ kind: "-", line: a[i]!, a: i++, b: j });
  while (j < m) ops.push({ kind: "+", line: b[j]!, a: i, b: j++ });
  return ops;
}

/** Groups changes with `context` unchanged lines around them; close groups merge into one hunk. */
function hunks(ops: Op[], context: number): Op[][] {
  const changed = ops.map((op, i) => (op.kind === " " ? -1 : i)).filter((i) => i >= 0);
  const out: Op[][] = [];
  let start = -1;
  let end = -1;
  for (const i of changed) {
    if (start >= 0 && i - end <= 2 * context) {
      end = i;
      continue;
    }
    if (start >= 0) out.push(ops.slice(Math.max(0, start - context), Math.min(ops.length, end + context + 1)));
    start = i;
    end = i;
  }
  if (start >= 0) out.push(ops.slice(Math.max(0, start - context), Math.min(ops.length, end + context + 1)));
  return out;
}

function renderHunk(h: Op[]): string {
  const aLines = h.filter((op) => op.kind !== "+");
  const bLines = h.filter((op) => op.kind !== "-");
  const aStart = aLines.length > 0 ? aLines[0]!.a + 1 : h[0]!.a;
  const bStart = bLines.length > 0 ? bLines[0]!.b + 1 : h[0]!.b;
  let out = `@@ -${range(aStart, aLines.length)} +${range(bStart, bLines.length)} @@\n`;
  for (const op of h) {
    out += op.kind + op.line;
    if (!op.line.endsWith("\n")) out += "\n\\ No newline at end of file\n";
  }
  return out;
}

function range(start: number, len: number): string {
  return len === 1 ? `${start}` : `${start},${len}`;
}
