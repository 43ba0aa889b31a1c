/**
 * `npm run bench:router`: the Switchyard router against nginx, on loopback.
 *
 * Two upstream plain Node HTTP servers (blue, green), the router (its own process, like the agent runs it),
 * and nginx from Debian (1 worker, upstream keep-alive) proxying to the same blue upstream. One load
 * generator for all (wrk, 1 thread, the same connection count), runs alternating between direct, router
 * and nginx, several rounds, medians reported. Then 20 flips blue↔green during sustained load through the
 * router, counting every failed request (non-2xx, socket errors, timeouts), the time from each flip's
 * `PUT /v1/spec` (sent to a real router agent over loopback, as the reconciler sends it) until the first
 * request lands on the new colour's upstream, and until the PUT is answered (the table durable on disk).
 *
 * The last line printed is one JSON object (see the issue). Environment knobs: BENCH_ROUNDS (12),
 * BENCH_SECONDS (2), BENCH_CONNECTIONS (64), BENCH_PIN=1 to pin nginx/router to CPU 0 and everything
 * else to CPU 1 (off by default: on 2 cores it changes what is measured more than it removes noise).
 *
 * Many short alternating rounds rather than a few long ones: on a shared 2-core machine other work comes
 * and goes, and short interleaved runs spread it evenly over the three targets. The proxies' CPU time per
 * request (from /proc) is printed too: it is far less sensitive to other load than requests per second.
 */
import { execFileSync, fork, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { connect } from "node:net";
import { Agent as HttpAgent, request as httpRequest } from "node:http";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import type { RouterSpec } from "../specs/wire.js";
import { runWrk, type WrkResult } from "./lib/wrk.js";
import { startNginx } from "./lib/nginx.js";
import { pickPort } from "../cli/demo/ports.js";

const here = dirname(fileURLToPath(import.meta.url));
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 12);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 2);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 64);
const PIN = process.env.BENCH_PIN === "1";
const TLS_ROUNDS = Number(process.env.BENCH_TLS_ROUNDS ?? 6);
const FLIPS = 20;
const FLIP_EVERY_MS = 400;

const children: ChildProcess[] = [];
const apiAgent = new HttpAgent({ keepAlive: true, maxSockets: 1 });
let workDir = "";

function say(msg: string): void {
  process.stdout.write(`${msg}\n`);
}

function ensureTools(): void {
  const missing = ["nginx", "wrk"].filter((t) => {
    try {
      execFileSync("sh", ["-c", `command -v ${t}`], { stdio: "ignore" });
      return false;
    } catch {
      return true;
    }
  });
  if (missing.length === 0) return;
  const pkgs = missing.map((t) => (t === "nginx" ? "nginx" : "wrk"));
  say(`installing ${pkgs.join(", ")} from Debian…`);
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  try {
    execFileSync("apt-get", ["install", "-y", "-qq", ...pkgs], { stdio: ["ignore", "ignore", "inherit"], env });
  } catch {
    execFileSync("apt-get", ["update", "-qq"], { stdio: ["ignore", "ignore", "inherit"], env });
    execFileSync("apt-get", ["install", "-y", "-qq", ...pkgs], { stdio: ["ignore", "ignore", "inherit"], env });
  }
  // Debian's package may start its own nginx on port 80; ours runs from a temp dir and does not need it.
  try { execFileSync("sh", ["-c", "command -v systemctl >/dev/null && systemctl stop nginx || service nginx stop || true"], { stdio: "ignore" }); } catch { /* not running */ }
}

const freePort = (): Promise<number> => pickPort("127.0.0.1", 0);

async function waitForPort(port: number, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect(port, "127.0.0.1", () => { s.destroy(); resolve(true); });
      s.on("error", () => resolve(false));
    });
    if (ok) return;
    await sleep(50);
  }
  throw new Error(`nothing listens on 127.0.0.1:${port} after ${ms} ms`);
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Forks a compiled bench helper with an IPC channel; resolves once it says "ready". */
async function forkChild(script: string, args: string[], cpus?: string): Promise<ChildProcess> {
  return (await forkReady(script, args, cpus)).child;
}

async function forkReady<T extends { type: string }>(script: string, args: string[], cpus?: string): Promise<{ child: ChildProcess; ready: T }> {
  const child = fork(join(here, "lib", script), args, { stdio: ["ignore", 2, 2, "ipc"] });
  children.push(child);
  if (cpus && child.pid) execFileSync("taskset", ["-a", "-p", "-c", cpus, String(child.pid)], { stdio: "ignore" });
  const ready = await nextMessage<T>(child, "ready", 10_000);
  return { child, ready };
}

/** PUT /v1/spec on the router agent, as the reconciler sends it (one kept-alive connection); resolves on the answer. */
function putSpec(api: { apiPort: number; token: string }, body: RouterSpec): Promise<void> {
  return new Promise((resolve, reject) => {
    const data = JSON.stringify(body);
    const req = httpRequest({
      host: "127.0.0.1", port: api.apiPort, path: "/v1/spec", method: "PUT", agent: apiAgent,
      headers: { authorization: `Bearer ${api.token}`, "content-type": "application/json", "content-length": Buffer.byteLength(data) },
    }, (res) => {
      res.resume();
      res.on("end", () => (res.statusCode === 200 || res.statusCode === 202 ? resolve() : reject(new Error(`PUT /v1/spec answered ${res.statusCode}`))));
    });
    req.on("error", reject);
    req.end(data);
  });
}

function nextMessage<T extends { type: string }>(child: ChildProcess, type: string, ms: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { child.off("message", on); reject(new Error(`no "${type}" from child within ${ms} ms`)); }, ms);
    const on = (m: T): void => {
      if (m.type === "error") { clearTimeout(timer); child.off("message", on); reject(new Error(String((m as unknown as { message: string }).message))); }
      if (m.type !== type) return;
      clearTimeout(timer);
      child.off("message", on);
      resolve(m);
    };
    child.on("message", on);
  });
}

function spec(listen: string, live: "blue" | "green", generation: number, bluePort: number, greenPort: number): RouterSpec {
  const health = { path: "/healthz", periodSeconds: 1, timeoutSeconds: 2, healthyThreshold: 1, unhealthyThreshold: 3 };
  return {
    kind: "RouterSpec", generation, app: "bench", listen, live, preview: live === "blue" ? "green" : "blue",
    hosts: { live: ["bench.test"], preview: ["preview.bench.test"], blue: ["blue.bench.test"], green: ["green.bench.test"] },
    defaultRoute: "live", drainTimeoutSeconds: 30,
    upstreams: {
      blue: [{ service: "web", pathPrefix: "/", health, nodes: [{ node: "blue-1", address: "127.0.0.1", port: bluePort }] }],
      green: [{ service: "web", pathPrefix: "/", health, nodes: [{ node: "green-1", address: "127.0.0.1", port: greenPort }] }],
    },
  };
}

/** CPU µs per request of a minimal TCP and a minimal TLS responder (bench/lib/raw-responder.ts), medians of alternating runs. */
async function tlsFloor(certFile: string, keyFile: string, cpus: string | undefined, tickUs: number): Promise<{ tcp: number; tls: number }> {
  const out = { tcp: [] as number[], tls: [] as number[] };
  for (const kind of ["tcp", "tls"] as const) {
    const port = await freePort();
    const { child } = await forkReady<{ type: string }>("raw-responder.js", [String(port), kind, certFile, keyFile], cpus);
    const url = `${kind === "tls" ? "https" : "http"}://127.0.0.1:${port}/`;
    await runWrk({ url, connections: CONNECTIONS, seconds: 1, ...(cpus ? { cpus } : {}) }).done;
    for (let round = 0; round < TLS_ROUNDS; round++) {
      const before = cpuTicks(child.pid!);
      const r = await runWrk({ url, connections: CONNECTIONS, seconds: SECONDS, ...(cpus ? { cpus } : {}) }).done;
      out[kind].push(((cpuTicks(child.pid!) - before) * tickUs) / Math.max(1, r.requests));
    }
    child.disconnect();
  }
  return { tcp: median(out.tcp), tls: median(out.tls) };
}

/** CPU time (user + system, in clock ticks) of a process and its direct children, from /proc. */
function cpuTicks(pid: number): number {
  const ticks = (p: number): number => {
    try {
      const stat = readFileSync(`/proc/${p}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      return Number(fields[11]) + Number(fields[12]);
    } catch {
      return 0;
    }
  };
  let total = ticks(pid);
  try {
    for (const c of readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim().split(/\s+/)) if (c) total += ticks(Number(c));
  } catch { /* no children file */ }
  return total;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!;
}

const round2 = (x: number): number => Math.round(x * 100) / 100;

async function main(): Promise<void> {
  ensureTools();
  workDir = mkdtempSync(join(tmpdir(), "switchyard-bench-"));
  const [bluePort, greenPort, routerPort, nginxPort, routerTlsPort, nginxTlsPort] = [await freePort(), await freePort(), await freePort(), await freePort(), await freePort(), await freePort()];
  // One certificate for both proxies (ECDSA P-256, like Let's Encrypt's default for new accounts).
  const certFile = join(workDir, "tls.crt"), keyFile = join(workDir, "tls.key");
  execFileSync("openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", keyFile, "-out", certFile,
    "-subj", "/CN=shop.test", "-addext", "subjectAltName=DNS:shop.test", "-days", "2"], { stdio: ["ignore", "ignore", "pipe"] });
  const proxyCpu = PIN ? "0" : undefined;
  const otherCpu = PIN ? "1" : undefined;
  const blue = await forkChild("upstream.js", [String(bluePort), "blue"], otherCpu);
  const green = await forkChild("upstream.js", [String(greenPort), "green"], otherCpu);
  const listen = `127.0.0.1:${routerPort}`;
  const { child: router, ready: api } = await forkReady<{ type: string; apiPort: number; token: string }>("router-child.js", [join(workDir, "router"), listen, `127.0.0.1:${routerTlsPort}`, certFile, keyFile], proxyCpu);
  let generation = 1;
  await putSpec(api, spec(listen, "blue", generation, bluePort, greenPort));
  const nginx = startNginx(join(workDir, "nginx"), nginxPort, bluePort, proxyCpu, { port: nginxTlsPort, certFile, keyFile });
  children.push(nginx);
  await waitForPort(nginxPort);
  say(`upstreams blue :${bluePort} green :${greenPort}, router :${routerPort}, nginx :${nginxPort}; wrk -t1 -c${CONNECTIONS}, ${ROUNDS} rounds × ${SECONDS}s${PIN ? ", pinned" : ""}`);

  const targets = { direct: bluePort, router: routerPort, nginx: nginxPort } as const;
  type Target = keyof typeof targets;
  const load = (port: number, seconds: number): Promise<WrkResult> =>
    runWrk({ url: `http://127.0.0.1:${port}/`, connections: CONNECTIONS, seconds, ...(otherCpu ? { cpus: otherCpu } : {}) }).done;

  // Warm-up: JIT, pools, nginx upstream keep-alive connections.
  for (const t of ["router", "nginx", "direct"] as Target[]) await load(targets[t], 2);

  const results: Record<Target, WrkResult[]> = { direct: [], router: [], nginx: [] };
  const pids: Record<Target, number> = { direct: blue.pid!, router: router.pid!, nginx: nginx.pid! };
  const cpuUsPerRequest: Record<Target, number[]> = { direct: [], router: [], nginx: [] };
  const tickUs = 1e6 / Number(execFileSync("getconf", ["CLK_TCK"]).toString().trim() || 100);
  const orders: Target[][] = [["direct", "router", "nginx"], ["nginx", "direct", "router"], ["router", "nginx", "direct"]];
  for (let round = 0; round < ROUNDS; round++) {
    const line: string[] = [];
    for (const t of orders[round % orders.length]!) {
      const before = cpuTicks(pids[t]);
      const r = await load(targets[t], SECONDS);
      if (r.failed > 0) throw new Error(`${t}: ${r.failed} failed requests during the throughput run:\n${r.raw}`);
      results[t].push(r);
      cpuUsPerRequest[t].push(((cpuTicks(pids[t]) - before) * tickUs) / Math.max(1, r.requests));
      line.push(`${t} ${Math.round(r.rps)} rps p50 ${r.p50Ms}ms p99 ${r.p99Ms}ms`);
    }
    say(`round ${round + 1}: ${line.join(" | ")}`);
  }
  const med = (t: Target, k: "rps" | "p50Ms" | "p99Ms"): number => median(results[t].map((r) => r[k]));
  for (const t of ["direct", "router", "nginx"] as Target[]) {
    say(`${t.padEnd(6)} median ${Math.round(med(t, "rps"))} rps, p50 ${round2(med(t, "p50Ms"))} ms, p99 ${round2(med(t, "p99Ms"))} ms`);
  }
  say(`router/nginx: throughput ${round2(med("router", "rps") / med("nginx", "rps"))}×, p99 ${round2(med("router", "p99Ms") / med("nginx", "p99Ms"))}×`);
  say(`CPU per request (median): router ${Math.round(median(cpuUsPerRequest.router))} µs, nginx ${Math.round(median(cpuUsPerRequest.nginx))} µs, the upstream itself (direct) ${Math.round(median(cpuUsPerRequest.direct))} µs`);

  // HTTPS: the same load over TLS (keep-alive: one handshake per connection), then every request on a new
  // connection (Connection: close: one full handshake per request), alternating router and nginx.
  const tlsTargets = { router: routerTlsPort, nginx: nginxTlsPort } as const;
  const tlsLoad = (port: number, seconds: number, close: boolean): Promise<WrkResult> =>
    runWrk({ url: `https://127.0.0.1:${port}/`, connections: CONNECTIONS, seconds, ...(close ? { headers: ["Connection: close"], connections: Math.min(CONNECTIONS, 16) } : {}), ...(otherCpu ? { cpus: otherCpu } : {}) }).done;
  for (const t of ["router", "nginx"] as const) await tlsLoad(tlsTargets[t], 1, false);
  const tlsResults: Record<"router" | "nginx", WrkResult[]> = { router: [], nginx: [] };
  const tlsCpuUs: Record<"router" | "nginx", number[]> = { router: [], nginx: [] };
  const handshakes: Record<"router" | "nginx", WrkResult[]> = { router: [], nginx: [] };
  for (let round = 0; round < TLS_ROUNDS; round++) {
    const order = round % 2 === 0 ? (["router", "nginx"] as const) : (["nginx", "router"] as const);
    const line: string[] = [];
    for (const t of order) {
      const before = cpuTicks(pids[t]);
      const r = await tlsLoad(tlsTargets[t], SECONDS, false);
      if (r.failed > 0) throw new Error(`${t} https: ${r.failed} failed requests:\n${r.raw}`);
      tlsResults[t].push(r);
      tlsCpuUs[t].push(((cpuTicks(pids[t]) - before) * tickUs) / Math.max(1, r.requests));
      const h = await tlsLoad(tlsTargets[t], SECONDS, true);
      if (h.failed > 0) throw new Error(`${t} https (new connections): ${h.failed} failed requests:\n${h.raw}`);
      handshakes[t].push(h);
      line.push(`${t} ${Math.round(r.rps)} rps p99 ${r.p99Ms}ms, ${Math.round(h.rps)} handshakes/s`);
    }
    say(`https round ${round + 1}: ${line.join(" | ")}`);
  }
  const tmed = (t: "router" | "nginx", k: "rps" | "p99Ms"): number => median(tlsResults[t].map((r) => r[k]));
  const hmed = (t: "router" | "nginx"): number => median(handshakes[t].map((r) => r.rps));
  for (const t of ["router", "nginx"] as const) say(`${t.padEnd(6)} https median ${Math.round(tmed(t, "rps"))} rps, p99 ${round2(tmed(t, "p99Ms"))} ms, new handshakes ${Math.round(hmed(t))}/s`);
  say(`router/nginx over HTTPS: throughput ${round2(tmed("router", "rps") / tmed("nginx", "rps"))}×, p99 ${round2(tmed("router", "p99Ms") / tmed("nginx", "p99Ms"))}×, handshakes ${round2(hmed("router") / hmed("nginx"))}×`);
  // What TLS adds per keep-alive request, against what Node's TLS layer costs by itself: the same fixed
  // answer from a minimal TCP responder and from a minimal TLS one.
  const floor = await tlsFloor(certFile, keyFile, otherCpu, tickUs);
  const cpu = { router: median(tlsCpuUs.router), nginx: median(tlsCpuUs.nginx), routerHttp: median(cpuUsPerRequest.router), nginxHttp: median(cpuUsPerRequest.nginx) };
  say(`CPU per HTTPS request (median): router ${Math.round(cpu.router)} µs (+${Math.round(cpu.router - cpu.routerHttp)} over HTTP), nginx ${Math.round(cpu.nginx)} µs (+${Math.round(cpu.nginx - cpu.nginxHttp)})`);
  say(`Node's TLS layer alone: ${Math.round(floor.tls)} µs per request against ${Math.round(floor.tcp)} µs over TCP (+${Math.round(floor.tls - floor.tcp)}), minimal responders, no proxying`);

  // 20 flips under sustained load through the router.
  const flipSeconds = Math.ceil((FLIPS * FLIP_EVERY_MS + 2_000) / 1000);
  const sustained = load(routerPort, flipSeconds);
  await sleep(700);
  const flipMs: number[] = [];
  const answerMs: number[] = [];
  let live: "blue" | "green" = "blue";
  for (let i = 0; i < FLIPS; i++) {
    const began = Date.now();
    const next: "blue" | "green" = live === "blue" ? "green" : "blue";
    const target = next === "blue" ? blue : green;
    target.send({ type: "arm" });
    await nextMessage(target, "armed", 2_000);
    const first = nextMessage<{ type: string; at: string }>(target, "first", 5_000);
    const t0 = process.hrtime.bigint();
    await putSpec(api, spec(listen, next, ++generation, bluePort, greenPort));
    answerMs.push(Number(process.hrtime.bigint() - t0) / 1e6);
    flipMs.push(Number(BigInt((await first).at) - t0) / 1e6);
    live = next;
    await sleep(Math.max(0, FLIP_EVERY_MS - (Date.now() - began)));
  }
  const flipRun = await sustained;
  say(`flips: ${FLIPS} under load, ${flipRun.requests} requests, ${flipRun.failed} failed, ${Math.round(flipRun.rps)} rps`);
  say(`  PUT /v1/spec sent → first request served by the new colour: p50 ${round2(median(flipMs))} ms, p99 ${round2(percentile(flipMs, 99))} ms, max ${round2(Math.max(...flipMs))} ms`);
  say(`  PUT /v1/spec sent → answered (table durable on disk): p50 ${round2(median(answerMs))} ms, p99 ${round2(percentile(answerMs, 99))} ms, max ${round2(Math.max(...answerMs))} ms`);

  const summary = {
    directRps: Math.round(med("direct", "rps")),
    routerRps: Math.round(med("router", "rps")),
    nginxRps: Math.round(med("nginx", "rps")),
    routerP99Ms: round2(med("router", "p99Ms")),
    nginxP99Ms: round2(med("nginx", "p99Ms")),
    flips: FLIPS,
    failed: flipRun.failed,
    flipP50Ms: round2(median(flipMs)),
    flipP99Ms: round2(percentile(flipMs, 99)),
    putAnsweredP99Ms: round2(percentile(answerMs, 99)),
    routerHttpsCpuUs: Math.round(cpu.router),
    nginxHttpsCpuUs: Math.round(cpu.nginx),
    nodeTlsLayerUs: Math.round(floor.tls - floor.tcp),
    routerHttpsRps: Math.round(tmed("router", "rps")),
    nginxHttpsRps: Math.round(tmed("nginx", "rps")),
    routerHttpsP99Ms: round2(tmed("router", "p99Ms")),
    nginxHttpsP99Ms: round2(tmed("nginx", "p99Ms")),
    routerHandshakesPerSecond: Math.round(hmed("router")),
    nginxHandshakesPerSecond: Math.round(hmed("nginx")),
  };
  say(JSON.stringify(summary));
}

function cleanupAll(): void {
  for (const c of children) {
    if (c.exitCode === null && c.signalCode === null) c.kill("SIGTERM");
  }
  if (workDir) rmSync(workDir, { recursive: true, force: true });
}

process.on("SIGINT", () => { cleanupAll(); process.exit(130); });
process.on("SIGTERM", () => { cleanupAll(); process.exit(143); });
main().then(
  () => { cleanupAll(); process.exit(0); },
  (err: Error) => { process.stderr.write(`bench failed: ${err.message}\n`); cleanupAll(); process.exit(1); },
);
