/**
 * The process runtime's logs: a workload's part of its log file (from the byte after its start header),
 * read in bounded chunks and split into bounded lines. Processes write to the file themselves (so they
 * outlive the agent), so lines carry no time of their own: LogMarks remembers, while the agent runs, how
 * big each log was when (sampled with the runtime's poll), which gives every line an upper bound on when it
 * was written and turns `since` into a byte offset. Lines written before the agent sampled have no time.
 */
import { open, type FileHandle } from "node:fs/promises";
import { LOG_LINE_MAX_BYTES } from "../specs/defaults.js";
import type { LogLine } from "../specs/logs.js";
import { LineSplitter, isoNano, logLine } from "./log-lines.js";
import type { LogOptions } from "./runtime.js";

const CHUNK = 64 * 1024;
/** Marks kept per log; when full every second one goes (coarser times, never more memory). */
const MAX_MARKS = 2048;
/** How often a follow looks for new output. */
const FOLLOW_POLL_MS = 200;

/** Sizes of each log over time, sampled while the agent runs. */
export class LogMarks {
  private readonly byLog = new Map<string, { t: number; size: number }[]>();

  note(log: string, size: number, t = Date.now()): void {
    let marks = this.byLog.get(log);
    if (!marks) this.byLog.set(log, (marks = []));
    const last = marks[marks.length - 1];
    if (last && last.size === size) return;
    if (last && size < last.size) marks.length = 0; // moved aside and started again
    marks.push({ t, size });
    if (marks.length > MAX_MARKS) this.byLog.set(log, marks.filter((_, i) => i % 2 === 1));
  }

  forget(log: string): void {
    this.byLog.delete(log);
  }

  /** The earliest offset holding everything written at or after `t` (`from` when the marks do not reach back). */
  offsetAt(log: string, t: Date, from: number): number {
    let at = from;
    for (const m of this.byLog.get(log) ?? []) if (m.t <= t.getTime()) at = Math.max(at, m.size);
    return at;
  }

  /** When a line ending at `end` was written at the latest; null before the first mark. */
  timeOf(log: string, end: number): string | null {
    const marks = this.byLog.get(log) ?? [];
    if (marks.length === 0 || end <= marks[0]!.size) return null;
    for (const m of marks) if (m.size >= end) return isoNano(new Date(m.t));
    return isoNano(new Date());
  }
}

export interface ProcessLogSource {
  log: string;
  /** Offset of the workload's first byte of output (after its start header). */
  from: number;
  /** Whether it still runs (a follow ends once it does not and everything was read). */
  running: () => boolean;
}

export async function* processLogs(src: ProcessLogSource, marks: LogMarks, opts: LogOptions, signal: AbortSignal): AsyncGenerator<LogLine | { type: "caught-up" }> {
  const fh = await open(src.log, "r");
  try {
    let end = (await fh.stat()).size;
    const from = opts.since ? marks.offsetAt(src.log, opts.since, src.from) : src.from;
    let pos = opts.tail > 0 ? await tailOffset(fh, Math.min(from, end), end, opts.tail) : end;
    const splitter = new LineSplitter(LOG_LINE_MAX_BYTES);
    for await (const [text, lineEnd] of read(fh, splitter, pos, end, signal)) yield logLine("stdout", marks.timeOf(src.log, lineEnd), text);
    pos = end;
    if (!opts.follow) return;
    yield { type: "caught-up" };
    while (!signal.aborted) {
      const size = (await fh.stat()).size;
      if (size < pos) return; // moved aside: a new workload writes there now
      if (size === pos) {
        if (!src.running()) break;
        await sleep(FOLLOW_POLL_MS, signal);
        continue;
      }
      end = size;
      for await (const [text] of read(fh, splitter, pos, end, signal)) yield logLine("stdout", isoNano(new Date()), text);
      pos = end;
    }
    const rest = splitter.flush();
    if (rest && !signal.aborted) yield logLine("stdout", isoNano(new Date()), rest);
  } finally {
    await fh.close();
  }
}

async function* read(fh: FileHandle, splitter: LineSplitter, from: number, to: number, signal: AbortSignal): AsyncGenerator<[{ text: string; truncated: boolean }, number]> {
  const buf = Buffer.alloc(CHUNK);
  for (let pos = from; pos < to && !signal.aborted; ) {
    const { bytesRead } = await fh.read(buf, 0, Math.min(CHUNK, to - pos), pos);
    if (bytesRead === 0) return;
    const chunk = buf.subarray(0, bytesRead);
    pos += bytesRead;
    for (const l of splitter.push(chunk)) yield [l, pos];
  }
}

/** The offset of the last `n` lines between `from` and `end`, read backwards in chunks. */
async function tailOffset(fh: FileHandle, from: number, end: number, n: number): Promise<number> {
  const buf = Buffer.alloc(CHUNK);
  let count = 0;
  // The byte before `end` ends the last line: it does not start another.
  for (let hi = end - 1; hi > from; ) {
    const lo = Math.max(from, hi - CHUNK);
    const { bytesRead } = await fh.read(buf, 0, hi - lo, lo);
    for (let i = bytesRead - 1; i >= 0; i--) {
      if (buf[i] === 0x0a && ++count === n) return lo + i + 1;
    }
    hi = lo;
  }
  return from;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal.removeEventListener("abort", done);
      resolve();
    }
    signal.addEventListener("abort", done, { once: true });
  });
}
