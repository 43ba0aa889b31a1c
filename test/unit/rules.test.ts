/**
 * Cross-field rules (specs/rules.ts), each broken alone in the local example: the exact issue list, so a
 * rule that stops firing — or fires where it should not — fails here. And source positions (specs/source.ts)
 * for paths that exist only in part: the nearest existing parent.
 */
import { describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { parseSpec } from "../../specs/load.js";
import { findPosition, formatIssue, locate, parseYaml, type YamlSource } from "../../specs/source.js";
import { agentRules, crossFileRules, CLUSTER_RULES, stateRules } from "../../specs/rules.js";
import type { Cluster } from "../../specs/cluster.js";
import type { State } from "../../specs/state.js";
import type { AgentConfig } from "../../specs/agent.js";

const C = readFileSync("examples/local/cluster.yaml", "utf8");
const issues = (text: string) => {
  const r = parseSpec("c.yaml", text, { checkFiles: false });
  return r.ok ? [] : r.issues.map(formatIssue);
};
const edit = (from: string, to: string) => {
  if (!C.includes(from)) throw new Error(`the example no longer contains ${from}`);
  return C.replace(from, to);
};
const REGISTRY = "registry: { url: http://127.0.0.1:5000 }";
const GREEN_ADDR = "address: 127.0.0.1, ports: { web: 18082 }";

describe("cluster rules", () => {
  it("the example is valid", () => {
    expect(issues(C)).toEqual([]);
  });

  it("agent URLs are unique (a trailing slash does not make another agent)", () => {
    expect(issues(edit("agent: http://127.0.0.1:7102", "agent: http://127.0.0.1:7101/"))).toEqual([
      "c.yaml:24:46: spec.nodes[1].agent: agent http://127.0.0.1:7101/ is already used by spec.nodes[0]; each node has its own agent",
    ]);
    expect(issues(edit("agent: http://127.0.0.1:7102", "agent: http://127.0.0.1:7101//"))).toHaveLength(1);
    expect(issues(edit("agent: http://127.0.0.1:7102", "agent: http://127.0.0.1:71012"))).toEqual([]);
  });

  it("a colour node needs an address when a service is exposed, and only then", () => {
    expect(issues(edit(GREEN_ADDR, "ports: { web: 18082 }"))).toEqual([
      'c.yaml:24:7: spec.nodes[1]: node "green-1" needs an address: the router reaches its exposed services there',
    ]);
    const noExpose = C.replace("      expose: { pathPrefix: / }\n", "").replace("address: 127.0.0.1, ports: { web: 18081 }", "ports: {}").replace(GREEN_ADDR, "ports: {}");
    expect(issues(noExpose)).toEqual([]);
  });

  it("a task names a service that exists and a name of its own", () => {
    const task = (t: string) => edit("  nodes:\n", `  tasks:\n${t}  nodes:\n`);
    expect(issues(task("    - { name: migrate, service: web, command: [node, migrate.js] }\n"))).toEqual([]);
    expect(issues(task("    - { name: migrate, service: wbe, command: [node, migrate.js] }\n"))).toEqual([
      'c.yaml:23:33: spec.tasks[0].service: "wbe" is not a service of this cluster (did you mean "web"?); a task runs with a service\'s image, env and secrets',
    ]);
    expect(issues(task("    - { name: migrate, service: web, command: [a] }\n    - { name: migrate, service: web, command: [b] }\n"))).toEqual([
      'c.yaml:24:15: spec.tasks[1].name: task name "migrate" is already used by spec.tasks[0]; names must be unique',
    ]);
  });

  it("registry username and passwordFile come together", () => {
    const why = "c.yaml:9:5: spec.image.registry: registry username and passwordFile go together: give both or neither";
    expect(issues(edit(REGISTRY, "registry: { url: http://127.0.0.1:5000, username: u }"))).toEqual([why]);
    expect(issues(edit(REGISTRY, "registry: { url: http://127.0.0.1:5000, passwordFile: p }"))).toEqual([why]);
    expect(issues(edit(REGISTRY, "registry: { url: http://127.0.0.1:5000, username: u, passwordFile: p }"))).toEqual([]);
  });

  it("an exposed service needs a container port, and ports publish only services with one", () => {
    expect(issues(edit("      port: 8080\n", ""))).toEqual([
      'c.yaml:11:5: spec.services.web: exposed service "web" needs a port (the port its container listens on)',
      'c.yaml:22:132: spec.nodes[0].ports.web: service "web" has no container port to publish; give it a port or remove this entry',
      'c.yaml:23:132: spec.nodes[1].ports.web: service "web" has no container port to publish; give it a port or remove this entry',
    ]);
    expect(issues(edit("ports: { web: 18082 }", "ports: { web: 18082, worker: 9 }"))).toEqual([
      'c.yaml:24:144: spec.nodes[1].ports.worker: service "worker" has no container port to publish; give it a port or remove this entry',
    ]);
  });

  it("exposed path prefixes are unique; every exposed service has a host port on every colour node", () => {
    expect(issues(edit("    worker:\n      job: true", "    api:\n      port: 9000\n      expose: { pathPrefix: / }\n    worker:\n      job: true"))).toEqual([
      'c.yaml:20:29: spec.services.api.expose.pathPrefix: path prefix / is already routed to service "web"',
      'c.yaml:26:123: spec.nodes[0].ports: node "blue-1" has no host port for exposed service "api"; add ports: { api: <port> }',
      'c.yaml:27:123: spec.nodes[1].ports: node "green-1" has no host port for exposed service "api"; add ports: { api: <port> }',
    ]);
  });

  it("no node publishes the router's listen address; other addresses do not collide", () => {
    expect(issues(edit("web: 18082", "web: 8000"))).toEqual([
      "c.yaml:24:137: spec.nodes[1].ports.web: host port 8000 on 127.0.0.1 is the router's listen address (spec.router.listen)",
    ]);
    expect(issues(edit("listen: 127.0.0.1:8000", "listen: 0.0.0.0:18082"))).toEqual([
      "c.yaml:24:137: spec.nodes[1].ports.web: host port 18082 on 127.0.0.1 is the router's listen address (spec.router.listen)",
    ]);
    expect(issues(edit("listen: 127.0.0.1:8000", "listen: 127.0.0.2:18082"))).toEqual([]);
    expect(issues(edit(GREEN_ADDR, "address: 127.0.0.2, ports: { web: 18081 }"))).toEqual([]);
  });

  it("documents every rule it enforces", () => {
    expect(CLUSTER_RULES).toContain("agent URLs are unique");
    expect(CLUSTER_RULES).toContain("every colour node has an address when a service is exposed");
    expect(CLUSTER_RULES).toContain("registry username and passwordFile come together");
  });
});

describe("state, cross-file and agent rules, called directly", () => {
  const state = (spec: object, metadata?: object) => ({ apiVersion: "switchyard.dev/v1", kind: "State", ...(metadata ? { metadata } : {}), spec }) as unknown as State;
  const cluster = (jobs: boolean) => ({ metadata: { name: "demo" }, spec: { services: { web: {}, ...(jobs ? { worker: { job: true } } : {}) } } }) as unknown as Cluster;

  it("a stopped colour may own no jobs; active and the other colour may", () => {
    const colors = { blue: { tag: "v1", stopped: false }, green: { stopped: true } };
    expect(stateRules(state({ active: "blue", colors, jobs: { owner: "green" } })).map((i) => i.message)).toEqual([
      "spec.jobs.owner: green is stopped and cannot own the jobs; choose active, the other colour or none",
    ]);
    for (const owner of ["blue", "active", "none"]) expect(stateRules(state({ active: "blue", colors, jobs: { owner } }))).toEqual([]);
  });

  it("a digest pins a tag's content, so it needs the tag", () => {
    const digest = `sha256:${"0".repeat(64)}`;
    expect(stateRules(state({ active: "blue", colors: { blue: { tag: "v1", stopped: false }, green: { stopped: true, digest } }, jobs: { owner: "active" } })).map((i) => i.message)).toEqual([
      "spec.colors.green.digest: green has a digest but no tag; a digest pins the content of the colour's tag, so give the tag too or remove the digest",
    ]);
    expect(stateRules(state({ active: "blue", colors: { blue: { tag: "v1", stopped: false }, green: { tag: "v2", stopped: true, digest } }, jobs: { owner: "active" } }))).toEqual([]);
  });

  it("metadata.name must match the cluster's when given; an explicit jobs owner needs a job service", () => {
    const s = (owner: string, name?: string) => state({ active: "blue", colors: {}, jobs: { owner } }, name ? { name } : undefined);
    expect(crossFileRules(cluster(true), s("active", "demo"))).toEqual([]);
    expect(crossFileRules(cluster(true), s("blue"))).toEqual([]);
    expect(crossFileRules(cluster(true), s("active", "shop"))).toEqual([
      { path: ["metadata", "name"], atKey: false, message: 'metadata.name: "shop" does not match the cluster\'s name "demo"' },
    ]);
    for (const owner of ["blue", "green"]) {
      expect(crossFileRules(cluster(false), s(owner))).toEqual([
        { path: ["spec", "jobs", "owner"], atKey: false, message: `spec.jobs.owner: the cluster has no job service, so owner "${owner}" means nothing; use active or none` },
      ]);
    }
    for (const owner of ["active", "none"]) expect(crossFileRules(cluster(false), s(owner))).toEqual([]);
  });

  it("runtime process needs a releases directory", () => {
    const a = (o: object) => ({ role: "node", allowedRepositories: ["r"], registries: [], router: { allowedUpstreams: [] }, ...o }) as unknown as AgentConfig;
    expect(agentRules(a({ runtime: "process" }))).toEqual([
      { path: [], atKey: true, message: "process.releasesDir: runtime process needs a releases directory" },
    ]);
    expect(agentRules(a({ runtime: "process", process: {} }))).toEqual([
      { path: ["process"], atKey: true, message: "process.releasesDir: runtime process needs a releases directory" },
    ]);
    expect(agentRules(a({ runtime: "process", process: { releasesDir: "/r" } }))).toEqual([]);
    expect(agentRules(a({ runtime: "docker" }))).toEqual([]);
  });

  it("one registries entry per registry host", () => {
    const r = (host: string) => ({ host, username: "u", passwordFile: "p" });
    const a = { role: "node", runtime: "docker", allowedRepositories: ["r"], router: { allowedUpstreams: [] }, registries: [r("reg.example.com"), r("10.0.0.5:5000"), r("REG.example.com")] } as unknown as AgentConfig;
    expect(agentRules(a)).toEqual([
      { path: ["registries", 2, "host"], atKey: false, message: "registries[2].host: REG.example.com already has credentials in registries[0]; one entry per registry host" },
    ]);
  });
});

describe("source positions", () => {
  const text = "a:\n  b:\n    c: 1\n  list:\n    - x\n    - y: 2\n  empty:\n";
  const parsed = parseYaml("p.yaml", text);
  if (!parsed.ok) throw new Error("fixture does not parse");
  const src: YamlSource = parsed.source;
  const at = (path: (string | number)[], atKey = false) => findPosition(src, path, atKey);

  it("finds values, and keys when asked", () => {
    expect(at(["a", "b", "c"])).toEqual({ line: 3, col: 8 });
    expect(at(["a", "b", "c"], true)).toEqual({ line: 3, col: 5 });
    expect(at(["a", "list", 1, "y"])).toEqual({ line: 6, col: 10 });
    expect(at(["a", "list", 1])).toEqual({ line: 6, col: 7 });
    expect(at(["a", "list", 1], true)).toEqual({ line: 6, col: 7 }); // a list item has no key: its value
  });

  it("falls back to the nearest existing parent for a path that exists only in part", () => {
    expect(at(["a", "b", "missing"])).toEqual({ line: 3, col: 5 }); // the mapping a.b
    expect(at(["a", "b", "missing"], true)).toEqual({ line: 3, col: 5 }); // not a key: the path was not found
    expect(at(["a", "list", 7, "y"])).toEqual({ line: 5, col: 5 }); // index out of range: the list
    expect(at(["a", "list", "x"])).toEqual({ line: 5, col: 5 }); // a name into a list
    expect(at(["a", "b", "c", "deeper"])).toEqual({ line: 3, col: 8 }); // through a scalar
    expect(at(["nope"])).toEqual({ line: 1, col: 1 });
    expect(at([])).toEqual({ line: 1, col: 1 });
  });

  it("a key without a value is placed at its (empty) value, after the colon", () => {
    expect(at(["a", "empty"])).toEqual({ line: 7, col: 9 });
    expect(at(["a", "empty"], true)).toEqual({ line: 7, col: 3 });
    expect(at(["a", "empty", "x"])).toEqual({ line: 7, col: 9 });
  });

  it("locate formats the issue at that position", () => {
    expect(formatIssue(locate(src, { path: ["a", "b", "zz"], atKey: true, message: "m" }))).toBe("p.yaml:3:5: m");
  });
});
