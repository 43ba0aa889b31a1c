/**
 * WebSocket (and any other HTTP/1.1 Upgrade) tunnels: route like a request, open a dedicated upstream
 * connection, forward the handshake, and once the upstream answers 101 pipe the two sockets together.
 * A tunnel is counted per colour from the 101 until either side closes.
 *
 * Bytes the client sends after its upgrade request are held until the upstream has answered 101: before
 * that they would be read as another HTTP request (with whatever Host and X-Forwarded-For the client chose).
 * When the upstream answers anything else, its answer is passed on with our own framing and the held bytes
 * are dropped with the connection.
 */
import { connect, type Socket } from "node:net";
import type { Duplex } from "node:stream";
import type { Color } from "../../specs/types.js";
import type { ServiceRoute } from "./table.js";
import type { RouterContext, Upstream } from "./upstream.js";
import type { RequestHead } from "./request-head.js";
import { pickNode } from "./balancer.js";
import { BODY_CHUNKED, BODY_LENGTH, BODY_NONE, ResponseHead } from "./response-head.js";
import { CHUNKED_ERROR, ChunkedScanner } from "./chunked.js";
import { COLOR_HEADER, replyText } from "./replies.js";
import { MAX_RESPONSE_HEAD_BYTES, WEBSOCKET_GOAWAY_LINGER_MS, WEBSOCKET_KEEPALIVE_MS } from "./limits.js";
import { CLOSE_GOING_AWAY, FrameScanner, closeFrame } from "./ws-frames.js";

const CRLFCRLF = Buffer.from("\r\n\r\n", "latin1");
/** After a refused or failed upgrade has been answered, a client that keeps its side open is cut after this long. */
const PASSED_LINGER_MS = 5_000;

/** An open (or opening) tunnel; the data plane keeps them to count and drain them. */
export class Tunnel {
  upstreamSocket: Socket | null = null;
  upgraded = false;
  /** The upstream refused the upgrade; its answer is being passed through. */
  passedThrough = false;
  /** When the table stopped routing this tunnel's host and path here (0: it still does). */
  strandedAt = 0;
  /** A WebSocket (not another Upgrade protocol): drained with close frames. */
  websocket = false;
  /** Frame boundaries client → upstream and upstream → client, followed while the tunnel is open. */
  readonly toUpstream = new FrameScanner();
  readonly toClient = new FrameScanner();
  private closed = false;
  private goingAway = false;

  constructor(
    readonly ctx: RouterContext,
    readonly tunnels: Set<Tunnel>,
    readonly client: Duplex,
    readonly host: string | undefined,
    readonly path: string,
    readonly route: ServiceRoute,
    public upstream: Upstream,
  ) {}

  get color(): Color {
    return this.route.color;
  }

  /** Answers the handshake with an error and forgets the tunnel (the client socket closes after the answer). */
  fail(status: number, body: string): void {
    if (this.closed) return;
    this.closed = true;
    this.tunnels.delete(this);
    rawReply(this.client, status, body, this.color);
    // The client socket left the data plane's sweep: one that never closes its side is cut after a while.
    setTimeout(() => this.client.destroy(), PASSED_LINGER_MS).unref();
  }

  /**
   * Drain and shutdown: a WebSocket gets a close frame (1001, going away) on both sides, each after the frame
   * in flight in its direction, then both sides end; whatever the peers do, both are cut after a short linger.
   * Anything else closes at once.
   */
  goAway(): void {
    if (this.closed || this.goingAway) return;
    const s = this.upstreamSocket;
    if (!this.upgraded || !this.websocket || s === null) {
      this.close();
      return;
    }
    this.goingAway = true;
    endWithClose(s, this.client, this.toClient, closeFrame(CLOSE_GOING_AWAY, "going away", false));
    endWithClose(this.client, s, this.toUpstream, closeFrame(CLOSE_GOING_AWAY, "going away", true));
    setTimeout(() => this.close(), WEBSOCKET_GOAWAY_LINGER_MS).unref();
  }

  /** Closes both sides (drain, shutdown, or either side went away). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.tunnels.delete(this);
    if (this.goingAway) {
      // Let the close frames reach both peers; the linger timer cuts what is still open.
      this.client.end();
      this.upstreamSocket?.end();
      setTimeout(() => {
        this.client.destroy();
        this.upstreamSocket?.destroy();
      }, WEBSOCKET_GOAWAY_LINGER_MS).unref();
    } else if (this.passedThrough && !this.client.destroyed) {
      // Let the refusal reach the client; a client that never closes its side is cut after a while.
      this.client.end();
      setTimeout(() => this.client.destroy(), PASSED_LINGER_MS).unref();
    } else this.client.destroy();
    if (!this.goingAway) this.upstreamSocket?.destroy();
    if (this.upgraded) {
      this.ctx.websockets[this.color]--;
      this.ctx.countsChanged();
    }
  }
}

/** Takes over a client socket whose request asked to upgrade, routed to `up` of `route`. */
export function startTunnel(ctx: RouterContext, tunnels: Set<Tunnel>, client: Socket, rq: RequestHead, route: ServiceRoute, up: Upstream, early: Buffer): void {
  // The client connection stops reading; the socket is read again once piped to the upstream.
  client.removeAllListeners("data");
  client.pause();
  const t = new Tunnel(ctx, tunnels, client, rq.host, rq.path, route, up);
  t.websocket = rq.upgrade?.toLowerCase().split(",").some((p) => p.trim() === "websocket") ?? false;
  tunnels.add(t);
  client.on("close", () => t.close());
  open(t, rq.upstreamHead, early, 0);
}

/** Connects to the tunnel's upstream node; a failed connect is retried once on another node. */
function open(t: Tunnel, head: string, early: Buffer, attempt: number): void {
  const { ctx, upstream: up } = t;
  const s = connect({ host: up.address, port: up.port, noDelay: true, lookup: ctx.lookup });
  t.upstreamSocket = s;
  let connected = false;
  let buf: Buffer | null = null;
  let lastError = "";
  let timer = setTimeout(() => { lastError = "ETIMEDOUT"; s.destroy(); }, ctx.timeouts.connectMs);
  s.on("connect", () => {
    connected = true;
    clearTimeout(timer);
    timer = setTimeout(() => { lastError = "no answer"; s.destroy(); }, ctx.timeouts.headerMs);
    s.write(head, "latin1");
  });
  s.on("error", (e: NodeJS.ErrnoException) => { lastError = e.code ?? e.message; });
  s.on("close", () => {
    clearTimeout(timer);
    if (t.upgraded || t.client.destroyed || t.passedThrough) { t.close(); return; }
    if (!connected) {
      up.markDownPassive(lastError === "ETIMEDOUT" ? "connect timed out" : `connect failed: ${lastError || "closed"}`);
      const next = attempt === 0 ? pickNode(t.route, up) : null;
      if (next !== null) {
        t.upstream = next;
        open(t, head, early, 1);
        return;
      }
      t.fail(lastError === "ETIMEDOUT" ? 504 : 502, `could not connect to any upstream node of ${t.color}\n`);
      return;
    }
    t.fail(lastError === "no answer" ? 504 : 502, lastError === "no answer"
      ? `the upstream node of ${t.color} did not answer the upgrade in time\n`
      : `the upstream node of ${t.color} closed the connection without answering\n`);
  });
  s.on("data", function onHandshake(d: Buffer) {
    buf = buf === null ? d : Buffer.concat([buf, d]);
    const end = buf.indexOf(CRLFCRLF);
    if ((end < 0 ? buf.length : end + 4) > MAX_RESPONSE_HEAD_BYTES) {
      s.destroy();
      return;
    }
    if (end < 0) return;
    clearTimeout(timer);
    s.removeListener("data", onHandshake);
    const rh = new ResponseHead();
    const rest = buf.subarray(end + 4);
    if (!rh.parse(buf, end, false, true)) {
      s.destroy();
      return;
    }
    if (rh.status !== 101) {
      // Refused (say 401 or 404): pass the answer on and close; what the client sent after its request is dropped.
      t.passedThrough = true;
      passRefusal(t, s, buf, end);
      return;
    }
    const out = `${rh.statusLine}\r\n${rh.lines}${COLOR_HEADER}: ${t.color}\r\n\r\n`;
    t.upgraded = true;
    ctx.websockets[t.color]++;
    ctx.countsChanged();
    s.setKeepAlive(true, WEBSOCKET_KEEPALIVE_MS);
    const client = t.client as Socket;
    if (typeof client.setKeepAlive === "function") client.setKeepAlive(true, WEBSOCKET_KEEPALIVE_MS);
    if (typeof client.setNoDelay === "function") client.setNoDelay(true);
    t.client.write(out, "latin1");
    if (rest.length > 0) t.toClient.scan(rest, false);
    if (rest.length > 0) t.client.write(rest);
    if (early.length > 0) t.toUpstream.scan(early, false);
    if (early.length > 0) s.write(early);
    // The scanners only follow frame boundaries, for a clean close on drain; the pipes move the bytes.
    s.on("data", (d: Buffer) => t.toClient.scan(d, false));
    t.client.on("data", (d: Buffer) => t.toUpstream.scan(d, false));
    s.pipe(t.client);
    t.client.pipe(s);
  });
}

/**
 * Passes a non-101 answer to an upgrade request on to the client with our own framing and `connection:
 * close`, then closes both sides: the body as the upstream framed it (length, chunked or until close), sent
 * delimited by the close.
 */
function passRefusal(t: Tunnel, s: Socket, buf: Buffer, end: number): void {
  const rh = new ResponseHead();
  if (!rh.parse(buf, end, false, false) || rh.codings !== "") {
    s.destroy();
    return;
  }
  const client = t.client;
  const length = rh.framing === BODY_LENGTH ? `content-length: ${rh.contentLength}\r\n` : "";
  client.write(`${rh.statusLine}\r\n${rh.lines}${length}${COLOR_HEADER}: ${t.color}\r\nconnection: close\r\n\r\n`, "latin1");
  let remaining = rh.framing === BODY_LENGTH ? rh.contentLength : Infinity;
  const chunks = rh.framing === BODY_CHUNKED ? new ChunkedScanner() : null;
  const done = (): void => { s.destroy(); };
  // At the client's pace: a client that does not read stops the upstream, and both go after the idle timeout.
  const write = (d: Buffer): void => {
    if (!client.write(d) && !s.isPaused()) {
      s.pause();
      client.once("drain", () => s.resume());
    }
  };
  const onBody = (d: Buffer): void => {
    if (chunks !== null) {
      const at = chunks.feed(d, 0, write);
      if (at === CHUNKED_ERROR || at >= 0) done();
      return;
    }
    const take = Math.min(remaining, d.length);
    write(take === d.length ? d : d.subarray(0, take));
    remaining -= take;
    if (remaining === 0) done();
  };
  if (rh.framing === BODY_NONE || remaining === 0) {
    done();
    return;
  }
  s.setTimeout(t.ctx.timeouts.idleMs, done);
  s.on("data", onBody);
  const rest = buf.subarray(end + 4);
  if (rest.length > 0) onBody(rest);
}

/**
 * Stops forwarding `from` → `to` at the next frame boundary, then sends `frame` on `to` and ends it. What
 * `from` sends afterwards (its own close frame) is read and dropped, so its end is seen.
 */
function endWithClose(from: Duplex, to: Duplex, scanner: FrameScanner, frame: Buffer): void {
  from.unpipe(to);
  from.removeAllListeners("data");
  const finish = () => {
    from.removeAllListeners("data");
    from.on("data", () => undefined);
    if (!to.destroyed && to.writable) to.end(frame);
  };
  if (scanner.atBoundary()) finish();
  else {
    from.on("data", (d: Buffer) => {
      const n = scanner.scan(d, true);
      if (n > 0 && !to.destroyed && to.writable) to.write(n === d.length ? d : d.subarray(0, n));
      if (scanner.atBoundary()) finish();
    });
  }
  from.resume();
}

function rawReply(socket: Duplex, status: number, body: string, color: Color | null): void {
  if (!socket.destroyed) socket.end(replyText(status, body, color, true, false));
}
