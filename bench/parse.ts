/**
 * bench:parse — how long a hostile state.yaml takes to be refused: a 250 KiB file of ~26,000 unknown
 * keys, a 56 KiB one (the size of an API request), and thousands of duplicate keys. The work is linear
 * in the file's size; before the fix the 250 KiB file took 18 s (quadratic duplicate-key checks and
 * error location). Prints the median of 5 runs each and the first run (cold, as the reconciler meets a
 * bad file), and the issue count reported (capped). A small valid file is parsed first, so the schema
 * is compiled before anything is timed.
 * The last line is one JSON object.
 */
import { parseSpec } from "../specs/load.js";
import { percentile, round } from "./lib/stats.js";

const HEAD = "apiVersion: switchyard.dev/v1\nkind: State\nspec:\n  active: blue\n  colors:\n    blue: { tag: v1 }\n    green: { tag: v2 }\n";

function unknownKeys(bytes: number): string {
  let text = HEAD;
  for (let i = 0; text.length < bytes - 20; i++) text += `  x${i.toString(36)}: 1\n`;
  return text;
}

function duplicateKeys(bytes: number): string {
  let text = HEAD;
  while (text.length < bytes - 20) text += "  active: green\n";
  return text;
}

function measure(name: string, text: string): { name: string; kib: number; firstMs: number; medianMs: number; issues: number } {
  const times: number[] = [];
  let issues = 0;
  for (let i = 0; i < 5; i++) {
    const t0 = performance.now();
    const r = parseSpec("state.yaml", text, { checkFiles: false });
    times.push(performance.now() - t0);
    issues = r.ok ? 0 : r.issues.length;
  }
  const out = { name, kib: round(text.length / 1024, 1), firstMs: round(times[0]!, 1), medianMs: round(percentile(times, 50), 1), issues };
  console.log(`${name}: ${out.kib} KiB refused in ${out.medianMs} ms (median of 5; first run ${out.firstMs} ms), ${issues} issues reported`);
  return out;
}

parseSpec("state.yaml", HEAD, { checkFiles: false });
const results = [
  measure("unknown keys 250 KiB", unknownKeys(250 * 1024)),
  measure("unknown keys 56 KiB", unknownKeys(56 * 1024)),
  measure("duplicate keys 250 KiB", duplicateKeys(250 * 1024)),
];
console.log(JSON.stringify({ bench: "parse", results }));
