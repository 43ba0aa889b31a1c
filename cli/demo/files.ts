/**
 * Everything the demo writes before it starts anything: the deploy dir (cluster.yaml, state.yaml and
 * fresh agent tokens, as a git repository so history works), one folder per agent with its agent.yaml,
 * and the reconciler's data dir with a dashboard user and an API token.
 */
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { API_VERSION } from "../../specs/defaults.js";
import { lifecycleEvents } from "../../specs/lifecycle.js";
import { Users } from "../../reconciler/auth/users.js";

/** The demo cluster's name: the `dev.switchyard.app` label of everything it runs. */
export const DEMO_APP = "switchyard-demo";
export const DEMO_USER = "admin";
export const NODES = { blue: "blue-1", green: "green-1", router: "router-1" } as const;
export const HOSTS = { live: "localhost", preview: "preview.localhost", blue: "blue.localhost", green: "green.localhost" } as const;

export interface DemoLayout {
  root: string;
  deployDir: string;
  dataDir: string;
  agentsDir: string;
  releasesDir: string;
  tokenFile: string;
  infoFile: string;
  logFile: string;
  lockFile: string;
}

export function layout(root: string): DemoLayout {
  return {
    root,
    deployDir: join(root, "deploy"),
    dataDir: join(root, "data"),
    agentsDir: join(root, "agents"),
    releasesDir: join(root, "releases"),
    tokenFile: join(root, "admin.token"),
    infoFile: join(root, "demo.json"),
    logFile: join(root, "demo.log"),
    lockFile: join(root, "demo.pid"),
  };
}

export interface DemoPorts {
  dashboard: number;
  router: number;
  agents: Record<keyof typeof NODES, number>;
  web: { blue: number; green: number };
  /** The demo's own webhook receiver (notifications printed on the console). */
  notifications: number;
}

export interface ClusterPlan {
  runtime: "docker" | "process";
  repository: string;
  /** Docker only: the registry the reconciler lists tags from. */
  registryUrl?: string;
  dockerSocket?: string;
  ports: DemoPorts;
  /** The webhook every lifecycle event goes to, signed with `secret` (written to secrets/notify.key). */
  notify: { url: string; secret: string };
}

/** The rollback settings of the demo's cluster.yaml: a 500-answering tag (v4) is rolled back within seconds. */
export const DEMO_ROLLBACK = { window: 30, maxErrorRatio: 0.05, minRequests: 20 } as const;

/** Writes the deploy dir and the agents' folders; returns each agent's agent.yaml. */
export async function writeCluster(l: DemoLayout, p: ClusterPlan): Promise<Record<keyof typeof NODES, string>> {
  await mkdir(join(l.deployDir, "secrets"), { recursive: true, mode: 0o700 });
  const configs = {} as Record<keyof typeof NODES, string>;
  for (const [key, name] of Object.entries(NODES) as [keyof typeof NODES, string][]) {
    const token = randomBytes(24).toString("hex");
    await writeFile(join(l.deployDir, "secrets", `${name}.token`), token + "\n", { mode: 0o600 });
    const dir = join(l.agentsDir, name);
    await mkdir(dir, { recursive: true, mode: 0o700 });
    await writeFile(join(dir, "token"), token + "\n", { mode: 0o600 });
    if (key !== "router") await writeDatabaseSecret(dir);
    const file = join(dir, "agent.yaml");
    await writeFile(file, agentYaml(name, key === "router" ? "router" : "node", l, p));
    configs[key] = file;
  }
  await writeFile(join(l.deployDir, "secrets", "notify.key"), p.notify.secret + "\n", { mode: 0o600 });
  await writeFile(join(l.deployDir, "cluster.yaml"), clusterYaml(p));
  await writeFile(join(l.deployDir, "state.yaml"), STATE_YAML);
  await writeFile(join(l.deployDir, ".gitignore"), "secrets/\n");
  await gitInit(l.deployDir);
  return configs;
}

/**
 * The demo app's database URL as a node secret: `<agent dir>/secrets/database.env` (folder 0700, file 0600),
 * with a fresh password per node. It never enters the deploy dir, git or the wire.
 */
async function writeDatabaseSecret(agentDir: string): Promise<void> {
  await mkdir(join(agentDir, "secrets"), { recursive: true, mode: 0o700 });
  const password = randomBytes(12).toString("hex");
  await writeFile(join(agentDir, "secrets", "database.env"), `# The demo app's database (a secret: only this node has it).\nDATABASE_URL=postgres://shop:${password}@db.internal:5432/shop\n`, { mode: 0o600 });
}

/** A dashboard user with a fresh password and an API token for the CLI; returns both. */
export async function writeUsers(l: DemoLayout): Promise<{ password: string; token: string }> {
  const password = randomBytes(9).toString("base64url");
  const users = new Users({ file: join(l.dataDir, "users.json") });
  await users.load();
  await users.addUser(DEMO_USER, "admin", password, { replace: true });
  const token = await users.createToken(DEMO_USER);
  await users.flush();
  await writeFile(l.tokenFile, token + "\n", { mode: 0o600 });
  return { password, token };
}

const STATE_YAML = `# The desired state: edit it (or use the dashboard / CLI) and the reconciler makes it so.
apiVersion: ${API_VERSION}
kind: State
spec:
  active: blue
  colors:
    blue: { tag: v1 }
    green: { tag: v1 }
  jobs: { owner: active }
`;

function clusterYaml(p: ClusterPlan): string {
  const { ports } = p;
  const a = (n: keyof typeof NODES) => `http://127.0.0.1:${ports.agents[n]}`;
  return `# switchyard demo: a blue and a green node and a router, all on this machine (${p.runtime} runtime).
apiVersion: ${API_VERSION}
kind: Cluster
metadata: { name: ${DEMO_APP} }
spec:
  image:
    repository: ${p.repository}
${p.registryUrl ? `    registry: { url: ${p.registryUrl} }\n` : ""}  services:
    web:
      port: 8080
      expose: { pathPrefix: / }
      health: { path: /healthz, periodSeconds: 1, timeoutSeconds: 2, healthyThreshold: 1, unhealthyThreshold: 3 }
      env: { LOG_LEVEL: info }
      secrets: [database]                # DATABASE_URL, from secrets/database.env beside each node's agent.yaml
      stopTimeoutSeconds: 5
    worker:
      job: true
      command: [node, worker.js]
      stopTimeoutSeconds: 2
  nodes:
    - { name: ${NODES.blue}, color: blue, agent: ${a("blue")}, tokenFile: secrets/${NODES.blue}.token, address: 127.0.0.1, ports: { web: ${ports.web.blue} } }
    - { name: ${NODES.green}, color: green, agent: ${a("green")}, tokenFile: secrets/${NODES.green}.token, address: 127.0.0.1, ports: { web: ${ports.web.green} } }
    - { name: ${NODES.router}, role: router, agent: ${a("router")}, tokenFile: secrets/${NODES.router}.token }
  router:
    listen: 127.0.0.1:${ports.router}
    hosts: { live: [${HOSTS.live}], preview: [${HOSTS.preview}], blue: [${HOSTS.blue}], green: [${HOSTS.green}] }
    defaultRoute: live
    drainTimeoutSeconds: 5
  tasks:                                 # run once per colour and tag, before the colour may go live
    - { name: migrate, service: web, command: [node, migrate.js], timeoutSeconds: 60 }
  rollback: { window: ${DEMO_ROLLBACK.window}, maxErrorRatio: ${DEMO_ROLLBACK.maxErrorRatio}, minRequests: ${DEMO_ROLLBACK.minRequests} }   # v4 answers 500s: promote it and watch
  jobs: { leaseTtlSeconds: 10 }
  drift: { policy: heal }
  alerts:
    webhooks:                            # the demo's own receiver prints each event on its console
      - { url: ${p.notify.url}, format: json, secretFile: secrets/notify.key, events: [${lifecycleEvents.join(", ")}] }
`;
}

function agentYaml(name: string, role: "node" | "router", l: DemoLayout, p: ClusterPlan): string {
  const key = (Object.entries(NODES) as [keyof typeof NODES, string][]).find(([, n]) => n === name)![0];
  const lines = [
    `apiVersion: ${API_VERSION}`,
    "kind: Agent",
    `name: ${name}`,
    `listen: 127.0.0.1:${p.ports.agents[key]}`,
    "tokenFile: token",
    `role: ${role}`,
    "dataDir: data",
  ];
  if (role === "router") lines.push(`router: { listen: 127.0.0.1:${p.ports.router} }`);
  else {
    lines.push(`allowedRepositories: [${p.repository}]`, `runtime: ${p.runtime}`, "secretsDir: secrets");
    if (p.runtime === "process") lines.push(`process: { releasesDir: ${l.releasesDir} }`);
    if (p.runtime === "docker" && p.dockerSocket) lines.push(`docker: { socketPath: ${p.dockerSocket} }`);
  }
  return lines.join("\n") + "\n";
}

/** git init + a first commit, so the dashboard's history works. Without git the demo runs without history. */
async function gitInit(dir: string): Promise<boolean> {
  const git = (...args: string[]) => promisify(execFile)("git", ["-C", dir, "-c", "user.name=switchyard demo", "-c", "user.email=demo@switchyard.local", "-c", "init.defaultBranch=main", ...args]);
  try {
    await git("init", "-q");
    await git("add", ".gitignore", "cluster.yaml", "state.yaml");
    await git("commit", "-qm", "switchyard demo: initial state");
    return true;
  } catch {
    return false;
  }
}
