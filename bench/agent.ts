/**
 * Node agent benchmark (issue 3, "Numbers to measure and report"), loopback only:
 *   1. the demo app's own start time (create + start → GET /healthz 200), without the agent;
 *   2. PUT /v1/spec → web running, healthy and converging false, image present (alternating v1/v2);
 *   3. the same with a pull from the local registry (the tag removed locally first);
 *   4. the agent idle: RSS and CPU from /proc, and the Docker API requests it makes, counted by a
 *      proxy between the agent and the engine socket.
 * Prints a table, then one JSON object as the last line. Needs the test bed (bash test/bed/setup.sh).
 * Everything it starts is stopped and every container it made is removed (by label), also on Ctrl-C.
 */
import Docker from "dockerode";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { performance } from "node:perf_hooks";
import type { NodeSpec, NodeStatus } from "../specs/wire.js";
import * as d from "../specs/defaults.js";
import { AgentProcess, type StatusWatch } from "./lib/agent-process.js";
import { CountingDockerProxy, type DockerCall } from "./lib/docker-proxy.js";
import { freePort, imagePresent, pullImage, removeImage, removeLabelled, waitFor200 } from "./lib/docker-helpers.js";
import { bareNodeMemoryMb, clockTicksPerSecond, readCpuTicks, readMemoryMb } from "./lib/proc.js";
import { median, percentile, round } from "./lib/stats.js";
import { printReport, type BaselineRun, type DeployRun, type IdleRun } from "./lib/agent-report.js";

const REPO = process.env.SWITCHYARD_TEST_REPO ?? "127.0.0.1:5000/switchyard-demo/app";
const DOCKER_SOCKET = process.env.DOCKER_SOCKET ?? d.DEFAULT_DOCKER_SOCKET;
const NODE = "bench-agent";
const APP = "bench";
/** Baseline containers carry this label (not the agent's labels: the agent must never see them). */
const BASELINE_LABEL = "dev.switchyard.bench=agent-baseline";
const BASELINE_RUNS = 5;
const DEPLOY_RUNS = 10;
const PULL_RUNS = 5;
const IDLE_SECONDS = Number(process.env.BENCH_IDLE_SECONDS ?? 30);
const IDLE_DEFAULT_HEALTH_SECONDS = Number(process.env.BENCH_IDLE_DEFAULT_HEALTH_SECONDS ?? 20);
const DEPLOY_TIMEOUT_MS = 60_000;
/** The whole run is cut (and cleaned up) after this. */
const RUN_LIMIT_MS = 240_000;
/** Fast probing so health quantisation adds at most 0.2 s to a deploy. */
const FAST_HEALTH = { path: "/healthz", periodSeconds: 0.2, timeoutSeconds: 1, healthyThreshold: 1, unhealthyThreshold: 2 };
const DEFAULT_HEALTH = {
  path: d.DEFAULT_HEALTH_PATH,
  periodSeconds: d.DEFAULT_HEALTH_PERIOD_SECONDS,
  timeoutSeconds: d.DEFAULT_HEALTH_TIMEOUT_SECONDS,
  healthyThreshold: d.DEFAULT_HEALTHY_THRESHOLD,
  unhealthyThreshold: d.DEFAULT_UNHEALTHY_THRESHOLD,
};

type Health = typeof FAST_HEALTH;

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const docker = new Docker({ socketPath: DOCKER_SOCKET });
const progress = (msg: string) => process.stderr.write(`bench:agent: ${msg}\n`);

async function main(): Promise<number> {
  const cleanups: (() => Promise<unknown>)[] = [];
  let cleaning: Promise<void> | undefined;
  const cleanup = () =>
    (cleaning ??= (async () => {
      for (const f of cleanups.reverse()) await f().catch((err: Error) => progress(`cleanup: ${err.message}`));
    })());
  for (const sig of ["SIGINT", "SIGTERM"] as const) process.once(sig, () => void cleanup().finally(() => process.exit(130)));
  const limit = setTimeout(() => {
    progress(`the run took longer than ${RUN_LIMIT_MS / 1000} s; cleaning up`);
    void cleanup().finally(() => process.exit(1));
  }, RUN_LIMIT_MS);
  limit.unref();

  try {
    await docker.ping().catch((err: Error) => {
      throw new Error(`no Docker engine answers on ${DOCKER_SOCKET} (${err.message}); run bash test/bed/setup.sh`);
    });
    const registry = `http://${REPO.split("/")[0]}/v2/`;
    await fetch(registry, { signal: AbortSignal.timeout(5_000) }).catch((err: Error) => {
      throw new Error(`no registry answers at ${registry} (${err.message}); run bash test/bed/setup.sh`);
    });
    const dir = mkdtempSync(join(tmpdir(), "sy-bench-agent-"));
    cleanups.push(async () => rmSync(dir, { recursive: true, force: true }));
    cleanups.push(() => restoreImages());
    cleanups.push(() => removeLabelled(docker, BASELINE_LABEL));
    cleanups.push(() => removeLabelled(docker, `dev.switchyard.node=${NODE}`));
    await removeLabelled(docker, BASELINE_LABEL);
    await removeLabelled(docker, `dev.switchyard.node=${NODE}`);
    await restoreImages();

    progress(`measuring the app's own start time (${BASELINE_RUNS} runs)`);
    const baseline = await measureAppStart();

    const proxy = await CountingDockerProxy.start(join(dir, "docker.sock"), DOCKER_SOCKET);
    cleanups.push(() => proxy.close());
    const spawnedAt = performance.now();
    const agent = await AgentProcess.start({ root, dir, name: NODE, allowedRepositories: [REPO], dockerSocket: proxy.socketPath });
    cleanups.push(() => agent.stop());
    const agentStartMs = performance.now() - spawnedAt;
    const startMemory = readMemoryMb(agent.pid);
    const watch = agent.watch();
    cleanups.push(async () => watch.close());
    await watch.waitFor("the first status", () => true, 0, 10_000);

    const hostPort = await freePort();
    let generation = 0;
    const deploy = async (tag: string, health: Health): Promise<DeployRun> => {
      const gen = ++generation;
      const from = watch.events.length;
      const t0 = performance.now();
      await agent.putSpec(nodeSpec(tag, gen, hostPort, health));
      const ev = await waitHealthy(watch, gen, tag, from).catch((err: Error) => {
        throw new Error(`${err.message}\nagent output:\n${agent.output.slice(-20).join("\n")}`);
      });
      const calls = proxy.between(t0, ev.at);
      const start = calls.find((c) => c.key === "POST /containers/:id/start");
      const startEnd = start ? start.at + (start.totalMs ?? start.ms ?? 0) : t0;
      return { tag, totalMs: ev.at - t0, calls, startToHealthyMs: ev.at - startEnd };
    };

    progress("first deploy (no old container), then deploys with the image present");
    const first = await deploy("v1", FAST_HEALTH);
    const present: DeployRun[] = [];
    for (let i = 0; i < DEPLOY_RUNS; i++) present.push(await deploy(i % 2 === 0 ? "v2" : "v1", FAST_HEALTH));

    progress(`deploys with a pull from the local registry (${PULL_RUNS} runs)`);
    const pulls: DeployRun[] = [];
    const deletedLayers: number[] = [];
    let current = present[present.length - 1]!.tag;
    for (let i = 0; i < PULL_RUNS; i++) {
      const next = current === "v1" ? "v2" : "v1";
      deletedLayers.push((await removeImage(docker, `${REPO}:${next}`)).deletedLayers);
      if (await imagePresent(docker, `${REPO}:${next}`)) throw new Error(`${REPO}:${next} is still present after docker rmi (in use?)`);
      pulls.push(await deploy(next, FAST_HEALTH));
      current = next;
    }
    const layerSharing = await describeLayerSharing();

    progress(`idle for ${IDLE_SECONDS} s with the health period at ${FAST_HEALTH.periodSeconds} s`);
    const idleFast = await measureIdle(agent, proxy, IDLE_SECONDS, FAST_HEALTH.periodSeconds);
    let idleDefault: IdleRun | undefined;
    let defaultHealthDeploy: DeployRun | undefined;
    if (IDLE_DEFAULT_HEALTH_SECONDS > 0) {
      // A new tag, because a spec that changes only the health settings keeps the running probe.
      defaultHealthDeploy = await deploy(current === "v1" ? "v2" : "v1", DEFAULT_HEALTH);
      progress(`idle for ${IDLE_DEFAULT_HEALTH_SECONDS} s with the default health period (${DEFAULT_HEALTH.periodSeconds} s)`);
      idleDefault = await measureIdle(agent, proxy, IDLE_DEFAULT_HEALTH_SECONDS, DEFAULT_HEALTH.periodSeconds);
    }
    const endMemory = readMemoryMb(agent.pid);
    const bare = await bareNodeMemoryMb();

    const appStartMs = median(baseline.map((b) => b.totalMs));
    const deployTimes = present.map((r) => r.totalMs);
    const deployP50 = percentile(deployTimes, 50);
    const idleMinutes = idleFast.seconds / 60;
    const result = {
      appStartMs: round(appStartMs),
      deployP50Ms: round(deployP50),
      deployP99Ms: round(percentile(deployTimes, 99)),
      overheadP50Ms: round(deployP50 - appStartMs),
      deployWithPullP50Ms: round(percentile(pulls.map((r) => r.totalMs), 50)),
      idleRssMb: round(idleFast.rssMb, 1),
      idleRssAnonMb: round(idleFast.anonMb, 1),
      bareNodeRssMb: round(bare.rssMb, 1),
      bareNodeRssAnonMb: round(bare.anonMb, 1),
      idleCpuPct: round(idleFast.cpuPct, 2),
      idleDockerRequestsPerMin: round(idleFast.requests.length / idleMinutes, 1),
      firstDeployMs: round(first.totalMs),
      deployDefaultHealthMs: defaultHealthDeploy ? round(defaultHealthDeploy.totalMs) : null,
      /** VmHWM: the highest RSS over the agent's life (deploys included). */
      peakRssMb: round(Math.max(idleFast.peakRssMb, endMemory.peakMb), 1),
      idleCpuMsPerSec: round(idleFast.cpuMsPerSec, 2),
      idleCpuPctDefaultHealth: idleDefault ? round(idleDefault.cpuPct, 2) : null,
      idleRssMbDefaultHealth: idleDefault ? round(idleDefault.rssMb, 1) : null,
      agentStartMs: round(agentStartMs),
      agentStartRssMb: round(startMemory.rssMb, 1),
      healthPeriodSeconds: FAST_HEALTH.periodSeconds,
      runs: { baseline: baseline.length, deploy: present.length, pull: pulls.length, idleSeconds: idleFast.seconds },
    };
    printReport({
      repo: REPO,
      health: FAST_HEALTH,
      baseline,
      first,
      present,
      ...(defaultHealthDeploy ? { defaultHealthDeploy, defaultHealthPeriodSeconds: DEFAULT_HEALTH.periodSeconds } : {}),
      pulls,
      deletedLayers,
      layerSharing,
      pullStatus: proxy.pullStatus,
      idle: [idleFast, ...(idleDefault ? [idleDefault] : [])],
      agentStartMs,
      startMemory,
      bare,
      result,
    });
    return 0;
  } finally {
    clearTimeout(limit);
    await cleanup();
  }
}

function nodeSpec(tag: string, generation: number, hostPort: number, health: Health): NodeSpec {
  return {
    kind: "NodeSpec",
    generation,
    app: APP,
    node: NODE,
    color: "blue",
    repository: REPO,
    tag,
    stopped: false,
    services: { web: { port: 8080, hostPort, job: false, stopTimeoutSeconds: 5, health } },
  };
}

function waitHealthy(watch: StatusWatch, gen: number, tag: string, from: number) {
  const healthy = (s: NodeStatus) => {
    const web = s.services?.web;
    return s.observedGeneration === gen && !s.converging && web?.tag === tag && web.state === "running" && web.health === "healthy";
  };
  return watch.waitFor(`${tag} (generation ${gen}) healthy`, healthy, from, DEPLOY_TIMEOUT_MS);
}

/** The app alone: create + start its container like `docker run -d -p`, then poll /healthz every 10 ms. */
async function measureAppStart(): Promise<BaselineRun[]> {
  const runs: BaselineRun[] = [];
  for (let i = 0; i < BASELINE_RUNS; i++) {
    const port = await freePort();
    const [labelKey, labelValue] = BASELINE_LABEL.split("=") as [string, string];
    const t0 = performance.now();
    const c = await docker.createContainer({
      Image: `${REPO}:${i % 2 === 0 ? "v1" : "v2"}`,
      Labels: { [labelKey]: labelValue },
      ExposedPorts: { "8080/tcp": {} },
      HostConfig: { PortBindings: { "8080/tcp": [{ HostIp: "127.0.0.1", HostPort: String(port) }] } },
    });
    try {
      await c.start();
      const started = performance.now();
      await waitFor200(`http://127.0.0.1:${port}/healthz`, 15_000);
      runs.push({ totalMs: performance.now() - t0, createStartMs: started - t0 });
    } finally {
      await c.remove({ force: true });
    }
  }
  return runs;
}

async function measureIdle(agent: AgentProcess, proxy: CountingDockerProxy, seconds: number, healthPeriodSeconds: number): Promise<IdleRun> {
  await new Promise((r) => setTimeout(r, 1_000)); // let the refresh after the last converge finish
  const ticks0 = readCpuTicks(agent.pid);
  const t0 = performance.now();
  const rss: number[] = [];
  const anon: number[] = [];
  let peakRssMb = 0;
  for (let s = 0; s < seconds; s++) {
    await new Promise((r) => setTimeout(r, 1_000));
    const m = readMemoryMb(agent.pid);
    rss.push(m.rssMb);
    anon.push(m.anonMb);
    peakRssMb = Math.max(peakRssMb, m.rssMb);
  }
  const t1 = performance.now();
  const ticks1 = readCpuTicks(agent.pid);
  const elapsedS = (t1 - t0) / 1000;
  const cpuMs = ((ticks1 - ticks0) * 1000) / clockTicksPerSecond();
  const all = proxy.between(t0, t1);
  return {
    seconds: round(elapsedS, 1),
    healthPeriodSeconds,
    rssMb: median(rss),
    anonMb: median(anon),
    peakRssMb,
    cpuPct: (cpuMs / (elapsedS * 1000)) * 100,
    cpuMsPerSec: cpuMs / elapsedS,
    requests: all.filter((c) => !c.longLived),
    openEventStreams: proxy.calls.filter((c) => c.longLived && c.totalMs === undefined).length,
  };
}

/** What `docker rmi` of one tag leaves behind: the layers v1 and v2 have in common. */
async function describeLayerSharing(): Promise<string> {
  const layers = async (tag: string) => ((await docker.getImage(`${REPO}:${tag}`).inspect()).RootFS?.Layers ?? []) as string[];
  const [a, b] = await Promise.all([layers("v1"), layers("v2")]);
  const shared = a.filter((l) => b.includes(l)).length;
  return `v1 has ${a.length} layers, v2 has ${b.length}, ${shared} shared`;
}

/** The tags the tests and other benches expect locally: pull back any this run removed. */
async function restoreImages(): Promise<void> {
  for (const tag of ["v1", "v2"]) {
    const ref = `${REPO}:${tag}`;
    if (!(await imagePresent(docker, ref))) await pullImage(docker, ref);
  }
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: Error) => {
    process.stderr.write(`bench:agent: failed: ${err.message}\n`);
    process.exitCode = 1;
  },
);
