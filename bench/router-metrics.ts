/**
 * `npm run bench:router-metrics`: what the router's /metrics costs (issue 19: "under 2 % CPU at a 5 s
 * scrape interval"), and what its per-request counting costs.
 *
 * A real router agent in a process of its own (bench/lib/router-child), two plain upstreams, wrk through the
 * router. Rounds alternate between plain load and the same load while a scraper reads /metrics as fast as
 * it can (back to back, one connection): the router's extra CPU time in a scraping round, divided by the
 * scrapes it served, is the CPU one scrape costs under load; at one scrape per 5 s that is
 * `cost / 5 s` of one core. Idle scrapes (no load) are measured the same way. The last line printed is one
 * JSON object. Environment: BENCH_ROUNDS (6), BENCH_SECONDS (3), BENCH_CONNECTIONS (64).
 */
import { fork, execFileSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { Agent as HttpAgent, request as httpRequest } from "node:http";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import type { RouterSpec } from "../specs/wire.js";
import { runWrk } from "./lib/wrk.js";
import { pickPort } from "../cli/demo/ports.js";

const here = dirname(fileURLToPath(import.meta.url));
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 6);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 3);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 64);
const SCRAPE_INTERVAL_S = 5;
const IDLE_SCRAPES = 500;

const children: ChildProcess[] = [];
const agent = new HttpAgent({ keepAlive: true, maxSockets: 1 });

async function main(): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), "switchyard-bench-metrics-"));
  try {
    const [bluePort, greenPort, routerPort] = [await freePort(), await freePort(), await freePort()];
    await forkReady("upstream.js", [String(bluePort), "blue"]);
    await forkReady("upstream.js", [String(greenPort), "green"]);
    const listen = `127.0.0.1:${routerPort}`;
    const { child: router, ready: api } = await forkReady<{ type: string; apiPort: number; token: string }>("router-child.js", [join(work, "router"), listen]);
    await call(api, "PUT", "/v1/spec", JSON.stringify(spec(listen, bluePort, greenPort)));
    const pid = router.pid!;
    const tickMs = 1000 / Number(execFileSync("getconf", ["CLK_TCK"]).toString().trim() || 100);
    const load = () => runWrk({ url: `http://127.0.0.1:${routerPort}/`, connections: CONNECTIONS, seconds: SECONDS }).done;
    await load(); // warm-up: JIT, pools

    const size = (await call(api, "GET", "/metrics")).length;
    let t0 = cpuTicks(pid);
    for (let i = 0; i < IDLE_SCRAPES; i++) await call(api, "GET", "/metrics");
    const idleMs = ((cpuTicks(pid) - t0) * tickMs) / IDLE_SCRAPES;
    say(`idle: ${IDLE_SCRAPES} scrapes of ${size} bytes, ${idleMs.toFixed(3)} ms CPU each`);

    const plain: { cpuMs: number; requests: number; rps: number }[] = [];
    const scraped: { cpuMs: number; requests: number; rps: number; scrapes: number }[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      t0 = cpuTicks(pid);
      const a = await load();
      plain.push({ cpuMs: (cpuTicks(pid) - t0) * tickMs, requests: a.requests, rps: a.rps });
      t0 = cpuTicks(pid);
      let stop = false;
      let scrapes = 0;
      const scraper = (async () => {
        while (!stop) {
          await call(api, "GET", "/metrics");
          scrapes++;
        }
      })();
      const b = await load();
      stop = true;
      await scraper;
      scraped.push({ cpuMs: (cpuTicks(pid) - t0) * tickMs, requests: b.requests, rps: b.rps, scrapes });
      say(`round ${round + 1}: plain ${Math.round(a.rps)} rps | with ${scrapes} scrapes ${Math.round(b.rps)} rps`);
    }
    // Per scrape under load: the CPU a scraping round spent beyond what its requests cost at the plain rounds' rate.
    const perRequestMs = median(plain.map((p) => p.cpuMs / p.requests));
    const perScrapeMs = median(scraped.map((s) => (s.cpuMs - s.requests * perRequestMs) / Math.max(1, s.scrapes)));
    const routerCpuShare = median(plain.map((p) => p.cpuMs / (SECONDS * 1000)));
    const result = {
      bench: "router-metrics",
      metricsBytes: size,
      idleScrapeCpuMs: round3(idleMs),
      loadedScrapeCpuMs: round3(perScrapeMs),
      routerCpuPerRequestUs: round3(perRequestMs * 1000),
      plainRps: Math.round(median(plain.map((p) => p.rps))),
      /** One scrape every 5 s, as a share of one core. */
      scrapeCpuPercentAt5s: round3((Math.max(idleMs, perScrapeMs) / (SCRAPE_INTERVAL_S * 1000)) * 100),
      /** The same, as a share of the CPU the loaded router itself used. */
      scrapeShareOfRouterCpuAt5s: round3((Math.max(idleMs, perScrapeMs) / (SCRAPE_INTERVAL_S * 1000) / routerCpuShare) * 100),
    };
    say(`one scrape costs ${result.loadedScrapeCpuMs} ms CPU under load (${result.idleScrapeCpuMs} ms idle): at one scrape per ${SCRAPE_INTERVAL_S} s that is ${result.scrapeCpuPercentAt5s} % of a core, ${result.scrapeShareOfRouterCpuAt5s} % of the loaded router's own CPU`);
    say(JSON.stringify(result));
  } finally {
    for (const c of children) c.kill();
    rmSync(work, { recursive: true, force: true });
  }
}

function say(msg: string): void {
  process.stdout.write(`${msg}\n`);
}

const freePort = (): Promise<number> => pickPort("127.0.0.1", 0);

function forkReady<T extends { type: string }>(script: string, args: string[]): Promise<{ child: ChildProcess; ready: T }> {
  const child = fork(join(here, "lib", script), args, { stdio: ["ignore", 2, 2, "ipc"] });
  children.push(child);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${script} not ready within 10 s`)), 10_000);
    child.on("message", (m: T) => {
      if (m.type !== "ready") return;
      clearTimeout(timer);
      resolve({ child, ready: m });
    });
  });
}

function call(api: { apiPort: number; token: string }, method: string, path: string, body?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({
      host: "127.0.0.1", port: api.apiPort, path, method, agent,
      headers: { authorization: `Bearer ${api.token}`, ...(body ? { "content-type": "application/json", "content-length": Buffer.byteLength(body) } : {}) },
    }, (res) => {
      let text = "";
      res.setEncoding("utf8").on("data", (d: string) => (text += d));
      res.on("end", () => ((res.statusCode ?? 0) < 300 ? resolve(text) : reject(new Error(`${method} ${path} answered ${res.statusCode}: ${text}`))));
    });
    req.on("error", reject);
    req.end(body);
  });
}

function spec(listen: string, bluePort: number, greenPort: number): RouterSpec {
  const health = { path: "/healthz", periodSeconds: 1, timeoutSeconds: 2, healthyThreshold: 1, unhealthyThreshold: 3 };
  return {
    kind: "RouterSpec", generation: 1, app: "bench", listen, live: "blue", preview: "green",
    hosts: { live: ["bench.test"], preview: ["preview.bench.test"], blue: ["blue.bench.test"], green: ["green.bench.test"] },
    defaultRoute: "live", drainTimeoutSeconds: 30,
    upstreams: {
      blue: [{ service: "web", pathPrefix: "/", health, nodes: [{ node: "blue-1", address: "127.0.0.1", port: bluePort }] }],
      green: [{ service: "web", pathPrefix: "/", health, nodes: [{ node: "green-1", address: "127.0.0.1", port: greenPort }] }],
    },
  };
}

/** CPU time (user + system, in clock ticks) of a process, from /proc. */
function cpuTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return Number(fields[11]) + Number(fields[12]);
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

const round3 = (x: number): number => Math.round(x * 1000) / 1000;

main().catch((err: Error) => {
  for (const c of children) c.kill();
  process.stderr.write(`bench:router-metrics failed: ${err.stack ?? err.message}\n`);
  process.exit(1);
});
