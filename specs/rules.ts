/**
 * Cross-field rules that a JSON Schema cannot say. Each returns path issues, so they are reported at
 * the offending key or value like schema errors. Pure: no I/O (file existence is checked by the loader).
 */
import type { Cluster } from "./cluster.js";
import type { State } from "./state.js";
import type { AgentConfig } from "./agent.js";
import type { PathIssue } from "./validate.js";
import { dotted, suggest } from "./validate.js";
import { COLORS } from "./types.js";
import { parseCidr, splitListen } from "../common/values.js";
import { clusterRepositories, clusterServiceRepository, registryHost } from "./images.js";

/** The rules, as documented for operators (see README). */
export const CLUSTER_RULES = [
  "node names are unique",
  "agent URLs are unique",
  "a node with role node has a colour; a router has none",
  "every colour has at least one node",
  "there is at least one router node",
  "every colour node has an address when a service is exposed",
  "every exposed service has a container port and a host port on every colour node",
  "node ports name services that exist",
  "no two nodes publish the same host port on the same address, nor on the router's listen address",
  "a service cannot be both exposed and a job",
  "exposed path prefixes are unique",
  "an exposed service has a container port",
  "env names starting with SWITCHYARD_ are reserved",
  "a host name belongs to one route class only",
  "registry username and passwordFile come together",
  "with a registry, a service's own image lives in the same registry as spec.image.repository",
  "task names are unique and each task names a service that exists",
] as const;

export const STATE_RULES = [
  "the active colour is not stopped",
  "a colour that is not stopped has a tag",
  "a digest comes with a tag",
  "the jobs owner is not a stopped colour",
] as const;

export const CROSS_FILE_RULES = [
  "state.yaml metadata.name, when given, matches cluster.yaml metadata.name",
  "a jobs owner other than none needs at least one job service, or says none",
  "the allowedRepositories of a colour node's agent.yaml cover every image repository the cluster's services run",
  "a colour node's agent.yaml with runtime process has no service naming its own image",
] as const;

export function clusterRules(c: Cluster): PathIssue[] {
  const out: PathIssue[] = [];
  const issue = (path: (string | number)[], message: string, atKey = false) =>
    out.push({ path, atKey, message: `${dotted(path)}: ${message}` });
  const spec = c.spec;
  const services = spec.services;
  const serviceNames = Object.keys(services);
  const exposed = serviceNames.filter((s) => services[s]!.expose !== undefined);

  const names = new Map<string, number>();
  const agents = new Map<string, number>();
  spec.nodes.forEach((n, i) => {
    const prev = names.get(n.name);
    if (prev !== undefined) issue(["spec", "nodes", i, "name"], `node name "${n.name}" is already used by spec.nodes[${prev}]; names must be unique`);
    else names.set(n.name, i);
    const agentKey = n.agent.replace(/\/+$/, "");
    const prevAgent = agents.get(agentKey);
    if (prevAgent !== undefined) issue(["spec", "nodes", i, "agent"], `agent ${n.agent} is already used by spec.nodes[${prevAgent}]; each node has its own agent`);
    else agents.set(agentKey, i);

    if (n.role === "router") {
      if (n.color !== undefined) issue(["spec", "nodes", i, "color"], "a router node has no colour; remove color or set role: node");
      return;
    }
    if (n.color === undefined) {
      issue(["spec", "nodes", i], `node "${n.name}" needs a color (blue or green), or role: router`, true);
      return;
    }
    if (exposed.length > 0 && n.address === undefined) {
      issue(["spec", "nodes", i], `node "${n.name}" needs an address: the router reaches its exposed services there`, true);
    }
    for (const svc of exposed) {
      if (n.ports?.[svc] === undefined) {
        issue(["spec", "nodes", i, ...(n.ports ? ["ports"] : [])], `node "${n.name}" has no host port for exposed service "${svc}"; add ports: { ${svc}: <port> }`, true);
      }
    }
    for (const p of Object.keys(n.ports ?? {})) {
      if (!services[p]) {
        const guess = suggest(p, serviceNames);
        issue(["spec", "nodes", i, "ports", p], `"${p}" is not a service of this cluster${guess ? ` (did you mean "${guess}"?)` : ""}`, true);
      } else if (services[p]!.port === undefined) {
        issue(["spec", "nodes", i, "ports", p], `service "${p}" has no container port to publish; give it a port or remove this entry`, true);
      }
    }
  });

  for (const color of COLORS) {
    if (!spec.nodes.some((n) => n.role !== "router" && n.color === color)) {
      issue(["spec", "nodes"], `there is no ${color} node; every colour needs at least one`, true);
    }
  }
  if (!spec.nodes.some((n) => n.role === "router")) {
    issue(["spec", "nodes"], "there is no router node; add one with role: router", true);
  }

  // Host ports: two listeners on one address and port cannot both bind.
  const bound = new Map<string, string>();
  const routerListen = spec.router.listen;
  const [rHost, rPort] = splitListen(routerListen);
  spec.nodes.forEach((n, i) => {
    if (n.role === "router" || !n.address) return;
    for (const [svc, port] of Object.entries(n.ports ?? {})) {
      const key = `${n.address}:${port}`;
      const owner = bound.get(key);
      if (owner) issue(["spec", "nodes", i, "ports", svc], `host port ${port} on ${n.address} is already taken by ${owner}`);
      else bound.set(key, `node "${n.name}" service "${svc}"`);
      if (rPort === port && (rHost === n.address || rHost === "0.0.0.0")) {
        issue(["spec", "nodes", i, "ports", svc], `host port ${port} on ${n.address} is the router's listen address (spec.router.listen)`);
      }
    }
  });

  const prefixes = new Map<string, string>();
  for (const s of serviceNames) {
    const svc = services[s]!;
    if (svc.expose && svc.job) issue(["spec", "services", s, "job"], `service "${s}" is exposed and a job; a job gets no traffic: remove expose or job`);
    if (svc.expose && svc.port === undefined) issue(["spec", "services", s], `exposed service "${s}" needs a port (the port its container listens on)`, true);
    if (svc.expose) {
      const prev = prefixes.get(svc.expose.pathPrefix);
      if (prev) issue(["spec", "services", s, "expose", "pathPrefix"], `path prefix ${svc.expose.pathPrefix} is already routed to service "${prev}"`);
      else prefixes.set(svc.expose.pathPrefix, s);
    }
    for (const k of Object.keys(svc.env ?? {})) {
      if (k.startsWith("SWITCHYARD_")) issue(["spec", "services", s, "env", k], `${k}: names starting with SWITCHYARD_ are set by Switchyard itself`, true);
    }
  }

  const hostOwner = new Map<string, string>();
  for (const cls of ["live", "preview", "blue", "green"] as const) {
    spec.router.hosts[cls].forEach((h, i) => {
      const prev = hostOwner.get(h.toLowerCase());
      if (prev) issue(["spec", "router", "hosts", cls, i], `host ${h} is already in router.hosts.${prev}; a host belongs to one route class`);
      else hostOwner.set(h.toLowerCase(), cls);
    });
  }

  const taskNames = new Map<string, number>();
  spec.tasks.forEach((t, i) => {
    const prev = taskNames.get(t.name);
    if (prev !== undefined) issue(["spec", "tasks", i, "name"], `task name "${t.name}" is already used by spec.tasks[${prev}]; names must be unique`);
    else taskNames.set(t.name, i);
    if (!services[t.service]) {
      const guess = suggest(t.service, serviceNames);
      issue(["spec", "tasks", i, "service"], `"${t.service}" is not a service of this cluster${guess ? ` (did you mean "${guess}"?)` : ""}; a task runs with a service's image, env and secrets`);
    }
  });

  const reg = spec.image.registry;
  if (reg && (reg.username === undefined) !== (reg.passwordFile === undefined)) {
    issue(["spec", "image", "registry"], "registry username and passwordFile go together: give both or neither", true);
  }
  for (const s of serviceNames) {
    const image = services[s]!.image;
    if (reg && image !== undefined && registryHost(image) !== registryHost(spec.image.repository)) {
      issue(["spec", "services", s, "image"], `${image} is not in the registry of spec.image.repository (${registryHost(spec.image.repository)}), which spec.image.registry lists tags from; push the image there`);
    }
  }
  return out;
}

export function stateRules(s: State): PathIssue[] {
  const out: PathIssue[] = [];
  const issue = (path: (string | number)[], message: string, atKey = false) =>
    out.push({ path, atKey, message: `${dotted(path)}: ${message}` });
  const { active, colors, jobs } = s.spec;
  if (colors[active].stopped) {
    issue(["spec", "colors", active, "stopped"], `${active} is the active colour and cannot be stopped; make the other colour active first`);
  }
  for (const c of COLORS) {
    if (!colors[c].stopped && colors[c].tag === undefined) {
      issue(["spec", "colors", c], `${c} has no tag; give it a tag or set stopped: true`, true);
    }
    if (colors[c].digest !== undefined && colors[c].tag === undefined) {
      issue(["spec", "colors", c, "digest"], `${c} has a digest but no tag; a digest pins the content of the colour's tag, so give the tag too or remove the digest`);
    }
  }
  if ((jobs.owner === "blue" || jobs.owner === "green") && colors[jobs.owner].stopped) {
    issue(["spec", "jobs", "owner"], `${jobs.owner} is stopped and cannot own the jobs; choose active, the other colour or none`);
  }
  return out;
}

/** Rules between cluster.yaml and state.yaml; paths are into the state file. */
export function crossFileRules(c: Cluster, s: State): PathIssue[] {
  const out: PathIssue[] = [];
  if (s.metadata?.name !== undefined && s.metadata.name !== c.metadata.name) {
    out.push({ path: ["metadata", "name"], atKey: false, message: `metadata.name: "${s.metadata.name}" does not match the cluster's name "${c.metadata.name}"` });
  }
  const hasJobs = Object.values(c.spec.services).some((svc) => svc.job);
  if (!hasJobs && (s.spec.jobs.owner === "blue" || s.spec.jobs.owner === "green")) {
    out.push({ path: ["spec", "jobs", "owner"], atKey: false, message: `spec.jobs.owner: the cluster has no job service, so owner "${s.spec.jobs.owner}" means nothing; use active or none` });
  }
  return out;
}

/**
 * Rules between cluster.yaml and the agent.yaml of one of its colour nodes (matched by name); paths are into
 * the agent file. The agent refuses such specs anyway (AGENT_ERR_IMAGE_NOT_ALLOWED, AGENT_ERR_INVALID_SPEC).
 */
export function agentClusterRules(c: Cluster, a: AgentConfig): PathIssue[] {
  const node = c.spec.nodes.find((n) => n.name === a.name);
  if (a.role !== "node" || node === undefined || node.role === "router") return [];
  const out: PathIssue[] = [];
  const users = (repo: string) => Object.keys(c.spec.services).filter((s) => clusterServiceRepository(c, s) === repo);
  if (a.runtime === "process") {
    const own = Object.entries(c.spec.services).filter(([, s]) => s.image !== undefined && s.image !== c.spec.image.repository).map(([n]) => n);
    if (own.length > 0) out.push({ path: ["runtime"], atKey: false, message: `runtime: process runs releases of one repository (process.releasesDir), and the cluster's services ${own.join(", ")} name their own image; remove their image in cluster.yaml or use runtime docker` });
    return out;
  }
  for (const repo of clusterRepositories(c)) {
    if (a.allowedRepositories.includes(repo)) continue;
    out.push({ path: ["allowedRepositories"], atKey: true, message: `allowedRepositories: image repository ${repo} (service${users(repo).length > 1 ? "s" : ""} ${users(repo).join(", ")} of cluster ${c.metadata.name}) is not listed; add it, or this agent refuses every spec of the app` });
  }
  return out;
}

export function agentRules(a: AgentConfig): PathIssue[] {
  const out: PathIssue[] = [];
  if (a.role === "node" && a.allowedRepositories.length === 0) {
    out.push({ path: ["allowedRepositories"], atKey: true, message: "allowedRepositories: a node agent needs at least one allowed image repository; it refuses every other image" });
  }
  if (a.runtime === "process" && a.process?.releasesDir === undefined) {
    out.push({ path: a.process ? ["process"] : [], atKey: true, message: "process.releasesDir: runtime process needs a releases directory" });
  }
  const hosts = new Map<string, number>();
  a.registries.forEach((r, i) => {
    const prev = hosts.get(r.host.toLowerCase());
    if (prev !== undefined) out.push({ path: ["registries", i, "host"], atKey: false, message: `registries[${i}].host: ${r.host} already has credentials in registries[${prev}]; one entry per registry host` });
    else hosts.set(r.host.toLowerCase(), i);
  });
  a.router.allowedUpstreams.forEach((cidr, i) => {
    if (parseCidr(cidr) === null) out.push({ path: ["router", "allowedUpstreams", i], atKey: false, message: `router.allowedUpstreams[${i}]: ${JSON.stringify(cidr)} is not a CIDR such as 10.0.0.0/8 or fc00::/7` });
  });
  return out;
}

/** Paths of files a spec refers to, for the loader to check (relative to the spec file's folder). */
export function referencedFiles(kind: "Cluster" | "State" | "Agent", v: Cluster | State | AgentConfig): { path: (string | number)[]; file: string }[] {
  const out: { path: (string | number)[]; file: string }[] = [];
  if (kind === "Cluster") {
    const c = v as Cluster;
    c.spec.nodes.forEach((n, i) => {
      out.push({ path: ["spec", "nodes", i, "tokenFile"], file: n.tokenFile });
      if (n.caFile) out.push({ path: ["spec", "nodes", i, "caFile"], file: n.caFile });
    });
    if (c.spec.image.registry?.passwordFile) out.push({ path: ["spec", "image", "registry", "passwordFile"], file: c.spec.image.registry.passwordFile });
    c.spec.alerts.webhooks.forEach((w, i) => {
      if (w.secretFile) out.push({ path: ["spec", "alerts", "webhooks", i, "secretFile"], file: w.secretFile });
    });
  } else if (kind === "Agent") {
    const a = v as AgentConfig;
    out.push({ path: ["tokenFile"], file: a.tokenFile });
    if (a.tls) {
      out.push({ path: ["tls", "certFile"], file: a.tls.certFile }, { path: ["tls", "keyFile"], file: a.tls.keyFile });
    }
    a.registries.forEach((r, i) => out.push({ path: ["registries", i, "passwordFile"], file: r.passwordFile }));
  }
  return out;
}
