/**
 * A recording upstream for router edge tests: a raw TCP server that keeps every byte each connection
 * received, and hands the same bytes to a real node:http server (llhttp) that answers. Each request is
 * answered with a JSON echo of what llhttp parsed (method, url, headers, body) and a sequence number, so a
 * test can tell which request an answer belongs to. `respond` replaces the answer for a path prefix with raw
 * bytes written straight to the socket (to test how the router treats hostile responses).
 */
import { createServer as createHttpServer, type IncomingHttpHeaders } from "node:http";
import { createServer, type AddressInfo, type Socket } from "node:net";
import { Duplex } from "node:stream";
import { cleanup, LOOPBACK } from "./router-world.js";

export interface Parsed {
  seq: number;
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
}

export interface RecordingUpstream {
  port: number;
  /** Raw bytes received, one string (latin1) per connection, in connection order. */
  raw: string[];
  /** Requests as llhttp parsed them, in arrival order. */
  parsed: Parsed[];
  /** Requests on this path prefix get these raw bytes instead of the echo (health probes excepted). */
  respond(pathPrefix: string, bytes: string): void;
  /** Everything every connection received, joined. */
  allRaw(): string;
}

export async function startRecordingUpstream(): Promise<RecordingUpstream> {
  const raw: string[] = [];
  const parsed: Parsed[] = [];
  const canned = new Map<string, string>();
  let seq = 0;
  const http = createHttpServer({ keepAliveTimeout: 10_000 }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const url = req.url ?? "";
      if (url === "/healthz") {
        res.end("ok");
        return;
      }
      const n = ++seq;
      parsed.push({ seq: n, method: req.method ?? "", url, headers: req.headers, body: Buffer.concat(chunks).toString("latin1") });
      for (const [prefix, bytes] of canned) {
        if (url.startsWith(prefix)) {
          res.socket?.write(bytes, "latin1");
          return;
        }
      }
      res.setHeader("content-type", "application/json");
      res.end(JSON.stringify({ seq: n, method: req.method, url, host: req.headers.host }));
    });
  });
  http.on("clientError", (_err, socket) => { socket.destroy(); });
  const sockets = new Set<Socket>();
  const server = createServer((sock) => {
    sockets.add(sock);
    const index = raw.length;
    raw.push("");
    const inner = new Duplex({
      read() {},
      write(chunk: Buffer, _enc, cb) { sock.write(chunk, cb); },
      final(cb) { sock.end(); cb(); },
    });
    sock.on("data", (d: Buffer) => {
      raw[index] += d.toString("latin1");
      inner.push(d);
    });
    sock.on("end", () => inner.push(null));
    sock.on("error", () => {});
    sock.on("close", () => { sockets.delete(sock); inner.destroy(); });
    http.emit("connection", inner);
  });
  await new Promise<void>((r) => server.listen(0, LOOPBACK, () => r()));
  cleanup(async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((r) => server.close(() => r()));
  });
  return {
    port: (server.address() as AddressInfo).port,
    raw,
    parsed,
    respond: (prefix, bytes) => { canned.set(prefix, bytes); },
    allRaw: () => raw.join(""),
  };
}
