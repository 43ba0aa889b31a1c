/**
 * reconciler/loop/desired.ts: the exact specs each agent should hold, from cluster.yaml + state.yaml.
 */
import { describe, expect, it } from "vitest";
import { colorNodes, jobServices, nodeSpecFor, routerNodes, routerSpecFor } from "../../reconciler/loop/desired.js";
import { cluster1x1, desired } from "../support/world.js";
import type { Cluster } from "../../specs/cluster.js";

const nodeOf = (c: Cluster, name: string) => c.spec.nodes.find((n) => n.name === name)!;

describe("nodeSpecFor", () => {
  it("the example's blue node: every service with the settings it has, the colour's tag", () => {
    const d = desired(cluster1x1());
    expect(nodeSpecFor(d, nodeOf(d.cluster, "blue-1"), 7)).toEqual({
      kind: "NodeSpec", generation: 7, app: "demo", node: "blue-1", color: "blue", repository: "127.0.0.1:5000/switchyard-demo/app", tag: "v1", stopped: false,
      services: {
        web: {
          job: false, stopTimeoutSeconds: 10, port: 8080, hostPort: 18081, env: { LOG_LEVEL: "info" }, secrets: ["database"],
          health: { path: "/healthz", periodSeconds: 1, timeoutSeconds: 2, healthyThreshold: 1, unhealthyThreshold: 3 },
          limits: d.cluster.spec.services.web!.limits,
        },
        worker: { job: true, stopTimeoutSeconds: 5, health: d.cluster.spec.services.worker!.health, command: ["node", "worker.js"], limits: d.cluster.spec.services.worker!.limits },
      },
    });
  });

  it("a stopped colour has no tag; capabilities only when some are given; no host port when the node has none", () => {
    const c = cluster1x1();
    c.spec.services.web!.capabilities = ["CHOWN"];
    c.spec.services.worker!.capabilities = [];
    delete nodeOf(c, "green-1").ports;
    const s = nodeSpecFor(desired(c, { green: null }), nodeOf(c, "green-1"), 1);
    expect(s.tag).toBeUndefined();
    expect("tag" in s).toBe(false);
    expect(s.stopped).toBe(true);
    expect(s.services.web!.capabilities).toEqual(["CHOWN"]);
    expect("capabilities" in s.services.worker!).toBe(false);
    expect("hostPort" in s.services.web!).toBe(false);
    expect("port" in s.services.worker!).toBe(false);
    expect("env" in s.services.worker!).toBe(false);
    expect("command" in s.services.web!).toBe(false);
  });

  it("a hand-built cluster without limits or capabilities (no schema defaults) gives neither", () => {
    const c = cluster1x1();
    delete (c.spec.services.web as { limits?: unknown }).limits;
    delete (c.spec.services.web as { capabilities?: unknown }).capabilities;
    const web = nodeSpecFor(desired(c), nodeOf(c, "blue-1"), 1).services.web!;
    expect("limits" in web).toBe(false);
    expect("capabilities" in web).toBe(false);
  });
});

describe("routerSpecFor", () => {
  it("the example with blue live: the whole table, green in preview, exposed services only", () => {
    const d = desired(cluster1x1());
    const health = d.cluster.spec.services.web!.health;
    expect(routerSpecFor(d, "blue", 3)).toEqual({
      kind: "RouterSpec", generation: 3, app: "demo", listen: "127.0.0.1:8000", live: "blue", preview: "green",
      hosts: { live: ["localhost", "demo.localhost"], preview: ["preview.localhost"], blue: ["blue.localhost"], green: ["green.localhost"] },
      defaultRoute: "live", drainTimeoutSeconds: 10,
      upstreams: {
        blue: [{ service: "web", pathPrefix: "/", health, nodes: [{ node: "blue-1", address: "127.0.0.1", port: 18081 }] }],
        green: [{ service: "web", pathPrefix: "/", health, nodes: [{ node: "green-1", address: "127.0.0.1", port: 18082 }] }],
      },
    });
    expect(routerSpecFor(d, "green", 3)).toMatchObject({ live: "green", preview: "blue" });
  });

  it("preview: the other colour unless it is stopped; with nothing live, the colour that is not active", () => {
    const c = cluster1x1();
    expect(routerSpecFor(desired(c, { green: null }), "blue", 1).preview).toBeNull();
    expect(routerSpecFor(desired(c, { blue: null, active: "green" }), "green", 1).preview).toBeNull();
    expect(routerSpecFor(desired(c, { blue: null, active: "green" }), "blue", 1).preview).toBe("green");
    expect(routerSpecFor(desired(c), null, 1)).toMatchObject({ live: null, preview: "green" });
    expect(routerSpecFor(desired(c, { active: "green" }), null, 1).preview).toBe("blue");
    expect(routerSpecFor(desired(c, { green: null }), null, 1).preview).toBeNull();
    expect(routerSpecFor(desired(c, { active: "green", blue: null }), null, 1).preview).toBeNull();
  });

  it("a node without an address or without a port for the service is no upstream", () => {
    const c = cluster1x1();
    delete nodeOf(c, "blue-1").address;
    delete nodeOf(c, "green-1").ports;
    const s = routerSpecFor(desired(c), "blue", 1);
    expect(s.upstreams.blue[0]!.nodes).toEqual([]);
    expect(s.upstreams.green[0]!.nodes).toEqual([]);
  });
});

describe("node lists", () => {
  it("colour nodes, routers and job services", () => {
    const c = cluster1x1();
    expect(colorNodes(c, "blue").map((n) => n.name)).toEqual(["blue-1"]);
    expect(colorNodes(c, "green").map((n) => n.name)).toEqual(["green-1"]);
    expect(routerNodes(c).map((n) => n.name)).toEqual(["router-1"]);
    expect(jobServices(c)).toEqual(["worker"]);
    // a router node that (wrongly) names a colour is still no colour node
    nodeOf(c, "router-1").color = "blue";
    expect(colorNodes(c, "blue").map((n) => n.name)).toEqual(["blue-1"]);
  });
});
