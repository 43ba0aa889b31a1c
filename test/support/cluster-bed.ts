/**
 * A whole cluster on one machine for reconciler tests: a deploy dir (cluster.yaml + state.yaml + tokens),
 * a blue and a green node agent on the real Docker engine, a router agent, and the reconciler — in this
 * process or as child processes (for SIGKILL tests). Everything is labelled and cleaned up by name.
 */
import { chmodSync, mkdtempSync, writeFileSync, rmSync, mkdirSync, renameSync, readFileSync } from "node:fs";
import { freePort } from "./ports.js";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { spawn, type ChildProcess } from "node:child_process";
import { request } from "undici";
import { startAgent, type RunningAgent } from "../../node-agent/main.js";
import { startReconciler, type RunningReconciler } from "../../reconciler/main.js";
import { contractCheck } from "./api-contract.js";
import type { Relay } from "../../bench/lib/soak/relay.js";
export { Relay } from "../../bench/lib/soak/relay.js";
import type { ClusterStatus } from "../../reconciler/loop/status.js";
import { REPO, removeNodeContainers, waitFor } from "./agent-bed.js";
import { Users } from "../../reconciler/auth/users.js";
import type { RuntimeKit } from "./runtime-kit.js";

export interface ClusterBedOptions {
  /** Unique per test file: names nodes and the app. */
  prefix: string;
  policy?: "heal" | "alert";
  deployTimeoutSeconds?: number;
  leaseTtlSeconds?: number;
  /** cluster.yaml's alerts.graceSeconds (default 0 here, so tests see alerts at once; the product's default is 10). */
  alertGraceSeconds?: number;
  /** Webhooks: a URL (alerts, format json) or a webhook entry of cluster.yaml. */
  webhooks?: (string | { url: string; format?: "json" | "slack"; events?: string[] })[];
  /** cluster.yaml's rollback section, e.g. `{ window: 20, maxErrorRatio: 0.05, minRequests: 20 }`. */
  rollback?: string;
  withWorker?: boolean;
  /** Extra env for the worker (e.g. STORE_URL). */
  workerEnv?: Record<string, string>;
  /** The worker's command (default [node, worker.js]) and stopTimeoutSeconds (default 2). */
  workerCommand?: string[];
  workerStopTimeoutSeconds?: number;
  /** Make the deploy dir a git repository (history on). */
  git?: boolean;
  /** Nodes whose agent runs as a child process (for SIGSTOP) instead of in this process. */
  childAgents?: string[];
  /** Nodes reached by the reconciler through a relay the test can cut (name → relay). */
  relays?: Record<string, Relay>;
  state?: { active?: "blue" | "green"; blue?: string; green?: string; owner?: string };
  /** cluster.yaml's image.registry.recheckSeconds (how often a moved tag is looked for; product default 60). */
  registryRecheckSeconds?: number;
  /** The agents' runtime (default Docker, with the test bed's registry). */
  kit?: RuntimeKit;
  /** Extra env for the web service (a test may change it and call writeCluster again). */
  webEnv?: Record<string, string>;
  /** The web service's secrets (cluster.yaml); node agents then get `secretsDir: secrets` (see writeSecret). */
  webSecrets?: string[];
  /** The router's HTTP port (default: a free one); pebble validates HTTP-01 there. */
  routerPort?: number;
  /** HTTPS at the router: agent.yaml router.tls, cluster.yaml router.https (every class redirected) and an acme section. */
  https?: { acme?: { directoryUrl: string; caFile: string } };
  /** Give every agent a read-only metrics token (agent.yaml metricsTokenFile); see metricsTokens. */
  metricsToken?: boolean;
  /**
   * An `api` service of its own image repository (cluster.yaml services.api.image), exposed under /slow (a path
   * the demo app answers); its host ports are apiPorts. The node agents allow it unless apiNotAllowed.
   */
  apiImage?: string;
  apiNotAllowed?: boolean;
  /** cluster.yaml tasks, one flow mapping each (e.g. `{ name: migrate, service: web, command: [...] }`). */
  tasks?: string[];
}

export { freePort };

export class ClusterBed {
  readonly dir: string;
  readonly deployDir: string;
  readonly dataDir: string;
  readonly names: { blue: string; green: string; router: string };
  agents = new Map<string, RunningAgent>();
  private childProcs = new Map<string, ChildProcess>();
  reconciler: RunningReconciler | undefined;
  /** Every answer of the in-process reconciler is checked against its schema; close() fails on a violation. */
  readonly contract = contractCheck();
  child: ChildProcess | undefined;
  reconcilerUrl = "";
  routerPort = 0;
  routerTlsPort = 0;
  ports: { blue: number; green: number } = { blue: 0, green: 0 };
  apiPorts: { blue: number; green: number } = { blue: 0, green: 0 };
  private agentPorts = new Map<string, number>();
  /** Each agent's read-only metrics token (with the metricsToken option). */
  readonly metricsTokens = new Map<string, string>();
  /** Everything each child process (agents by name, "reconciler") wrote to stdout and stderr. */
  readonly childLogs = new Map<string, string>();

  constructor(readonly o: ClusterBedOptions) {
    this.dir = mkdtempSync(join(tmpdir(), `sy-${o.prefix}-`));
    this.deployDir = join(this.dir, "deploy");
    this.dataDir = join(this.dir, "data");
    mkdirSync(join(this.deployDir, "secrets"), { recursive: true });
    this.names = { blue: `${o.prefix}-blue-1`, green: `${o.prefix}-green-1`, router: `${o.prefix}-router-1` };
  }

  private cleanupNode(node: string): Promise<void> {
    return (this.o.kit?.cleanupNode ?? removeNodeContainers)(node);
  }

  /** Starts the three agents (fixed free ports, so they can be restarted on the same URL). */
  async startAgents(): Promise<void> {
    for (const n of Object.values(this.names)) await this.cleanupNode(n);
    this.routerPort = this.o.routerPort ?? await freePort();
    if (this.o.https) this.routerTlsPort = await freePort();
    this.ports = { blue: await freePort(), green: await freePort() };
    if (this.o.apiImage) this.apiPorts = { blue: await freePort(), green: await freePort() };
    for (const [role, name] of [["node", this.names.blue], ["node", this.names.green], ["router", this.names.router]] as const) {
      this.agentPorts.set(name, await freePort());
      const token = randomBytes(24).toString("hex");
      writeFileSync(join(this.deployDir, "secrets", `${name}.token`), token + "\n");
      const adir = join(this.dir, "agents", name);
      mkdirSync(adir, { recursive: true });
      writeFileSync(join(adir, "token"), token + "\n");
      if (this.o.metricsToken) {
        this.metricsTokens.set(name, randomBytes(24).toString("hex"));
        writeFileSync(join(adir, "metrics.token"), this.metricsTokens.get(name) + "\n");
      }
      if (role === "node" && this.o.webSecrets) mkdirSync(join(adir, "secrets"), { mode: 0o700 });
      writeFileSync(
        join(adir, "agent.yaml"),
        [
          "apiVersion: switchyard.dev/v1", "kind: Agent", `name: ${name}`, `listen: 127.0.0.1:${this.agentPorts.get(name)}`,
          "tokenFile: token", ...(this.o.metricsToken ? ["metricsTokenFile: metrics.token"] : []), `role: ${role}`, `allowedRepositories: [${[REPO, ...(this.o.apiImage && !this.o.apiNotAllowed ? [this.o.apiImage] : [])].join(", ")}]`, "dataDir: data",
          ...(role === "node" && this.o.webSecrets ? ["secretsDir: secrets"] : []),
          role === "router"
            ? `router: { listen: 127.0.0.1:${this.routerPort}${this.o.https ? `, tls: { listen: 127.0.0.1:${this.routerTlsPort} }` : ""} }`
            : this.o.kit?.agentYaml() ?? "",
        ].join("\n"),
      );
      await this.startAgent(name);
    }
    this.writeCluster();
    this.writeState(this.o.state ?? {});
    if (this.o.git) {
      const { execFileSync } = await import("node:child_process");
      const git = (...a: string[]) => execFileSync("git", ["-C", this.deployDir, "-c", "user.name=ops", "-c", "user.email=ops@example.com", ...a]);
      git("init", "-q");
      git("add", ".");
      git("commit", "-qm", "initial");
    }
  }

  async startAgent(name: string): Promise<void> {
    const config = join(this.dir, "agents", name, "agent.yaml");
    const relay = this.o.relays?.[name];
    if (relay) await relay.start(this.agentPorts.get(name)!);
    if (this.o.childAgents?.includes(name)) {
      const proc = spawn(process.execPath, ["bin/switchyard.js", "agent", "--config", config], { stdio: ["ignore", "pipe", "pipe"] });
      this.childProcs.set(name, proc);
      let out = "";
      const keep = (d: Buffer) => {
        out += d;
        this.childLogs.set(name, (this.childLogs.get(name) ?? "") + d.toString());
      };
      proc.stdout!.on("data", keep);
      proc.stderr!.on("data", keep);
      await waitFor(`agent ${name} up (${out})`, async () => (await fetch(`http://127.0.0.1:${this.agentPorts.get(name)}/v1/healthz`)).ok, 15_000);
      return;
    }
    this.agents.set(name, await startAgent(config));
  }

  /** Writes `<name>.env` into the secretsDir of a colour's node (webSecrets), with `mode`. */
  writeSecret(color: "blue" | "green", name: string, text: string, mode = 0o600): string {
    const file = join(this.dir, "agents", this.names[color], "secrets", `${name}.env`);
    rmSync(file, { force: true });
    writeFileSync(file, text, { mode });
    chmodSync(file, mode);
    return file;
  }

  /** The agent's API address and token (to read its own status). */
  agentApi(name: string): { url: string; token: string } {
    return { url: `http://127.0.0.1:${this.agentPorts.get(name)}`, token: readFileSync(join(this.dir, "agents", name, "token"), "utf8").trim() };
  }

  /** The agent's child process, for signals. */
  agentProcess(name: string): ChildProcess | undefined {
    return this.childProcs.get(name);
  }

  async stopAgent(name: string): Promise<void> {
    const proc = this.childProcs.get(name);
    if (proc) {
      proc.kill("SIGCONT");
      proc.kill("SIGTERM");
      await new Promise((r) => (proc.exitCode !== null ? r(null) : proc.once("exit", r)));
      this.childProcs.delete(name);
    }
    await this.agents.get(name)?.close();
    this.agents.delete(name);
  }

  writeCluster(): void {
    const svc = [
      "  services:",
      "    web:",
      "      port: 8080",
      "      expose: { pathPrefix: / }",
      "      health: { path: /healthz, periodSeconds: 0.25, timeoutSeconds: 1, healthyThreshold: 1, unhealthyThreshold: 2 }",
      "      stopTimeoutSeconds: 5",
      ...(this.o.webSecrets ? [`      secrets: [${this.o.webSecrets.join(", ")}]`] : []),
      ...(this.o.webEnv && Object.keys(this.o.webEnv).length > 0 ? [`      env: { ${Object.entries(this.o.webEnv).map(([k, v]) => `${k}: "${v}"`).join(", ")} }`] : []),
      ...(this.o.apiImage
        ? ["    api:", `      image: ${this.o.apiImage}`, "      port: 8080", "      expose: { pathPrefix: /slow }",
           "      health: { path: /healthz, periodSeconds: 0.25, timeoutSeconds: 1, healthyThreshold: 1, unhealthyThreshold: 2 }", "      stopTimeoutSeconds: 5"]
        : []),
      ...(this.o.withWorker
        ? ["    worker:", "      job: true", `      command: [${(this.o.workerCommand ?? ["node", "worker.js"]).join(", ")}]`, `      stopTimeoutSeconds: ${this.o.workerStopTimeoutSeconds ?? 2}`,
           ...(this.o.workerEnv ? [`      env: { ${Object.entries(this.o.workerEnv).map(([k, v]) => `${k}: "${v}"`).join(", ")} }`] : [])]
        : []),
    ];
    const a = (n: string) => `http://127.0.0.1:${this.o.relays?.[n]?.port ?? this.agentPorts.get(n)}`;
    const api = (c: "blue" | "green") => (this.o.apiImage ? `, api: ${this.apiPorts[c]}` : "");
    const text = [
      "apiVersion: switchyard.dev/v1",
      "kind: Cluster",
      `metadata: { name: ${this.o.prefix} }`,
      "spec:",
      this.o.kit?.kind === "process" ? `  image: { repository: ${REPO} }` : `  image: { repository: ${REPO}, registry: { url: http://127.0.0.1:5000${this.o.registryRecheckSeconds ? `, recheckSeconds: ${this.o.registryRecheckSeconds}` : ""} } }`,
      ...svc,
      ...(this.o.tasks ? ["  tasks:", ...this.o.tasks.map((t) => `    - ${t}`)] : []),
      "  nodes:",
      `    - { name: ${this.names.blue}, color: blue, agent: ${a(this.names.blue)}, tokenFile: secrets/${this.names.blue}.token, address: 127.0.0.1, ports: { web: ${this.ports.blue}${api("blue")} } }`,
      `    - { name: ${this.names.green}, color: green, agent: ${a(this.names.green)}, tokenFile: secrets/${this.names.green}.token, address: 127.0.0.1, ports: { web: ${this.ports.green}${api("green")} } }`,
      `    - { name: ${this.names.router}, role: router, agent: ${a(this.names.router)}, tokenFile: secrets/${this.names.router}.token }`,
      "  router:",
      `    listen: 127.0.0.1:${this.routerPort}`,
      "    hosts: { live: [live.test], preview: [preview.test], blue: [blue.test], green: [green.test] }",
      "    drainTimeoutSeconds: 5",
      ...(this.o.https ? ["    https: { redirect: [live, preview, blue, green] }"] : []),
      ...(this.o.https?.acme ? [`  acme: { directoryUrl: "${this.o.https.acme.directoryUrl}", email: ops@example.com, caFile: ${this.o.https.acme.caFile} }`] : []),
      `  jobs: { leaseTtlSeconds: ${this.o.leaseTtlSeconds ?? 4} }`,
      `  deploy: { timeoutSeconds: ${this.o.deployTimeoutSeconds ?? 30} }`,
      `  drift: { policy: ${this.o.policy ?? "heal"} }`,
      `  alerts: { graceSeconds: ${this.o.alertGraceSeconds ?? 0}, webhooks: [${(this.o.webhooks ?? []).map((w) => (typeof w === "string" ? `{ url: "${w}" }` : JSON.stringify(w))).join(", ")}] }`,
      ...(this.o.rollback ? [`  rollback: ${this.o.rollback}`] : []),
      "",
    ].join("\n");
    this.writeAtomically("cluster.yaml", text);
  }

  writeState(s: { active?: string; blue?: string; green?: string; owner?: string; blueStopped?: boolean; greenStopped?: boolean }): void {
    const color = (tag: string | undefined, stopped: boolean | undefined, dflt: string) => (stopped ? "{ stopped: true }" : `{ tag: ${tag ?? dflt} }`);
    this.writeAtomically(
      "state.yaml",
      [
        "apiVersion: switchyard.dev/v1",
        "kind: State",
        "spec:",
        `  active: ${s.active ?? "blue"}`,
        "  colors:",
        `    blue: ${color(s.blue, s.blueStopped, "v1")}`,
        `    green: ${color(s.green, s.greenStopped, "v2")}`,
        `  jobs: { owner: ${s.owner ?? "active"} }`,
        "",
      ].join("\n"),
    );
  }

  /** Writes like an editor that saves by rename. */
  writeAtomically(file: string, text: string): void {
    const tmp = join(this.deployDir, `.${file}.tmp`);
    writeFileSync(tmp, text);
    renameSync(tmp, join(this.deployDir, file));
  }

  /** An admin API token for this bed's reconciler (users.json in its data dir). */
  token = "";

  private async ensureToken(): Promise<void> {
    if (this.token) return;
    const users = new Users({ file: join(this.dataDir, "users.json"), scrypt: { N: 1024, r: 8, p: 1 } });
    await users.load();
    await users.addUser("tester", "admin", "tester-password-1", { replace: true });
    this.token = await users.createToken("tester");
    await users.flush();
  }

  /** GET (or another method) on the reconciler API with the bed's token; returns the parsed JSON. */
  async api<T = any>(path: string, init: RequestInit = {}): Promise<T> {
    const res = await fetch(this.reconcilerUrl + path, { ...init, headers: { authorization: `Bearer ${this.token}`, ...(init.body ? { "content-type": "application/json" } : {}), ...(init.headers as Record<string, string> | undefined) } });
    const text = await res.text();
    try {
      return JSON.parse(text) as T;
    } catch {
      return text as T;
    }
  }

  async startReconciler(): Promise<RunningReconciler> {
    await this.ensureToken();
    this.reconciler = await startReconciler({ dir: this.deployDir, dataDir: this.dataDir, listen: "127.0.0.1:0", apiSetup: this.contract.setup, ...(this.o.kit?.releasesDir ? { releasesDir: this.o.kit.releasesDir } : {}) });
    this.reconcilerUrl = this.reconciler.url;
    return this.reconciler;
  }

  /** The reconciler as a child process (so a test can SIGKILL it). */
  async spawnReconciler(): Promise<ChildProcess> {
    await this.ensureToken();
    const port = await freePort();
    const proc = spawn(process.execPath, ["bin/switchyard.js", "reconciler", "--dir", this.deployDir, "--data", this.dataDir, "--listen", `127.0.0.1:${port}`], { stdio: ["ignore", "pipe", "pipe"] });
    this.child = proc;
    let out = "";
    const keep = (d: Buffer) => {
      out += d;
      this.childLogs.set("reconciler", (this.childLogs.get("reconciler") ?? "") + d.toString());
    };
    proc.stdout!.on("data", keep);
    proc.stderr!.on("data", keep);
    this.reconcilerUrl = `http://127.0.0.1:${port}`;
    await waitFor(`reconciler child up (${out})`, async () => (await fetch(this.reconcilerUrl + "/healthz")).ok, 15_000);
    return proc;
  }

  async status(): Promise<ClusterStatus> {
    return this.api<ClusterStatus>("/api/v1/status");
  }

  condition(s: ClusterStatus, type: string) {
    return s.conditions.find((c) => c.type === type);
  }

  /** GET through the router with a route class host; returns the colour that served it (or the failure). */
  async viaRouter(host = "live.test", path = "/version"): Promise<{ status: number; color: string | null; body: string }> {
    const res = await request(`http://127.0.0.1:${this.routerPort}${path}`, { headers: { host }, headersTimeout: 5000, bodyTimeout: 5000 });
    const body = await res.body.text();
    return { status: res.statusCode, color: (res.headers["x-switchyard-color"] as string | undefined) ?? null, body };
  }

  async close(): Promise<void> {
    this.child?.kill("SIGKILL");
    await this.reconciler?.close();
    for (const name of [...this.childProcs.keys()]) await this.stopAgent(name);
    for (const a of this.agents.values()) await a.close();
    for (const r of Object.values(this.o.relays ?? {})) await r.close();
    for (const n of Object.values(this.names)) await this.cleanupNode(n);
    rmSync(this.dir, { recursive: true, force: true });
    if (this.contract.violations.length > 0) throw new Error(`API answers left their schema (specs/api): ${JSON.stringify(this.contract.violations).slice(0, 2000)}`);
  }
}

/** Light continuous load through the router: counts every answer by colour and every failure. */
export class Load {
  ok = 0;
  failed: string[] = [];
  colors: string[] = [];
  private stopped = false;
  private done: Promise<void>[] = [];

  constructor(private readonly bed: ClusterBed, concurrency = 4, private readonly pauseMs = 5) {
    for (let i = 0; i < concurrency; i++) this.done.push(this.worker());
  }

  private async worker(): Promise<void> {
    while (!this.stopped) {
      try {
        const r = await this.bed.viaRouter();
        if (r.status === 200) {
          this.ok++;
          if (this.colors.at(-1) !== r.color) this.colors.push(r.color ?? "?");
        } else this.failed.push(`${r.status} ${r.body.slice(0, 80)}`);
      } catch (err) {
        this.failed.push((err as Error).message);
      }
      await new Promise((r) => setTimeout(r, this.pauseMs));
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all(this.done);
  }
}
