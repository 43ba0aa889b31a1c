/**
 * specs/rules.ts called directly: where each issue is placed (the key or the value: atKey decides the
 * line and column an operator is sent to) and which files a spec refers to (the loader checks they exist).
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { parseSpec } from "../../specs/load.js";
import { agentRules, clusterRules, referencedFiles } from "../../specs/rules.js";
import type { Cluster } from "../../specs/cluster.js";
import type { AgentConfig } from "../../specs/agent.js";
import type { State } from "../../specs/state.js";

function example(): Cluster {
  const r = parseSpec("c.yaml", readFileSync("examples/local/cluster.yaml", "utf8"), { checkFiles: false });
  if (!r.ok) throw new Error("the example does not load");
  return structuredClone(r.spec.value) as Cluster;
}
/** The issues of a changed copy of the example, without messages (their words are checked in rules.test.ts). */
function placed(change: (c: Cluster) => void): { path: readonly (string | number)[]; atKey: boolean }[] {
  const c = example();
  change(c);
  return clusterRules(c).map(({ path, atKey }) => ({ path, atKey }));
}
type Node = Cluster["spec"]["nodes"][number];
const node = (c: Cluster, name: string) => c.spec.nodes.find((n) => n.name === name) as Node & Record<string, unknown>;

describe("cluster rules place each issue at the key or the value", () => {
  it("the example has none", () => {
    expect(clusterRules(example())).toEqual([]);
  });

  it("what a node lacks is placed at the node's key", () => {
    expect(placed((c) => delete node(c, "green-1").color)).toEqual([
      { path: ["spec", "nodes", 1], atKey: true },
      { path: ["spec", "nodes"], atKey: true },
    ]);
    expect(placed((c) => delete node(c, "green-1").address)).toEqual([{ path: ["spec", "nodes", 1], atKey: true }]);
    expect(placed((c) => (c.spec.nodes = c.spec.nodes.filter((n) => n.role !== "router")))).toEqual([{ path: ["spec", "nodes"], atKey: true }]);
  });

  it("a node without any ports while a service is exposed: the issue at the node, no crash", () => {
    expect(placed((c) => delete node(c, "green-1").ports)).toEqual([{ path: ["spec", "nodes", 1], atKey: true }]);
    expect(placed((c) => (node(c, "green-1").ports = {}))).toEqual([{ path: ["spec", "nodes", 1, "ports"], atKey: true }]);
  });

  it("a port for a service that does not exist, or has no container port, is placed at its key", () => {
    expect(placed((c) => (node(c, "green-1").ports = { web: 18082, wbe: 9000 }))).toEqual([{ path: ["spec", "nodes", 1, "ports", "wbe"], atKey: true }]);
    expect(placed((c) => (node(c, "green-1").ports = { web: 18082, worker: 9000 }))).toEqual([{ path: ["spec", "nodes", 1, "ports", "worker"], atKey: true }]);
  });

  it("a reserved env name is placed at its key", () => {
    expect(placed((c) => (c.spec.services.web!.env = { LOG_LEVEL: "info", SWITCHYARD_COLOR: "x" }))).toEqual([
      { path: ["spec", "services", "web", "env", "SWITCHYARD_COLOR"], atKey: true },
    ]);
  });
});

describe("cluster rules: the cases the first table left open", () => {
  it("a port for a name nothing resembles: no guess in the message", () => {
    const c = example();
    node(c, "green-1").ports = { web: 18082, zzzzzz: 9000 };
    expect(clusterRules(c).map((i) => i.message)).toEqual(['spec.nodes[1].ports.zzzzzz: "zzzzzz" is not a service of this cluster']);
  });

  it("a router node that names a colour is no node of that colour", () => {
    const c = example();
    c.spec.nodes = c.spec.nodes.filter((n) => n.name !== "green-1");
    node(c, "router-1").color = "green";
    expect(clusterRules(c).map((i) => i.message)).toEqual([
      "spec.nodes[1].color: a router node has no colour; remove color or set role: node",
      "spec.nodes: there is no green node; every colour needs at least one",
    ]);
  });

  it("host ports collide only on nodes that publish them: colour nodes with an address", () => {
    // a router node with an address and ports (which it does not publish) collides with nothing
    const withRouter = example();
    Object.assign(node(withRouter, "router-1"), { address: "127.0.0.1", ports: { web: 18081 } });
    expect(clusterRules(withRouter)).toEqual([]);
    // colour nodes without an address publish nothing here, so the same port on both is no collision
    const noAddress = example();
    delete (noAddress.spec.services.web as { expose?: unknown }).expose;
    for (const name of ["blue-1", "green-1"]) {
      delete node(noAddress, name).address;
      node(noAddress, name).ports = { web: 18081 };
    }
    expect(clusterRules(noAddress)).toEqual([]);
    // the same port on the same address is one
    const same = example();
    node(same, "green-1").ports = { web: 18081 };
    expect(clusterRules(same).map((i) => i.message)).toEqual(['spec.nodes[1].ports.web: host port 18081 on 127.0.0.1 is already taken by node "blue-1" service "web"']);
  });
});

describe("agent rules place each issue", () => {
  const agent = (o: object) => ({ role: "node", runtime: "docker", allowedRepositories: ["r"], registries: [], router: { allowedUpstreams: [] }, ...o }) as unknown as AgentConfig;

  it("no allowed repositories: at the allowedRepositories key", () => {
    expect(agentRules(agent({ allowedRepositories: [] }))).toEqual([
      { path: ["allowedRepositories"], atKey: true, message: "allowedRepositories: a node agent needs at least one allowed image repository; it refuses every other image" },
    ]);
    expect(agentRules(agent({ role: "router", allowedRepositories: [] }))).toEqual([]);
  });

  it("an allowedUpstreams entry that is not a CIDR: at the value", () => {
    expect(agentRules(agent({ router: { allowedUpstreams: ["10.0.0.0/8", "10.0.0.0/33"] } }))).toEqual([
      { path: ["router", "allowedUpstreams", 1], atKey: false, message: 'router.allowedUpstreams[1]: "10.0.0.0/33" is not a CIDR such as 10.0.0.0/8 or fc00::/7' },
    ]);
  });
});

describe("referencedFiles: the files a spec names, for the loader to check", () => {
  it("a cluster: every node's token file, a CA file when given, the registry password file, webhook secret files", () => {
    const c = example();
    expect(referencedFiles("Cluster", c)).toEqual([
      { path: ["spec", "nodes", 0, "tokenFile"], file: "secrets/blue-1.token" },
      { path: ["spec", "nodes", 1, "tokenFile"], file: "secrets/green-1.token" },
      { path: ["spec", "nodes", 2, "tokenFile"], file: "secrets/router-1.token" },
    ]);
    node(c, "green-1").caFile = "ca.pem";
    c.spec.image.registry = { ...c.spec.image.registry!, username: "u", passwordFile: "reg.pw" };
    c.spec.alerts.webhooks = [{ url: "https://hooks.example.com/a" }, { url: "https://hooks.example.com/b", secretFile: "hook.key" }] as never;
    expect(referencedFiles("Cluster", c)).toEqual([
      { path: ["spec", "nodes", 0, "tokenFile"], file: "secrets/blue-1.token" },
      { path: ["spec", "nodes", 1, "tokenFile"], file: "secrets/green-1.token" },
      { path: ["spec", "nodes", 1, "caFile"], file: "ca.pem" },
      { path: ["spec", "nodes", 2, "tokenFile"], file: "secrets/router-1.token" },
      { path: ["spec", "image", "registry", "passwordFile"], file: "reg.pw" },
      { path: ["spec", "alerts", "webhooks", 1, "secretFile"], file: "hook.key" },
    ]);
    delete c.spec.image.registry;
    expect(referencedFiles("Cluster", c).map((r) => r.file)).not.toContain("reg.pw");
  });

  it("an agent: its token file, TLS files when given, each registry password file; a state: none", () => {
    const a = { tokenFile: "t", registries: [{ host: "r1", username: "u", passwordFile: "p1" }, { host: "r2", username: "u", passwordFile: "p2" }] } as unknown as AgentConfig;
    expect(referencedFiles("Agent", a)).toEqual([
      { path: ["tokenFile"], file: "t" },
      { path: ["registries", 0, "passwordFile"], file: "p1" },
      { path: ["registries", 1, "passwordFile"], file: "p2" },
    ]);
    expect(referencedFiles("Agent", { ...a, registries: [], tls: { certFile: "c", keyFile: "k" } } as AgentConfig)).toEqual([
      { path: ["tokenFile"], file: "t" },
      { path: ["tls", "certFile"], file: "c" },
      { path: ["tls", "keyFile"], file: "k" },
    ]);
    expect(referencedFiles("State", { spec: {} } as unknown as State)).toEqual([]);
  });
});
