/**
 * Which runtime the demo uses. Docker when an engine answers and the demo images can be put in a
 * registry: the one at --registry (default the test bed's http://127.0.0.1:5000), else a private
 * `docker-registry` started for this run when that program is installed. The images are built by
 * examples/demo-app/build.sh (offline, skipped when up to date). Otherwise the process runtime, with
 * release directories written from examples/demo-app. Either way the choice and its reason are said.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import Docker from "dockerode";
import { DEFAULT_DOCKER_SOCKET } from "../../specs/defaults.js";
import { demoAppDir, DEMO_TAGS, writeDemoReleases } from "./releases.js";
import { pickPort } from "./ports.js";

export type RuntimeWish = "auto" | "docker" | "process";

export interface Engine {
  runtime: "docker" | "process";
  /** Why this runtime, in a few words. */
  reason: string;
  repository: string;
  dockerSocket?: string;
  registryUrl?: string;
  /** Stops what the engine choice started (a private registry). */
  stop(): Promise<void>;
}

export const DEFAULT_DEMO_REGISTRY = "http://127.0.0.1:5000";
/** A private registry prefers this port, so that the images' names stay the same from run to run. */
export const PRIVATE_REGISTRY_PORT = 5001;
const PROCESS_REPOSITORY = "switchyard-demo/app";

export async function chooseEngine(o: { want: RuntimeWish; registry?: string; root: string; releasesDir: string; say: (line: string) => void }): Promise<Engine> {
  if (o.want !== "process") {
    const docker = await tryDocker(o);
    if (docker.ok) return docker.engine;
    if (o.want === "docker") throw new Error(`cannot use Docker: ${docker.why}`);
    o.say(`Docker: ${docker.why}; using the process runtime instead`);
    return processEngine(o.releasesDir, docker.why.split(" (")[0]!);
  }
  return processEngine(o.releasesDir, "asked for with --runtime process");
}

async function processEngine(releasesDir: string, reason: string): Promise<Engine> {
  await writeDemoReleases(releasesDir);
  return { runtime: "process", reason, repository: PROCESS_REPOSITORY, stop: async () => undefined };
}

type Tried = { ok: true; engine: Engine } | { ok: false; why: string };

async function tryDocker(o: { registry?: string; root: string; say: (line: string) => void }): Promise<Tried> {
  const host = process.env.DOCKER_HOST;
  if (host && !host.startsWith("unix://")) return { ok: false, why: `DOCKER_HOST=${host} is not a unix socket, which is all the demo supports` };
  const socketPath = host ? host.slice("unix://".length) : DEFAULT_DOCKER_SOCKET;
  try {
    await withTimeout(new Docker({ socketPath }).ping(), 3000);
  } catch (err) {
    return { ok: false, why: `no Docker engine answers at ${socketPath} (${(err as Error).message.split("\n")[0]})` };
  }
  let registryUrl = (o.registry ?? process.env.SWITCHYARD_DEMO_REGISTRY ?? DEFAULT_DEMO_REGISTRY).replace(/\/+$/, "");
  let stop = async () => undefined as void;
  if (!(await registryAnswers(registryUrl))) {
    if (o.registry) return { ok: false, why: `no registry answers at ${registryUrl}/v2/` };
    const own = await startPrivateRegistry(o.root);
    if (!own) return { ok: false, why: `no registry answers at ${registryUrl}/v2/ and docker-registry is not installed (run test/bed/setup.sh, or pass --registry URL)` };
    o.say(`Docker: started a private registry at ${own.url} for this run`);
    registryUrl = own.url;
    stop = own.stop;
  }
  const repository = `${new URL(registryUrl).host}/switchyard-demo/app`;
  o.say(`Docker: building the demo images ${DEMO_TAGS.join(", ")} into ${repository} (skipped when up to date)`);
  try {
    await buildImages(repository, registryUrl, o.say);
  } catch (err) {
    await stop();
    return { ok: false, why: `building the demo images failed: ${(err as Error).message}` };
  }
  return { ok: true, engine: { runtime: "docker", reason: `a Docker engine answers at ${socketPath}`, repository, dockerSocket: socketPath, registryUrl, stop } };
}

async function registryAnswers(url: string): Promise<boolean> {
  try {
    const res = await fetch(`${url}/v2/`, { signal: AbortSignal.timeout(2000) });
    await res.arrayBuffer();
    return res.status === 200 || res.status === 401;
  } catch {
    return false;
  }
}

/**
 * Debian's docker-registry on loopback, its storage in the demo dir (kept from run to run, so the images
 * are pushed once); null when not installed.
 */
async function startPrivateRegistry(root: string): Promise<{ url: string; stop: () => Promise<void> } | null> {
  const port = await pickPort("127.0.0.1", PRIVATE_REGISTRY_PORT);
  const dir = join(root, "registry");
  await mkdir(join(dir, "data"), { recursive: true });
  const config = join(dir, "config.yml");
  await writeFile(config, `version: 0.1\nlog: { level: warn, accesslog: { disabled: true } }\nstorage: { filesystem: { rootdirectory: ${join(dir, "data")} }, delete: { enabled: true } }\nhttp: { addr: 127.0.0.1:${port} }\n`);
  let proc: ChildProcess;
  try {
    proc = spawn("docker-registry", ["serve", config], { stdio: "ignore" });
    await new Promise<void>((resolve, reject) => {
      proc.once("spawn", resolve);
      proc.once("error", reject);
    });
  } catch {
    return null;
  }
  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    if (proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise((r) => proc.once("exit", r));
    proc.kill("SIGTERM");
    await withTimeout(exited, 5000).catch(() => proc.kill("SIGKILL"));
  };
  for (let i = 0; i < 100; i++) {
    if (await registryAnswers(url)) return { url, stop };
    if (proc.exitCode !== null) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  await stop();
  return null;
}

function buildImages(repository: string, registryUrl: string, say: (line: string) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    const proc = spawn("bash", [join(demoAppDir(), "build.sh"), repository, ...DEMO_TAGS], {
      env: { ...process.env, SWITCHYARD_DEMO_REGISTRY_URL: registryUrl },
      stdio: ["ignore", "ignore", "pipe"],
    });
    let last = "";
    let buf = "";
    proc.stderr!.on("data", (d: Buffer) => {
      buf += d.toString();
      let i: number;
      while ((i = buf.indexOf("\n")) >= 0) {
        const line = buf.slice(0, i).trim();
        buf = buf.slice(i + 1);
        if (!line) continue;
        last = line;
        say(`  ${line}`);
      }
    });
    proc.once("error", reject);
    proc.once("exit", (code) => (code === 0 ? resolve() : reject(new Error(last || `build.sh exited with ${code}`))));
  });
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
    p.then(
      (v) => {
        clearTimeout(t);
        resolve(v);
      },
      (err: unknown) => {
        clearTimeout(t);
        reject(err as Error);
      },
    );
  });
}
