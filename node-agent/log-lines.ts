/**
 * Turning a workload's output into log lines, bounded: a line longer than the cap is cut (and marked),
 * so no line, however long, costs more than the cap in memory. Used by both runtimes.
 */
import type { LogLine } from "../specs/logs.js";

type Stream = LogLine["stream"];

/** Splits a byte stream into lines of at most `maxBytes` bytes (the rest of a longer line is dropped). */
export class LineSplitter {
  private parts: Buffer[] = [];
  private held = 0;
  private cut = false;

  constructor(private readonly maxBytes: number) {}

  /** The lines this chunk completes. */
  push(chunk: Buffer): { text: string; truncated: boolean }[] {
    const out: { text: string; truncated: boolean }[] = [];
    let from = 0;
    for (;;) {
      const nl = chunk.indexOf(0x0a, from);
      if (nl < 0) {
        this.keep(chunk.subarray(from));
        return out;
      }
      // A whole line inside this chunk (the usual case) is decoded in place, without a copy.
      if (this.held === 0 && !this.cut) out.push(text(chunk, from, Math.min(nl, from + this.maxBytes), nl - from > this.maxBytes));
      else {
        this.keep(chunk.subarray(from, nl));
        out.push(this.take());
      }
      from = nl + 1;
    }
  }

  /** What is left without a newline at the end of the stream, if anything. */
  flush(): { text: string; truncated: boolean } | undefined {
    return this.held > 0 || this.cut ? this.take() : undefined;
  }

  private keep(b: Buffer): void {
    const room = this.maxBytes - this.held;
    if (b.length > room) this.cut = true;
    const kept = b.length > room ? b.subarray(0, Math.max(0, room)) : b;
    if (kept.length > 0) {
      this.parts.push(Buffer.from(kept));
      this.held += kept.length;
    }
  }

  private take(): { text: string; truncated: boolean } {
    const joined = Buffer.concat(this.parts, this.held);
    const r = text(joined, 0, joined.length, this.cut);
    this.parts = [];
    this.held = 0;
    this.cut = false;
    return r;
  }
}

function text(b: Buffer, from: number, to: number, truncated: boolean): { text: string; truncated: boolean } {
  const end = to > from && b[to - 1] === 0x0d ? to - 1 : to;
  return { text: b.toString("utf8", from, end), truncated };
}

/** A time as ISO 8601 with nine fractional digits, so times of every source sort as text. */
export function isoNano(t: string | Date): string {
  const s = typeof t === "string" ? t : t.toISOString();
  const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?Z$/.exec(s);
  return m ? `${m[1]}.${(m[2] ?? "").padEnd(9, "0")}Z` : s;
}

export function logLine(stream: Stream, t: string | null, l: { text: string; truncated: boolean }): LogLine {
  return { type: "line", t, stream, line: l.text, ...(l.truncated ? { truncated: true as const } : {}) };
}

/**
 * Docker's log stream without a TTY, with `timestamps`: frames of an 8-byte header (1 = stdout, 2 = stderr;
 * a 32-bit length) around lines that start with an RFC 3339 time. Yields one LogLine per line.
 */
export async function* dockerLogLines(source: AsyncIterable<Buffer>, maxLineBytes: number): AsyncGenerator<LogLine> {
  const splitters = { stdout: new LineSplitter(maxLineBytes + 40), stderr: new LineSplitter(maxLineBytes + 40) };
  let pending = Buffer.alloc(0);
  let stream: Stream = "stdout";
  let left = 0; // payload bytes of the current frame still to come
  for await (const chunk of source) {
    let buf = pending.length > 0 ? Buffer.concat([pending, chunk]) : chunk;
    pending = Buffer.alloc(0);
    while (buf.length > 0) {
      if (left === 0) {
        if (buf.length < 8) {
          pending = Buffer.from(buf);
          break;
        }
        stream = buf[0] === 2 ? "stderr" : "stdout";
        left = buf.readUInt32BE(4);
        buf = buf.subarray(8);
        continue;
      }
      const n = Math.min(left, buf.length);
      for (const l of splitters[stream].push(buf.subarray(0, n))) yield stamped(stream, l, maxLineBytes);
      left -= n;
      buf = buf.subarray(n);
    }
  }
  for (const s of ["stdout", "stderr"] as const) {
    const l = splitters[s].flush();
    if (l) yield stamped(s, l, maxLineBytes);
  }
}

function stamped(stream: Stream, l: { text: string; truncated: boolean }, maxLineBytes: number): LogLine {
  const m = /^(\d{4}-\d\d-\d\dT\S+Z) /.exec(l.text);
  const text = m ? l.text.slice(m[0].length) : l.text;
  const over = Buffer.byteLength(text) > maxLineBytes;
  const line = over ? Buffer.from(text).subarray(0, maxLineBytes).toString("utf8") : text;
  return logLine(stream, m ? isoNano(m[1]!) : null, { text: line, truncated: l.truncated || over });
}
