/**
 * Metrics on every part (issue 19 item 1), against live processes: the reconciler's, a node agent's and the
 * router's /metrics pass `promtool check metrics`; an agent's read-only metrics token reads /metrics and
 * nothing else; nobody reads it unauthenticated; and a flip under load shows in the router's per-colour
 * counters (issue 17 item 2), in its metrics and in its status.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ClusterBed, Load } from "../support/cluster-bed.js";
import { processKit } from "../support/runtime-kit.js";
import { waitFor } from "../support/agent-bed.js";
import { promtoolProblems } from "../support/promtool.js";
import { TestPrometheus } from "../support/prometheus.js";
import type { NodeStatus } from "../../specs/wire.js";
import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";

let bed: ClusterBed;
const prom = new TestPrometheus();

beforeAll(async () => {
  bed = new ClusterBed({ prefix: "mtx", kit: await processKit(), metricsToken: true, withWorker: true, state: { active: "blue", blue: "v1", green: "v2" } });
  await bed.startAgents();
  await bed.startReconciler();
  await waitFor("blue live, green ready", async () => {
    const s = await bed.status();
    return s.colors?.blue.phase === "Ready" && s.colors?.green.phase === "Ready" && s.router?.live === "blue";
  }, 60_000);
}, 90_000);

afterAll(async () => {
  await prom.stop();
  await bed?.close();
});

async function agentMetrics(name: string, token = bed.metricsTokens.get(name)!): Promise<{ status: number; text: string }> {
  const res = await fetch(`${bed.agentApi(name).url}/metrics`, { headers: { authorization: `Bearer ${token}` } });
  return { status: res.status, text: await res.text() };
}

/** One sample's value (undefined when the series is missing). */
function sample(text: string, series: string): number | undefined {
  const line = text.split("\n").find((l) => l.startsWith(series + " "));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe("every part's /metrics passes promtool check metrics", () => {
  it("the reconciler's: the reconcile duration is a histogram, not two counters named _sum and _count", async () => {
    const text = await bed.api<string>("/metrics");
    expect(text).toContain("# TYPE switchyard_reconcile_duration_seconds histogram");
    expect(sample(text, "switchyard_reconciles_total")).toBeGreaterThan(0);
    expect(promtoolProblems(text)).toBe("");
  });

  it("a node agent's: workloads by service, state and health, probes, pulls, lease and spec generation", async () => {
    const { status, text } = await agentMetrics(bed.names.blue);
    expect(status).toBe(200);
    expect(sample(text, 'switchyard_agent_workload{service="web",state="running",health="healthy"}')).toBe(1);
    expect(sample(text, 'switchyard_agent_probe_duration_seconds_count{service="web"}')).toBeGreaterThan(0);
    expect(sample(text, 'switchyard_agent_pull_duration_seconds_count{result="ok"}')).toBeGreaterThan(0);
    expect(sample(text, "switchyard_agent_spec_generation")).toBeGreaterThan(0);
    expect(text).toMatch(/^switchyard_agent_lease_state\{state="none"\} [01]$/m);
    expect(promtoolProblems(text)).toBe("");
  });

  it("the router's: requests, latency, in flight, pools, upstream health, table generation", async () => {
    await bed.viaRouter();
    const { status, text } = await agentMetrics(bed.names.router);
    expect(status).toBe(200);
    expect(sample(text, 'switchyard_router_requests_total{color="blue",host="live",code="2xx"}')).toBeGreaterThan(0);
    expect(sample(text, 'switchyard_router_request_duration_seconds_count{color="blue"}')).toBeGreaterThan(0);
    expect(sample(text, 'switchyard_router_live{color="blue"}')).toBe(1);
    expect(text).toMatch(/^switchyard_router_upstream_health\{color="green",service="web",node="mtx-green-1",health="healthy"\} 1$/m);
    expect(sample(text, "switchyard_router_table_generation")).toBeGreaterThan(0);
    expect(promtoolProblems(text)).toBe("");
  });
});

describe("the agents' read-only metrics token", () => {
  it("reads /metrics, and every other route refuses it with 403; the agent token reads /metrics too; no token: 401", async () => {
    for (const name of [bed.names.blue, bed.names.router]) {
      const metricsToken = bed.metricsTokens.get(name)!;
      const { url, token } = bed.agentApi(name);
      const as = (t: string | null, method: string, path: string, body?: unknown) =>
        fetch(url + path, { method, headers: { ...(t ? { authorization: `Bearer ${t}` } : {}), ...(body ? { "content-type": "application/json" } : {}) }, body: body ? JSON.stringify(body) : null });
      expect((await as(metricsToken, "GET", "/metrics")).status).toBe(200);
      expect((await as(token, "GET", "/metrics")).status).toBe(200);
      expect((await as(null, "GET", "/metrics")).status).toBe(401);
      expect((await as("x".repeat(40), "GET", "/metrics")).status).toBe(401);
      const refused: [string, string, unknown?][] = [
        ["GET", "/v1/status"], ["GET", "/v1/watch"], ["PUT", "/v1/spec", { kind: "NodeSpec" }], ["PUT", "/v1/lease", { epoch: 99, ttlMs: 1000 }],
        ["DELETE", "/v1/lease"], ["PUT", "/v1/acme/challenges", { challenges: [] }], ["HEAD", "/metrics"], ["GET", "/metrics/x"], ["POST", "/metrics"],
      ];
      for (const [method, path, body] of refused) {
        const res = await as(metricsToken, method, path, body);
        expect(res.status, `${method} ${path}`).toBe(403);
        if (method !== "HEAD") expect(((await res.json()) as { error: { code: string } }).error.code).toBe("AGENT_ERR_FORBIDDEN");
      }
    }
    // Nothing changed on the node: no lease was granted, and the spec is the reconciler's.
    const { url, token } = bed.agentApi(bed.names.blue);
    const st = (await (await fetch(url + "/v1/status", { headers: { authorization: `Bearer ${token}` } })).json()) as NodeStatus;
    expect(st.lease.epoch).toBeLessThan(99);
  });
});

describe("a Prometheus scrapes every part with the configuration switchyard prometheus-config prints (issue 19 item 2)", () => {
  it("promtool check config passes, and every target (reconciler, both nodes, the router) is up", async () => {
    const secrets = join(bed.deployDir, "secrets");
    for (const [node, token] of bed.metricsTokens) writeFileSync(join(secrets, `${node}.metrics.token`), token + "\n");
    writeFileSync(join(secrets, "prometheus.token"), bed.token + "\n");
    const config = execFileSync(process.execPath, ["bin/switchyard.js", "prometheus-config", "--cluster", join(bed.deployDir, "cluster.yaml"), "--reconciler", bed.reconcilerUrl, "--interval", "1s"], { encoding: "utf8" });
    const file = join(bed.dir, "prometheus.yml");
    writeFileSync(file, config);
    expect(config).not.toContain(bed.token);
    for (const t of bed.metricsTokens.values()) expect(config).not.toContain(t);
    execFileSync("promtool", ["check", "config", file], { encoding: "utf8" });
    await prom.start(file);
    const targets = await waitFor("every target up", async () => {
      const t = await prom.targets();
      return t.length === 4 && t.every((x) => x.health === "up") && t;
    }, 30_000).catch(async (err: Error) => { throw new Error(`${err.message}: ${JSON.stringify(await prom.targets())}`); });
    expect(targets.map((t) => t.job).sort()).toEqual(["switchyard-agent-mtx-blue-1", "switchyard-agent-mtx-green-1", "switchyard-agent-mtx-router-1", "switchyard-reconciler"]);
  }, 60_000);
});

describe("a flip under load shows in the router's per-colour figures", () => {
  it("green's 2xx count starts moving and blue's stops; flips_total and status.router.responses agree", async () => {
    const router = bed.names.router;
    const before = (await agentMetrics(router)).text;
    const green0 = sample(before, 'switchyard_router_requests_total{color="green",host="live",code="2xx"}')!;
    const flips0 = sample(before, "switchyard_router_flips_total")!;
    const load = new Load(bed, 2, 5);
    try {
      await waitFor("blue serves under load", async () => load.ok > 20, 20_000);
      bed.writeState({ active: "green", blue: "v1", green: "v2" });
      await waitFor("green serves live traffic", async () => load.colors.at(-1) === "green", 30_000);
      const atFlip = load.ok;
      await waitFor("some requests on green", async () => load.ok > atFlip + 20, 20_000);
    } finally {
      await load.stop();
    }
    expect(load.failed).toEqual([]);
    const after = (await agentMetrics(router)).text;
    const blueLive = sample(after, 'switchyard_router_requests_total{color="blue",host="live",code="2xx"}')!;
    expect(sample(after, 'switchyard_router_requests_total{color="green",host="live",code="2xx"}')! - green0).toBeGreaterThan(20);
    expect(sample(after, "switchyard_router_flips_total")).toBe(flips0 + 1);
    expect(sample(after, 'switchyard_router_live{color="green"}')).toBe(1);
    // Blue's live count no longer moves once green is live.
    await bed.viaRouter();
    const later = (await agentMetrics(router)).text;
    expect(sample(later, 'switchyard_router_requests_total{color="blue",host="live",code="2xx"}')).toBe(blueLive);
    // Prometheus saw it within a few 1 s scrapes: the flip, and green's live 2xx series stepping up.
    await waitFor("Prometheus sees the flip", async () =>
      (await prom.value('switchyard_router_flips_total')) === flips0 + 1 &&
      ((await prom.value('switchyard_router_requests_total{color="green",host="live",code="2xx"}')) ?? 0) > green0 + 20, 10_000);
    // The reconciler timed the switch: from the pass that saw green desired until the router served it.
    const recon = await bed.api<string>("/metrics");
    expect(sample(recon, "switchyard_switch_duration_seconds_count")).toBe(1);
    expect(sample(recon, "switchyard_switch_duration_seconds_sum")).toBeGreaterThan(0);
    expect(sample(recon, "switchyard_switch_duration_seconds_sum")).toBeLessThan(30);
    // The jobs follow the live colour (owner: active): one handoff, its gap timed.
    const handoff = await waitFor("the jobs handoff timed", async () => {
      const t = await bed.api<string>("/metrics");
      return (sample(t, "switchyard_jobs_handoff_gap_seconds_count") ?? 0) >= 1 && t;
    }, 30_000);
    expect(sample(handoff, "switchyard_jobs_handoff_gap_seconds_count")).toBe(1);
    expect(sample(handoff, "switchyard_jobs_handoff_gap_seconds_sum")).toBeGreaterThan(0);
    expect(promtoolProblems(handoff)).toBe("");
    // The router's status carries the same figures by colour and status class.
    const { url, token } = bed.agentApi(router);
    const st = (await (await fetch(url + "/v1/status", { headers: { authorization: `Bearer ${token}` } })).json()) as NodeStatus;
    const sum = (color: string) => ["live", "preview", "color", "default"].reduce((n, host) => n + (sample(later, `switchyard_router_requests_total{color="${color}",host="${host}",code="2xx"}`) ?? 0), 0);
    expect(st.router!.responses!.green["2xx"]).toBe(sum("green"));
    expect(st.router!.responses!.blue["2xx"]).toBe(sum("blue"));
  }, 90_000);
});
