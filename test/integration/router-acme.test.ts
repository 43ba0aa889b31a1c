/**
 * Certificates from ACME (issue 15, part 2), against Let's Encrypt's test CA pebble through the full HTTP-01
 * flow: pebble resolves the test host names to 127.0.0.1 (pebble-challtestsrv) and fetches the token from
 * the router's HTTP port, which answers from the challenges the reconciler put into every router.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdtempSync, rmSync, statSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ClusterBed, freePort } from "../support/cluster-bed.js";
import { processKit } from "../support/runtime-kit.js";
import { waitFor } from "../support/agent-bed.js";
import { httpsGet, testCa, type TestCa } from "../support/tls-world.js";
import { HttpsLoad } from "../support/https-load.js";
import { pebbleInstalled, startPebble, type Pebble } from "../support/pebble.js";

let dir: string;
let ca: TestCa;
let pebble: Pebble;
let bed: ClusterBed;
let root: string;

beforeAll(async () => {
  if (!pebbleInstalled()) throw new Error("pebble is missing: apt-get install -y pebble (test/bed/setup.sh installs it)");
  dir = mkdtempSync(join(tmpdir(), "sy-acme-"));
  ca = await testCa(dir);
  const routerPort = await freePort();
  pebble = await startPebble(ca, routerPort);
  bed = new ClusterBed({ prefix: "acme", kit: await processKit(), routerPort, https: { acme: { directoryUrl: pebble.directoryUrl, caFile: pebble.caFile } } });
  await bed.startAgents();
}, 60_000);

afterAll(async () => {
  await bed?.close();
  await pebble?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("ACME at the router (pebble, HTTP-01)", () => {
  it("a fresh cluster with an ACME section serves its live host over HTTPS with a certificate pebble issued within 30 s; HTTP gets 308", async () => {
    const t0 = Date.now();
    await bed.startReconciler();
    root = await pebble.root();
    const first = await waitFor("the live host over HTTPS", async () => {
      try {
        const r = await httpsGet(bed.routerTlsPort, "/version", { host: "live.test", ca: Buffer.from(root) });
        return r.status === 200 ? r : undefined;
      } catch {
        return undefined;
      }
    }, 30_000, 200);
    const tookMs = Date.now() - t0;
    expect(tookMs).toBeLessThan(30_000);
    expect(first.cert.issuer.CN).toMatch(/Pebble/i);
    expect(first.headers["x-switchyard-color"]).toBe("blue");
    const sans = (first.cert.subjectaltname ?? "").split(", ").sort();
    expect(sans).toEqual(["DNS:blue.test", "DNS:green.test", "DNS:live.test", "DNS:preview.test"]);
    console.log(`ACME: live host served over HTTPS with pebble's certificate ${tookMs} ms after the reconciler started`);

    // Visible: status and /metrics show the certificate's hosts, issuer and expiry.
    const st = await waitFor("the certificate in status", async () => {
      const x = await bed.status();
      return x.certificates?.some((c) => c.source === "acme") && x.acme?.routers.length === 1 ? x : undefined;
    }, 15_000);
    const c = st.certificates!.find((x) => x.source === "acme")!;
    expect(c.router).toBe(bed.names.router);
    expect([...c.hosts].sort()).toEqual(["blue.test", "green.test", "live.test", "preview.test"]);
    expect(c.issuer).toMatch(/Pebble/i);
    expect(Date.parse(c.notAfter)).toBeGreaterThan(Date.now());
    expect(st.acme!.failures).toBe(0);
    expect(Date.parse(st.acme!.renewAt!)).toBeLessThan(Date.parse(c.notAfter));
    const metrics = await bed.api<string>("/metrics");
    expect(metrics).toMatch(new RegExp(`switchyard_certificate_expiry_timestamp_seconds\\{router="${bed.names.router}",source="acme",hosts="[^"]*live\\.test[^"]*",issuer="[^"]*Pebble[^"]*"\\} \\d+`, "i"));

    const http = await bed.viaRouter("live.test", "/version");
    expect(http.status).toBe(308);
    // The router stores what it was handed with mode 0600.
    const acmeDir = join(bed.dir, "agents", bed.names.router, "data", "acme");
    for (const f of readdirSync(acmeDir)) expect((statSync(join(acmeDir, f)).mode & 0o777).toString(8), f).toBe("600");
    const reconcilerAcme = join(bed.dataDir, "acme");
    for (const f of readdirSync(reconcilerAcme)) expect((statSync(join(reconcilerAcme, f)).mode & 0o777).toString(8), f).toBe("600");
  }, 60_000);

  it("a flip under HTTPS load fails no request", async () => {
    const load = new HttpsLoad(bed.routerTlsPort, root);
    await waitFor("load running", async () => load.ok > 50 || undefined, 10_000);
    bed.writeState({ active: "green" });
    await waitFor("green live", async () => load.colors.at(-1) === "green" || undefined, 30_000);
    await waitFor("load after the flip", async () => load.ok > 200 || undefined, 10_000);
    await load.stop();
    expect(load.failed).toEqual([]);
    expect(load.colors).toEqual(["blue", "green"]);
  }, 60_000);

  it("a new certificate (hosts changed in cluster.yaml) replaces the old under HTTPS load without a failed request", async () => {
    const load = new HttpsLoad(bed.routerTlsPort, root);
    await waitFor("load running", async () => load.ok > 50 || undefined, 10_000);
    const before = [...load.serials];
    expect(before).toHaveLength(1);
    // The same path a renewal takes: order, HTTP-01 through every router, hand-over, swap for new handshakes.
    const text = (await import("node:fs")).readFileSync(join(bed.deployDir, "cluster.yaml"), "utf8")
      .replace("email: ops@example.com,", "email: ops@example.com, hosts: [live.test, preview.test, blue.test, green.test, www.live.test],");
    bed.writeAtomically("cluster.yaml", text);
    await waitFor("the new certificate served", async () => load.serials.size > 1 || undefined, 30_000);
    await waitFor("load after the swap", async () => load.ok > 400 || undefined, 10_000);
    await load.stop();
    expect(load.failed).toEqual([]);
    const r = await httpsGet(bed.routerTlsPort, "/version", { host: "live.test", ca: Buffer.from(root) });
    expect(r.cert.subjectaltname).toContain("DNS:www.live.test");
    console.log(`ACME re-issue under HTTPS load: ${load.ok} requests, ${load.failed.length} failed, serials ${[...load.serials].join(" -> ")}`);
  }, 60_000);

  it("the router still serves HTTPS after the reconciler and pebble are gone, across its own restart", async () => {
    await bed.reconciler!.close();
    bed.reconciler = undefined;
    await pebble.stop();
    await bed.stopAgent(bed.names.router);
    await bed.startAgent(bed.names.router);
    const r = await waitFor("HTTPS after the router restart", async () => {
      try {
        const x = await httpsGet(bed.routerTlsPort, "/version", { host: "live.test", ca: Buffer.from(root) });
        return x.status === 200 ? x : undefined;
      } catch {
        return undefined;
      }
    }, 10_000);
    expect(r.headers["x-switchyard-color"]).toBe("green");
    expect(r.cert.issuer.CN).toMatch(/Pebble/i);
  }, 60_000);
});
