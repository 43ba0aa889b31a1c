/**
 * The router's traffic figures (issue 17 item 2, issue 19 item 1): the host kind a request's Host header picks,
 * responses counted by colour, host kind and status class, latency buckets, and the metrics token's verdict.
 */
import { describe, expect, it } from "vitest";
import { HOST_KINDS, RoutingTable } from "../../node-agent/router/table.js";
import { Traffic } from "../../node-agent/router/traffic.js";
import { BucketCounts } from "../../common/metrics.js";
import { TokenGuard } from "../../node-agent/auth.js";
import type { Upstream } from "../../node-agent/router/upstream.js";
import type { RouterSpec } from "../../specs/wire.js";

function table(defaultRoute: RouterSpec["defaultRoute"] = "live"): RoutingTable {
  const nodes = [{ node: "n", address: "127.0.0.1", port: 1 }];
  const health = { path: "/healthz", periodSeconds: 1, timeoutSeconds: 1, healthyThreshold: 1, unhealthyThreshold: 1 };
  const spec: RouterSpec = {
    kind: "RouterSpec", generation: 1, app: "a", listen: "127.0.0.1:1", live: "blue", preview: "green", defaultRoute, drainTimeoutSeconds: 1,
    hosts: { live: ["shop.test"], preview: ["preview.shop.test"], blue: ["blue.shop.test"], green: ["*.green.test"] },
    upstreams: { blue: [{ service: "web", pathPrefix: "/", health, nodes }], green: [{ service: "web", pathPrefix: "/app", health, nodes }] },
  };
  return new RoutingTable(spec, () => ({}) as Upstream);
}

const kind = (r: { hostKind: number }) => HOST_KINDS[r.hostKind];

describe("host kinds", () => {
  it("live, preview and colour hosts by name (wildcards too); anything else and no Host header: default", () => {
    const t = table();
    expect(kind(t.resolve("shop.test", "/"))).toBe("live");
    expect(kind(t.resolve("SHOP.test:8000", "/"))).toBe("live");
    expect(kind(t.resolve("preview.shop.test", "/app"))).toBe("preview");
    expect(kind(t.resolve("blue.shop.test", "/"))).toBe("color");
    expect(kind(t.resolve("x.green.test", "/app"))).toBe("color");
    expect(kind(t.resolve("other.test", "/"))).toBe("default");
    expect(kind(t.resolve(undefined, "/"))).toBe("default");
    // The same answer object for the same route and kind: resolving allocates nothing.
    expect(t.resolve("shop.test", "/")).toBe(t.resolve("shop.test", "/x"));
    // The router's own 503 for a colour without a route keeps the kind too.
    const miss = t.resolve("preview.shop.test", "/nope");
    expect(miss).toMatchObject({ ok: false, status: 503, color: "green" });
    expect(kind(miss)).toBe("preview");
    expect(table("none").resolve("other.test", "/")).toMatchObject({ ok: false, status: 404, color: null });
  });
});

describe("Traffic", () => {
  it("counts by colour, host kind and status class (odd statuses clamp to 1xx or 5xx), and observes latency per colour", () => {
    const t = new Traffic();
    t.record("blue", 0, 200, 0.002);
    t.record("blue", 0, 204, 0.02);
    t.record("blue", 3, 404, 0.2);
    t.record("green", 1, 503, 3);
    t.record("green", 1, 99, 0);
    t.record("green", 1, 600, 0);
    expect(t.count("blue", 0, 1)).toBe(2);
    expect(t.count("blue", 3, 3)).toBe(1);
    expect(t.count("green", 1, 4)).toBe(2);
    expect(t.count("green", 1, 0)).toBe(1);
    expect(t.byStatusClass("blue")).toEqual({ "1xx": 0, "2xx": 2, "3xx": 0, "4xx": 1, "5xx": 0 });
    expect(t.byStatusClass("green")).toEqual({ "1xx": 1, "2xx": 0, "3xx": 0, "4xx": 0, "5xx": 2 });
    expect(t.latency.blue.count).toBe(3);
    expect(t.latency.green.sum).toBe(3);
  });
});

describe("BucketCounts", () => {
  it("renders cumulative buckets up to +Inf, with _sum and _count", () => {
    const b = new BucketCounts([0.1, 1]);
    for (const v of [0.05, 0.1, 0.5, 2]) b.observe(v);
    const s = b.samples("x_seconds", { color: "blue" });
    expect(s.map((x) => [x.metricName, x.labels?.le, x.value])).toEqual([
      ["x_seconds_bucket", 0.1, 2], ["x_seconds_bucket", 1, 3], ["x_seconds_bucket", "+Inf", 4], ["x_seconds_sum", undefined, 2.65], ["x_seconds_count", undefined, 4],
    ]);
  });
});

describe("TokenGuard with a metrics token", () => {
  it("the agent token is ok, the metrics token is metrics (never ok), anything else is denied", () => {
    const g = new TokenGuard(["a".repeat(32)], ["m".repeat(32)]);
    expect(g.check("1.2.3.4", `Bearer ${"a".repeat(32)}`)).toBe("ok");
    expect(g.check("1.2.3.4", `Bearer ${"m".repeat(32)}`)).toBe("metrics");
    expect(g.check("1.2.3.4", `Bearer ${"x".repeat(32)}`)).toBe("denied");
    g.setMetricsTokens(["n".repeat(32)]);
    expect(g.check("1.2.3.4", `Bearer ${"m".repeat(32)}`)).toBe("denied");
    expect(g.check("1.2.3.4", `Bearer ${"n".repeat(32)}`)).toBe("metrics");
    // The same value in both files is the agent token: it keeps every right.
    expect(new TokenGuard(["s".repeat(32)], ["s".repeat(32)]).check("1.2.3.4", `Bearer ${"s".repeat(32)}`)).toBe("ok");
  });
});
