/**
 * The soak's cluster, all on this machine and all as child processes so that any part can be killed,
 * frozen or cut off: node agents per colour (process runtime, plus one on the Docker runtime with an engine
 * of the soak's own), two router agents each in its own network namespace, the reconciler, the demo store
 * (the jobs app's ground truth) and a webhook receiver that records every alert. The reconciler reaches
 * every agent, and the Docker engine the registry, through a relay the soak controls.
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { pickPort } from "../../../cli/demo/ports.js";
import { demoAppDir, writeDemoReleases } from "../../../cli/demo/releases.js";
import { RELEASE_MANIFEST } from "../../../node-agent/release-command.js";
import { Users } from "../../../reconciler/auth/users.js";
import { Relay } from "./relay.js";
import { BED_REGISTRY, DEMO_REPO_PATH, engineDir, ensureCrashImage, SoakEngine } from "./engine.js";
import { createNetns, inNetns, removeNetns, type Netns } from "./netns.js";
import { findProcs } from "../../../test/support/procs.js";
import type { AlertEvent } from "./history.js";
import type { DesiredModel } from "./model.js";

/** A release whose web service exits at once: deployed, it crash-loops. */
export const CRASH_TAG = "crash";
export const GOOD_TAGS = ["v1", "v2"] as const;
/** v3's health check answers 500; crash never comes up: neither may ever get live traffic. */
export const BAD_TAGS = ["v3", CRASH_TAG] as const;
export const LIVE_HOST = "live.test";

export interface SoakNode {
  name: string;
  role: "node" | "router";
  runtime?: "process" | "docker";
  color?: "blue" | "green";
  apiPort: number;
  /** Where the agent's API listens (its namespace's address for routers). */
  apiHost: string;
  webPort?: number;
  netns?: Netns;
  relay: Relay;
  proc?: ChildProcess | undefined;
  dir: string;
}

export interface ClusterOptions {
  tag: string;
  /** Process-runtime agents per colour. */
  perColor: number;
  /** One Docker-runtime agent per colour besides, on an engine of the soak's own. */
  docker: boolean;
  leaseTtlSeconds: number;
  deployTimeoutSeconds: number;
  alertGraceSeconds: number;
  /** Data dirs put on a small tmpfs (so a disk-full fault can fill them): "reconciler" or a node's name. */
  disks: readonly string[];
}

/**
 * How long the soak waits for an agent or the reconciler it (re)started to answer. Not a product bound: on a
 * shared 2-core machine under a load of 15 to 20, a SIGKILLed agent took over 30 s to listen again.
 */
const START_BOUND_MS = 90_000;

/** Sizes of the soak's small file systems: room for what they hold, small enough to fill in a moment. */
const DISK_MB = { reconciler: 64, node: 16 } as const;

export class SoakCluster {
  readonly dir: string;
  readonly deployDir: string;
  readonly reconcilerData: string;
  readonly releasesDir: string;
  readonly nodes: SoakNode[] = [];
  netns: Netns[] = [];
  routerPort = 0;
  reconcilerUrl = "";
  reconciler: ChildProcess | undefined;
  private reconcilerPort = 0;
  store: ChildProcess | undefined;
  storeUrl = "";
  token = "";
  readonly alerts: AlertEvent[] = [];
  private hook: Server | undefined;
  private hookUrl = "";
  /** The bed's registry as the Docker engine reaches it: cut it for a registry outage. */
  readonly registry = new Relay();
  engine: SoakEngine | undefined;

  constructor(readonly o: ClusterOptions) {
    this.dir = mkdtempSync(join(tmpdir(), `sy-${o.tag}-`));
    this.deployDir = join(this.dir, "deploy");
    this.reconcilerData = join(this.dir, "data");
    this.releasesDir = join(this.dir, "releases");
    mkdirSync(join(this.deployDir, "secrets"), { recursive: true });
  }

  get appNodes(): SoakNode[] {
    return this.nodes.filter((n) => n.role === "node");
  }

  /** Agents per colour, of every runtime. */
  get nodesPerColor(): number {
    return this.o.perColor + (this.o.docker ? 1 : 0);
  }

  /** The image repository of cluster.yaml: the bed's demo repository, through the registry relay. */
  get repo(): string {
    return `127.0.0.1:${this.registry.port}/${DEMO_REPO_PATH}`;
  }

  get routers(): SoakNode[] {
    return this.nodes.filter((n) => n.role === "router");
  }

  /** The address the app's web services publish on (reached by every router namespace). */
  get publishIp(): string {
    return this.netns[0]!.hostIp;
  }

  node(name: string): SoakNode {
    const n = this.nodes.find((x) => x.name === name);
    if (!n) throw new Error(`no node ${name}`);
    return n;
  }

  async start(initial: DesiredModel): Promise<void> {
    await writeDemoReleases(this.releasesDir, ["v1", "v2", "v3", CRASH_TAG]);
    const crash = join(this.releasesDir, CRASH_TAG);
    writeFileSync(join(crash, "crash.js"), "console.error('crash: this release exits at once');\nprocess.exit(3);\n");
    writeFileSync(join(crash, RELEASE_MANIFEST), JSON.stringify({ command: ["node", "crash.js"] }) + "\n");
    this.netns = createNetns(this.o.tag, 2);
    this.routerPort = await pickPort("127.0.0.1", 0);
    const [host, port] = BED_REGISTRY.split(":");
    await this.registry.start(Number(port), host);
    if (this.o.docker) {
      await ensureCrashImage(CRASH_TAG);
      this.engine = new SoakEngine(engineDir(this.dir), this.o.tag);
      await this.engine.start();
    }
    for (const color of ["blue", "green"] as const) {
      const names: [string, "process" | "docker"][] = Array.from({ length: this.o.perColor }, (_, i) => [`${this.o.tag}-${color}-${i + 1}`, "process"]);
      if (this.o.docker) names.push([`${this.o.tag}-${color}-d`, "docker"]);
      for (const [name, runtime] of names) {
        this.nodes.push({ name, role: "node", runtime, color, apiPort: await pickPort("127.0.0.1", 0), apiHost: "127.0.0.1", webPort: await pickPort("127.0.0.1", 0), relay: new Relay(), dir: "" });
      }
    }
    this.netns.forEach((ns, i) => this.nodes.push({ name: `${this.o.tag}-router-${i + 1}`, role: "router", apiPort: 7100, apiHost: ns.nsIp, netns: ns, relay: new Relay(), dir: "" }));
    for (const n of this.nodes) this.writeAgentConfig(n);
    for (const d of this.o.disks) this.mountDisk(d === "reconciler" ? this.reconcilerData : join(this.node(d).dir, "data"), d === "reconciler" ? DISK_MB.reconciler : DISK_MB.node);
    await this.startStore();
    await this.startHook();
    for (const n of this.nodes) await this.startAgent(n);
    this.writeCluster();
    this.writeState(initial);
    await this.ensureToken();
    await this.startReconciler();
  }

  private writeAgentConfig(n: SoakNode): void {
    n.dir = join(this.dir, "agents", n.name);
    mkdirSync(join(n.dir, "data"), { recursive: true });
    const token = randomBytes(24).toString("hex");
    writeFileSync(join(this.deployDir, "secrets", `${n.name}.token`), token + "\n");
    writeFileSync(join(n.dir, "token"), token + "\n");
    const lines = ["apiVersion: switchyard.dev/v1", "kind: Agent", `name: ${n.name}`, `listen: ${n.apiHost}:${n.apiPort}`, "tokenFile: token", `role: ${n.role}`, `allowedRepositories: [${this.repo}]`, "dataDir: data"];
    if (n.role === "router") lines.push(`router: { listen: 0.0.0.0:${this.routerPort} }`);
    else if (n.runtime === "docker") lines.push("runtime: docker", `docker: { socketPath: ${this.engine!.socket} }`, `publishAddress: ${this.publishIp}`);
    else lines.push("runtime: process", `process: { releasesDir: ${this.releasesDir} }`, `publishAddress: ${this.publishIp}`);
    writeFileSync(join(n.dir, "agent.yaml"), lines.join("\n") + "\n");
  }

  /** Starts (or restarts) an agent as a child process; resolves once its API answers. */
  async startAgent(n: SoakNode): Promise<void> {
    await n.relay.start(n.apiPort, n.apiHost);
    const argv = [process.execPath, join(process.cwd(), "bin/switchyard.js"), "agent", "--config", join(n.dir, "agent.yaml")];
    const cmd = n.netns ? inNetns(n.netns, argv) : argv;
    const log = openSync(join(n.dir, "agent.log"), "a");
    n.proc = spawn(cmd[0]!, cmd.slice(1), { stdio: ["ignore", log, log], env: { ...process.env, SWITCHYARD_LOG_LEVEL: "warn" } });
    closeSync(log);
    // Up means started: /v1/healthz answers as soon as the port is bound, before the core (a router's data
    // plane) runs; every other route answers 503 until then.
    const token = readFileSync(join(n.dir, "token"), "utf8").trim();
    await waitUntil(`agent ${n.name} started`, () => fetch(`http://127.0.0.1:${n.relay.port}/v1/status`, { headers: { authorization: `Bearer ${token}` } }).then((r) => r.ok, () => false), START_BOUND_MS);
  }

  /** SIGKILL; resolves once the process is gone. */
  async killAgent(n: SoakNode): Promise<void> {
    const p = n.proc;
    n.proc = undefined;
    await sigkill(p);
  }

  signalAgent(n: SoakNode, signal: "SIGSTOP" | "SIGCONT"): void {
    n.proc?.kill(signal);
  }

  async startReconciler(): Promise<void> {
    this.reconcilerPort ||= await pickPort("127.0.0.1", 0);
    this.reconcilerUrl = `http://127.0.0.1:${this.reconcilerPort}`;
    const log = openSync(join(this.dir, "reconciler.log"), "a");
    this.reconciler = spawn(process.execPath, [join(process.cwd(), "bin/switchyard.js"), "reconciler", "--dir", this.deployDir, "--data", this.reconcilerData, "--listen", `127.0.0.1:${this.reconcilerPort}`, "--releases-dir", this.releasesDir], {
      stdio: ["ignore", log, log],
      env: { ...process.env, SWITCHYARD_LOG_LEVEL: "warn" },
    });
    closeSync(log);
    await waitUntil("reconciler up", () => fetch(this.reconcilerUrl + "/healthz").then((r) => r.ok, () => false), START_BOUND_MS);
  }

  async killReconciler(): Promise<void> {
    const p = this.reconciler;
    this.reconciler = undefined;
    await sigkill(p);
  }

  /** GET on the reconciler API with the soak's admin token; null when it does not answer. */
  async api<T>(path: string, timeoutMs = 3000): Promise<T | null> {
    try {
      const res = await fetch(this.reconcilerUrl + path, { headers: { authorization: `Bearer ${this.token}` }, signal: AbortSignal.timeout(timeoutMs) });
      if (!res.ok) return null;
      return (await res.json()) as T;
    } catch {
      return null;
    }
  }

  writeCluster(): void {
    const node = (n: SoakNode) =>
      n.role === "router"
        ? `    - { name: ${n.name}, role: router, agent: http://127.0.0.1:${n.relay.port}, tokenFile: secrets/${n.name}.token }`
        : `    - { name: ${n.name}, color: ${n.color}, agent: http://127.0.0.1:${n.relay.port}, tokenFile: secrets/${n.name}.token, address: ${this.publishIp}, ports: { web: ${n.webPort} } }`;
    this.writeAtomically("cluster.yaml", [
      "apiVersion: switchyard.dev/v1", "kind: Cluster", `metadata: { name: ${this.o.tag} }`, "spec:", `  image: { repository: ${this.repo} }`,
      "  services:",
      "    web:",
      "      port: 8080",
      "      expose: { pathPrefix: / }",
      "      health: { path: /healthz, periodSeconds: 0.5, timeoutSeconds: 1, healthyThreshold: 1, unhealthyThreshold: 2 }",
      "      stopTimeoutSeconds: 5",
      "    worker:",
      "      job: true",
      "      command: [node, worker.js]",
      "      stopTimeoutSeconds: 2",
      `      env: { STORE_URL: "${this.storeUrl}", JOB_INTERVAL_MS: "200" }`,
      "  nodes:", ...this.nodes.map(node),
      "  router:", `    listen: 0.0.0.0:${this.routerPort}`, `    hosts: { live: [${LIVE_HOST}], preview: [preview.test], blue: [blue.test], green: [green.test] }`, "    drainTimeoutSeconds: 5",
      `  jobs: { leaseTtlSeconds: ${this.o.leaseTtlSeconds} }`,
      `  deploy: { timeoutSeconds: ${this.o.deployTimeoutSeconds} }`,
      "  drift: { policy: heal }",
      `  alerts: { graceSeconds: ${this.o.alertGraceSeconds}, webhooks: [{ url: "${this.hookUrl}" }] }`, "",
    ].join("\n"));
  }

  writeState(m: DesiredModel): void {
    const color = (c: "blue" | "green") => (m.stopped[c] ? `{ tag: ${m.tags[c]}, stopped: true }` : `{ tag: ${m.tags[c]} }`);
    this.writeAtomically("state.yaml", ["apiVersion: switchyard.dev/v1", "kind: State", "spec:", `  active: ${m.active}`, "  colors:", `    blue: ${color("blue")}`, `    green: ${color("green")}`, `  jobs: { owner: ${m.owner} }`, ""].join("\n"));
  }

  /** Writes like an editor that saves by rename. */
  writeAtomically(file: string, text: string): void {
    const tmp = join(this.deployDir, `.${file}.tmp`);
    writeFileSync(tmp, text);
    renameSync(tmp, join(this.deployDir, file));
  }

  /** Stops every process this cluster started (thawing frozen agents first), and the workloads the agents left. */
  async stopAll(): Promise<void> {
    await this.killReconciler();
    for (const n of this.nodes) {
      n.proc?.kill("SIGCONT");
      await this.killAgent(n);
      await n.relay.close();
    }
    // Agents leave their workloads running when they die (that is the point): end them by their environment.
    for (const p of findProcs((e) => e.SWITCHYARD_APP === this.o.tag)) {
      try {
        process.kill(p.pid, "SIGKILL");
      } catch {
        /* gone */
      }
    }
    await sigkill(this.store);
    await new Promise((r) => (this.hook ? this.hook.close(r) : r(null)));
    this.hook?.closeAllConnections();
    await this.registry.close();
    // The engine goes with all it holds: containers, images, data root, bridge.
    await this.engine?.remove();
    for (let i = 0; i < 100 && findProcs((e) => e.SWITCHYARD_APP === this.o.tag).length > 0; i++) await new Promise((r) => setTimeout(r, 20));
  }

  /** Removes what this cluster set up on the host: mounts and namespaces (after stopAll). */
  teardown(): void {
    this.unmountDisks();
    removeNetns(this.netns);
  }

  /** Every port this cluster listened on, with the address it used. */
  ports(): { host: string; port: number; what: string }[] {
    const out = [{ host: "127.0.0.1", port: this.reconcilerPort, what: "reconciler" }, { host: "127.0.0.1", port: this.registry.port, what: "registry relay" }];
    for (const n of this.nodes) {
      out.push({ host: "127.0.0.1", port: n.relay.port, what: `${n.name} relay` });
      if (n.webPort) out.push({ host: this.publishIp, port: n.webPort, what: `${n.name} web` });
      if (!n.netns) out.push({ host: n.apiHost, port: n.apiPort, what: `${n.name} agent` });
    }
    return out;
  }

  readonly mounts: string[] = [];

  private mountDisk(dir: string, mb: number): void {
    mkdirSync(dir, { recursive: true });
    execFileSync("mount", ["-t", "tmpfs", "-o", `size=${mb}m,mode=0700`, `sy-${this.o.tag}`, dir]);
    this.mounts.push(dir);
  }

  /** Unmounts the small file systems (after every process using them has exited). */
  unmountDisks(): void {
    for (const dir of this.mounts.splice(0)) {
      try {
        execFileSync("umount", [dir]);
      } catch {
        execFileSync("umount", ["-l", dir]);
      }
    }
  }

  /** Removes the soak's files (kept on a failed run, for reading the logs). */
  removeFiles(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }

  private async ensureToken(): Promise<void> {
    const users = new Users({ file: join(this.reconcilerData, "users.json"), scrypt: { N: 1024, r: 8, p: 1 } });
    await users.load();
    await users.addUser("soak", "admin", "soak-password-1", { replace: true });
    this.token = await users.createToken("soak");
    await users.flush();
  }

  private async startStore(): Promise<void> {
    // On the address the apps publish on: the Docker node's workers reach it from their containers too.
    const port = await pickPort(this.publishIp, 0);
    const log = openSync(join(this.dir, "store.log"), "a");
    this.store = spawn(process.execPath, [join(demoAppDir(), "store.js")], { env: { PATH: process.env.PATH ?? "", HOST: this.publishIp, PORT: String(port), CLAIM_TIMEOUT_MS: "3000" }, stdio: ["ignore", log, log] });
    closeSync(log);
    this.storeUrl = `http://${this.publishIp}:${port}`;
    await waitUntil("the store up", () => fetch(this.storeUrl + "/healthz").then((r) => r.ok, () => false), 10_000);
  }

  /** Receives the reconciler's webhooks (format json): every alert firing and resolving, with the time. */
  private async startHook(): Promise<void> {
    this.hook = createServer((req, res) => {
      let body = "";
      req.on("data", (d: Buffer) => (body += d));
      req.on("end", () => {
        try {
          const a = (JSON.parse(body) as { alert: { name: string; fingerprint: string; state: "firing" | "resolved"; labels: Record<string, string>; summary: string } }).alert;
          this.alerts.push({ at: Date.now(), name: a.name, fingerprint: a.fingerprint, state: a.state, labels: a.labels, summary: a.summary });
        } catch {
          /* not an alert */
        }
        res.end("ok");
      });
    });
    const port = await pickPort("127.0.0.1", 0);
    await new Promise<void>((r) => this.hook!.listen(port, "127.0.0.1", r));
    this.hookUrl = `http://127.0.0.1:${port}/hook`;
  }
}

export async function waitUntil(what: string, ok: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await ok())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** SIGKILL; resolves once the process has exited. */
async function sigkill(p: ChildProcess | undefined): Promise<void> {
  if (!p || p.exitCode !== null || p.signalCode !== null) return;
  const gone = new Promise((r) => p.once("exit", r));
  p.kill("SIGKILL");
  await gone;
}
