/**
 * Renewal by time (issue 15), end to end: pebble issues certificates valid for 45 s, so the reconciler's
 * renewal at two thirds of the lifetime comes due after 30 s with nothing else changed. The renewed
 * certificate is ordered through the full HTTP-01 flow, handed to the router, and served to new handshakes
 * under HTTPS load without a failed request.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ClusterBed, freePort } from "../support/cluster-bed.js";
import { processKit } from "../support/runtime-kit.js";
import { waitFor } from "../support/agent-bed.js";
import { httpsGet, testCa } from "../support/tls-world.js";
import { HttpsLoad } from "../support/https-load.js";
import { pebbleInstalled, startPebble, type Pebble } from "../support/pebble.js";

const VALIDITY_SECONDS = 45;

describe("ACME renewal by time (pebble, 45 s certificates)", () => {
  let dir: string;
  let pebble: Pebble;
  let bed: ClusterBed;

  beforeAll(async () => {
    if (!pebbleInstalled()) throw new Error("pebble is missing: apt-get install -y pebble (test/bed/setup.sh installs it)");
    dir = mkdtempSync(join(tmpdir(), "sy-acme-renew-"));
    const ca = await testCa(dir);
    const routerPort = await freePort();
    pebble = await startPebble(ca, routerPort, VALIDITY_SECONDS);
    bed = new ClusterBed({ prefix: "acmer", kit: await processKit(), routerPort, https: { acme: { directoryUrl: pebble.directoryUrl, caFile: pebble.caFile } } });
    await bed.startAgents();
    await bed.startReconciler();
  }, 60_000);

  afterAll(async () => {
    await bed?.close();
    await pebble?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("the certificate is renewed at two thirds of its lifetime and served under HTTPS load without a failed request", async () => {
    const root = await pebble.root();
    const first = await waitFor("the live host over HTTPS", async () => {
      const r = await httpsGet(bed.routerTlsPort, "/version", { host: "live.test", ca: Buffer.from(root) }).catch(() => undefined);
      return r?.status === 200 ? r : undefined;
    }, 30_000, 200);
    const lifetimeMs = Date.parse(first.cert.valid_to) - Date.parse(first.cert.valid_from);
    expect(lifetimeMs).toBeLessThanOrEqual((VALIDITY_SECONDS + 1) * 1000);
    const load = new HttpsLoad(bed.routerTlsPort, root);
    await waitFor("the renewed certificate served", async () => load.serials.size > 1 || undefined, 60_000, 200);
    await waitFor("load after the swap", async () => load.ok > 200 || undefined, 15_000);
    await load.stop();
    expect(load.failed).toEqual([]);
    const after = await httpsGet(bed.routerTlsPort, "/version", { host: "live.test", ca: Buffer.from(root) });
    expect(after.cert.serialNumber).not.toBe(first.cert.serialNumber);
    expect(Date.parse(after.cert.valid_to)).toBeGreaterThan(Date.parse(first.cert.valid_to));
    const st = await bed.status();
    expect(st.acme!.failures).toBe(0);
    console.log(`ACME renewal by time: ${load.ok} HTTPS requests during it, ${load.failed.length} failed; serials ${[...load.serials].join(" -> ")}`);
  }, 120_000);
});
