import { describe, expect, it } from "vitest";
import { reconcilerMetrics } from "../../reconciler/api/metrics.js";
import { BucketCounts, SLOW_BUCKETS_SECONDS } from "../../common/metrics.js";
import { buildStatus } from "../../reconciler/loop/status.js";
import { plan } from "../../reconciler/loop/plan.js";
import { detectDrift } from "../../reconciler/loop/drift.js";
import type { Controller } from "../../reconciler/loop/controller.js";
import type { AlertManager } from "../../reconciler/notify/alerts.js";
import { NOW, cluster1x1, desired, down, ledger, node, router, world } from "../support/world.js";

const d = desired(cluster1x1());

const renderMetrics = (c: Controller, a: AlertManager): Promise<string> => reconcilerMetrics(c, a).metrics();

/** Pass durations as the controller keeps them: `n` passes of `seconds` each. */
function passes(...runs: [number, number][]): BucketCounts {
  const b = new BucketCounts(SLOW_BUCKETS_SECONDS);
  for (const [n, seconds] of runs) for (let i = 0; i < n; i++) b.observe(seconds);
  return b;
}

/** One sample's value, read back from the Prometheus text (undefined when the series is missing). */
function sample(text: string, series: string): number | undefined {
  const line = text.split("\n").find((l) => l.startsWith(series + " "));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe("GET /metrics (README: reconcile counts and durations, switches, deploys, alerts firing, agent reachability, colour readiness, the jobs epoch)", () => {
  it("renders every series the README lists, with the controller's numbers, HELP and TYPE for each", async () => {
    // blue live and ready on v1 holding epoch 7; green's web container exited (not ready); the router reachable
    const o = world({ "blue-1": node(d, "blue-1", { tag: "v1", lease: { epoch: 7 } }), "green-1": node(d, "green-1", { tag: "v2", web: "exited" }), "router-1": router(d, "router-1", { live: "blue" }) }, ledger({ epoch: 7 }));
    const actions = plan(d, o, NOW);
    const drift = detectDrift({ desired: d, observed: o, actions, routerLive: "blue" });
    const status = buildStatus({ desired: d, revision: "r", stateRevision: "s", observed: o, actions, drift, specErrors: [], busy: false, now: new Date(NOW) }, []);
    const stats = { reconciles: 12, reconcileMsTotal: 3500, lastReconcileMs: 250, flips: 3, deploys: 5, actions: 21, actionFailures: 2, renewals: 9, reconcileSeconds: passes([10, 0.25], [2, 0.5]), actionResults: new Map([["applyNodeSpec", { ok: 4, failed: 1 }]]), switchSeconds: passes([1, 0.3]), jobsHandoffSeconds: passes([1, 1.5]) };
    const controller = { stats, status: () => status } as unknown as Controller;
    const alerts = { firing: () => [{ name: "ContainerStopped", severity: "warning" }, { name: "ContainerStopped", severity: "warning" }] } as unknown as AlertManager;
    const text = await renderMetrics(controller, alerts);

    expect(sample(text, "switchyard_reconciles_total")).toBe(12);
    expect(sample(text, "switchyard_reconcile_duration_seconds_sum")).toBe(3.5);
    expect(sample(text, "switchyard_reconcile_duration_seconds_count")).toBe(12);
    expect(text).toContain("# TYPE switchyard_reconcile_duration_seconds histogram");
    expect(sample(text, 'switchyard_reconcile_duration_seconds_bucket{le="0.1"}')).toBe(0);
    expect(sample(text, 'switchyard_reconcile_duration_seconds_bucket{le="0.5"}')).toBe(12);
    expect(sample(text, 'switchyard_reconcile_duration_seconds_bucket{le="+Inf"}')).toBe(12);
    expect(sample(text, 'switchyard_action_results_total{kind="applyNodeSpec",result="failed"}')).toBe(1);
    expect(sample(text, "switchyard_switch_duration_seconds_sum")).toBe(0.3);
    expect(sample(text, 'switchyard_alerts{alertname="ContainerStopped",severity="warning"}')).toBe(2);
    expect(sample(text, "switchyard_last_reconcile_duration_seconds")).toBe(0.25);
    expect(sample(text, "switchyard_router_switches_total")).toBe(3);
    expect(sample(text, "switchyard_deploys_total")).toBe(5);
    expect(sample(text, "switchyard_actions_total")).toBe(21);
    expect(sample(text, "switchyard_action_failures_total")).toBe(2);
    expect(sample(text, "switchyard_lease_renewals_total")).toBe(9);
    expect(sample(text, "switchyard_alerts_firing")).toBe(2);
    expect(sample(text, 'switchyard_agent_reachable{node="blue-1",color="blue"}')).toBe(1);
    expect(sample(text, 'switchyard_agent_reachable{node="green-1",color="green"}')).toBe(1);
    expect(sample(text, 'switchyard_agent_reachable{node="router-1",color="router"}')).toBe(1);
    expect(sample(text, 'switchyard_color_ready{color="blue"}')).toBe(1);
    expect(sample(text, 'switchyard_color_ready{color="green"}')).toBe(0);
    expect(sample(text, 'switchyard_color_live{color="blue"}')).toBe(1);
    expect(sample(text, 'switchyard_color_live{color="green"}')).toBe(0);
    expect(sample(text, "switchyard_jobs_epoch")).toBe(7);
    expect(sample(text, 'switchyard_condition{type="Ready"}')).toBe(1);

    // every sample belongs to a series announced with HELP and TYPE
    const announced = new Set([...text.matchAll(/^# TYPE (\S+) (counter|gauge|histogram)$/gm)].map((m) => m[1]));
    expect(new Set([...text.matchAll(/^# HELP (\S+) \S/gm)].map((m) => m[1]))).toEqual(announced);
    for (const line of text.split("\n").filter((l) => l !== "" && !l.startsWith("#"))) {
      const name = line.split(/[{ ]/)[0]!;
      expect(announced.has(name) || announced.has(name.replace(/_(bucket|sum|count)$/, "")), line).toBe(true);
      expect(line).toMatch(/ -?\d+(\.\d+)?$/);
    }
  });

  it("an unreachable agent is 0, and a number that is not finite is written as 0", async () => {
    const o = world({ "blue-1": node(d, "blue-1", { tag: "v1", lease: { epoch: 7 } }), "green-1": down(), "router-1": router(d, "router-1", { live: "blue" }) }, ledger({ epoch: 7 }));
    const actions = plan(d, o, NOW);
    const drift = detectDrift({ desired: d, observed: o, actions, routerLive: "blue" });
    const status = buildStatus({ desired: d, revision: "r", stateRevision: "s", observed: o, actions, drift, specErrors: [], busy: false, now: new Date(NOW) }, []);
    const stats = { reconciles: 0, reconcileMsTotal: Number.NaN, lastReconcileMs: Number.POSITIVE_INFINITY, flips: 0, deploys: 0, actions: 0, actionFailures: 0, renewals: 0, reconcileSeconds: passes(), actionResults: new Map(), switchSeconds: passes(), jobsHandoffSeconds: passes() };
    const text = await renderMetrics({ stats, status: () => status } as unknown as Controller, { firing: () => [] } as unknown as AlertManager);
    expect(sample(text, 'switchyard_agent_reachable{node="green-1",color="green"}')).toBe(0);
    expect(sample(text, "switchyard_reconcile_duration_seconds_sum")).toBe(0);
    expect(sample(text, "switchyard_last_reconcile_duration_seconds")).toBe(0);
  });
});
