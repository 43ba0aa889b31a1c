/**
 * Lifecycle notifications (reconciler/notify/lifecycle.ts) from desired-state changes and status, and the
 * cluster.yaml fields that configure them and the automatic rollback (defaults, and refusals at line:col).
 */
import { describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import pino from "pino";
import { Lifecycle } from "../../reconciler/notify/lifecycle.js";
import { parseSpec } from "../../specs/load.js";
import { formatIssue } from "../../specs/source.js";
import type { State } from "../../specs/state.js";
import type { ClusterStatus } from "../../specs/api/status.js";
import type { LifecycleEvent } from "../../specs/lifecycle.js";
import type { Cluster } from "../../specs/cluster.js";

const state = (active: "blue" | "green", blue: object, green: object, owner = "active"): State =>
  ({ apiVersion: "switchyard.dev/v1", kind: "State", spec: { active, colors: { blue, green }, jobs: { owner } } }) as State;
const colorsStatus = (green: { phase: string; tag: string; message?: string }) =>
  ({ colors: { blue: { phase: "Ready", tag: "v1", message: "" }, green: { message: "", ...green } } }) as unknown as ClusterStatus;

function rig() {
  const got: LifecycleEvent[] = [];
  return { got, lc: new Lifecycle({ logger: pino({ level: "silent" }), emit: (e) => void got.push(e) }) };
}

describe("lifecycle events", () => {
  it("starts silent, then one event per change: a hand edit's deploy, its failure, maintenance and jobs", () => {
    const { got, lc } = rig();
    lc.onDesired(state("blue", { tag: "v1" }, { tag: "v1" }), "r0", true);
    lc.onStatus(colorsStatus({ phase: "Ready", tag: "v1" }));
    expect(got).toEqual([]); // what runs at start is no news
    lc.onDesired(state("blue", { tag: "v1" }, { tag: "v3" }), "r1", true);
    lc.onStatus(colorsStatus({ phase: "Deploying", tag: "v3" }));
    lc.onStatus(colorsStatus({ phase: "Failed", tag: "v3", message: "web unhealthy" }));
    lc.onStatus(colorsStatus({ phase: "Failed", tag: "v3", message: "web unhealthy" }));
    lc.note("r2", { by: "alice" });
    lc.onDesired(state("blue", { tag: "v1" }, { tag: "v3", stopped: true }), "r2", true);
    lc.onDesired(state("blue", { tag: "v1" }, { tag: "v3", stopped: true }, "none"), "r3", true);
    expect(got.map((e) => [e.type, e.summary])).toEqual([
      ["deploy-started", "deploy of v3 to green started by a change to state.yaml"],
      ["deploy-failed", "deploy of v3 to green failed: web unhealthy"],
      ["maintenance-started", "green stopped for maintenance by alice"],
      ["jobs-moved", "jobs stopped by a change to state.yaml"],
    ]);
  });

  it("a switch is promoted or rolled back as its note says; jobs follow the live colour only when there are jobs", () => {
    const { got, lc } = rig();
    lc.onDesired(state("blue", { tag: "v1" }, { tag: "v2" }), "r0", false);
    lc.note("r1", { by: "bob", intent: "promote" });
    lc.onDesired(state("green", { tag: "v1" }, { tag: "v2" }), "r1", false);
    lc.note("r2", { by: "Switchyard", intent: "rollback", reason: "automatic rollback to blue (v1): 5xx 31% over 4 s > 5%" });
    lc.onDesired(state("blue", { tag: "v1" }, { tag: "v2" }), "r2", true);
    lc.taskFailed({ color: "green", tag: "v2", task: "migrate", message: "exit 1" });
    expect(got).toEqual([
      expect.objectContaining({ type: "promoted", summary: "green (v2) promoted by bob", color: "green", tag: "v2", by: "bob" }),
      expect.objectContaining({ type: "rolled-back", by: "Switchyard", reason: "automatic rollback to blue (v1): 5xx 31% over 4 s > 5%", color: "blue", tag: "v1" }),
      expect.objectContaining({ type: "jobs-moved", summary: "jobs moved to blue by Switchyard", color: "blue" }),
      expect.objectContaining({ type: "task-failed", task: "migrate", color: "green", tag: "v2" }),
    ]);
  });
});

describe("cluster.yaml rollback and webhook events", () => {
  const base = readFileSync("test/fixtures/cluster-2x2.yaml", "utf8");
  const parse = (extra: string) => parseSpec("cluster.yaml", `${base.trimEnd()}\n${extra}\n`, { checkFiles: false });

  it("fills the defaults, and without a rollback section there is none", () => {
    const r = parse("  rollback: {}\n  alerts: { webhooks: [{ url: http://127.0.0.1:9/h }] }");
    expect(r.ok).toBe(true);
    const spec = (r.ok ? (r.spec.value as Cluster) : undefined)!.spec;
    expect(spec.rollback).toEqual({ window: 60, maxErrorRatio: 0.05, minRequests: 20 });
    expect(spec.alerts.webhooks[0]!.events).toEqual(["alerts"]);
    const none = parse("");
    expect(none.ok && (none.spec.value as Cluster).spec.rollback).toBeUndefined();
  });

  it("refuses a ratio of 1 or more, an unknown event and an unknown field, each at its line and column", () => {
    const lines = base.trimEnd().split("\n").length;
    const r = parse("  rollback: { window: 30, maxErrorRatio: 1.5, typo: 1 }\n  alerts: { webhooks: [{ url: http://127.0.0.1:9/h, events: [deployed] }] }");
    expect(r.ok).toBe(false);
    const issues = r.ok ? [] : r.issues.map(formatIssue);
    expect(issues.some((i) => i.startsWith(`cluster.yaml:${lines + 1}:`) && i.includes("maxErrorRatio"))).toBe(true);
    expect(issues.some((i) => i.startsWith(`cluster.yaml:${lines + 1}:`) && i.includes("typo"))).toBe(true);
    expect(issues.some((i) => i.startsWith(`cluster.yaml:${lines + 2}:`) && i.includes("events"))).toBe(true);
  });
});
