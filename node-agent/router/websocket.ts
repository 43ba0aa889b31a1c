/**
 * WebSocket (and any other HTTP/1.1 Upgrade) tunnels: route like a request, open a dedicated upstream
 * connection, forward the handshake, and once the upstream answers 101 pipe the two sockets together.
 * A tunnel is counted per colour from the 101 until either side closes.
 */
import { connect, type Socket } from "node:net";
import type { Duplex } from "node:stream";
import type { Color } from "../../specs/types.js";
import type { ServiceRoute } from "./table.js";
import type { RouterContext, Upstream } from "./upstream.js";
import type { RequestHead } from "./request-head.js";
import { pickNode } from "./balancer.js";
import { ResponseHead } from "./response-head.js";
import { COLOR_HEADER, replyText } from "./replies.js";
import { MAX_RESPONSE_HEAD_BYTES, WEBSOCKET_KEEPALIVE_MS } from "./limits.js";

const CRLFCRLF = Buffer.from("\r\n\r\n", "latin1");

/** An open (or opening) tunnel; the data plane keeps them to count and drain them. */
export class Tunnel {
  upstreamSocket: Socket | null = null;
  upgraded = false;
  /** The upstream refused the upgrade; its answer is being passed through. */
  passedThrough = false;
  /** When the table stopped routing this tunnel's host and path here (0: it still does). */
  strandedAt = 0;
  private closed = false;

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
  }

  /** Closes both sides (drain, shutdown, or either side went away). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.tunnels.delete(this);
    this.client.destroy();
    this.upstreamSocket?.destroy();
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
  tunnels.add(t);
  client.on("close", () => t.close());
  open(t, rq.upstreamHead, early, 0);
}

/** Connects to the tunnel's upstream node; a failed connect is retried once on another node. */
function open(t: Tunnel, head: string, early: Buffer, attempt: number): void {
  const { ctx, upstream: up } = t;
  const s = connect({ host: up.address, port: up.port, noDelay: true });
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
    if (early.length > 0) s.write(early);
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
    if (end < 0) {
      if (buf.length > MAX_RESPONSE_HEAD_BYTES) s.destroy();
      return;
    }
    clearTimeout(timer);
    s.removeListener("data", onHandshake);
    const rh = new ResponseHead();
    const rest = buf.subarray(end + 4);
    if (!rh.parse(buf, end, false, true)) {
      s.destroy();
      return;
    }
    if (rh.status !== 101) {
      // Refused (say 401 or 404): pass the answer through as it is and close when the upstream does.
      t.passedThrough = true;
      t.client.write(buf);
      s.pipe(t.client);
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
    if (rest.length > 0) t.client.write(rest);
    s.pipe(t.client);
    t.client.pipe(s);
  });
}

function rawReply(socket: Duplex, status: number, body: string, color: Color | null): void {
  if (!socket.destroyed) socket.end(replyText(status, body, color, true, false));
}
