/**
 * The whole demo cluster in this process: a blue, a green and a router agent, the reconciler with the
 * dashboard, the demo app's v1 live on blue and idle on green, jobs on the live colour. Startup ends when
 * v1 answers through the router on both the live and the preview address; stop() leaves nothing running.
 */
import { randomBytes } from "node:crypto";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { destination } from "pino";
import { startAgent, type RunningAgent } from "../../node-agent/main.js";
import { makeLogger, prettyStream, type LogFormat } from "../../common/log.js";
import { startReconciler, type RunningReconciler } from "../../reconciler/main.js";
import { chooseEngine, type Engine, type RuntimeWish } from "./engine.js";
import { DEMO_APP, DEMO_USER, HOSTS, NODES, layout, writeCluster, writeUsers, type DemoPorts } from "./files.js";
import { releaseLock, stopAll, stopWorkloads, takeLock, wipe } from "./leftovers.js";
import { DockerRuntime } from "../../node-agent/docker-runtime.js";
import { ProcessRuntime } from "../../node-agent/process-runtime.js";
import type { Runtime } from "../../node-agent/runtime.js";
import type { Logger } from "../../common/log.js";
import { pickPort, portFree } from "./ports.js";
import { startNotificationReceiver, type NotificationReceiver } from "./notifications.js";
import { startVisitor, type Visitor } from "./visitor.js";

/** The demo gives up when the cluster is not serving after this long. */
export const DEMO_READY_TIMEOUT_MS = 90_000;
export const DEFAULT_DEMO_DASHBOARD_PORT = 7000;
export const DEFAULT_DEMO_ROUTER_PORT = 8000;

export interface DemoOptions {
  root: string;
  want: RuntimeWish;
  registry?: string;
  dashboardPort: number;
  routerPort: number;
  /** Progress lines for people. */
  say: (line: string) => void;
  /** How the log file is written: JSON lines (default) or readable lines (pino-pretty, no colours). */
  logFormat?: LogFormat;
}

/** What the demo prints, also written to demo.json in its folder for scripts and tests. */
export interface DemoInfo {
  app: string;
  runtime: "docker" | "process";
  reason: string;
  dashboard: string;
  user: string;
  password: string;
  live: string;
  preview: string;
  /** The router's address; any Host header that is not a preview or colour name gets the live colour. */
  router: string;
  apiTokenFile: string;
  deployDir: string;
  logFile: string;
  ports: DemoPorts;
  pid: number;
  startupMs: number;
}

export interface RunningDemo {
  info: DemoInfo;
  stop(): Promise<void>;
}

export async function startDemo(o: DemoOptions): Promise<RunningDemo> {
  const t0 = performance.now();
  const l = layout(o.root);
  await mkdir(l.root, { recursive: true, mode: 0o700 });
  await takeLock(l);
  try {
    const left = await stopWorkloads(l, makeLogger("switchyard-demo", { level: "silent" }), dockerSocketGuess());
    if (left > 0) o.say(`stopped ${left} workload(s) left over from an earlier demo in ${l.root}`);
    await wipe(l);
  } catch (err) {
    await releaseLock(l);
    throw err;
  }
  const logDest = o.logFormat === "pretty" ? prettyStream({ colorize: false, destination: l.logFile }) : destination({ dest: l.logFile, mkdir: true, sync: false });
  const logger = makeLogger("switchyard-demo", { level: "info" }, logDest);

  const running: { agents: RunningAgent[]; reconciler?: RunningReconciler; engine?: Engine; runtimes: { node: string; runtime: Runtime }[]; notifications?: NotificationReceiver; visitor?: Visitor } = { agents: [], runtimes: [] };
  let ports: DemoPorts | undefined;
  const stop = async () => {
    const step = async (what: string, fn: () => Promise<unknown>) => {
      const t = performance.now();
      await fn().catch((err: Error) => o.say(`while stopping ${what}: ${err.message}`));
      logger.info({ ms: Math.round(performance.now() - t) }, `demo stop: ${what}`);
    };
    running.visitor?.stop();
    await step("reconciler", async () => running.reconciler?.close());
    for (const a of running.agents.reverse()) await step(`agent ${a.config.name}`, () => a.close());
    // The agents' own runtimes stop what they started (a second runtime would race their exit bookkeeping).
    await step("workloads", () => Promise.all(running.runtimes.map(({ node, runtime }) => stopAll(runtime, node))));
    await step("engine", async () => running.engine?.stop());
    await step("notifications", async () => running.notifications?.close());
    if (ports) await step("ports", () => waitPortsFree(ports!));
    (logDest as { flushSync?: () => void }).flushSync?.();
    await releaseLock(l);
  };
  try {
    const engine = await chooseEngine({ want: o.want, root: l.root, releasesDir: l.releasesDir, say: o.say, ...(o.registry ? { registry: o.registry } : {}) });
    running.engine = engine;
    const secret = randomBytes(32).toString("hex");
    const notifications = await startNotificationReceiver({ secret, say: o.say, warn: (msg) => logger.warn(msg) });
    running.notifications = notifications;
    ports = { ...(await choosePorts(o)), notifications: notifications.port };
    const configs = await writeCluster(l, { runtime: engine.runtime, repository: engine.repository, ports, notify: { url: notifications.url, secret }, ...(engine.registryUrl ? { registryUrl: engine.registryUrl } : {}), ...(engine.dockerSocket ? { dockerSocket: engine.dockerSocket } : {}) });
    const creds = await writeUsers(l);
    for (const key of ["blue", "green", "router"] as const) {
      const child = logger.child({ node: NODES[key] });
      let runtime: Runtime | undefined;
      if (key !== "router") {
        runtime = makeRuntime(engine, join(l.agentsDir, NODES[key], "data"), l.releasesDir, child);
        await runtime.ping();
        running.runtimes.push({ node: NODES[key], runtime });
      }
      running.agents.push(await startAgent(configs[key], { logger: child, ...(runtime ? { runtime } : {}) }));
    }
    running.reconciler = await startReconciler({
      dir: l.deployDir,
      dataDir: l.dataDir,
      listen: `127.0.0.1:${ports.dashboard}`,
      logger: logger.child({ part: "reconciler" }),
      ...(engine.runtime === "process" ? { releasesDir: l.releasesDir } : {}),
    });
    o.say(`${engine.runtime === "docker" ? "containers" : "processes"} starting: blue v1 (live), green v1 (preview), the worker on blue …`);
    await waitServing(running.reconciler, ports.router);
    running.visitor = startVisitor(ports.router, HOSTS.live);
    const info: DemoInfo = {
      app: DEMO_APP,
      runtime: engine.runtime,
      reason: engine.reason,
      dashboard: `http://127.0.0.1:${ports.dashboard}/`,
      user: DEMO_USER,
      password: creds.password,
      live: `http://${HOSTS.live}:${ports.router}/`,
      preview: `http://${HOSTS.preview}:${ports.router}/`,
      router: `http://127.0.0.1:${ports.router}/`,
      apiTokenFile: l.tokenFile,
      deployDir: l.deployDir,
      logFile: l.logFile,
      ports,
      pid: process.pid,
      startupMs: Math.round(performance.now() - t0),
    };
    await writeFile(l.infoFile, JSON.stringify(info, null, 2) + "\n", { mode: 0o600 });
    let stopping: Promise<void> | undefined;
    return { info, stop: () => (stopping ??= stop()) };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** The runtime an agent would build from its agent.yaml, made here so the demo can stop its workloads with it. */
function makeRuntime(engine: Engine, dataDir: string, releasesDir: string, logger: Logger): Runtime {
  return engine.runtime === "docker"
    ? new DockerRuntime({ socketPath: engine.dockerSocket!, logger })
    : new ProcessRuntime({ releasesDir, dataDir, logger });
}

async function choosePorts(o: DemoOptions): Promise<Omit<DemoPorts, "notifications">> {
  const taken = new Set<number>();
  const pick = async (preferred: number) => {
    for (;;) {
      const p = await pickPort("127.0.0.1", taken.has(preferred) ? 0 : preferred);
      if (!taken.has(p)) {
        taken.add(p);
        return p;
      }
    }
  };
  const dashboard = await pick(o.dashboardPort);
  const router = await pick(o.routerPort);
  return {
    dashboard,
    router,
    agents: { blue: await pick(0), green: await pick(0), router: await pick(0) },
    web: { blue: await pick(0), green: await pick(0) },
  };
}

/** Ready (both colours healthy, the router on blue), then v1 answers through the router on live and preview. */
async function waitServing(r: RunningReconciler, routerPort: number): Promise<void> {
  const deadline = Date.now() + DEMO_READY_TIMEOUT_MS;
  let last = "";
  for (;;) {
    const s = r.controller.status();
    const ready = s.conditions.find((c) => c.type === "Ready");
    const phases = s.colors ? `blue ${s.colors.blue.phase}, green ${s.colors.green.phase}` : "no colours yet";
    last = `${ready?.status === "True" ? "ready" : ready?.message ?? "not ready"}; ${phases}`;
    if (ready?.status === "True" && s.colors?.green.phase === "Ready" && s.router?.live === "blue") {
      const live = await viaRouter(routerPort, HOSTS.live);
      const preview = await viaRouter(routerPort, HOSTS.preview);
      if (live?.version === "v1" && live.color === "blue" && preview?.version === "v1" && preview.color === "green") return;
      last = `the router answers live ${JSON.stringify(live)}, preview ${JSON.stringify(preview)}`;
    }
    if (Date.now() > deadline) throw new Error(`the demo cluster did not come up within ${DEMO_READY_TIMEOUT_MS / 1000} s (${last})`);
    await new Promise((res) => setTimeout(res, 100));
  }
}

async function viaRouter(port: number, host: string): Promise<{ version: string; color: string } | null> {
  try {
    // fetch() cannot set Host; a raw request can.
    const { request } = await import("node:http");
    return await new Promise((resolve) => {
      const req = request({ host: "127.0.0.1", port, path: "/version", headers: { host: `${host}:${port}` }, timeout: 2000 }, (res) => {
        let body = "";
        res.on("data", (d: Buffer) => (body += d));
        res.on("end", () => {
          try {
            resolve(res.statusCode === 200 ? (JSON.parse(body) as { version: string; color: string }) : null);
          } catch {
            resolve(null);
          }
        });
      });
      req.on("error", () => resolve(null));
      req.on("timeout", () => req.destroy());
      req.end();
    });
  } catch {
    return null;
  }
}

async function waitPortsFree(p: DemoPorts): Promise<void> {
  const all = [p.dashboard, p.router, ...Object.values(p.agents), p.web.blue, p.web.green, p.notifications];
  for (let i = 0; i < 50; i++) {
    const free = await Promise.all(all.map((port) => portFree("127.0.0.1", port)));
    if (free.every(Boolean)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
}

function dockerSocketGuess(): string | undefined {
  const host = process.env.DOCKER_HOST;
  if (host) return host.startsWith("unix://") ? host.slice("unix://".length) : undefined;
  return "/var/run/docker.sock";
}
