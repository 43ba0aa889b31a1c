/**
 * One client connection to the router: reads requests (HTTP/1.0 and 1.1, keep-alive, pipelined ones one
 * after the other), routes each by the current table, hands it to a pooled upstream connection, streams
 * the request body up and the response down, and answers by itself when there is nowhere to send it.
 *
 * The server side is hand-written rather than node:http because on the hot path node:http's per-request
 * objects, streams and header validation cost as much CPU as all the rest of the proxy: see bench/router.ts
 * and the closing note of the router issue for the numbers.
 *
 * Why one file past 300 lines: it is one hot-path state machine (reading a head, streaming a body up,
 * answering, keep-alive, pipelining, upgrade hand-off) whose states share the connection's fields; split
 * by state, each part would reach into the others' fields, and a transition would span files.
 */
import type { Socket } from "node:net";
import type { Color } from "../../specs/types.js";
import type { RoutingTable, ServiceRoute } from "./table.js";
import type { RouterContext } from "./upstream.js";
import type { UpstreamConn } from "./upstream-conn.js";
import type { ResponseHead } from "./response-head.js";
import type { Tunnel } from "./websocket.js";
import { BODY_CHUNKED, BODY_LENGTH, BODY_NONE, BODY_UNTIL_CLOSE } from "./response-head.js";
import { REQ_LENGTH, REQ_NONE, RequestHead } from "./request-head.js";
import { CHUNKED_ERROR, CHUNKED_MORE, ChunkedScanner } from "./chunked.js";
import { anyHealthy, pickNode } from "./balancer.js";
import { colorLine, redirectText, replyText } from "./replies.js";
import { stripPort } from "./table.js";
import { startTunnel } from "./websocket.js";
import { MAX_REQUEST_HEAD_BYTES } from "./limits.js";

const C_HEAD = 0;
const C_BODY = 1;
const C_WAIT = 2;
const C_TUNNEL = 3;
const C_CLOSED = 4;

const CRLFCRLF = Buffer.from("\r\n\r\n", "latin1");
const CRLF = Buffer.from("\r\n", "latin1");
/** The end of a chunked body we frame: the last chunk and an empty trailer section. */
const LAST_CHUNK = Buffer.from("0\r\n\r\n", "latin1");
/** Bodies up to this size go out in one write together with the response head. */
const INLINE_BODY_MAX = 16 * 1024;
/** Answers the client has not read yet, past which no further pipelined request is started. */
const MAX_UNREAD_ANSWER_BYTES = 256 * 1024;
/** A closed-by-us connection whose client never closes its side is destroyed after this long. */
const LINGER_MS = 5_000;

/** What client connections share with the data plane. */
export interface PlaneState {
  readonly table: RoutingTable | null;
  /** Body of the 503 answered while there is no table. */
  readonly noTableBody: string;
  readonly ctx: RouterContext;
  readonly tunnels: Set<Tunnel>;
  readonly clients: Set<ClientConn>;
  readonly clientTimeouts: { keepAliveMs: number; headersMs: number };
  /** The port HTTP to HTTPS redirects name (null: 443, left out); undefined: this router has no HTTPS. */
  readonly redirectPort: number | null | undefined;
  /** HTTP-01 answers by token (ACME), served on any host over HTTP and HTTPS. */
  readonly challenges: ReadonlyMap<string, string>;
  /** The router is stopping: every connection closes after its current answer. */
  readonly draining: boolean;
}

/** HTTP-01 challenges are answered over plain HTTP, never redirected (RFC 8555 §8.3). */
const ACME_CHALLENGE_PREFIX = "/.well-known/acme-challenge/";

export class ClientConn {
  state = C_HEAD;
  /** When the current state began (keep-alive and header timeouts, linger). */
  private since: number;
  /** Unparsed bytes: a partial request head, or the next pipelined request. */
  private buf: Buffer | null = null;
  /** The current request (reused for every request of the connection). */
  readonly rq = new RequestHead();
  route: ServiceRoute | null = null;
  color: Color = "blue";
  /** The upstream connection serving the current exchange. */
  up: UpstreamConn | null = null;
  /** An exchange is in progress (counted in inFlight). */
  active = false;
  /** The whole request body has been handed upstream. */
  reqDone = true;
  /** When the table stopped routing this exchange's host and path here (0: it still does). */
  strandedAt = 0;
  private reqRemaining = 0;
  private readonly reqChunks = new ChunkedScanner();
  /** A chunked request body goes upstream in chunks we frame: no extensions, no trailers. */
  private readonly onRequestChunk = (slice: Buffer): void => {
    this.forward(Buffer.concat([Buffer.from(slice.length.toString(16) + "\r\n", "latin1"), slice, CRLF]));
  };
  private attempt = 0;
  private staleRetried = false;
  private pendingHead: string | null = null;
  private respStarted = false;
  private respClose = false;
  /** The response goes to the client chunked, in chunks we frame. */
  private respChunked = false;
  private clientEnded = false;
  private paused = false;
  /** Requests are kept unparsed until the client reads our answers (see readHead). */
  private held = false;
  private activity = 0;
  /** For the traffic figures: the exchange's host kind, response status and start (performance.now()). */
  private hostKind = 0;
  private status = 0;
  private startedAt = 0;
  private seenActivity = -1;
  private seenAt = 0;

  /** `secure`: the socket is a TLS connection (X-Forwarded-Proto: https, HSTS, no redirect). */
  constructor(readonly plane: PlaneState, readonly socket: Socket, readonly secure = false) {
    this.since = Date.now();
    socket.on("data", (d: Buffer) => this.onData(d));
    socket.on("end", () => this.onEnd());
    socket.on("error", () => { /* 'close' follows */ });
    socket.on("close", () => this.onClose());
    socket.on("drain", () => this.onDrain());
    plane.clients.add(this);
  }

  // ---- called by the upstream connection -------------------------------------------------------

  /** A 1xx answer (100 Continue, 103 Early Hints): HTTP/1.1 clients get it as it is. */
  respondInterim(text: string): void {
    if (!this.rq.http10) this.socket.write(text, "latin1");
  }

  /**
   * The final response head; sent with the first body bytes (one write), or by flushHead(). The framing
   * lines are ours, from what the upstream connection parsed: false when this client cannot be given the
   * response as it is (transfer codings other than chunked for an HTTP/1.0 client).
   */
  respondHead(rh: ResponseHead): boolean {
    const rq = this.rq;
    // With the request body not all read, the connection cannot stay in step: close it after this answer.
    let close = !rq.keepAlive || this.clientEnded || !this.reqDone || this.plane.draining;
    let framing = "";
    this.respChunked = false;
    if (rh.codings !== "" && rq.http10) return false;
    if (rh.framing === BODY_LENGTH || rh.framing === BODY_NONE && rh.contentLength >= 0) {
      framing = "content-length: " + rh.contentLength + "\r\n";
    } else if (rh.framing === BODY_CHUNKED) {
      if (rq.http10) close = true; // decoded, delimited by closing
      else {
        this.respChunked = true;
        framing = rh.codings === "" ? "transfer-encoding: chunked\r\n" : "transfer-encoding: " + rh.codings + ", chunked\r\n";
      }
    } else if (rh.framing === BODY_UNTIL_CLOSE) {
      close = true;
      if (rh.codings !== "") framing = "transfer-encoding: " + rh.codings + "\r\n";
    }
    this.respClose = close;
    this.status = rh.status;
    const hsts = this.secure ? this.plane.table?.hstsLine ?? "" : "";
    this.pendingHead = rh.statusLine + "\r\n" + rh.lines + framing + colorLine(this.color) + hsts +
      (close ? "connection: close\r\n\r\n" : rq.http10 ? "connection: keep-alive\r\n\r\n" : "\r\n");
    return true;
  }

  flushHead(): void {
    const h = this.pendingHead;
    if (h === null) return;
    this.pendingHead = null;
    this.respStarted = true;
    this.socket.write(h, "latin1");
  }

  respondData(d: Buffer): void {
    if (!this.out(d)) this.up?.pause();
  }

  /** One decoded chunk of a chunked response: re-encoded with our own size line, or as it is for HTTP/1.0. */
  respondChunk(d: Buffer): void {
    if (!this.respChunked) {
      this.respondData(d);
      return;
    }
    const s = this.socket;
    s.cork();
    this.out(Buffer.from(d.length.toString(16) + "\r\n", "latin1"));
    s.write(d);
    const ok = s.write(CRLF);
    s.uncork();
    if (!ok) this.up?.pause();
  }

  /** The response is complete (the upstream connection has already been pooled or closed). */
  respondEnd(last: Buffer | null): void {
    this.out(this.respChunked ? LAST_CHUNK : last);
    this.finish(false);
  }

  /** The exchange failed: a short answer if nothing was sent yet (and `body` is given), else a cut. */
  respondFail(status: number, body: string): void {
    if (!this.active) return;
    this.up = null;
    if (!this.respStarted) this.status = status;
    if (body !== "" && !this.respStarted && !this.socket.destroyed) {
      this.pendingHead = null;
      this.socket.write(replyText(status, body, this.color, true, false), "latin1");
      this.finish(true);
    } else {
      this.finish(true);
      this.socket.destroy();
    }
  }

  /** The upstream connection could not be opened: retry once on another node of the route. */
  upstreamConnectFailed(conn: UpstreamConn, pendingBody: Buffer[] | null): void {
    const up = conn.upstream;
    const timedOut = conn.lastError === "ETIMEDOUT";
    up.markDownPassive(timedOut ? "connect timed out" : `connect failed: ${conn.lastError || "closed"}`);
    const route = this.route!;
    const next = this.attempt === 0 ? pickNode(route, up) : null;
    if (next !== null) {
      this.attempt = 1;
      this.dispatch(next.acquire(), pendingBody);
      return;
    }
    if (!anyHealthy(route)) this.respondFail(503, `every upstream node of ${this.color} is down\n`);
    else this.respondFail(timedOut ? 504 : 502, `could not connect to an upstream node of ${this.color}\n`);
  }

  /** A reused connection closed before answering: the upstream closed it as we wrote. Retry once, fresh. */
  upstreamClosedEarly(conn: UpstreamConn): void {
    const m = this.rq.method;
    const idempotent = m === "GET" || m === "HEAD" || m === "OPTIONS" || m === "PUT" || m === "DELETE" || m === "TRACE";
    if (!this.staleRetried && this.rq.framing === REQ_NONE && idempotent) {
      this.staleRetried = true;
      this.dispatch(conn.upstream.open(), null);
      return;
    }
    this.respondFail(502, `the upstream node of ${this.color} closed the connection without answering\n`);
  }

  /** The upstream took the request body bytes it was given: read more from the client. */
  upstreamDrained(): void {
    if (this.paused && this.state === C_BODY) {
      this.paused = false;
      this.socket.resume();
    }
  }

  // ---- called by the data plane --------------------------------------------------------------------

  /** Ends the current exchange (drain, shutdown): 503 if nothing was sent yet, else a cut. */
  abort(why: string): void {
    if (!this.active) return;
    const up = this.up;
    this.up = null;
    up?.abandon();
    this.respondFail(503, why);
  }

  /**
   * The router is stopping: a keep-alive connection waiting for its next request is closed once it has been
   * idle `idleMs` (a client that sends meanwhile gets its answer, with `connection: close`).
   */
  /** A WebSocket or other upgraded connection: it ends when either side ends it, not after an answer. */
  get tunnel(): boolean {
    return this.state === C_TUNNEL;
  }

  closeIfIdle(now: number, idleMs: number): void {
    if (this.state === C_HEAD && this.buf === null && !this.active && now - this.since >= idleMs) this.close();
  }

  /** Keep-alive, header, body-idle and linger timeouts. */
  sweep(now: number, idleMs: number): void {
    const t = this.plane.clientTimeouts;
    switch (this.state) {
      case C_HEAD:
        if (this.buf === null ? now - this.since > t.keepAliveMs : now - this.since > t.headersMs) {
          if (this.buf !== null) this.socket.write(replyText(408, "request head not received in time\n", null, true, false), "latin1");
          this.close();
        }
        return;
      case C_BODY:
        if (this.activity !== this.seenActivity) {
          this.seenActivity = this.activity;
          this.seenAt = now;
        } else if (now - this.seenAt > idleMs) {
          this.abort("");
        }
        return;
      case C_CLOSED:
        if (now - this.since > LINGER_MS) this.socket.destroy();
        return;
    }
  }

  // ---- reading requests ------------------------------------------------------------------------------

  private onData(d: Buffer): void {
    this.activity++;
    switch (this.state) {
      case C_HEAD: this.readHead(d); return;
      case C_BODY: this.readBody(d, 0); return;
      case C_WAIT: this.stash(d, 0); return;
      default: // a tunnel reads the socket itself; after close we ignore the rest
    }
  }

  /**
   * Parses and starts the requests in `d` (after any bytes kept from before), one after the other in a loop:
   * requests the router answers by itself follow each other without recursion, however many one read holds.
   * It stops at a request that goes upstream (the rest waits in `buf` until that exchange is over), and
   * also while the client has not read our earlier answers (MAX_UNREAD_ANSWER_BYTES): a client that
   * pipelines without reading gets no more work done for it until it drains ('drain' resumes parsing).
   */
  private readHead(d: Buffer): void {
    let buf = d;
    if (this.buf !== null) {
      buf = Buffer.concat([this.buf, d]);
      this.buf = null;
    }
    while (this.state === C_HEAD) {
      // Empty lines before a request are allowed (RFC 9112 §2.2).
      let start = 0;
      while (start + 1 < buf.length && buf[start] === 13 && buf[start + 1] === 10) start += 2;
      if (start > 0) buf = buf.subarray(start);
      if (buf.length === 0) return;
      if (this.socket.writableLength > MAX_UNREAD_ANSWER_BYTES) {
        this.hold(buf);
        return;
      }
      const end = buf.indexOf(CRLFCRLF);
      // The limit holds for any head, whether it arrived in pieces or in one read.
      if ((end < 0 ? buf.length : end + 4) > MAX_REQUEST_HEAD_BYTES) {
        this.replyAndClose(431, "request head too large\n");
        return;
      }
      if (end < 0) {
        this.buf = buf;
        return;
      }
      const rest = this.startRequest(buf, end);
      if (rest < 0) return;
      buf = buf.subarray(rest);
    }
  }

  /**
   * Starts the request whose head ends at `end`: answers it by itself (and answers the offset of the next
   * request, so the caller goes on), or hands it upstream or to a tunnel (answers -1: the rest of `buf` is
   * taken care of here).
   */
  private startRequest(buf: Buffer, end: number): number {
    const rq = this.rq;
    if (!rq.parse(buf, end, this.socket.remoteAddress ?? "", this.secure)) {
      this.replyAndClose(rq.errorStatus, rq.error);
      return -1;
    }
    const bodyAt = end + 4;
    const table = this.plane.table;
    if (this.plane.challenges.size > 0 && rq.path.startsWith(ACME_CHALLENGE_PREFIX)) {
      const answer = this.plane.challenges.get(rq.path.slice(ACME_CHALLENGE_PREFIX.length));
      if (answer !== undefined) return this.replyEarly(200, answer, null, bodyAt);
    }
    if (table === null) return this.replyEarly(503, this.plane.noTableBody, null, bodyAt);
    if (!this.secure && this.plane.redirectPort !== undefined && rq.path.charCodeAt(0) === 47 && table.redirects(rq.host) &&
      !rq.path.startsWith(ACME_CHALLENGE_PREFIX)) {
      const port = this.plane.redirectPort;
      const location = "https://" + stripPort(rq.host!) + (port === null ? "" : ":" + port) + rq.path;
      return this.replyRaw((close) => redirectText(location, close, rq.http10), bodyAt);
    }
    // "OPTIONS *" asks about the server as a whole: it goes where "/" goes.
    const r = table.resolve(rq.host, rq.path === "*" ? "/" : rq.path);
    if (!r.ok) {
      if (r.color !== null) this.plane.ctx.traffic.record(r.color, r.hostKind, r.status, 0);
      return this.replyEarly(r.status, r.body, r.color, bodyAt);
    }
    const route = r.route;
    const up = pickNode(route, null);
    if (up === null) {
      this.plane.ctx.traffic.record(route.color, r.hostKind, 503, 0);
      return this.replyEarly(503, `no upstream node of ${route.color} serves this path\n`, route.color, bodyAt);
    }
    if (rq.upgrade !== undefined) {
      this.state = C_TUNNEL;
      this.plane.clients.delete(this);
      startTunnel(this.plane.ctx, this.plane.tunnels, this.socket, rq, route, up, buf.subarray(bodyAt));
      return -1;
    }
    this.route = route;
    this.color = route.color;
    this.hostKind = r.hostKind;
    this.status = 0;
    this.startedAt = performance.now();
    this.active = true;
    this.attempt = 0;
    this.staleRetried = false;
    this.strandedAt = 0;
    this.respStarted = false;
    this.respClose = false;
    this.pendingHead = null;
    const ctx = this.plane.ctx;
    ctx.inFlight[route.color]++;
    ctx.countsChanged();
    if (rq.framing === REQ_NONE) {
      this.reqDone = true;
      this.state = C_WAIT;
    } else {
      this.reqDone = false;
      this.state = C_BODY;
      if (rq.framing === REQ_LENGTH) this.reqRemaining = rq.contentLength;
      else this.reqChunks.reset();
    }
    this.dispatch(up.acquire(), null);
    if (bodyAt < buf.length) {
      if (this.state === C_BODY) this.readBody(buf, bodyAt);
      else if (this.state === C_WAIT) this.stash(buf, bodyAt);
    }
    return -1;
  }

  private readBody(d: Buffer, from: number): void {
    let end: number;
    if (this.rq.framing === REQ_LENGTH) {
      const avail = d.length - from;
      if (avail < this.reqRemaining) {
        this.reqRemaining -= avail;
        this.forward(from === 0 ? d : d.subarray(from));
        return;
      }
      end = from + this.reqRemaining;
      this.reqRemaining = 0;
      if (end > from) this.forward(from === 0 && end === d.length ? d : d.subarray(from, end));
    } else {
      // Chunk payloads are forwarded by onRequestChunk as they are decoded.
      end = this.reqChunks.feed(d, from, this.onRequestChunk);
      if (end === CHUNKED_ERROR) {
        const up = this.up;
        this.up = null;
        up?.abandon();
        this.respondFail(400, "malformed chunked request body\n");
        return;
      }
      if (end === CHUNKED_MORE) return;
      this.forward(LAST_CHUNK);
    }
    this.reqDone = true;
    this.state = C_WAIT;
    this.up?.requestSent();
    if (end < d.length) this.stash(d, end);
  }

  private forward(d: Buffer): void {
    if (!this.up!.sendBody(d) && !this.paused) {
      this.paused = true;
      this.socket.pause();
    }
  }

  /** Keeps bytes of a pipelined request until the current exchange is over. */
  private stash(d: Buffer, from: number): void {
    const part = from === 0 ? d : d.subarray(from);
    this.buf = this.buf === null ? part : Buffer.concat([this.buf, part]);
    if (this.buf.length > MAX_REQUEST_HEAD_BYTES && !this.paused) {
      this.paused = true;
      this.socket.pause();
    }
  }

  private dispatch(c: UpstreamConn, pendingBody: Buffer[] | null): void {
    this.up = c;
    c.attach(this, this.rq.upstreamHead, pendingBody, this.rq.method === "HEAD");
    if (this.reqDone) c.requestSent();
  }

  // ---- answering -------------------------------------------------------------------------------------

  private out(d: Buffer | null): boolean {
    const s = this.socket;
    const h = this.pendingHead;
    if (h !== null) {
      this.pendingHead = null;
      this.respStarted = true;
      if (d === null) return s.write(h, "latin1");
      if (d.length <= INLINE_BODY_MAX) return s.write(h + d.toString("latin1"), "latin1");
      s.cork();
      s.write(h, "latin1");
      const ok = s.write(d);
      s.uncork();
      return ok;
    }
    return d === null || s.write(d);
  }

  /** The exchange is over: next request (keep-alive), or close. */
  private finish(forceClose: boolean): void {
    this.up = null;
    this.active = false;
    this.route = null;
    const ctx = this.plane.ctx;
    ctx.traffic.record(this.color, this.hostKind, this.status, (performance.now() - this.startedAt) / 1000);
    ctx.inFlight[this.color]--;
    ctx.countsChanged();
    if (forceClose || this.respClose || !this.reqDone || !this.rq.keepAlive || this.clientEnded || this.plane.draining) {
      this.close();
      return;
    }
    this.state = C_HEAD;
    this.since = Date.now();
    this.held = false;
    if (this.paused) {
      this.paused = false;
      this.socket.resume();
    }
    if (this.buf !== null) {
      const b = this.buf;
      this.buf = null;
      this.readHead(b);
    }
  }

  /**
   * The router's own answer, before anything went upstream; keeps the connection when it can.
   * Answers where the next request starts, or -1 when the connection closes after this answer.
   */
  private replyEarly(status: number, body: string, color: Color | null, bodyAt: number): number {
    return this.replyRaw((close) => replyText(status, body, color, close, this.rq.http10), bodyAt);
  }

  private replyRaw(text: (close: boolean) => string, bodyAt: number): number {
    const close = this.rq.framing !== REQ_NONE || !this.rq.keepAlive || this.clientEnded || this.rq.upgrade !== undefined || this.plane.draining;
    this.socket.write(text(close), "latin1");
    if (close) {
      this.close();
      return -1;
    }
    return bodyAt;
  }

  /** Keeps unparsed requests until the client has read our answers, and stops reading more meanwhile. */
  private hold(buf: Buffer): void {
    this.buf = buf;
    this.held = true;
    if (!this.paused) {
      this.paused = true;
      this.socket.pause();
    }
  }

  /** The client read our answers: go on with the requests kept meanwhile. */
  private onDrain(): void {
    this.up?.resume();
    if (!this.held || this.state !== C_HEAD) return;
    this.held = false;
    this.paused = false;
    this.socket.resume();
    const b = this.buf;
    this.buf = null;
    if (b !== null) this.readHead(b);
  }

  private replyAndClose(status: number, body: string): void {
    this.socket.write(replyText(status, body, null, true, false), "latin1");
    this.close();
  }

  private close(): void {
    this.state = C_CLOSED;
    this.since = Date.now();
    this.buf = null;
    this.socket.end();
  }

  private onEnd(): void {
    this.clientEnded = true;
    if (!this.active && this.state !== C_TUNNEL) this.close();
  }

  private onClose(): void {
    this.plane.clients.delete(this);
    if (this.active) {
      const up = this.up;
      this.up = null;
      up?.abandon();
      this.active = false;
      const ctx = this.plane.ctx;
      ctx.inFlight[this.color]--;
      ctx.countsChanged();
    }
    if (this.state !== C_TUNNEL) this.state = C_CLOSED;
  }
}
