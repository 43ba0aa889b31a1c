/**
 * Real servers for router tests: upstream apps (HTTP, server-sent events, WebSocket echo), a router data
 * plane on a free loopback port, RouterSpecs for them, and an HTTP client. Everything a test starts is
 * closed when that test finishes.
 */
import { freePort as reservedPort } from "./ports.js";
import { createServer, request, Agent, type IncomingHttpHeaders, type Server, type ServerResponse } from "node:http";
import { connect, createServer as createNetServer, type AddressInfo, type Socket } from "node:net";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { onTestFinished } from "vitest";
import { WebSocketServer, WebSocket } from "ws";
import { makeLogger } from "../../common/log.js";
import { RouterDataPlane, type DataPlaneOptions } from "../../node-agent/router/data-plane.js";
import type { RouterSpec, UpstreamService } from "../../specs/wire.js";
import type { Color } from "../../specs/types.js";

export const LOOPBACK = "127.0.0.1";

/** Registers cleanup for the current test; runs in reverse order of registration. */
export function cleanup(fn: () => unknown): void {
  onTestFinished(async () => {
    await fn();
  });
}

/** A free port no other test is handed (see ports.ts). */
export function freePort(): Promise<number> {
  return reservedPort(LOOPBACK);
}

export async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "switchyard-router-"));
  cleanup(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

export interface App {
  name: string;
  port: number;
  server: Server;
  /** Requests seen, by path (health probes included under their path). */
  hits: Map<string, number>;
  /** Health answer for /healthz. */
  healthy: boolean;
  /** Open server-sent event streams (write to them, end them). */
  streams: Set<ServerResponse>;
  /** Open WebSockets on this app. */
  sockets: Set<WebSocket>;
  close(): Promise<void>;
}

/**
 * An upstream app named `name` (say "blue-1"):
 *   GET /healthz     200 or 503 as `app.healthy` says
 *   *   /echo…       JSON of method, url, headers and the request body
 *   GET /sse         text/event-stream: one event at once, then whatever the test writes; ends when told
 *   GET /slow?ms=N   answers after N ms
 *   GET /reset       promises 100 bytes, sends 10, then drops the connection
 *   GET /big?kb=N    N KiB of a known pattern (see bigBody); &chunked=1 for chunked framing
 *   WebSocket        echoes "<name>:<message>"
 *   anything else    "hello from <name>" (text/plain, content-length)
 */
export async function startApp(name: string): Promise<App> {
  const hits = new Map<string, number>();
  const streams = new Set<ServerResponse>();
  const sockets = new Set<WebSocket>();
  const app = { name, hits, healthy: true, streams, sockets } as App;
  const server = createServer((req, res) => {
    const path = (req.url ?? "/").split("?")[0]!;
    hits.set(path, (hits.get(path) ?? 0) + 1);
    res.setHeader("x-app", name);
    if (path === "/healthz") {
      res.writeHead(app.healthy ? 200 : 503, { "content-type": "text/plain" }).end(app.healthy ? "ok" : "sick");
    } else if (path.startsWith("/echo") || path.startsWith("/api/echo")) {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        const body = JSON.stringify({ app: name, method: req.method, url: req.url, headers: req.headers, body: Buffer.concat(chunks).toString() });
        res.writeHead(200, { "content-type": "application/json", connection: "keep-alive", "keep-alive": "timeout=5", "x-hop": "drop me" , "connection-extra": "x" });
        res.end(body);
      });
    } else if (path === "/sse") {
      res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
      res.write(`data: first from ${name}\n\n`);
      streams.add(res);
      res.on("close", () => streams.delete(res));
    } else if (path === "/big") {
      // N KiB of a byte pattern, in 7 KiB writes; with ?chunked=1 without Content-Length (chunked framing).
      const q = new URL(req.url ?? "/", "http://x").searchParams;
      const total = Number(q.get("kb") ?? "1024") * 1024;
      const body = bigBody(total);
      res.writeHead(200, { "content-type": "application/octet-stream", ...(q.get("chunked") ? {} : { "content-length": total }) });
      let at = 0;
      const pump = (): void => {
        while (at < total) {
          const part = body.subarray(at, Math.min(total, at + 7 * 1024));
          at += part.length;
          if (!res.write(part)) { res.once("drain", pump); return; }
        }
        res.end();
      };
      pump();
    } else if (path === "/reset") {
      res.writeHead(200, { "content-type": "text/plain", "content-length": 100 });
      res.write("only ten b");
      setTimeout(() => res.socket?.destroy(), 20);
    } else if (path === "/slow") {
      const ms = Number(new URL(req.url ?? "/", "http://x").searchParams.get("ms") ?? "500");
      setTimeout(() => res.writeHead(200, { "content-type": "text/plain" }).end(`slow hello from ${name}`), ms);
    } else {
      const body = `hello from ${name}`;
      res.writeHead(200, { "content-type": "text/plain", "content-length": Buffer.byteLength(body) }).end(body);
    }
  });
  const wss = new WebSocketServer({ server });
  wss.on("connection", (ws) => {
    sockets.add(ws);
    ws.on("message", (m) => ws.send(`${name}:${m.toString()}`));
    ws.on("close", () => sockets.delete(ws));
  });
  await new Promise<void>((r) => server.listen(0, LOOPBACK, r));
  app.server = server;
  app.port = (server.address() as AddressInfo).port;
  let closed = false;
  app.close = async () => {
    if (closed) return;
    closed = true;
    for (const s of streams) s.destroy();
    for (const ws of wss.clients) ws.terminate();
    wss.close();
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  };
  cleanup(app.close);
  return app;
}

/** A blue and a green app, and the upstreams of a spec routing "/" to each. */
export async function blueGreen(): Promise<{ blue: App; green: App; ups: SpecOptions["upstreams"] }> {
  const [blue, green] = await Promise.all([startApp("blue-1"), startApp("green-1")]);
  return {
    blue: blue!, green: green!,
    ups: { blue: [{ service: "web", pathPrefix: "/", ports: [blue!.port] }], green: [{ service: "web", pathPrefix: "/", ports: [green!.port] }] },
  };
}

/** The body /big sends: byte i is (i * 7 + (i >> 10)) & 255. */
export function bigBody(total: number): Buffer {
  const b = Buffer.allocUnsafe(total);
  for (let i = 0; i < total; i++) b[i] = (i * 7 + (i >> 10)) & 255;
  return b;
}

export interface SpecOptions {
  live?: Color | null;
  preview?: Color | null;
  generation?: number;
  drainTimeoutSeconds?: number;
  defaultRoute?: RouterSpec["defaultRoute"];
  /** Per colour: services, each with a path prefix and the ports of its nodes. */
  upstreams: Record<Color, Array<{ service: string; pathPrefix: string; ports: number[]; health?: UpstreamService["health"] }>>;
}

export const HOSTS = { live: ["shop.test"], preview: ["preview.shop.test"], blue: ["blue.shop.test"], green: ["green.shop.test"] };

export function routerSpec(listen: string, o: SpecOptions): RouterSpec {
  const ups = (color: Color): UpstreamService[] =>
    o.upstreams[color].map((s) => ({
      service: s.service,
      pathPrefix: s.pathPrefix,
      health: s.health ?? { path: "/healthz", periodSeconds: 0.2, timeoutSeconds: 0.5, healthyThreshold: 1, unhealthyThreshold: 1 },
      nodes: s.ports.map((port, i) => ({ node: `${color}-${s.service}-${i + 1}`, address: LOOPBACK, port })),
    }));
  return {
    kind: "RouterSpec",
    generation: o.generation ?? 1,
    app: "shop",
    listen,
    live: o.live === undefined ? "blue" : o.live,
    preview: o.preview === undefined ? "green" : o.preview,
    hosts: HOSTS,
    defaultRoute: o.defaultRoute ?? "live",
    drainTimeoutSeconds: o.drainTimeoutSeconds ?? 30,
    upstreams: { blue: ups("blue"), green: ups("green") },
  };
}

export interface RouterHandle {
  plane: RouterDataPlane;
  listen: string;
  port: number;
  dataDir: string;
  changes: { count: number };
  close(): Promise<void>;
}

/** A started data plane on a free port (or the given listen address) with its table in `dataDir`. */
export async function startRouter(o: { dataDir?: string; listen?: string; timeouts?: DataPlaneOptions["timeouts"]; allowedUpstreams?: string[]; onChange?: () => void; tls?: DataPlaneOptions["tls"] } = {}): Promise<RouterHandle> {
  const dataDir = o.dataDir ?? (await tempDir());
  const listen = o.listen ?? `${LOOPBACK}:${await freePort()}`;
  const changes = { count: 0 };
  const plane = new RouterDataPlane({
    dataDir, listen, logger: makeLogger("router-test"), onChange: () => { changes.count++; o.onChange?.(); }, ...(o.timeouts ? { timeouts: o.timeouts } : {}),
    ...(o.allowedUpstreams ? { allowedUpstreams: o.allowedUpstreams } : {}), ...(o.tls ? { tls: o.tls } : {}),
  });
  await plane.start();
  let closed = false;
  const close = async (): Promise<void> => {
    if (closed) return;
    closed = true;
    await plane.close();
  };
  cleanup(close);
  return { plane, listen, port: Number(listen.split(":").pop()), dataDir, changes, close };
}

export interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/** One HTTP request through the router; `agent` for keep-alive, else a fresh connection. */
export function get(port: number, path: string, o: { host?: string; method?: string; headers?: Record<string, string>; body?: string | Buffer[]; agent?: Agent } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request({
      host: LOOPBACK, port, path, method: o.method ?? "GET", agent: o.agent ?? false,
      headers: { ...(o.host ? { host: o.host } : {}), ...o.headers },
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString() }));
      res.on("error", reject);
    });
    req.on("error", reject);
    if (Array.isArray(o.body)) {
      for (const b of o.body) req.write(b);
      req.end();
    } else req.end(o.body);
  });
}

/** A WebSocket through the router, open and with a helper to send and await one answer. */
export async function openSocket(port: number, host: string, path = "/ws"): Promise<{ ws: WebSocket; color: string | undefined; ask(m: string): Promise<string>; closed: Promise<void> }> {
  const ws = new WebSocket(`ws://${LOOPBACK}:${port}${path}`, { headers: { host } });
  let color: string | undefined;
  ws.on("upgrade", (res) => { color = res.headers["x-switchyard-color"] as string | undefined; });
  const closed = new Promise<void>((r) => ws.on("close", () => r()));
  await new Promise<void>((resolve, reject) => {
    ws.once("open", resolve);
    ws.once("error", reject);
  });
  ws.on("error", () => {});
  cleanup(() => ws.terminate());
  const ask = (m: string): Promise<string> => new Promise((resolve, reject) => {
    ws.once("message", (d) => resolve(d.toString()));
    ws.once("close", () => reject(new Error("closed")));
    ws.send(m);
  });
  return { ws, color, ask, closed };
}

/** A raw client connection: write bytes, read until `done` says the answer is complete (or the socket closes). */
export async function raw(port: number): Promise<{ send(bytes: string): void; read(done: (text: string) => boolean): Promise<string>; closed: Promise<void>; socket: Socket }> {
  const socket = connect(port, LOOPBACK);
  await new Promise<void>((r) => socket.once("connect", () => r()));
  cleanup(() => socket.destroy());
  let text = "";
  let wake: (() => void) | null = null;
  socket.setEncoding("latin1");
  socket.on("data", (d: string) => { text += d; wake?.(); });
  const closed = new Promise<void>((r) => socket.on("close", () => { wake?.(); r(); }));
  socket.on("error", () => {});
  return {
    socket,
    closed,
    send: (bytes) => { socket.write(bytes, "latin1"); },
    read: async (done) => {
      const end = Date.now() + 5_000;
      while (!done(text) && !socket.destroyed && Date.now() < end) await new Promise<void>((r) => { wake = r; setTimeout(r, 50); });
      const out = text;
      text = "";
      return out;
    },
  };
}

/** Waits until `fn` returns true (polling), or fails after `ms`. */
export async function until(fn: () => boolean | Promise<boolean>, ms = 5_000, what = "condition"): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await fn()) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`timed out after ${ms} ms waiting for ${what}`);
}

export type { Socket };
