/**
 * Node's llhttp (the parser node:http itself uses), driven directly and synchronously so that a test can
 * feed it any bytes and learn exactly where each message ends. Strict settings, like node:http's defaults,
 * but with a 1 MiB head limit so that size limits never hide a framing disagreement.
 */

interface ParserBinding {
  HTTPParser: {
    new (): NativeParser;
    REQUEST: number;
    RESPONSE: number;
    kOnHeaders: number;
    kOnHeadersComplete: number;
    kOnBody: number;
    kOnMessageComplete: number;
  };
  allMethods: string[];
}
interface NativeParser {
  initialize(type: number, resource: object, maxHeaderSize: number, lenient: number): void;
  execute(b: Buffer): number | (Error & { code?: string; bytesParsed?: number; reason?: string });
  finish(): undefined | (Error & { code?: string });
  close(): void;
  [k: number]: unknown;
}

/** One parsed message. `headers` keeps names as sent, in order. */
export interface HttpMessage {
  method: string;
  target: string;
  status: number;
  version: string;
  headers: Array<[string, string]>;
  body: Buffer;
  /** The parser saw an upgrade (request with Upgrade, CONNECT, or a 101 answer). */
  upgrade: boolean;
}

export interface ParseResult {
  messages: HttpMessage[];
  /** Parse error code (HPE_…) with its reason, or "" when the bytes were fine as far as they went. */
  error: string;
  /** The last message was not complete when the bytes (and the stream, with `eof`) ended. */
  incomplete: boolean;
  /** Offset where bytes after an upgrade start (-1: no upgrade). */
  upgradeAt: number;
}

let binding: ParserBinding | null = null;
function parserBinding(): ParserBinding {
  if (binding === null) {
    // process.binding is deprecated for applications; here it is the only synchronous way into llhttp.
    const prev = process.noDeprecation;
    process.noDeprecation = true;
    try {
      binding = (process as unknown as { binding(name: string): ParserBinding }).binding("http_parser");
    } finally {
      process.noDeprecation = prev;
    }
  }
  return binding;
}

const MAX_HEAD = 1 << 20;

/**
 * An incremental llhttp parser over one connection's bytes. For responses, `methods` lists the request
 * methods in order (a HEAD answer has no body). After an upgrade (a request that asks for one, CONNECT, or a
 * 101 answer) it stops: `upgradeAt` says where the other protocol's bytes start.
 */
export class LlhttpStream {
  readonly result: ParseResult = { messages: [], error: "", incomplete: false, upgradeAt: -1 };
  private readonly p: NativeParser;
  private cur: HttpMessage | null = null;
  private pendingHeaders: string[] = [];
  private pendingUrl = "";
  private bodies: Buffer[] = [];
  private consumed = 0;
  private done = false;

  constructor(readonly kind: "request" | "response", private readonly methods: readonly string[] = []) {
    const b = parserBinding();
    const P = b.HTTPParser;
    const p = new P();
    this.p = p;
    p.initialize(kind === "request" ? P.REQUEST : P.RESPONSE, {}, MAX_HEAD, 0);
    p[P.kOnHeaders] = (h: string[], url: string) => { this.pendingHeaders.push(...h); this.pendingUrl += url; };
    p[P.kOnHeadersComplete] = (major: number, minor: number, h: string[] | undefined, method: number | undefined, url: string | undefined,
      status: number | undefined, _reason: string | undefined, upgrade: boolean): number => {
      const flat = h ?? this.pendingHeaders;
      const headers: Array<[string, string]> = [];
      for (let i = 0; i + 1 < flat.length; i += 2) headers.push([flat[i]!, flat[i + 1]!]);
      this.cur = {
        method: method === undefined ? "" : b.allMethods[method] ?? "?", target: url || this.pendingUrl, status: status ?? 0,
        version: `${major}.${minor}`, headers, body: Buffer.alloc(0), upgrade,
      };
      this.pendingHeaders = [];
      this.pendingUrl = "";
      this.bodies = [];
      if (kind === "response") {
        const st = status ?? 0;
        if (st >= 100 && st < 200 && st !== 101) return 1; // interim: no body, the final answer follows
        if (this.methods[this.finals()] === "HEAD") return 1;
      }
      return 0;
    };
    p[P.kOnBody] = (chunk: Buffer) => { this.bodies.push(Buffer.from(chunk)); };
    p[P.kOnMessageComplete] = () => {
      // Trailer fields arrive through kOnHeaders (with the URL again): not part of the next message.
      this.pendingHeaders = [];
      this.pendingUrl = "";
      const m = this.cur;
      if (m === null) return;
      m.body = Buffer.concat(this.bodies);
      this.result.messages.push(m);
      this.cur = null;
    };
  }

  /** Feeds more bytes; returns false once the parser stopped (error or upgrade). */
  push(d: Buffer): boolean {
    if (this.done) return false;
    if (d.length === 0) return true;
    const r = this.p.execute(d);
    if (typeof r !== "number") {
      this.result.error = `${r.code ?? "error"}: ${r.reason ?? r.message}`;
      this.stop();
      return false;
    }
    const last = this.result.messages[this.result.messages.length - 1];
    if (this.cur === null && last !== undefined && last.upgrade && (this.kind === "request" || last.status === 101) && r <= d.length) {
      if (this.upgradeSeen < this.result.messages.length) {
        this.upgradeSeen = this.result.messages.length;
        this.result.upgradeAt = this.consumed + r;
        this.stop();
        return false;
      }
    }
    this.consumed += d.length;
    return true;
  }

  /** The stream ended: completes an until-close body, or marks the last message incomplete. */
  end(): ParseResult {
    if (!this.done) {
      const f = this.p.finish();
      // An unfinished message at the end of the stream is "incomplete", not a parse error.
      if (f !== undefined && this.result.error === "" && f.code !== "HPE_INVALID_EOF_STATE") this.result.error = `${f.code ?? "error"}: ${f.message}`;
      this.result.incomplete = this.cur !== null || f?.code === "HPE_INVALID_EOF_STATE";
      this.stop();
    }
    return this.result;
  }

  /** Frees the native parser (it is not garbage-collected while open); the result stays readable. */
  close(): void {
    this.stop();
  }

  /** Bytes fed so far that belong to complete or partial messages. */
  get offset(): number {
    return this.consumed;
  }

  private upgradeSeen = 0;

  private finals(): number {
    let n = 0;
    for (const x of this.result.messages) if (x.status >= 200 || x.status === 101) n++;
    return n;
  }

  private stop(): void {
    if (this.done) return;
    this.done = true;
    this.result.incomplete ||= this.cur !== null;
    this.p.close();
  }
}

/** Parses a whole byte stream (see LlhttpStream); `eof` when the stream ended right after `bytes`. */
export function llhttpParse(kind: "request" | "response", bytes: Buffer, methods: readonly string[] = [], eof = true): ParseResult {
  const s = new LlhttpStream(kind, methods);
  if (s.push(bytes) && eof) s.end();
  s.close();
  return s.result;
}

/** The first value of a header (case-insensitive), or undefined. */
export function header(m: HttpMessage, name: string): string | undefined {
  const lower = name.toLowerCase();
  for (const [k, v] of m.headers) if (k.toLowerCase() === lower) return v;
  return undefined;
}
