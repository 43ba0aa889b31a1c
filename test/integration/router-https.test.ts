/**
 * HTTPS at the router (issue 15, part 1): TLS termination with certificates from files, SNI by host,
 * TLS 1.2/1.3 only, session resumption, X-Forwarded-Proto, HTTP to HTTPS redirects and HSTS, certificate
 * reload without closing connections, and the flip and WebSockets over TLS.
 */
import { describe, expect, it } from "vitest";
import { Agent } from "node:https";
import { renameSync, writeFileSync, readFileSync } from "node:fs";
import { connect as tlsConnect, type TLSSocket } from "node:tls";
import { WebSocket, type ClientOptions } from "ws";
import { blueGreen, cleanup, get, routerSpec, until, LOOPBACK } from "../support/router-world.js";
import { httpsGet, startTlsRouter, testCa } from "../support/tls-world.js";
import type { Color } from "../../specs/types.js";

const HTTPS_ALL = { redirect: ["live", "preview", "blue", "green"] as Array<"live" | "preview" | "blue" | "green"> };

describe("router: HTTPS", () => {
  it("terminates TLS with the certificate SNI names, forwards X-Forwarded-Proto https, refuses TLS 1.1, resumes sessions", async () => {
    const ca = await testCa();
    const shop = ca.issue("shop", ["shop.test", "*.shop.test"]);
    const other = ca.issue("other", ["other.test"]);
    const { ups } = await blueGreen();
    const r = await startTlsRouter([shop, other]);
    await r.plane.apply({ ...routerSpec(r.listen, { upstreams: ups }), hosts: { live: ["shop.test", "other.test"], preview: ["preview.shop.test"], blue: [], green: [] } });

    const a = await httpsGet(r.tlsPort, "/echo", { host: "shop.test", ca: ca.ca });
    expect(a.status).toBe(200);
    expect(a.headers["x-switchyard-color"]).toBe("blue");
    const seen = JSON.parse(a.body) as { headers: Record<string, string> };
    expect(seen.headers["x-forwarded-proto"]).toBe("https");
    expect(a.cert.serialNumber).toBe(shop.serial);
    // The wildcard covers one label; another host gets its own certificate.
    expect((await httpsGet(r.tlsPort, "/", { host: "preview.shop.test", ca: ca.ca })).cert.serialNumber).toBe(shop.serial);
    expect((await httpsGet(r.tlsPort, "/", { host: "other.test", ca: ca.ca })).cert.serialNumber).toBe(other.serial);
    // A client claiming https over plain HTTP does not get it forwarded as such.
    const plain = JSON.parse((await get(r.port, "/echo", { host: "shop.test", headers: { "x-forwarded-proto": "https" } })).body) as { headers: Record<string, string> };
    expect(plain.headers["x-forwarded-proto"]).toBe("http");

    await expect(httpsGet(r.tlsPort, "/", { host: "shop.test", ca: ca.ca, minVersion: "TLSv1", maxVersion: "TLSv1.1", ciphers: "DEFAULT:@SECLEVEL=0" })).rejects.toThrow();
    const v12 = await httpsGet(r.tlsPort, "/", { host: "shop.test", ca: ca.ca, maxVersion: "TLSv1.2" });
    expect(v12.protocol).toBe("TLSv1.2");
    expect(a.protocol).toBe("TLSv1.3");

    // Resumption with a ticket, over TLS 1.2 and 1.3, across certificates chosen by SNI.
    for (const [host, maxVersion] of [["shop.test", "TLSv1.3"], ["other.test", "TLSv1.3"], ["shop.test", "TLSv1.2"]] as const) {
      const session = await firstSession(r.tlsPort, host, ca.ca, maxVersion);
      const again = await httpsGet(r.tlsPort, "/", { host, ca: ca.ca, session, maxVersion });
      expect(again.reused, `${host} ${maxVersion}`).toBe(true);
    }
    // The pairs load side by side; the configured order still decides (CI once saw other.test listed first):
    // the status lists them so, and a client without SNI gets the first one.
    const st = r.plane.status().tls!;
    expect(st.certificates.map((c) => c.hosts)).toEqual([["shop.test", "*.shop.test"], ["other.test"]]);
    expect(await noSniSerial(r.tlsPort)).toBe(shop.serial);
    expect(st.certificates.every((c) => c.issuer === "Switchyard Test CA" && c.error === null && Date.parse(c.notAfter) > Date.now())).toBe(true);
  });

  it("redirects plain HTTP with 308 per route class, never an ACME challenge; HSTS on HTTPS answers only", async () => {
    const ca = await testCa();
    const shop = ca.issue("shop", ["shop.test", "*.shop.test"]);
    const { ups } = await blueGreen();
    const r = await startTlsRouter([shop]);
    await r.plane.apply({ ...routerSpec(r.listen, { upstreams: ups }), https: { redirect: ["live", "blue"], hsts: { maxAgeSeconds: 600, includeSubDomains: true } } });

    const red = await get(r.port, "/a/b?c=d", { host: "shop.test:80" });
    expect(red.status).toBe(308);
    expect(red.headers.location).toBe(`https://shop.test:${r.tlsPort}/a/b?c=d`);
    expect((await get(r.port, "/x", { host: "blue.shop.test" })).status).toBe(308);
    // POST keeps its method on a 308; the body is not forwarded anywhere.
    expect((await get(r.port, "/echo", { host: "shop.test", method: "POST", body: "x=1" })).status).toBe(308);
    // Preview and green are not listed: served over HTTP.
    expect((await get(r.port, "/", { host: "preview.shop.test" })).status).toBe(200);
    expect((await get(r.port, "/", { host: "green.shop.test" })).status).toBe(200);
    // The ACME challenge path goes through (here to the app, which answers 404 for it: not a redirect).
    expect((await get(r.port, "/.well-known/acme-challenge/abc", { host: "shop.test" })).status).not.toBe(308);
    expect((await get(r.port, "/", { host: "preview.shop.test" })).headers["strict-transport-security"]).toBeUndefined();

    const s = await httpsGet(r.tlsPort, "/", { host: "shop.test", ca: ca.ca });
    expect(s.status).toBe(200);
    expect(s.headers["strict-transport-security"]).toBe("max-age=600; includeSubDomains");

    // Without router.https in the spec nothing is redirected and no HSTS is sent.
    await r.plane.apply(routerSpec(r.listen, { upstreams: ups, generation: 2 }));
    expect((await get(r.port, "/", { host: "shop.test" })).status).toBe(200);
    expect((await httpsGet(r.tlsPort, "/", { host: "shop.test", ca: ca.ca })).headers["strict-transport-security"]).toBeUndefined();
  });

  it("a router with HTTPS and redirectPort 443 leaves the port out of the Location", async () => {
    const ca = await testCa();
    const { ups } = await blueGreen();
    const r = await startTlsRouter([ca.issue("shop", ["shop.test"])], { redirectPort: 443 });
    await r.plane.apply({ ...routerSpec(r.listen, { upstreams: ups }), https: HTTPS_ALL });
    expect((await get(r.port, "/p", { host: "shop.test" })).headers.location).toBe("https://shop.test/p");
  });

  it("serves a replaced certificate to new handshakes without closing open connections; a broken replacement keeps the old one", async () => {
    const ca = await testCa();
    const first = ca.issue("shop", ["shop.test"]);
    const { ups } = await blueGreen();
    const r = await startTlsRouter([first]);
    await r.plane.apply(routerSpec(r.listen, { upstreams: ups }));
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    cleanup(() => agent.destroy());
    const before = await httpsGet(r.tlsPort, "/", { host: "shop.test", ca: ca.ca, agent });
    expect(before.cert.serialNumber).toBe(first.serial);
    const open = await rawTls(r.tlsPort, "shop.test", ca.ca);

    const second = ca.issue("shop", ["shop.test"]); // renamed over the same files
    await until(async () => (await httpsGet(r.tlsPort, "/", { host: "shop.test", ca: ca.ca })).cert.serialNumber === second.serial, 5_000, "the new certificate");
    // The keep-alive connection opened before still works, on its old session.
    const kept = await httpsGet(r.tlsPort, "/", { host: "shop.test", ca: ca.ca, agent });
    expect(kept.status).toBe(200);
    expect(kept.cert.serialNumber).toBe(first.serial);
    expect(await open.ask("GET / HTTP/1.1\r\nHost: shop.test\r\n\r\n")).toMatch(/^HTTP\/1\.1 200/);

    // A half-written certificate: the previous one stays served and status says why.
    const { certFile } = second;
    writeFileSync(certFile + ".tmp", readFileSync(certFile).subarray(0, 100));
    renameSync(certFile + ".tmp", certFile);
    await until(() => r.plane.status().tls!.certificates[0]!.error !== null, 5_000, "the load error in status");
    expect((await httpsGet(r.tlsPort, "/", { host: "shop.test", ca: ca.ca })).cert.serialNumber).toBe(second.serial);
    expect(r.plane.status().tls!.certificates[0]!.hosts).toEqual(["shop.test"]);
  });

  it("flips under concurrent HTTPS keep-alive load with zero failed requests", async () => {
    const ca = await testCa();
    const { green, ups } = await blueGreen();
    const r = await startTlsRouter([ca.issue("shop", ["shop.test"])]);
    await r.plane.apply(routerSpec(r.listen, { live: "blue", preview: "green", upstreams: ups }));
    const CLIENTS = 12, PER_CLIENT = 80, FLIP_AT = 400;
    const agent = new Agent({ keepAlive: true, maxSockets: CLIENTS });
    cleanup(() => agent.destroy());
    let completed = 0;
    let flip: Promise<void> | null = null;
    let flipDone = false;
    const failures: string[] = [];
    const served: Record<Color, number> = { blue: 0, green: 0 };
    const afterFlip = new Set<string>();
    const client = async (): Promise<void> => {
      for (let i = 0; i < PER_CLIENT; i++) {
        const startedAfterFlip = flipDone;
        try {
          // Every fourth request on a fresh connection: new handshakes across the flip too.
          const res = await httpsGet(r.tlsPort, "/", { host: "shop.test", ca: ca.ca, ...(i % 4 === 0 ? {} : { agent }) });
          const color = res.headers["x-switchyard-color"] as Color;
          if (res.status !== 200) failures.push(`${res.status} ${res.body}`);
          else served[color]++;
          if (startedAfterFlip) afterFlip.add(color);
        } catch (err) {
          failures.push((err as Error).message);
        }
        if (++completed === FLIP_AT) {
          flip = r.plane.apply(routerSpec(r.listen, { live: "green", preview: "blue", generation: 2, upstreams: ups })).then(() => { flipDone = true; });
        }
      }
    };
    await Promise.all(Array.from({ length: CLIENTS }, client));
    await flip;
    expect(failures).toEqual([]);
    expect(served.blue + served.green).toBe(CLIENTS * PER_CLIENT);
    expect(served.blue).toBeGreaterThanOrEqual(FLIP_AT);
    expect(afterFlip).toEqual(new Set(["green"]));
    expect(green.hits.get("/")).toBe(served.green);
  });

  it("carries a WebSocket over TLS across a flip; new ones go to the new colour", async () => {
    const ca = await testCa();
    const { ups } = await blueGreen();
    const r = await startTlsRouter([ca.issue("shop", ["shop.test"])]);
    await r.plane.apply(routerSpec(r.listen, { live: "blue", preview: "green", upstreams: ups }));
    const open = async (): Promise<{ ws: WebSocket; ask(m: string): Promise<string> }> => {
      const ws = new WebSocket(`wss://${LOOPBACK}:${r.tlsPort}/ws`, { headers: { host: "shop.test" }, ca: ca.ca, servername: "shop.test" } as ClientOptions);
      cleanup(() => ws.terminate());
      await new Promise<void>((resolve, reject) => { ws.once("open", resolve); ws.once("error", reject); });
      return { ws, ask: (m) => new Promise((resolve, reject) => { ws.once("message", (d) => resolve(d.toString())); ws.once("close", () => reject(new Error("closed"))); ws.send(m); }) };
    };
    const old = await open();
    expect(await old.ask("hi")).toBe("blue-1:hi");
    expect(r.plane.status().websockets.blue).toBe(1);
    await r.plane.apply(routerSpec(r.listen, { live: "green", preview: "blue", generation: 2, upstreams: ups }));
    expect(await old.ask("still")).toBe("blue-1:still");
    expect(await (await open()).ask("new")).toBe("green-1:new");
  });
});

/** The serial number of the certificate a client that sends no SNI gets. */
async function noSniSerial(port: number): Promise<string> {
  const s = tlsConnect({ host: LOOPBACK, port, rejectUnauthorized: false });
  cleanup(() => s.destroy());
  await new Promise<void>((resolve, reject) => { s.once("secureConnect", resolve); s.once("error", reject); });
  const serial = s.getPeerCertificate().serialNumber;
  s.end();
  return serial;
}

/** A TLS session from one handshake, to offer on the next (the ticket arrives after the handshake in 1.3). */
async function firstSession(port: number, host: string, ca: Buffer, maxVersion: "TLSv1.2" | "TLSv1.3"): Promise<Buffer> {
  const s = tlsConnect({ host: LOOPBACK, port, servername: host, ca, maxVersion });
  cleanup(() => s.destroy());
  const session = new Promise<Buffer>((resolve) => s.once("session", resolve));
  await new Promise<void>((resolve, reject) => { s.once("secureConnect", resolve); s.once("error", reject); });
  s.write(`GET / HTTP/1.1\r\nHost: ${host}\r\n\r\n`);
  const got = await session;
  s.end();
  return got;
}

/** A raw TLS connection that sends a request and reads one whole answer (Content-Length framed). */
async function rawTls(port: number, host: string, ca: Buffer): Promise<{ socket: TLSSocket; ask(req: string): Promise<string> }> {
  const socket = tlsConnect({ host: LOOPBACK, port, servername: host, ca });
  cleanup(() => socket.destroy());
  await new Promise<void>((resolve, reject) => { socket.once("secureConnect", resolve); socket.once("error", reject); });
  socket.setEncoding("latin1");
  return {
    socket,
    ask: (req) => new Promise((resolve, reject) => {
      let text = "";
      const onData = (d: string): void => {
        text += d;
        const end = text.indexOf("\r\n\r\n");
        const m = /content-length: (\d+)/i.exec(text);
        if (end >= 0 && m !== null && text.length >= end + 4 + Number(m[1])) { socket.off("data", onData); resolve(text); }
      };
      socket.on("data", onData);
      socket.once("close", () => reject(new Error(`closed after ${JSON.stringify(text)}`)));
      socket.write(req, "latin1");
    }),
  };
}
