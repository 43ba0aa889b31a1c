import { describe, expect, it } from "vitest";
import { renderMetrics } from "../../reconciler/api/metrics.js";
import { buildStatus } from "../../reconciler/loop/status.js";
import { plan } from "../../reconciler/loop/plan.js";
import { detectDrift } from "../../reconciler/loop/drift.js";
import type { Controller } from "../../reconciler/loop/controller.js";
import type { AlertManager } from "../../reconciler/notify/alerts.js";
import { NOW, cluster1x1, desired, down, ledger, node, router, world } from "../support/world.js";

const d = desired(cluster1x1());

/** One sample's value, read back from the Prometheus text (undefined when the series is missing). */
function sample(text: string, series: string): number | undefined {
  const line = text.split("\n").find((l) => l.startsWith(series + " "));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe("GET /metrics (README: reconcile counts and durations, switches, deploys, alerts firing, agent reachability, colour readiness, the jobs epoch)", () => {
  it("renders every series the README lists, with the controller's numbers, HELP and TYPE for each", () => {
    // blue live and ready on v1 holding epoch 7; green's web container exited (not ready); the router reachable
    const o = world({ "blue-1": node(d, "blue-1", { tag: "v1", lease: { epoch: 7 } }), "green-1": node(d, "green-1", { tag: "v2", web: "exited" }), "router-1": router(d, "router-1", { live: "blue" }) }, ledger({ epoch: 7 }));
    const actions = plan(d, o, NOW);
    const drift = detectDrift({ desired: d, observed: o, actions, routerLive: "blue" });
    const status = buildStatus({ desired: d, revision: "r", stateRevision: "s", observed: o, actions, drift, specErrors: [], busy: false, now: new Date(NOW) }, []);
    const stats = { reconciles: 12, reconcileMsTotal: 3500, lastReconcileMs: 250, flips: 3, deploys: 5, actions: 21, actionFailures: 2, renewals: 9 };
    const controller = { stats, status: () => status } as unknown as Controller;
    const alerts = { firing: () => [{}, {}] } as unknown as AlertManager;
    const text = renderMetrics(controller, alerts);

    expect(sample(text, "switchyard_reconciles_total")).toBe(12);
    expect(sample(text, "switchyard_reconcile_duration_seconds_sum")).toBe(3.5);
    expect(sample(text, "switchyard_reconcile_duration_seconds_count")).toBe(12);
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
    const announced = new Set([...text.matchAll(/^# TYPE (\S+) (counter|gauge)$/gm)].map((m) => m[1]));
    expect(new Set([...text.matchAll(/^# HELP (\S+) \S/gm)].map((m) => m[1]))).toEqual(announced);
    for (const line of text.split("\n").filter((l) => l !== "" && !l.startsWith("#"))) {
      expect(announced.has(line.split(/[{ ]/)[0]!), line).toBe(true);
      expect(line).toMatch(/ -?\d+(\.\d+)?$/);
    }
  });

  it("an unreachable agent is 0, and a number that is not finite is written as 0", () => {
    const o = world({ "blue-1": node(d, "blue-1", { tag: "v1", lease: { epoch: 7 } }), "green-1": down(), "router-1": router(d, "router-1", { live: "blue" }) }, ledger({ epoch: 7 }));
    const actions = plan(d, o, NOW);
    const drift = detectDrift({ desired: d, observed: o, actions, routerLive: "blue" });
    const status = buildStatus({ desired: d, revision: "r", stateRevision: "s", observed: o, actions, drift, specErrors: [], busy: false, now: new Date(NOW) }, []);
    const stats = { reconciles: 0, reconcileMsTotal: Number.NaN, lastReconcileMs: Number.POSITIVE_INFINITY, flips: 0, deploys: 0, actions: 0, actionFailures: 0, renewals: 0 };
    const text = renderMetrics({ stats, status: () => status } as unknown as Controller, { firing: () => [] } as unknown as AlertManager);
    expect(sample(text, 'switchyard_agent_reachable{node="green-1",color="green"}')).toBe(0);
    expect(sample(text, "switchyard_reconcile_duration_seconds_sum")).toBe(0);
    expect(sample(text, "switchyard_last_reconcile_duration_seconds")).toBe(0);
  });
});
