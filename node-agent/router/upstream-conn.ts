/**
 * One pooled keep-alive connection to an upstream node. It writes a request's head and body as the client
 * connection hands them over, parses the response head, and forwards the response to the client as it
 * arrives, so nothing is buffered and server-sent events stream. Framing is the router's: a Content-Length
 * body passes through byte for byte up to its length; a chunked body is decoded here and framed anew by the
 * client connection (no upstream chunk extensions or trailers reach the client).
 *
 * Hot path: per-connection closures only, state in fields, no promises, no per-request timers (a periodic
 * sweep enforces connect, header and idle timeouts).
 *
 * Why one file past 300 lines: it is one hot-path state machine (connecting, writing, reading the head,
 * forwarding a Content-Length or chunked body, idle in the pool) on one socket's fields; the chunked decoder
 * and the head parser already live apart (chunked.ts, response-head.ts).
 */
import { connect, type Socket } from "node:net";
import type { Upstream } from "./upstream.js";
import type { ClientConn } from "./client-conn.js";
import { BODY_CHUNKED, BODY_LENGTH, BODY_NONE, ResponseHead } from "./response-head.js";
import { CHUNKED_ERROR, CHUNKED_MORE, ChunkedScanner } from "./chunked.js";
import { MAX_RESPONSE_HEAD_BYTES } from "./limits.js";

const S_CONNECTING = 0;
const S_IDLE = 1;
const S_HEAD = 2;
const S_LENGTH = 3;
const S_CHUNKED = 4;
const S_UNTIL_CLOSE = 5;

const CRLFCRLF = Buffer.from("\r\n\r\n", "latin1");
/**
 * Each connection reads into a buffer of its own (net's `onread`), which skips the Readable stream
 * machinery and a 64 KiB allocation per read. Bytes that outlive a read callback are copied, or the buffer
 * is handed over to the pending client write and replaced.
 */
const READ_BUFFER_BYTES = 16 * 1024;
/** Request body bytes held while connecting (they are replayed on a retry); more pauses the client. */
const MAX_PENDING_BODY = 256 * 1024;

export class UpstreamConn {
  readonly socket: Socket;
  connected = false;
  /** Exchanges carried, counting the current one. */
  uses = 0;
  idleSince = 0;
  state = S_CONNECTING;
  /** The client connection whose request this connection is serving (null while idle). */
  client: ClientConn | null = null;
  /** Connect error code, or ETIMEDOUT after a connect timeout. */
  lastError = "";
  /** While connecting: the request head and body bytes to write once connected. */
  pendingHead = "";
  pendingBody: Buffer[] | null = null;
  private pendingBytes = 0;
  private reusable = true;
  private noBody = false;
  /** Any response byte arrived for the current exchange. */
  gotAny = false;
  private phaseAt = 0;
  private activity = 0;
  private seenActivity = -1;
  private seenAt = 0;
  private readonly rh = new ResponseHead();
  private readonly chunks = new ChunkedScanner();
  private buf: Buffer | null = null;
  private remaining = 0;
  private readonly onDecoded: (slice: Buffer) => void;
  private readBuf = Buffer.allocUnsafe(READ_BUFFER_BYTES);

  constructor(readonly upstream: Upstream) {
    const s = connect({
      host: upstream.address,
      port: upstream.port,
      lookup: upstream.ctx.lookup,
      noDelay: true,
      onread: { buffer: () => this.readBuf, callback: (n: number, b: Uint8Array) => this.onRead(n, b as Buffer) },
    });
    this.socket = s;
    this.phaseAt = Date.now();
    s.on("connect", () => this.onConnect());
    s.on("drain", () => { this.client?.upstreamDrained(); });
    s.on("error", (e: NodeJS.ErrnoException) => { this.lastError = e.code ?? e.message; });
    s.on("close", () => this.onClose());
    this.onDecoded = (slice: Buffer) => { this.client!.respondChunk(slice); };
  }

  /** Starts an exchange for `client`: writes `head` now, or once connected. */
  attach(client: ClientConn, head: string, pendingBody: Buffer[] | null, noBody: boolean): void {
    this.client = client;
    this.uses++;
    this.reusable = true;
    this.gotAny = false;
    this.noBody = noBody;
    this.buf = null;
    if (this.connected) {
      this.state = S_HEAD;
      this.phaseAt = Date.now();
      if (pendingBody === null) this.socket.write(head, "latin1");
      else this.writeAll(head, pendingBody);
    } else {
      this.state = S_CONNECTING;
      this.pendingHead = head;
      this.pendingBody = pendingBody;
      this.pendingBytes = 0;
    }
  }

  /** Request body bytes from the client; false asks the client to pause reading. */
  sendBody(d: Buffer): boolean {
    if (this.connected) return this.socket.write(d);
    (this.pendingBody ??= []).push(d);
    this.pendingBytes += d.length;
    return this.pendingBytes < MAX_PENDING_BODY;
  }

  /** The whole request has been written: the header timeout runs from now. */
  requestSent(): void {
    if (this.state === S_HEAD) this.phaseAt = Date.now();
  }

  /** The client cannot take more: stop reading the upstream until it drains. */
  pause(): void {
    this.socket.pause();
  }

  resume(): void {
    if (!this.socket.destroyed) this.socket.resume();
  }

  /** The client went away or the exchange is being cut: this connection cannot be reused. */
  abandon(): void {
    this.client = null;
    this.socket.destroy();
  }

  /** Enforces connect, header, body-idle and pool-idle timeouts; `now` is Date.now(). */
  sweep(now: number): void {
    const t = this.upstream.ctx.timeouts;
    switch (this.state) {
      case S_CONNECTING:
        if (now - this.phaseAt > t.connectMs) {
          this.lastError = "ETIMEDOUT";
          this.socket.destroy();
        }
        return;
      case S_IDLE:
        if (this.client === null && now - this.idleSince > t.poolIdleMs) this.socket.destroy();
        return;
      case S_HEAD:
        if (this.client !== null && this.client.reqDone && now - this.phaseAt > t.headerMs) {
          this.fail(504, `the upstream node of ${this.client.color} did not answer in time\n`);
        }
        return;
      default:
        if (this.activity !== this.seenActivity) {
          this.seenActivity = this.activity;
          this.seenAt = now;
        } else if (now - this.seenAt > t.idleMs) {
          this.fail(504, "");
        }
    }
  }

  private writeAll(head: string, body: Buffer[]): void {
    const s = this.socket;
    s.cork();
    s.write(head, "latin1");
    for (const b of body) s.write(b);
    s.uncork();
  }

  private onConnect(): void {
    this.connected = true;
    if (this.client === null) {
      // The exchange it was opened for went away while connecting: keep it as a warm idle connection.
      this.state = S_IDLE;
      this.upstream.release(this, Date.now());
      return;
    }
    this.state = S_HEAD;
    this.phaseAt = Date.now();
    const body = this.pendingBody;
    this.pendingBody = null;
    if (body === null) this.socket.write(this.pendingHead, "latin1");
    else this.writeAll(this.pendingHead, body);
    this.pendingHead = "";
    if (this.pendingBytes >= MAX_PENDING_BODY) this.client.upstreamDrained();
    this.pendingBytes = 0;
  }

  private onRead(n: number, b: Buffer): boolean {
    const client = this.client;
    this.onData(b.subarray(0, n));
    // A client write that could not complete at once still points into our buffer: let it keep it.
    if (client !== null && client.socket.writableLength > 0) this.readBuf = Buffer.allocUnsafe(READ_BUFFER_BYTES);
    return true;
  }

  private onData(d: Buffer): void {
    this.activity++;
    switch (this.state) {
      case S_HEAD: this.onHead(d); return;
      case S_LENGTH: this.onLength(d, 0); return;
      case S_CHUNKED: this.onChunked(d, 0); return;
      case S_UNTIL_CLOSE: this.client!.respondData(d); return;
      default:
        // Bytes nobody asked for: the connection is out of step with the protocol.
        this.socket.destroy();
    }
  }

  private onHead(d: Buffer): void {
    this.gotAny = true;
    let buf = d;
    if (this.buf !== null) {
      buf = Buffer.concat([this.buf, d]);
      this.buf = null;
    }
    const end = buf.indexOf(CRLFCRLF);
    // The limit holds for any head, whether it arrived in pieces or in one read.
    if ((end < 0 ? buf.length : end + 4) > MAX_RESPONSE_HEAD_BYTES) {
      this.fail(502, `the upstream node of ${this.client!.color} sent a response head that is too large\n`);
      return;
    }
    if (end < 0) {
      this.buf = buf === d ? Buffer.from(d) : buf; // `d` lives in the read buffer: keep a copy
      return;
    }
    const client = this.client!;
    const rh = this.rh;
    if (!rh.parse(buf, end, this.noBody, false) || rh.status === 101) {
      this.upstream.ctx.log.warn({ node: this.upstream.node, error: rh.error || "unexpected 101" }, "malformed upstream response");
      this.fail(502, `the upstream node of ${client.color} sent a malformed response\n`);
      return;
    }
    const restAt = end + 4;
    if (rh.status < 200) {
      // Interim answers (100 Continue, 103 Early Hints) go to the client, rebuilt; the final answer follows.
      client.respondInterim(rh.statusLine + "\r\n" + rh.lines + "\r\n");
      if (restAt < buf.length) this.onHead(buf.subarray(restAt));
      return;
    }
    if (!rh.keepAlive) this.reusable = false;
    if (!client.respondHead(rh)) {
      this.fail(502, `the upstream node of ${client.color} answered with transfer codings an HTTP/1.0 client cannot take\n`);
      return;
    }
    switch (rh.framing) {
      case BODY_NONE:
        if (restAt < buf.length) this.reusable = false;
        this.complete(null);
        return;
      case BODY_LENGTH:
        this.remaining = rh.contentLength;
        this.state = S_LENGTH;
        if (this.remaining === 0) {
          if (restAt < buf.length) this.reusable = false;
          this.complete(null);
        } else if (restAt < buf.length) this.onLength(buf, restAt);
        else client.flushHead();
        return;
      case BODY_CHUNKED:
        this.state = S_CHUNKED;
        this.chunks.reset();
        if (restAt < buf.length) this.onChunked(buf, restAt);
        else client.flushHead();
        return;
      default:
        this.state = S_UNTIL_CLOSE;
        if (restAt < buf.length) client.respondData(buf.subarray(restAt));
        else client.flushHead();
    }
  }

  private onLength(d: Buffer, from: number): void {
    const rem = this.remaining;
    const avail = d.length - from;
    if (avail < rem) {
      this.remaining = rem - avail;
      this.client!.respondData(from === 0 ? d : d.subarray(from));
      return;
    }
    if (avail > rem) this.reusable = false;
    this.complete(from === 0 && avail === rem ? d : d.subarray(from, from + rem));
  }

  private onChunked(d: Buffer, from: number): void {
    const end = this.chunks.feed(d, from, this.onDecoded);
    if (end === CHUNKED_ERROR) {
      this.upstream.ctx.log.warn({ node: this.upstream.node }, "malformed chunked response body");
      this.fail(502, "");
      return;
    }
    if (end === CHUNKED_MORE) {
      this.client!.flushHead();
      return;
    }
    if (end < d.length) this.reusable = false;
    this.complete(null);
  }

  /** The response is complete: pool (or close) this connection, then let the client finish its response. */
  private complete(last: Buffer | null): void {
    const client = this.client!;
    this.client = null;
    this.state = S_IDLE;
    if (this.reusable && client.reqDone && !this.upstream.retired && !this.socket.destroyed) {
      if (this.socket.isPaused()) this.socket.resume();
      this.upstream.release(this, Date.now());
    } else this.socket.destroy();
    // Last, because the client may start its next (pipelined) request right away, even on this connection.
    client.respondEnd(last);
  }

  /** Ends the exchange with an error answer (or a cut connection once the head was sent). */
  private fail(status: number, body: string): void {
    const client = this.client;
    this.client = null;
    this.socket.destroy();
    client?.respondFail(status, body);
  }

  private onClose(): void {
    this.upstream.forget(this);
    const client = this.client;
    if (client === null) return;
    if (this.state === S_UNTIL_CLOSE) {
      this.reusable = false;
      this.complete(null);
      return;
    }
    this.client = null;
    if (!this.connected) {
      const body = this.pendingBody;
      this.pendingBody = null;
      client.upstreamConnectFailed(this, body);
      return;
    }
    if (this.state === S_HEAD && !this.gotAny && this.uses > 1) {
      client.upstreamClosedEarly(this);
      return;
    }
    client.respondFail(502, this.state === S_HEAD ? `the upstream node of ${client.color} closed the connection without answering\n` : "");
  }
}
