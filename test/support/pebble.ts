/**
 * Let's Encrypt's test CA for tests: pebble (Debian package `pebble`) and its DNS test server
 * pebble-challtestsrv, started per test on free loopback ports. challtestsrv answers every A query with
 * 127.0.0.1 (no AAAA), so pebble's HTTP-01 validation of any test host name reaches the router's HTTP port,
 * which is pebble's `httpPort`. The full flow runs: no "always valid" shortcut.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { Agent, request } from "undici";
import { freePort } from "./ports.js";
import type { TestCa } from "./tls-world.js";

export interface Pebble {
  directoryUrl: string;
  /** The CA bundle that signed pebble's own HTTPS listener (cluster.yaml acme.caFile). */
  caFile: string;
  /** The root that signs the certificates pebble issues (trust it to check the router's certificate). */
  root(): Promise<string>;
  /** Kills pebble and challtestsrv (the CA gone, as after a test's "ACME server is down"). */
  stop(): Promise<void>;
}

export function pebbleInstalled(): boolean {
  try {
    return spawnSyncOk("pebble") && spawnSyncOk("pebble-challtestsrv");
  } catch {
    return false;
  }
}

/**
 * Starts challtestsrv and pebble; `httpPort` is where pebble validates HTTP-01 (the router's HTTP port);
 * `validitySeconds`, how long the certificates it issues are valid (pebble's default: five years).
 */
export async function startPebble(ca: TestCa, httpPort: number, validitySeconds?: number): Promise<Pebble> {
  const dnsPort = await freePort();
  const dnsMgmt = await freePort();
  const port = await freePort();
  const mgmt = await freePort();
  const tls = ca.issue("pebble", ["localhost", "127.0.0.1"]);
  const config = join(ca.dir, "pebble.json");
  writeFileSync(config, JSON.stringify({
    pebble: {
      listenAddress: `127.0.0.1:${port}`, managementListenAddress: `127.0.0.1:${mgmt}`,
      certificate: tls.certFile, privateKey: tls.keyFile, httpPort, tlsPort: 1, ocspResponderURL: "", externalAccountBindingRequired: false,
      ...(validitySeconds !== undefined ? { certificateValidityPeriod: validitySeconds } : {}),
    },
  }));
  const procs: ChildProcess[] = [];
  const dns = spawn("pebble-challtestsrv", ["-defaultIPv4", "127.0.0.1", "-defaultIPv6", "", "-dns01", `127.0.0.1:${dnsPort}`, "-http01", "", "-https01", "", "-tlsalpn01", "", "-management", `127.0.0.1:${dnsMgmt}`], { stdio: ["ignore", "pipe", "pipe"] });
  procs.push(dns);
  const out: string[] = [];
  const pebble = spawn("pebble", ["-config", config, "-dnsserver", `127.0.0.1:${dnsPort}`], {
    stdio: ["ignore", "pipe", "pipe"],
    // No random sleeps before validation, no random nonce rejections: the flow is real, the delays are not needed.
    env: { ...process.env, PEBBLE_VA_NOSLEEP: "1", PEBBLE_WFE_NONCEREJECT: "0", PEBBLE_VA_ALWAYS_VALID: "0" },
  });
  procs.push(pebble);
  for (const p of procs) {
    p.stdout!.on("data", (d: Buffer) => out.push(d.toString()));
    p.stderr!.on("data", (d: Buffer) => out.push(d.toString()));
  }
  const dispatcher = new Agent({ connect: { ca: ca.ca } });
  const directoryUrl = `https://127.0.0.1:${port}/dir`;
  const end = Date.now() + 15_000;
  for (;;) {
    try {
      const r = await request(directoryUrl, { dispatcher });
      await r.body.text();
      if (r.statusCode === 200) break;
    } catch { /* not up yet */ }
    if (Date.now() > end) throw new Error(`pebble did not start: ${out.join("").slice(-2000)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  let stopped = false;
  return {
    directoryUrl,
    caFile: ca.caFile,
    async root() {
      const r = await request(`https://127.0.0.1:${mgmt}/roots/0`, { dispatcher });
      return r.body.text();
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      await dispatcher.close();
      await Promise.all(procs.map((p) => new Promise<void>((resolve) => {
        if (p.exitCode !== null || p.signalCode !== null) resolve();
        else { p.once("exit", () => resolve()); p.kill("SIGTERM"); }
      })));
    },
  };
}

function spawnSyncOk(cmd: string): boolean {
  const r = spawnSync(cmd, ["-h"], { stdio: "ignore" });
  return r.error === undefined;
}
