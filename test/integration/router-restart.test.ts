/**
 * Zero-downtime router restarts with socket activation: a holder plays systemd (binds the router's port
 * once and passes it as fd 3 with LISTEN_FDS/LISTEN_PID to every router process it starts), and the router
 * is restarted ten times, as `systemctl restart` does (SIGTERM, wait for the exit, start the next), under
 * real HTTP and HTTPS load on keep-alive and on new connections (both ports passed): no request fails.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { Agent } from "node:http";
import { Agent as HttpsAgent } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { blueGreen, cleanup, freePort, get, HOSTS, routerSpec } from "../support/router-world.js";
import { requestJson, waitFor } from "../support/agent-bed.js";
import { httpsGet, testCa } from "../support/tls-world.js";

const RESTARTS = 10;

/** The holder: binds the port, starts router processes with it, reports their exits. */
class SocketHolder {
  private readonly proc: ChildProcess;
  private readonly waiters: ((line: string) => boolean)[] = [];
  readonly exits = new Map<number, number>();

  constructor(sockets: Record<string, string>) {
    this.proc = spawn("python3", [join(process.cwd(), "test/support/socket-holder.py"), ...Object.entries(sockets).map(([n, a]) => `${n}=${a}`)], { stdio: ["pipe", "pipe", "inherit"] });
    createInterface({ input: this.proc.stdout! }).on("line", (line) => {
      const m = /^exited (\d+) (-?\d+)$/.exec(line);
      if (m) this.exits.set(Number(m[1]), Number(m[2]));
      for (let i = 0; i < this.waiters.length; i++) if (this.waiters[i]!(line)) this.waiters.splice(i--, 1);
    });
  }

  line(re: RegExp): Promise<RegExpExecArray> {
    return new Promise((resolve) => this.waiters.push((l) => {
      const m = re.exec(l);
      if (m) resolve(m);
      return m !== null;
    }));
  }

  async start(argv: string[]): Promise<number> {
    const started = this.line(/^started (\d+)$/);
    this.proc.stdin!.write(JSON.stringify(argv) + "\n");
    return Number((await started)[1]);
  }

  close(): void {
    this.proc.kill("SIGKILL");
  }
}

describe("router restarts with the listening socket held (systemd socket activation)", () => {
  it(`${RESTARTS} restarts under keep-alive and new-connection load, HTTP and HTTPS: 0 failed requests`, async () => {
    const { ups } = await blueGreen();
    const routerPort = await freePort();
    const apiPort = await freePort();
    const tlsPort = await freePort();
    const listen = `127.0.0.1:${routerPort}`;
    const tlsListen = `127.0.0.1:${tlsPort}`;
    const ca = await testCa();
    const leaf = ca.issue("shop", [HOSTS.live[0]!]);
    const dir = mkdtempSync(join(tmpdir(), "sy-router-restart-"));
    cleanup(() => rmSync(dir, { recursive: true, force: true }));
    const token = randomBytes(24).toString("hex");
    writeFileSync(join(dir, "token"), token + "\n", { mode: 0o600 });
    const config = join(dir, "agent.yaml");
    writeFileSync(config, ["apiVersion: switchyard.dev/v1", "kind: Agent", "name: rr-router", `listen: 127.0.0.1:${apiPort}`, "tokenFile: token", "role: router", "dataDir: data", `router: { listen: ${listen}, tls: { listen: ${tlsListen}, certificates: [{ certFile: ${leaf.certFile}, keyFile: ${leaf.keyFile} }] } }`, ""].join("\n"));
    const holder = new SocketHolder({ http: listen, https: tlsListen });
    cleanup(() => holder.close());
    await holder.line(/^ready /);
    const argv = [process.execPath, join(process.cwd(), "bin/switchyard.js"), "agent", "--config", config];
    const api = `http://127.0.0.1:${apiPort}`;
    const up = () => waitFor("router agent up", async () => (await fetch(`${api}/v1/healthz`).then((r) => r.ok, () => false)), 60_000, 50);
    let pid = await holder.start(argv);
    cleanup(() => {
      try {
        process.kill(pid, "SIGKILL");
      } catch { /* gone */ }
    });
    await up();
    expect((await requestJson(`${api}/v1/spec`, token, "PUT", routerSpec(listen, { upstreams: ups }))).status).toBeLessThan(300);
    await waitFor("live answers through the router", async () => (await get(routerPort, "/", { host: HOSTS.live[0] }).catch(() => ({ status: 0 }))).status === 200, 30_000, 50);

    await waitFor("live answers over HTTPS", async () => (await httpsGet(tlsPort, "/", { host: HOSTS.live[0]!, ca: ca.ca }).catch(() => ({ status: 0 }))).status === 200, 30_000, 50);
    const counts = { ok: 0, failed: 0, keepAlive: 0, fresh: 0, https: 0, maxMs: 0 };
    const errors: string[] = [];
    let stop = false;
    const client = async (agent: Agent | undefined) => {
      while (!stop) {
        const t0 = Date.now();
        try {
          const r = await get(routerPort, "/", { host: HOSTS.live[0], ...(agent ? { agent } : {}) });
          if (r.status !== 200) throw new Error(`status ${r.status}`);
          counts.ok++;
          if (agent) counts.keepAlive++;
          else counts.fresh++;
        } catch (err) {
          counts.failed++;
          if (errors.length < 10) errors.push((err as Error).message);
        }
        counts.maxMs = Math.max(counts.maxMs, Date.now() - t0);
      }
    };
    const httpsClient = async (agent: HttpsAgent | undefined) => {
      while (!stop) {
        const t0 = Date.now();
        try {
          const r = await httpsGet(tlsPort, "/", { host: HOSTS.live[0]!, ca: ca.ca, ...(agent ? { agent } : {}) });
          if (r.status !== 200) throw new Error(`https status ${r.status}`);
          counts.ok++;
          counts.https++;
        } catch (err) {
          counts.failed++;
          if (errors.length < 10) errors.push(`https: ${(err as Error).message}`);
        }
        counts.maxMs = Math.max(counts.maxMs, Date.now() - t0);
      }
    };
    const httpsKeepAlive = new HttpsAgent({ keepAlive: true, maxSockets: 2, ca: ca.ca });
    cleanup(() => httpsKeepAlive.destroy());
    const keepAlive = new Agent({ keepAlive: true, maxSockets: 4 });
    cleanup(() => keepAlive.destroy());
    const load = [...Array.from({ length: 4 }, () => client(keepAlive)), ...Array.from({ length: 2 }, () => client(undefined)), httpsClient(httpsKeepAlive), httpsClient(httpsKeepAlive), httpsClient(undefined)];

    const downMs: number[] = [];
    for (let i = 0; i < RESTARTS; i++) {
      await new Promise((r) => setTimeout(r, 300));
      const exited = holder.line(new RegExp(`^exited ${pid} `));
      const t0 = Date.now();
      process.kill(pid, "SIGTERM");
      await exited;
      pid = await holder.start(argv);
      await up();
      downMs.push(Date.now() - t0);
    }
    await new Promise((r) => setTimeout(r, 300));
    stop = true;
    await Promise.all(load);
    console.log(`router restarts with a held socket: ${RESTARTS} restarts, ${counts.ok} requests ok (HTTP: ${counts.keepAlive} keep-alive, ${counts.fresh} new connections; HTTPS: ${counts.https}), ${counts.failed} failed; SIGTERM → next router's API up ${Math.min(...downMs)}–${Math.max(...downMs)} ms; slowest request ${counts.maxMs} ms${errors.length ? `; errors: ${errors.join(" | ")}` : ""}`);
    expect(errors).toEqual([]);
    expect(counts.failed).toBe(0);
    expect(counts.keepAlive).toBeGreaterThan(RESTARTS * 10);
    expect(counts.fresh).toBeGreaterThan(RESTARTS * 5);
    expect(counts.https).toBeGreaterThan(RESTARTS * 5);
    expect([...holder.exits.values()], "every router exited 0 after its SIGTERM").toEqual(Array(RESTARTS).fill(0));
  }, 300_000);
});
