/**
 * A recording upstream for router conformance tests: a raw TCP server that logs every byte of every
 * connection, finds where each request ends with llhttp, and answers each one with bytes a responder
 * chooses (by default a correctly framed echo, so pooled connections keep working).
 *
 * It behaves like an ordinary origin server that does not speak WebSocket unless asked: an upgrade
 * request it refuses is answered and the bytes after it are read as the next request (what Node's and
 * Python's servers do), which is how early data smuggled behind an upgrade request shows up.
 */
import { createServer, type AddressInfo, type Server, type Socket } from "node:net";
import { LlhttpStream, header, type HttpMessage } from "./llhttp.js";

export interface UpstreamConnLog {
  id: number;
  chunks: Buffer[];
  /** Requests llhttp found on this connection, in order. */
  requests: UpstreamRequest[];
  /** llhttp's error on this connection ("" when none). */
  error: string;
  /** Index of the upgrade request answered with 101 (the rest is tunnel bytes), or -1. */
  switchAt: number;
  closed: boolean;
  /** The upstream answered with `close`: it read no further (bytes after that are logged, not requests). */
  closedByUs: boolean;
  socket: Socket;
}

export interface UpstreamRequest {
  /** Sequence number over the whole upstream (sent back as x-echo-seq). */
  seq: number;
  conn: number;
  msg: HttpMessage;
}

/**
 * What to send for a request: raw response bytes; `close` ends the connection after them (nothing after is
 * read, as a server that closes does); `closeSoon` reads on for a moment first (a server that answered a
 * refused upgrade and still reads what follows); `upgrade` switches protocols.
 */
export interface Answer {
  bytes: Buffer | string;
  close?: boolean;
  closeSoon?: boolean;
  upgrade?: boolean;
}

export type Responder = (req: UpstreamRequest) => Answer | null;

export const ECHO_SEQ = "x-echo-seq";

/** The default answer: 200 with the request's method, target, Host and body length as JSON, and its seq. */
export function echo(req: UpstreamRequest): Answer {
  const m = req.msg;
  if (m.upgrade) {
    if (m.target.startsWith("/ws-ok")) return { bytes: "HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: upgrade\r\n\r\n", upgrade: true };
    const b = "no upgrade here\n";
    // Answered and closed: the router passes a refused upgrade's answer through until the upstream closes.
    return { bytes: `HTTP/1.1 400 Bad Request\r\ncontent-type: text/plain\r\ncontent-length: ${b.length}\r\n${ECHO_SEQ}: ${req.seq}\r\n\r\n${b}`, closeSoon: true };
  }
  const body = JSON.stringify({ seq: req.seq, method: m.method, target: m.target, host: header(m, "host") ?? null, bodyLength: m.body.length });
  const head = `HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n${ECHO_SEQ}: ${req.seq}\r\n\r\n`;
  return { bytes: m.method === "HEAD" ? head : head + body };
}

export class RecordingUpstream {
  readonly conns: UpstreamConnLog[] = [];
  readonly requests: UpstreamRequest[] = [];
  port = 0;
  responder: Responder = echo;
  private seq = 0;
  private readonly server: Server;

  constructor() {
    this.server = createServer({ noDelay: true }, (s) => this.accept(s));
  }

  async start(): Promise<void> {
    await new Promise<void>((r) => this.server.listen(0, "127.0.0.1", r));
    this.port = (this.server.address() as AddressInfo).port;
  }

  /** Ends every open connection (the router's pooled ones included). */
  dropAll(): void {
    for (const c of this.conns) if (!c.closed) c.socket.destroy();
  }

  /**
   * Ends every open connection gracefully and waits until each one has closed, which means the router has
   * seen the end and closed its side (so it no longer holds any of them in its pool); destroys the rest
   * after `ms`.
   */
  async endAll(ms: number): Promise<void> {
    const open = this.conns.filter((c) => !c.closed);
    for (const c of open) c.socket.end();
    const deadline = Date.now() + ms;
    while (open.some((c) => !c.closed) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 1));
    for (const c of open) if (!c.closed) c.socket.destroy();
  }

  /** Forgets the logs (call between test cases, after dropAll). */
  reset(): void {
    this.conns.length = 0;
    this.requests.length = 0;
  }

  async close(): Promise<void> {
    this.dropAll();
    await new Promise<void>((r) => this.server.close(() => r()));
  }

  /** What a second parser read on `c` that the upstream itself took (nothing after its closing answer). */
  static taken<T>(c: UpstreamConnLog, msgs: T[]): T[] {
    return c.closedByUs ? msgs.slice(0, c.requests.length) : msgs;
  }

  /** The raw bytes one connection received. */
  static bytes(c: UpstreamConnLog): Buffer {
    return Buffer.concat(c.chunks);
  }

  private accept(socket: Socket): void {
    const log: UpstreamConnLog = { id: this.conns.length, chunks: [], requests: [], error: "", switchAt: -1, closed: false, closedByUs: false, socket };
    this.conns.push(log);
    let parser = new LlhttpStream("request");
    let base = 0; // where the current parser's bytes start in the connection
    let seen = 0; // messages of the current parser already answered
    let stopped = false;
    socket.on("error", () => {});
    socket.on("close", () => {
      log.closed = true;
      parser.close();
    });
    socket.on("end", () => {
      if (!stopped) {
        const r = parser.end();
        this.take(log, r.messages.slice(seen), socket);
        if (r.error !== "" && log.error === "") log.error = r.error;
      }
      socket.end();
    });
    const feed = (d: Buffer): void => {
      const ok = parser.push(d);
      const r = parser.result;
      const fresh = r.messages.slice(seen);
      seen = r.messages.length;
      const switched = this.take(log, fresh, socket);
      if (switched || socket.destroyed) { stopped = true; return; }
      if (r.error !== "") {
        log.error = r.error;
        stopped = true;
        socket.end("HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
        return;
      }
      if (!ok && r.upgradeAt >= 0) {
        // Refused upgrade: read on, as an ordinary server does, from where the upgrade request ended.
        const rest = Buffer.concat(log.chunks).subarray(base + r.upgradeAt);
        base += r.upgradeAt;
        parser.close();
        parser = new LlhttpStream("request");
        seen = 0;
        feed(rest);
      }
    };
    socket.on("data", (d: Buffer) => {
      log.chunks.push(d);
      if (!stopped) feed(d);
    });
  }

  /** Answers new requests; true once the connection switched protocols or was closed. */
  private take(log: UpstreamConnLog, msgs: HttpMessage[], socket: Socket): boolean {
    for (const msg of msgs) {
      const req: UpstreamRequest = { seq: this.seq++, conn: log.id, msg };
      log.requests.push(req);
      this.requests.push(req);
      if (socket.destroyed) continue;
      const a = this.responder(req);
      if (a === null) continue;
      if (a.close) {
        log.closedByUs = true;
        socket.end(a.bytes);
        return true;
      }
      socket.write(a.bytes);
      if (a.closeSoon) setTimeout(() => socket.end(), 20).unref();
      if (a.upgrade) {
        log.switchAt = log.requests.length - 1;
        return true;
      }
    }
    return false;
  }
}
