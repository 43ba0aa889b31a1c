/**
 * The event log: every action, its result and every alert transition as one JSON line in
 * `<dir>/events.jsonl`, rotated to `events.1.jsonl` … `events.<keep>.jsonl`. Appending is synchronous
 * for the caller (the record gets its `seq` at once and is visible in `recent()` and to subscribers);
 * the disk write is queued and never blocks the reconcile loop. Secrets never reach the log: keys
 * named token, password, secret, authorization or cookie are redacted at any depth before anything
 * else sees the record.
 *
 * One piece (~300 lines) on purpose: appending, rotation, the tail read at start and redaction share one
 * file layout and one sequence counter.
 */
import { appendFile, mkdir, open, rename, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import type { Logger } from "../../common/log.js";
import { clip, deepFreeze } from "../../common/values.js";
import { MAX_EVENT_MESSAGE_CHARS } from "../../specs/defaults.js";
import type { EventRecord, EventType } from "../../specs/api/events.js";

/** One line of the event log (contract: served by `GET /api/v1/events` and its SSE stream). */
/** One record of the event log; its schema is the API contract (specs/api/events.ts). */
export type { EventRecord, EventType };

export interface EventLogOptions {
  dir: string;
  /** Rotate before the current file would grow above this many bytes. Default 10 MiB. */
  maxBytes?: number;
  /** Rotated files kept besides the current one. Default 5. */
  keep?: number;
  /** Recent records kept in memory for `recent()`. Default 1000. */
  memory?: number;
  /** Where write errors are reported; the log never throws them at the caller. */
  logger?: Logger;
}

export const EVENT_LOG_FILE = "events.jsonl";
export const DEFAULT_EVENT_LOG_MAX_BYTES = 10 * 1024 * 1024;
export const DEFAULT_EVENT_LOG_KEEP = 5;
export const DEFAULT_EVENT_LOG_MEMORY = 1000;
/** Keys whose values never reach the event log, compared case-insensitively. */
export const REDACTED_EVENT_KEYS: ReadonlySet<string> = new Set(["token", "password", "secret", "authorization", "cookie"]);
const REDACTED = "[redacted]";
const MAX_DEPTH = 10;

export class EventLog {
  readonly file: string;
  private readonly dir: string;
  private readonly maxBytes: number;
  private readonly keep: number;
  private readonly memory: number;
  private readonly logger: Logger | undefined;
  private records: EventRecord[] = [];
  private readonly subscribers = new Set<(r: EventRecord) => void>();
  private nextSeq = 1;
  private size = 0;
  /** The file ended in a torn line (crash mid-write): start the next write on a fresh line. */
  private needsNewline = false;
  private pending: string[] = [];
  private writing: Promise<void> | null = null;
  private state: "new" | "open" | "closed" = "new";

  constructor(o: EventLogOptions) {
    this.file = join(o.dir, EVENT_LOG_FILE);
    this.maxBytes = Math.max(1, o.maxBytes ?? DEFAULT_EVENT_LOG_MAX_BYTES);
    this.keep = Math.max(0, Math.floor(o.keep ?? DEFAULT_EVENT_LOG_KEEP));
    this.memory = Math.max(1, Math.floor(o.memory ?? DEFAULT_EVENT_LOG_MEMORY));
    this.logger = o.logger;
    this.dir = o.dir;
  }

  /** Creates the folder and reads the newest records back, so `seq` continues where the last run stopped. */
  async open(): Promise<void> {
    if (this.state !== "new") throw new Error("event log: open() called twice");
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    const current = await tailRecords(this.file, this.memory);
    this.size = current.size;
    this.needsNewline = current.torn;
    let found = current.records;
    // Right after a rotation the current file is empty: the newest records are in the rotated files.
    for (let i = 1; i <= this.keep && found.length < this.memory; i++) {
      const older = await tailRecords(this.rotated(i), this.memory - found.length);
      found = [...older.records, ...found];
    }
    this.records = found.slice(-this.memory);
    const last = this.records.at(-1);
    this.nextSeq = last ? last.seq + 1 : 1;
    this.state = "open";
  }

  /** Records an event now and queues its write. Never blocks and never throws on I/O errors. */
  append(rec: Omit<EventRecord, "seq" | "ts"> & { ts?: string }): EventRecord {
    if (this.state === "new") throw new Error("event log: append() before open()");
    const { ts, type, message, ...details } = rec;
    const record = deepFreeze({
      ...(sanitize(details, 0, new WeakSet()) as Record<string, unknown>),
      seq: this.nextSeq++,
      ts: ts ?? new Date().toISOString(),
      type,
      message: clip(String(message), MAX_EVENT_MESSAGE_CHARS),
    } as EventRecord);
    this.records.push(record);
    if (this.records.length > this.memory) this.records.splice(0, this.records.length - this.memory);
    if (this.state === "closed") {
      this.logger?.warn({ seq: record.seq, type: record.type, event: record.message }, "event log closed; event kept in memory only");
    } else {
      this.pending.push(JSON.stringify(record) + "\n");
      this.writing ??= this.drain();
    }
    for (const fn of this.subscribers) {
      try {
        fn(record);
      } catch (err) {
        this.logger?.error({ err }, "event log subscriber failed");
      }
    }
    return record;
  }

  /**
   * Records from memory, oldest first: those after `afterSeq` (if given) of `type` (if given), at most
   * the newest `limit`. A client resuming with `afterSeq` that fell more than `limit` behind sees a jump
   * in `seq`, which tells it that it missed records.
   */
  recent(o: { limit?: number; afterSeq?: number; type?: EventType } = {}): EventRecord[] {
    let out = this.records;
    if (o.afterSeq !== undefined) {
      const after = o.afterSeq;
      out = out.filter((r) => r.seq > after);
    }
    if (o.type !== undefined) out = out.filter((r) => r.type === o.type);
    const limit = o.limit === undefined ? out.length : Math.max(0, Math.floor(o.limit));
    return limit === 0 ? [] : out.slice(-limit);
  }

  /** Calls `fn` synchronously with every appended record; returns the unsubscribe function. */
  subscribe(fn: (r: EventRecord) => void): () => void {
    this.subscribers.add(fn);
    return () => void this.subscribers.delete(fn);
  }

  /** Resolves when every record appended so far is written to the file. */
  async flush(): Promise<void> {
    while (this.writing) await this.writing;
  }

  /** Writes what is queued, then stops writing. Subscribers are dropped. */
  async close(): Promise<void> {
    if (this.state === "closed") return;
    await this.flush();
    this.state = "closed";
    this.subscribers.clear();
  }

  private rotated(i: number): string {
    return join(this.dir, `events.${i}.jsonl`);
  }

  /** The single writer: takes everything queued, writes it in file-sized chunks, rotates between them. */
  private async drain(): Promise<void> {
    try {
      while (this.pending.length > 0) {
        const lines = this.pending;
        this.pending = [];
        let chunk = "";
        let chunkBytes = 0;
        for (const line of lines) {
          const bytes = Buffer.byteLength(line);
          if (this.size + chunkBytes + bytes > this.maxBytes && this.size + chunkBytes > 0) {
            await this.write(chunk, chunkBytes);
            chunk = "";
            chunkBytes = 0;
            await this.rotate();
          }
          chunk += line;
          chunkBytes += bytes;
        }
        await this.write(chunk, chunkBytes);
      }
    } finally {
      this.writing = null;
    }
  }

  private async write(chunk: string, bytes: number): Promise<void> {
    if (bytes === 0) return;
    const data = this.needsNewline ? "\n" + chunk : chunk;
    try {
      await appendFile(this.file, data, { mode: 0o600 });
      this.size += Buffer.byteLength(data);
      this.needsNewline = false;
    } catch (err) {
      // Disk full or permissions: the records stay in memory; the loop must not stop for the log.
      this.logger?.error({ err, file: this.file, lost: chunk.split("\n").length - 1 }, "event log write failed");
    }
  }

  private async rotate(): Promise<void> {
    try {
      if (this.keep === 0) {
        await rm(this.file, { force: true });
      } else {
        await rm(this.rotated(this.keep), { force: true });
        for (let i = this.keep - 1; i >= 1; i--) await renameIfExists(this.rotated(i), this.rotated(i + 1));
        await renameIfExists(this.file, this.rotated(1));
      }
      this.size = 0;
      this.needsNewline = false;
    } catch (err) {
      this.logger?.error({ err, file: this.file }, "event log rotation failed");
    }
  }
}

/** A JSON-safe deep copy with secrets redacted, cycles cut and depth bounded. */
export function sanitize(value: unknown, depth = 0, seen: WeakSet<object> = new WeakSet()): unknown {
  if (value === null || typeof value === "string" || typeof value === "boolean") return value;
  if (typeof value === "number") return Number.isFinite(value) ? value : String(value);
  if (typeof value === "bigint") return value.toString();
  if (typeof value !== "object") return undefined; // functions, symbols, undefined
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? null : value.toISOString();
  if (value instanceof Error) return { name: value.name, message: value.message, ...("code" in value ? { code: sanitize(value.code, depth + 1, seen) } : {}) };
  if (seen.has(value)) return "[circular]";
  if (depth >= MAX_DEPTH) return "[truncated]";
  seen.add(value);
  try {
    if (Array.isArray(value)) return value.map((v) => sanitize(v, depth + 1, seen) ?? null);
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      if (REDACTED_EVENT_KEYS.has(k.toLowerCase())) {
        out[k] = REDACTED;
        continue;
      }
      const s = sanitize(v, depth + 1, seen);
      if (s !== undefined) out[k] = s;
    }
    return out;
  } finally {
    seen.delete(value);
  }
}

async function renameIfExists(from: string, to: string): Promise<void> {
  try {
    await rename(from, to);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
  }
}

const TAIL_CHUNK = 64 * 1024;

/**
 * The last `want` parseable records of a JSON-lines file, read backwards in chunks so a large file
 * costs only its tail. Unparseable lines (a torn write after a crash) are skipped.
 */
async function tailRecords(file: string, want: number): Promise<{ records: EventRecord[]; size: number; torn: boolean }> {
  let size: number;
  try {
    size = (await stat(file)).size;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return { records: [], size: 0, torn: false };
    throw err;
  }
  if (size === 0 || want <= 0) return { records: [], size, torn: false };
  const fh = await open(file, "r");
  try {
    const last = Buffer.alloc(1);
    await fh.read(last, 0, 1, size - 1);
    const torn = last[0] !== 0x0a;
    const records: EventRecord[] = [];
    let pos = size;
    let carry = Buffer.alloc(0);
    while (pos > 0 && records.length < want) {
      const len = Math.min(TAIL_CHUNK, pos);
      pos -= len;
      const buf = Buffer.alloc(len);
      await fh.read(buf, 0, len, pos);
      let data = Buffer.concat([buf, carry]);
      // Everything before the first newline may be a partial line: keep it for the next chunk.
      const first = pos > 0 ? data.indexOf(0x0a) : -1;
      carry = first >= 0 ? data.subarray(0, first) : pos > 0 ? data : Buffer.alloc(0);
      if (pos > 0 && first < 0) continue;
      data = data.subarray(first + 1);
      const lines = data.toString("utf8").split("\n");
      const parsed: EventRecord[] = [];
      for (const line of lines) {
        const r = parseRecord(line);
        if (r) parsed.push(r);
      }
      records.unshift(...parsed);
    }
    return { records: records.slice(-want), size, torn };
  } finally {
    await fh.close();
  }
}

function parseRecord(line: string): EventRecord | null {
  if (!line.trim()) return null;
  try {
    const v = JSON.parse(line) as unknown;
    if (v && typeof v === "object" && Number.isSafeInteger((v as EventRecord).seq) && typeof (v as EventRecord).type === "string") {
      return deepFreeze(v as EventRecord);
    }
  } catch {
    // a torn or foreign line
  }
  return null;
}
