/**
 * An image per service (cluster.yaml services.<name>.image): what each node spec says, pins per (colour,
 * repository), the planner on a live colour, the agent's admission and the rules between the files.
 */
import { describe, expect, it } from "vitest";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import { nodeSpecFor, type Desired } from "../../reconciler/loop/desired.js";
import { plan } from "../../reconciler/loop/plan.js";
import { Pins, type DigestOf } from "../../reconciler/loop/pins.js";
import { Memory } from "../../reconciler/loop/memory.js";
import { refuseNotAllowed, type NodeBounds } from "../../node-agent/node/admission.js";
import { specHash } from "../../node-agent/node/workload.js";
import { clusterRepositories, serviceImage, specRepositories } from "../../specs/images.js";
import { agentClusterRules, clusterRules } from "../../specs/rules.js";
import type { Cluster } from "../../specs/cluster.js";
import type { AgentConfig } from "../../specs/agent.js";
import type { NodeObservation } from "../../specs/observed.js";
import type { Runtime } from "../../node-agent/runtime.js";
import { NOW, cluster1x1, desired, ledger, node, router, summarize, world } from "../support/world.js";

const APP = "127.0.0.1:5000/switchyard-demo/app";
const API = "127.0.0.1:5000/switchyard-demo/api";
const D1 = `sha256:${"1".repeat(64)}`;
const DA = `sha256:${"a".repeat(64)}`;
const DB = `sha256:${"b".repeat(64)}`;

/** The example cluster with an internal `api` service of its own repository. */
function withApi(): Cluster {
  const c = cluster1x1();
  c.spec.services.api = { image: API, port: 8080, job: false, stopTimeoutSeconds: 5, health: c.spec.services.web!.health, limits: c.spec.services.web!.limits, capabilities: [] };
  return c;
}
const d = desired(withApi()); // blue v1 (live), green v2
const nodeOf = (name: string) => d.cluster.spec.nodes.find((n) => n.name === name)!;

/** A node of `d` running `tag`, its web at `web` and its api at `api` (digests). */
function running(x: Desired, name: string, tag: string, web: string, api: string, lease?: { epoch: number }): NodeObservation {
  const o = node(x, name, { tag, ...(lease ? { lease } : {}) });
  if (o.reachable) {
    o.status.services.web!.digest = web;
    o.status.services.api = { tag, digest: api, containerId: "a11", state: "running", health: "unknown", since: "2026-01-01T00:00:00Z", error: null };
  }
  return o;
}

describe("node specs of an app of two images", () => {
  it("a service of its own repository carries image and that repository's pin; the others run the spec's", () => {
    const pinned: Desired = { ...d, pins: { green: { tag: "v2", digest: D1 } }, imagePins: { green: { [API]: { tag: "v2", digest: DA } } } };
    const s = nodeSpecFor(pinned, nodeOf("green-1"), 1);
    expect(s).toMatchObject({ repository: APP, tag: "v2", digest: D1 });
    expect(s.services.api).toMatchObject({ image: API, digest: DA });
    expect("image" in s.services.web!).toBe(false);
    expect(serviceImage(s, s.services.api!)).toEqual({ repository: API, digest: DA });
    expect(serviceImage(s, s.services.web!)).toEqual({ repository: APP, digest: D1 });
    expect(specRepositories(s)).toEqual([APP, API]);
    // A pin of another tag is stale: no digest for the api.
    const stale = nodeSpecFor({ ...d, imagePins: { green: { [API]: { tag: "v1", digest: DA } } } }, nodeOf("green-1"), 1);
    expect("digest" in stale.services.api!).toBe(false);
  });

  it("state.yaml's digest pins spec.image.repository only, never a service's own repository", () => {
    const st = structuredClone(d.state);
    st.spec.colors.green.digest = D1;
    const s = nodeSpecFor({ ...d, state: st }, nodeOf("green-1"), 1);
    expect(s.digest).toBe(D1);
    expect("digest" in s.services.api!).toBe(false);
  });

  it("a service naming spec.image.repository as its image is a service of that repository (same spec and container as before)", () => {
    const c = cluster1x1();
    const plain = nodeSpecFor(desired(c), c.spec.nodes[0]!, 1);
    c.spec.services.web!.image = APP;
    const same = nodeSpecFor(desired(c), c.spec.nodes[0]!, 1);
    expect(same).toEqual(plain);
    expect(specHash(same, "web", same.services.web!)).toBe(specHash(plain, "web", plain.services.web!));
    expect(clusterRepositories(c)).toEqual([APP]);
  });

  it("the container's identity (spec hash) includes the service's repository", () => {
    const s = nodeSpecFor(d, nodeOf("green-1"), 1);
    const other = { ...s.services.api!, image: `${API}2` };
    expect(specHash(s, "api", other)).not.toBe(specHash(s, "api", s.services.api!));
  });
});

describe("the planner with pins per repository", () => {
  const blueOwns = { epoch: 3 };
  const blueLedger = ledger({ epoch: 3, grants: { "blue-1": { epoch: 3, sentAtMs: NOW - 1_000, ttlMs: 10_000 } } });
  const pinned = (api: string): Desired => ({
    ...d,
    pins: { blue: { tag: "v1", digest: D1 }, green: { tag: "v2", digest: D1 } },
    imagePins: { blue: { [API]: { tag: "v1", digest: api } }, green: { [API]: { tag: "v2", digest: api } } },
  });
  const steady = (api: string) => world({
    "blue-1": running(d, "blue-1", "v1", D1, api, blueOwns), "green-1": running(d, "green-1", "v2", D1, api), "router-1": router(d, "router-1", { live: "blue" }),
  }, blueLedger);

  it("pinning the live colour's api to the content it runs is an update", () => {
    expect(plan(pinned(DA), steady(DA), NOW).map(summarize)).toEqual(["update blue-1 v1", "update green-1 v2"]);
  });

  it("pinning the live colour's api to other content than it runs is refused; the idle colour converges", () => {
    const acts = plan(pinned(DB), steady(DA), NOW).map(summarize);
    expect(acts).toContain("refuse LiveSpecChange blue");
    expect(acts).not.toContain("update blue-1 v1");
    expect(acts).toContain("update green-1 v2");
  });
});

describe("Pins per (colour, repository)", () => {
  async function rig(digestOf: DigestOf) {
    const dir = mkdtempSync(join(tmpdir(), "sy-img-pins-"));
    const memory = new Memory(dir);
    await memory.load();
    return { dir, memory, pins: new Pins({ memory, logger: pino({ level: "silent" }), digestOf: () => digestOf, onChange: () => undefined }) };
  }
  const settle = () => new Promise((r) => setTimeout(r, 20));

  it("pins each repository from its own services' digests, else from the registry asked for that repository", async () => {
    const asked: string[] = [];
    const { pins, memory, dir } = await rig(async (tag, repo) => {
      asked.push(`${repo}:${tag}`);
      return repo === API ? DB : D1;
    });
    const o = world({ "blue-1": running(d, "blue-1", "v1", D1, DA), "green-1": node(d, "green-1"), "router-1": router(d, "router-1", { live: "blue" }) });
    const p = pins.forPassAll(d, o, NOW);
    expect(p.pins.blue).toMatchObject({ tag: "v1", digest: D1, source: "observed" });
    expect(p.imagePins.blue?.[API]).toMatchObject({ tag: "v1", digest: DA, source: "observed" }); // the api's, not the web's
    expect(pins.pending("green")).toBe(true); // green's deploy waits for both answers
    await settle();
    expect(asked).toEqual(expect.arrayContaining([`${APP}:v2`, `${API}:v2`]));
    expect(memory.get().pins.green).toMatchObject({ tag: "v2", digest: D1, source: "registry" });
    expect(memory.get().imagePins?.green?.[API]).toMatchObject({ tag: "v2", digest: DB, source: "registry" });
    expect(pins.pending("green")).toBe(false);
    // Kept across a restart of the reconciler.
    await memory.retry(); // the pins' writes are on disk
    const again = new Memory(dir);
    await again.load();
    expect(again.get().imagePins?.green?.[API]?.digest).toBe(DB);
  });

  it("raises TagMoved for the repository whose tag moved, naming it", async () => {
    let apiNow = DA;
    const { pins } = await rig(async (_tag, repo) => (repo === API ? apiNow : D1));
    const o = world({ "blue-1": node(d, "blue-1"), "green-1": node(d, "green-1"), "router-1": router(d, "router-1", { live: "blue" }) });
    pins.forPassAll(d, o, NOW);
    await settle();
    expect(pins.alerts(d)).toEqual([]);
    apiNow = DB;
    pins.forPassAll(d, o, NOW + 61_000);
    await settle();
    const alerts = pins.alerts(d);
    expect(alerts.map((a) => a.fingerprint).sort()).toEqual([`TagMoved/blue/${API}`, `TagMoved/green/${API}`]);
    expect(alerts[0]!.summary).toContain(`was pushed again in ${API}`);
    expect(alerts[0]!.labels).toMatchObject({ repository: API });
  });
});

describe("the agent's admission", () => {
  const runtime = (name: "docker" | "process") => ({ name }) as Runtime;
  const bounds = (o: Partial<NodeBounds> = {}): NodeBounds => ({
    name: "green-1", allowedRepositories: [APP, API], runtime: runtime("docker"), containers: { maxMemoryMiB: 4096, maxPids: 4096, allowedCapabilities: [] }, ...o,
  });
  const spec = nodeSpecFor(d, nodeOf("green-1"), 1);

  it("admits a spec whose every repository is allowed; refuses one naming the repository that is not", () => {
    expect(() => refuseNotAllowed(spec, bounds())).not.toThrow();
    expect(() => refuseNotAllowed(spec, bounds({ allowedRepositories: [APP] }))).toThrow(`image repository ${API} is not in this agent's allowedRepositories; nothing was pulled or changed`);
  });

  it("the process runtime refuses a service image, saying what to do", () => {
    expect(() => refuseNotAllowed(spec, bounds({ runtime: runtime("process") }))).toThrow(/services\.api\.image .*the process runtime runs releases of one repository.*runtime docker/);
  });
});

describe("rules", () => {
  const agent = (o: Partial<AgentConfig>): AgentConfig => ({ name: "green-1", role: "node", runtime: "docker", allowedRepositories: [APP], ...o }) as AgentConfig;

  it("an agent.yaml of a colour node must allow every repository the services run (the error names it and the services)", () => {
    const issues = agentClusterRules(d.cluster, agent({}));
    expect(issues.map((i) => i.message)).toEqual([`allowedRepositories: image repository ${API} (service api of cluster demo) is not listed; add it, or this agent refuses every spec of the app`]);
    expect(agentClusterRules(d.cluster, agent({ allowedRepositories: [APP, API] }))).toEqual([]);
    expect(agentClusterRules(d.cluster, agent({ name: "someone-else" }))).toEqual([]); // not a node of this cluster
  });

  it("an agent.yaml with runtime process refuses a cluster whose services name their own image", () => {
    expect(agentClusterRules(d.cluster, agent({ runtime: "process", allowedRepositories: [APP, API] })).map((i) => i.message)[0]).toMatch(/^runtime: process runs releases of one repository .* services api name their own image/);
  });

  it("with a registry, a service's image must be in the same registry", () => {
    const c = withApi();
    c.spec.image.registry = { url: "http://127.0.0.1:5000", recheckSeconds: 60 };
    expect(clusterRules(c)).toEqual([]);
    c.spec.services.api!.image = "ghcr.io/shop/api";
    expect(clusterRules(c).map((i) => i.message)).toEqual([`spec.services.api.image: ghcr.io/shop/api is not in the registry of spec.image.repository (127.0.0.1:5000), which spec.image.registry lists tags from; push the image there`]);
  });
});
