/**
 * examples/observability (issue 19 item 3): the alerting rules pass `promtool check rules`, the Grafana
 * dashboard is JSON with a query on every panel, and both only name series that a Switchyard part exports.
 */
import { readFileSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { PROMTOOL } from "../support/promtool.js";

const DIR = "examples/observability";
/** Every series name the parts register (the first argument of collected(), or a literal name). */
const exported = new Set(
  ["reconciler/api/metrics.ts", "node-agent/node/metrics.ts", "node-agent/router/metrics.ts", "node-agent/server.ts"]
    .flatMap((f) => [...readFileSync(f, "utf8").matchAll(/"(switchyard_[a-z_]+)"/g)].map((m) => m[1]!)),
);
/** The series a query names, with histogram suffixes taken off. */
const named = (text: string) => [...text.matchAll(/\b(switchyard_[a-z_]+)/g)].map((m) => m[1]!.replace(/_(bucket|sum|count)$/, ""));

describe("examples/observability", () => {
  it("the alerting rules pass promtool check rules and name only exported series", () => {
    const r = spawnSync(PROMTOOL, ["check", "rules", `${DIR}/alerts.rules.yml`], { encoding: "utf8" });
    expect(r.error).toBeUndefined();
    expect(`${r.stdout}${r.stderr}`).toMatch(/SUCCESS: \d+ rules found/);
    expect(r.status).toBe(0);
    const rules = readFileSync(`${DIR}/alerts.rules.yml`, "utf8");
    for (const alert of ["AgentUnreachable", "ColorNotReady", "CertificateExpiresSoon", "JobLeaseGap", "CrashLooping"]) expect(rules).toContain(`alert: Switchyard${alert}`);
    for (const n of named(rules)) expect(exported, n).toContain(n);
  });

  it("the Grafana dashboard: both colours side by side, a query on every panel, flips and deploys as annotations", () => {
    const d = JSON.parse(readFileSync(`${DIR}/grafana-dashboard.json`, "utf8")) as {
      panels: { title: string; gridPos: { x: number }; targets: { expr: string }[] }[];
      annotations: { list: { name: string; expr: string }[] };
    };
    for (const p of d.panels) expect(p.targets.length, p.title).toBeGreaterThan(0);
    for (const c of ["blue", "green"]) expect(d.panels.filter((p) => p.title.startsWith(`${c}:`)).length).toBeGreaterThanOrEqual(3);
    expect(new Set(d.panels.filter((p) => p.title.startsWith("blue:")).map((p) => p.gridPos.x))).toEqual(new Set([0]));
    expect(new Set(d.panels.filter((p) => p.title.startsWith("green:")).map((p) => p.gridPos.x))).toEqual(new Set([12]));
    expect(d.annotations.list.map((a) => a.name)).toEqual(["Flips", "Deploys"]);
    const queries = [...d.panels.flatMap((p) => p.targets.map((t) => t.expr)), ...d.annotations.list.map((a) => a.expr)].join("\n");
    for (const n of named(queries)) expect(exported, n).toContain(n);
  });
});
