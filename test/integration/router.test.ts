/**
 * Router data plane against real upstream servers on loopback: routing by host and path, forwarded
 * headers, bodies both ways, failures of upstream nodes and the router's own answers.
 */
import { describe, expect, it } from "vitest";
import { Agent, request } from "node:http";
import { connect } from "node:net";
import {
  HOSTS, bigBody, cleanup, freePort, get, routerSpec, startApp, startRouter, until, type App,
} from "../support/router-world.js";

/** Writes raw bytes on a fresh connection and returns everything the router answers until it closes. */
function rawExchange(port: number, bytes: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect(port, "127.0.0.1", () => s.write(bytes));
    let out = "";
    s.setEncoding("latin1");
    s.on("data", (d: string) => { out += d; });
    s.on("close", () => resolve(out));
    s.on("error", reject);
  });
}

async function fourApps(): Promise<{ blueWeb: App; blueApi: App; greenWeb: App; greenApi: App }> {
  const [blueWeb, blueApi, greenWeb, greenApi] = await Promise.all([startApp("blue-web"), startApp("blue-api"), startApp("green-web"), startApp("green-api")]);
  return { blueWeb: blueWeb!, blueApi: blueApi!, greenWeb: greenWeb!, greenApi: greenApi! };
}

describe("router: routing", () => {
  it("routes by host (live, preview, colour hosts, default route) and longest path prefix", async () => {
    const a = await fourApps();
    const r = await startRouter();
    await r.plane.apply(routerSpec(r.listen, {
      live: "blue", preview: "green",
      upstreams: {
        blue: [{ service: "web", pathPrefix: "/", ports: [a.blueWeb.port] }, { service: "api", pathPrefix: "/api", ports: [a.blueApi.port] }],
        green: [{ service: "web", pathPrefix: "/", ports: [a.greenWeb.port] }, { service: "api", pathPrefix: "/api", ports: [a.greenApi.port] }],
      },
    }));
    const matrix: Array<[host: string, path: string, app: string]> = [
      ["shop.test", "/", "blue-web"],
      ["SHOP.test:8000", "/x/y", "blue-web"],
      ["shop.test", "/api", "blue-api"],
      ["shop.test", "/api/orders?id=1", "blue-api"],
      ["shop.test", "/api?x=1", "blue-api"],
      ["shop.test", "/apix", "blue-web"],
      ["preview.shop.test", "/", "green-web"],
      ["preview.shop.test", "/api/x", "green-api"],
      ["blue.shop.test", "/api/x", "blue-api"],
      ["green.shop.test", "/", "green-web"],
      ["unknown.example", "/api/x", "blue-api"], // default route: live
    ];
    for (const [host, path, app] of matrix) {
      const res = await get(r.port, path, { host });
      expect({ host, path, status: res.status, app: res.headers["x-app"] }).toEqual({ host, path, status: 200, app });
      expect(res.headers["x-switchyard-color"]).toBe(app.split("-")[0]);
    }
  });

  it("answers 404 for unknown hosts when the default route is none, 503 when no colour is live or in preview", async () => {
    const app = await startApp("blue-1");
    const r = await startRouter();
    const ups = { blue: [{ service: "web", pathPrefix: "/", ports: [app.port] }], green: [] };
    await r.plane.apply(routerSpec(r.listen, { live: null, preview: null, defaultRoute: "none", upstreams: ups }));
    const unknown = await get(r.port, "/", { host: "nope.example" });
    expect(unknown.status).toBe(404);
    expect(unknown.body).toBe("no app is served on this host name\n");
    const live = await get(r.port, "/", { host: "shop.test" });
    expect([live.status, live.body]).toEqual([503, "no colour is live yet\n"]);
    const preview = await get(r.port, "/", { host: "preview.shop.test" });
    expect([preview.status, preview.body]).toEqual([503, "no colour is in preview\n"]);
    const green = await get(r.port, "/", { host: "green.shop.test" });
    expect([green.status, green.headers["x-switchyard-color"]]).toEqual([503, "green"]);
    expect(green.body).toMatch(/green/);
    // The colour host still reaches blue even though nothing is live.
    expect((await get(r.port, "/", { host: "blue.shop.test" })).status).toBe(200);
    // A path no service of the colour serves.
    await r.plane.apply(routerSpec(r.listen, { generation: 2, upstreams: { blue: [{ service: "api", pathPrefix: "/api", ports: [app.port] }], green: [] } }));
    const noPath = await get(r.port, "/other", { host: "shop.test" });
    expect([noPath.status, noPath.body]).toEqual([503, "no upstream on blue serves this path\n"]);
  });

  it("sets X-Forwarded-For/-Proto/-Host, keeps Host, drops hop-by-hop headers both ways", async () => {
    const app = await startApp("blue-1");
    const r = await startRouter();
    await r.plane.apply(routerSpec(r.listen, { upstreams: { blue: [{ service: "web", pathPrefix: "/", ports: [app.port] }], green: [] } }));
    const res = await get(r.port, "/echo", {
      host: "shop.test:8443",
      headers: {
        "x-forwarded-for": "203.0.113.7", "x-forwarded-proto": "https", "x-forwarded-host": "evil.example",
        connection: "keep-alive, x-private", "x-private": "secret", "keep-alive": "timeout=9", te: "trailers", "x-app-header": "kept",
      },
    });
    expect(res.status).toBe(200);
    const seen = JSON.parse(res.body) as { headers: Record<string, string> };
    expect(seen.headers["x-forwarded-for"]).toBe("203.0.113.7, 127.0.0.1");
    expect(seen.headers["x-forwarded-proto"]).toBe("http");
    expect(seen.headers["x-forwarded-host"]).toBe("shop.test:8443");
    expect(seen.headers.host).toBe("shop.test:8443");
    expect(seen.headers["x-app-header"]).toBe("kept");
    for (const h of ["x-private", "keep-alive", "te"]) expect(seen.headers[h]).toBeUndefined();
    // Response: the upstream's Keep-Alive header is about its connection to us, not the client's.
    expect(res.headers["keep-alive"]).not.toBe("timeout=5");
    expect(res.headers["x-hop"]).toBe("drop me");
    expect(res.headers["x-switchyard-color"]).toBe("blue");
  });

  it("forwards request bodies (content-length and chunked) and HEAD requests", async () => {
    const app = await startApp("blue-1");
    const r = await startRouter();
    await r.plane.apply(routerSpec(r.listen, { upstreams: { blue: [{ service: "web", pathPrefix: "/", ports: [app.port] }], green: [] } }));
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    cleanup(() => agent.destroy());
    const big = "x".repeat(300_000);
    const withLength = await get(r.port, "/echo", { method: "POST", body: big, host: "shop.test", agent });
    expect(JSON.parse(withLength.body).body).toBe(big);
    const chunked = await get(r.port, "/echo", { method: "PUT", body: [Buffer.from("part one, "), Buffer.from("part two")], host: "shop.test", agent });
    const echoed = JSON.parse(chunked.body) as { body: string; headers: Record<string, string>; method: string };
    expect([echoed.method, echoed.body, echoed.headers["transfer-encoding"]]).toEqual(["PUT", "part one, part two", "chunked"]);
    const head = await get(r.port, "/", { method: "HEAD", host: "shop.test", agent });
    expect([head.status, head.body, head.headers["content-length"]]).toEqual([200, "", "17"]);
    // The keep-alive connection still works after all of that.
    expect((await get(r.port, "/", { host: "shop.test", agent })).body).toBe("hello from blue-1");
  });

  it("forwards large response bodies intact to a slow reader (content-length and chunked)", async () => {
    const app = await startApp("blue-1");
    const r = await startRouter();
    await r.plane.apply(routerSpec(r.listen, { upstreams: { blue: [{ service: "web", pathPrefix: "/", ports: [app.port] }], green: [] } }));
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    cleanup(() => agent.destroy());
    for (const path of ["/big?kb=8192", "/big?kb=8192&chunked=1"]) {
      const body = await new Promise<Buffer>((resolve, reject) => {
        const req = request({ host: "127.0.0.1", port: r.port, path, headers: { host: "shop.test" }, agent }, (res) => {
          const chunks: Buffer[] = [];
          // Read in fits and starts so that the router's writes to us keep backing up.
          let n = 0;
          res.on("data", (c: Buffer) => {
            chunks.push(c);
            if (++n % 8 === 0) {
              res.pause();
              setTimeout(() => res.resume(), 5);
            }
          });
          res.on("end", () => resolve(Buffer.concat(chunks)));
          res.on("error", reject);
        });
        req.on("error", reject);
        req.end();
      });
      expect(body.length).toBe(8192 * 1024);
      expect(body.equals(bigBody(8192 * 1024))).toBe(true);
    }
    expect((await get(r.port, "/", { host: "shop.test", agent })).body).toBe("hello from blue-1");
  });

  it("pools keep-alive connections to upstreams", async () => {
    const app = await startApp("blue-1");
    let connections = 0;
    app.server.on("connection", () => connections++);
    const r = await startRouter();
    await r.plane.apply(routerSpec(r.listen, { upstreams: { blue: [{ service: "web", pathPrefix: "/", ports: [app.port] }], green: [] } }));
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    cleanup(() => agent.destroy());
    for (let i = 0; i < 50; i++) expect((await get(r.port, "/", { host: "shop.test", agent })).status).toBe(200);
    // Health probes use their own short connections; requests share one pooled connection.
    const probes = app.hits.get("/healthz") ?? 0;
    expect(connections - probes).toBeLessThanOrEqual(2);
  });
});

describe("router: upstream failures", () => {
  it("one node of a colour down: every request goes to the other node", async () => {
    const up = await startApp("blue-1");
    const dead = await freePort();
    const r = await startRouter();
    await r.plane.apply(routerSpec(r.listen, { upstreams: { blue: [{ service: "web", pathPrefix: "/", ports: [dead, up.port] }], green: [] } }));
    for (let i = 0; i < 20; i++) {
      const res = await get(r.port, "/", { host: "shop.test" });
      expect([res.status, res.body]).toEqual([200, "hello from blue-1"]);
    }
    expect(r.plane.health().find((h) => h.port === dead)?.health).toBe("unhealthy");
  });

  it("a node that stops answering its health check is taken out of rotation and comes back", async () => {
    const [a, b] = await Promise.all([startApp("blue-1"), startApp("blue-2")]);
    const r = await startRouter();
    await r.plane.apply(routerSpec(r.listen, { upstreams: { blue: [{ service: "web", pathPrefix: "/", ports: [a!.port, b!.port] }], green: [] } }));
    await until(() => r.plane.health().every((h) => h.health === "healthy"), 3_000, "both healthy");
    a!.healthy = false;
    await until(() => r.plane.health().find((h) => h.port === a!.port)?.health === "unhealthy", 3_000, "blue-1 unhealthy");
    for (let i = 0; i < 10; i++) expect((await get(r.port, "/", { host: "shop.test" })).body).toBe("hello from blue-2");
    a!.healthy = true;
    await until(() => r.plane.health().find((h) => h.port === a!.port)?.health === "healthy", 3_000, "blue-1 back");
    const bodies = new Set<string>();
    for (let i = 0; i < 4; i++) bodies.add((await get(r.port, "/", { host: "shop.test" })).body);
    expect(bodies).toEqual(new Set(["hello from blue-1", "hello from blue-2"]));
  });

  it("every node of a colour fails its health check but still answers (an app slowed by load): requests are tried on all of them, not refused", async () => {
    const [a, b] = await Promise.all([startApp("blue-1"), startApp("blue-2")]);
    const r = await startRouter();
    await r.plane.apply(routerSpec(r.listen, { upstreams: { blue: [{ service: "web", pathPrefix: "/", ports: [a!.port, b!.port] }], green: [] } }));
    await until(() => r.plane.health().every((h) => h.health === "healthy"), 3_000, "both healthy");
    a!.healthy = false;
    b!.healthy = false;
    await until(() => r.plane.health().every((h) => h.health === "unhealthy"), 3_000, "both unhealthy");
    const bodies = new Set<string>();
    for (let i = 0; i < 6; i++) {
      const res = await get(r.port, "/", { host: "shop.test" });
      expect(res.status).toBe(200);
      bodies.add(res.body);
    }
    expect(bodies).toEqual(new Set(["hello from blue-1", "hello from blue-2"]));
    // One node healthy again: only it gets requests.
    b!.healthy = true;
    await until(() => r.plane.health().find((h) => h.port === b!.port)?.health === "healthy", 3_000, "blue-2 back");
    for (let i = 0; i < 4; i++) expect((await get(r.port, "/", { host: "shop.test" })).body).toBe("hello from blue-2");
  });

  it("all nodes of a colour down: 503 that says so", async () => {
    const [d1, d2] = [await freePort(), await freePort()];
    const green = await startApp("green-1");
    const r = await startRouter();
    await r.plane.apply(routerSpec(r.listen, { upstreams: { blue: [{ service: "web", pathPrefix: "/", ports: [d1, d2] }], green: [{ service: "web", pathPrefix: "/", ports: [green.port] }] } }));
    for (let i = 0; i < 3; i++) {
      const res = await get(r.port, "/", { host: "shop.test" });
      expect([res.status, res.body, res.headers["x-switchyard-color"]]).toEqual([503, "every upstream node of blue is down\n", "blue"]);
    }
    expect((await get(r.port, "/", { host: "green.shop.test" })).status).toBe(200);
  });

  it("upstream too slow to answer: 504; upstream that resets mid-answer: the client sees the cut", async () => {
    const app = await startApp("blue-1");
    const r = await startRouter({ timeouts: { headerMs: 300 } });
    await r.plane.apply(routerSpec(r.listen, { upstreams: { blue: [{ service: "web", pathPrefix: "/", ports: [app.port] }], green: [] } }));
    const slow = await get(r.port, "/slow?ms=1500", { host: "shop.test" });
    expect(slow.status).toBe(504);
    expect(slow.body).toMatch(/did not answer in time/);
    expect(r.plane.status().inFlight.blue).toBe(0);
    expect((await get(r.port, "/slow?ms=10", { host: "shop.test" })).body).toBe("slow hello from blue-1");
    const cut = await get(r.port, "/reset", { host: "shop.test" }).then(() => "complete", (e: Error) => e.message);
    expect(cut).not.toBe("complete");
    await until(() => r.plane.status().inFlight.blue === 0, 1_000, "cut exchange counted out");
    expect((await get(r.port, "/", { host: "shop.test" })).status).toBe(200);
  });

  it("answers 503 'no routing table yet' before the first apply and counts in-flight requests per colour", async () => {
    const app = await startApp("blue-1");
    const r = await startRouter();
    const none = await get(r.port, "/", { host: "shop.test" });
    expect([none.status, none.body]).toEqual([503, "no routing table yet\n"]);
    expect(r.plane.status()).toEqual({ spec: null, inFlight: { blue: 0, green: 0 }, websockets: { blue: 0, green: 0 }, tableError: null, responses: { blue: { "1xx": 0, "2xx": 0, "3xx": 0, "4xx": 0, "5xx": 0 }, green: { "1xx": 0, "2xx": 0, "3xx": 0, "4xx": 0, "5xx": 0 } } });
    await r.plane.apply(routerSpec(r.listen, { upstreams: { blue: [{ service: "web", pathPrefix: "/", ports: [app.port] }], green: [] } }));
    const pending = Promise.all([get(r.port, "/slow?ms=400", { host: "shop.test" }), get(r.port, "/slow?ms=400", { host: "shop.test" })]);
    await until(() => r.plane.status().inFlight.blue === 2, 2_000, "two in flight");
    const changesBefore = r.changes.count;
    await pending;
    await until(() => r.plane.status().inFlight.blue === 0, 2_000, "none in flight");
    await until(() => r.changes.count > changesBefore, 1_000, "onChange after counts changed");
  });

  it("refuses a malformed request target and survives a client that hangs up mid-request", async () => {
    const app = await startApp("blue-1");
    const r = await startRouter();
    await r.plane.apply(routerSpec(r.listen, { upstreams: { blue: [{ service: "web", pathPrefix: "/", ports: [app.port] }], green: [] } }));
    const answer = await rawExchange(r.port, "GET nonsense HTTP/1.1\r\nHost: shop.test\r\nConnection: close\r\n\r\n");
    expect(answer).toMatch(/^HTTP\/1\.1 400 /);
    await new Promise<void>((resolve) => {
      const s = connect(r.port, "127.0.0.1", () => {
        s.write("GET /slow?ms=300 HTTP/1.1\r\nHost: shop.test\r\n\r\n");
        setTimeout(() => { s.destroy(); resolve(); }, 50);
      });
    });
    await until(() => r.plane.status().inFlight.blue === 0, 2_000, "aborted exchange counted out");
    expect((await get(r.port, "/", { host: "shop.test" })).status).toBe(200);
    expect(HOSTS.live).toContain("shop.test");
  });
});
