/**
 * HTTP/1.x details of the router's hand-written client side, over raw sockets: pipelining, HTTP/1.0,
 * Expect: 100-continue, requests it must refuse, retries of a request that never reached an upstream.
 */
import { describe, expect, it } from "vitest";
import { createServer, type AddressInfo } from "node:net";
import { cleanup, freePort, get, raw, routerSpec, startApp, startRouter, LOOPBACK } from "../support/router-world.js";

const count = (s: string, re: RegExp): number => (s.match(re) ?? []).length;

async function oneApp(): Promise<{ port: number }> {
  const app = await startApp("blue-1");
  const r = await startRouter();
  await r.plane.apply(routerSpec(r.listen, { upstreams: { blue: [{ service: "web", pathPrefix: "/", ports: [app.port] }], green: [] } }));
  return { port: r.port };
}

describe("router: HTTP/1.x on the client side", () => {
  it("answers pipelined requests in order on one connection", async () => {
    const { port } = await oneApp();
    const c = await raw(port);
    c.send(
      "GET /a HTTP/1.1\r\nHost: shop.test\r\n\r\n" +
      "GET /echo/b HTTP/1.1\r\nHost: shop.test\r\n\r\n" +
      "GET /c HTTP/1.1\r\nHost: shop.test\r\n\r\n" +
      "POST /echo/d HTTP/1.1\r\nHost: shop.test\r\nContent-Length: 5\r\n\r\nhello",
    );
    const text = await c.read((t) => count(t, /HTTP\/1\.1 200/g) === 4 && t.includes('"body":"hello"'));
    expect(count(text, /HTTP\/1\.1 200/g)).toBe(4);
    const order = [...text.matchAll(/hello from blue-1|"url":"\/echo\/b"|"url":"\/echo\/d"/g)].map((m) => m[0]);
    expect(order).toEqual(["hello from blue-1", '"url":"/echo/b"', "hello from blue-1", '"url":"/echo/d"']);
    expect(c.socket.destroyed).toBe(false);
  });

  it("speaks HTTP/1.0: closes by default, keeps alive when asked, decodes chunked answers", async () => {
    const { port } = await oneApp();
    const closing = await raw(port);
    closing.send("GET / HTTP/1.0\r\nHost: shop.test\r\n\r\n");
    await closing.closed;
    const keep = await raw(port);
    keep.send("GET / HTTP/1.0\r\nHost: shop.test\r\nConnection: keep-alive\r\n\r\n");
    const first = await keep.read((t) => t.includes("hello from blue-1"));
    expect(first).toMatch(/connection: keep-alive/i);
    // /sse answers chunked; an HTTP/1.0 client gets it decoded and delimited by the close.
    keep.send("GET /echo HTTP/1.0\r\nHost: shop.test\r\nConnection: keep-alive\r\n\r\n");
    const echo = await keep.read((t) => t.includes("}"));
    expect(echo).toMatch(/"app":"blue-1"/);
    expect(echo).not.toMatch(/transfer-encoding/i);
    await keep.closed;
  });

  it("passes Expect: 100-continue through: the upstream's 100 comes back, then the body goes up", async () => {
    const { port } = await oneApp();
    const c = await raw(port);
    c.send("POST /echo HTTP/1.1\r\nHost: shop.test\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n");
    expect(await c.read((t) => t.includes("\r\n\r\n"))).toMatch(/^HTTP\/1\.1 100 Continue\r\n/);
    c.send("ping");
    const answer = await c.read((t) => t.includes("}"));
    expect(answer).toMatch(/^HTTP\/1\.1 200 OK/);
    expect(answer).toMatch(/"body":"ping"/);
  });

  it.each([
    ["both Content-Length and Transfer-Encoding", "POST / HTTP/1.1\r\nHost: shop.test\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", 400],
    ["conflicting Content-Lengths", "POST / HTTP/1.1\r\nHost: shop.test\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n", 400],
    ["a folded header line", "GET / HTTP/1.1\r\nHost: shop.test\r\nX-A: 1\r\n  folded\r\n\r\n", 400],
    ["a space before the colon", "GET / HTTP/1.1\r\nHost : shop.test\r\n\r\n", 400],
    ["a bare LF", "GET / HTTP/1.1\nHost: shop.test\r\n\r\n", 400],
    ["no Host", "GET / HTTP/1.1\r\nAccept: */*\r\n\r\n", 400],
    ["two Hosts", "GET / HTTP/1.1\r\nHost: shop.test\r\nHost: evil.test\r\n\r\n", 400],
    ["an unknown transfer coding", "POST / HTTP/1.1\r\nHost: shop.test\r\nTransfer-Encoding: gzip\r\n\r\n", 501],
    ["a malformed chunk size", "POST /echo HTTP/1.1\r\nHost: shop.test\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n", 400],
  ])("refuses a request with %s and closes the connection", async (_, request, status) => {
    const { port } = await oneApp();
    const c = await raw(port);
    c.send(request);
    await c.closed;
    const text = await c.read(() => true);
    expect(text.split("\r\n")[0]).toMatch(new RegExp(`^HTTP/1\\.1 ${status} `));
  });

  it("forwards a chunked request body through unchanged, trailers included", async () => {
    const { port } = await oneApp();
    const c = await raw(port);
    c.send("POST /echo HTTP/1.1\r\nHost: shop.test\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n");
    await new Promise((r) => setTimeout(r, 50));
    c.send("6;ext=1\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n");
    const answer = await c.read((t) => t.includes("}"));
    expect(answer).toMatch(/"body":"hello world"/);
  });
});

describe("router: retries", () => {
  it("a request whose connect fails goes to another node of the colour, body and all", async () => {
    const app = await startApp("blue-2");
    const dead = await freePort();
    const r = await startRouter();
    await r.plane.apply(routerSpec(r.listen, { upstreams: { blue: [{ service: "web", pathPrefix: "/", ports: [dead, app.port] }], green: [] } }));
    const res = await get(r.port, "/echo", { method: "POST", host: "shop.test", body: "payload" });
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body)).toMatchObject({ app: "blue-2", body: "payload" });
  });

  it("a pooled connection the upstream closed as the request was written is retried on a fresh one", async () => {
    // An upstream that answers the first request of every connection and hangs up on the second.
    const seen: number[] = [];
    const server = createServer((s) => {
      let n = 0;
      s.on("data", () => {
        n++;
        seen.push(n);
        if (n === 1) s.write("HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok");
        else s.destroy();
      });
      s.on("error", () => {});
    });
    await new Promise<void>((r) => server.listen(0, LOOPBACK, r));
    cleanup(() => new Promise<void>((r) => server.close(() => r())));
    const upPort = (server.address() as AddressInfo).port;
    const r = await startRouter();
    await r.plane.apply(routerSpec(r.listen, { upstreams: { blue: [{ service: "web", pathPrefix: "/", ports: [upPort], health: { path: "/healthz", periodSeconds: 3600, timeoutSeconds: 1, healthyThreshold: 1, unhealthyThreshold: 1 } }], green: [] } }));
    for (let i = 0; i < 3; i++) {
      const res = await get(r.port, "/", { host: "shop.test" });
      expect([res.status, res.body]).toEqual([200, "ok"]);
    }
    expect(seen.filter((n) => n === 2).length).toBeGreaterThanOrEqual(1); // the stale case did happen
  });
});
