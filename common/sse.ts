import type { IncomingMessage, ServerResponse } from "node:http";

/** Reading server-sent events: feed raw chunks, get back the data of every complete event. */
export class SseParser {
  private buf = "";
  private readonly decoder = new TextDecoder();

  /** The data of each event completed by this chunk (comments and heartbeats yield nothing). */
  push(chunk: Uint8Array): string[] {
    this.buf += this.decoder.decode(chunk, { stream: true });
    const out: string[] = [];
    let i: number;
    while ((i = this.buf.indexOf("\n\n")) >= 0) {
      const frame = this.buf.slice(0, i);
      this.buf = this.buf.slice(i + 2);
      const data = frame.split("\n").filter((l) => l.startsWith("data: ")).map((l) => l.slice(6)).join("\n");
      if (data) out.push(data);
    }
    return out;
  }
}

/** Bounds of a server's event streams. */
export interface SseLimits {
  /** Streams one server holds at once; the next one is refused until one closes. */
  maxStreams: number;
  /** A stream whose unsent bytes grow past this is closed: its client does not read. */
  maxBufferedBytes: number;
  /** A comment this often, so proxies and clients notice dead connections. */
  heartbeatMs: number;
}

/** One open event stream. Writing never buffers more than `maxBufferedBytes` (plus one frame). */
export interface SseStream {
  /** Sends one event; a stream whose client stopped reading is closed instead of buffering on. */
  send(event: string, data: string, id?: number): void;
  /** Called once when the stream closes, for whatever reason. */
  onClose(fn: () => void): void;
  /** Ends the stream (say its user lost access). */
  end(): void;
}

/**
 * The writing side of server-sent events, shared by the agent's /v1/watch and the reconciler's
 * /api/v1/events: a cap on concurrent streams, heartbeats, and backpressure. Every event is a full
 * snapshot or a log record the client can fetch again, so a client that does not keep up is
 * disconnected (it reconnects and resumes) rather than buffered for without bound.
 */
export class SseHub {
  private readonly streams = new Set<ServerResponse>();

  constructor(
    private readonly limits: SseLimits,
    /** Told when a stream is closed for not reading (for the log). */
    private readonly onSlowClient: (bufferedBytes: number) => void = () => undefined,
  ) {}

  get size(): number {
    return this.streams.size;
  }

  get full(): boolean {
    return this.streams.size >= this.limits.maxStreams;
  }

  /** Writes the headers and starts a stream on `res`, or answers null when the hub is full. */
  open(req: IncomingMessage, res: ServerResponse): SseStream | null {
    if (this.full) return null;
    this.streams.add(res);
    res.writeHead(200, { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-store", connection: "keep-alive", "x-accel-buffering": "no" });
    const closers: (() => void)[] = [];
    let closed = false;
    const write = (frame: string) => {
      if (closed) return;
      res.write(frame);
      if (res.writableLength > this.limits.maxBufferedBytes) {
        this.onSlowClient(res.writableLength);
        res.destroy();
        done();
      }
    };
    const beat = setInterval(() => write(": keep-alive\n\n"), this.limits.heartbeatMs);
    beat.unref();
    const done = () => {
      if (closed) return;
      closed = true;
      clearInterval(beat);
      this.streams.delete(res);
      for (const fn of closers.splice(0)) fn();
    };
    req.on("close", done);
    res.on("close", done);
    res.on("error", done);
    return {
      send: (event, data, id) => write(`${id !== undefined ? `id: ${id}\n` : ""}event: ${event}\ndata: ${data}\n\n`),
      onClose: (fn) => {
        if (closed) fn();
        else closers.push(fn);
      },
      end: () => res.end(),
    };
  }

  /** Ends every stream (server shutdown: streams never end by themselves). */
  endAll(): void {
    for (const res of this.streams) res.end();
  }
}
