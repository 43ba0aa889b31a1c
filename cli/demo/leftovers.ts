/**
 * What a demo leaves behind must never outlive it: one demo per folder at a time (a pid lock), and the
 * workloads of a folder — processes recorded in its agents' data dirs, containers labelled with the demo
 * app and its nodes — stopped on Ctrl-C, and again before a new run in case the last one was killed.
 */
import { existsSync, readFileSync } from "node:fs";
import { rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { Logger } from "pino";
import { DockerRuntime } from "../../node-agent/docker-runtime.js";
import { ProcessRuntime } from "../../node-agent/process-runtime.js";
import type { Runtime } from "../../node-agent/runtime.js";
import { DEMO_APP, NODES, type DemoLayout } from "./files.js";

/** Workloads get this long to stop on Ctrl-C before they are killed. */
export const STOP_TIMEOUT_SECONDS = 3;

export async function takeLock(l: DemoLayout): Promise<void> {
  const holder = readPid(l.lockFile);
  if (holder !== null && holder !== process.pid && isDemo(holder)) {
    throw new Error(`a demo is already running in ${l.root} (pid ${holder}); stop it with Ctrl-C first, or pass --dir for another folder`);
  }
  await writeFile(l.lockFile, `${process.pid}\n`);
}

export async function releaseLock(l: DemoLayout): Promise<void> {
  if (readPid(l.lockFile) === process.pid) await rm(l.lockFile, { force: true });
}

/** Removes what an earlier run wrote (never anything else that may be in the folder; a private registry's images stay). */
export async function wipe(l: DemoLayout): Promise<void> {
  for (const p of [l.deployDir, l.dataDir, l.agentsDir, l.releasesDir, l.tokenFile, l.infoFile, l.logFile]) {
    await rm(p, { recursive: true, force: true });
  }
}

/**
 * Stops and removes every workload of the demo's colour nodes, on both runtimes when they are there.
 * Returns how many there were.
 */
export async function stopWorkloads(l: DemoLayout, logger: Logger, dockerSocket?: string): Promise<number> {
  let n = 0;
  for (const node of [NODES.blue, NODES.green]) {
    const dataDir = join(l.agentsDir, node, "data");
    if (existsSync(join(dataDir, "processes"))) {
      n += await stopAll(new ProcessRuntime({ releasesDir: l.releasesDir, dataDir, logger }), node);
    }
    if (dockerSocket) {
      const docker = new DockerRuntime({ socketPath: dockerSocket, logger });
      if (await answers(docker)) n += await stopAll(docker, node);
    }
  }
  return n;
}

/** Stops and removes every workload of the demo on one node; closes the runtime. Returns how many there were. */
export async function stopAll(rt: Runtime, node: string): Promise<number> {
  const all = await rt.list(DEMO_APP, node);
  await Promise.all(all.map((w) => rt.stopAndRemove(w.id, STOP_TIMEOUT_SECONDS)));
  await rt.close();
  return all.length;
}

/** A Docker engine that does not answer within 3 s is taken as absent. */
function answers(rt: Runtime): Promise<boolean> {
  return new Promise((resolve) => {
    const t = setTimeout(() => resolve(false), 3000);
    rt.ping().then(
      () => resolve(true),
      () => resolve(false),
    ).finally(() => clearTimeout(t));
  });
}

function readPid(file: string): number | null {
  try {
    const pid = Number(readFileSync(file, "utf8").trim());
    return Number.isInteger(pid) && pid > 0 ? pid : null;
  } catch {
    return null;
  }
}

function isDemo(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").includes("demo");
  } catch {
    return true; // no /proc: a live pid is taken at its word
  }
}
