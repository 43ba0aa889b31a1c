/** The node agent benchmark's human report: one table, then the JSON result as the last line. */
import type { DockerCall } from "./docker-proxy.js";
import { median, percentile, round, table } from "./stats.js";

/** Overhead target from issue 3: PUT → healthy at most this much longer than the app's own start. */
export const OVERHEAD_TARGET_MS = 1_500;
export const IDLE_RSS_TARGET_MB = 60;
/** "No polling of Docker faster than every 10 s." */
export const IDLE_MIN_POLL_INTERVAL_S = 10;

export interface BaselineRun {
  totalMs: number;
  createStartMs: number;
}

export interface DeployRun {
  tag: string;
  totalMs: number;
  /** Docker calls the agent made from the PUT until healthy. */
  calls: DockerCall[];
  /** From the end of POST /containers/:id/start to the healthy event. */
  startToHealthyMs: number;
}

export interface IdleRun {
  seconds: number;
  healthPeriodSeconds: number;
  rssMb: number;
  /** RssAnon: the agent's own memory, without file pages (node binary) shared with other processes. */
  anonMb: number;
  peakRssMb: number;
  cpuPct: number;
  cpuMsPerSec: number;
  requests: DockerCall[];
  openEventStreams: number;
}

export interface AgentReport {
  repo: string;
  health: { periodSeconds: number };
  baseline: BaselineRun[];
  first: DeployRun;
  present: DeployRun[];
  pulls: DeployRun[];
  /** One deploy with the default health settings (image present), for comparison. */
  defaultHealthDeploy?: DeployRun;
  defaultHealthPeriodSeconds?: number;
  deletedLayers: number[];
  layerSharing: string;
  pullStatus: Map<string, number>;
  idle: IdleRun[];
  agentStartMs: number;
  startMemory: { rssMb: number };
  /** RSS of a node process that loads nothing, for scale. */
  bare: { rssMb: number; anonMb: number };
  result: Record<string, unknown> & { overheadP50Ms: number; appStartMs: number };
}

export function printReport(r: AgentReport): void {
  const ms = (n: number) => `${Math.round(n)} ms`;
  const list = (xs: number[]) => xs.map((x) => Math.round(x)).join(", ");
  const met = (ok: boolean) => (ok ? "met" : "MISSED");
  const totals = (runs: DeployRun[]) => runs.map((x) => x.totalMs);
  const rows: string[][] = [
    ["measure", "result"],
    ["app's own start (create+start -> /healthz 200)", `median ${ms(r.result.appStartMs)}  [${list(r.baseline.map((b) => b.totalMs))}]`],
    ["  of which create+start", `median ${ms(median(r.baseline.map((b) => b.createStartMs)))}`],
    ["agent start (spawn -> listening)", `${ms(r.agentStartMs)}, RSS ${round(r.startMemory.rssMb, 1)} MB`],
    ["first deploy (no old container)", ms(r.first.totalMs)],
    [
      `deploy, image present (${r.present.length}x v1<->v2)`,
      `p50 ${ms(percentile(totals(r.present), 50))}, p99 ${ms(percentile(totals(r.present), 99))}  [${list(totals(r.present))}]`,
    ],
    [
      "  overhead beyond the app's start (p50)",
      `${ms(r.result.overheadP50Ms)}  (target < ${OVERHEAD_TARGET_MS} ms: ${met(r.result.overheadP50Ms < OVERHEAD_TARGET_MS)})`,
    ],
    ["  where the time goes (p50 per deploy)", breakdown(r.present)],
    ["  Docker requests per deploy (p50)", requestMix(r.present)],
    [`deploy with pull (${r.pulls.length}x, tag rmi'd first)`, `p50 ${ms(percentile(totals(r.pulls), 50))}  [${list(totals(r.pulls))}]`],
    ["  where the time goes (p50 per deploy)", breakdown(r.pulls)],
    ["  layers", `${r.layerSharing}; rmi deleted [${r.deletedLayers.join(", ")}] layer(s) per run; pull: ${[...r.pullStatus].map(([s, n]) => `${s} x${n}`).join(", ") || "no layer statuses"}`],
  ];
  if (r.defaultHealthDeploy) {
    const x = r.defaultHealthDeploy;
    rows.push([`deploy with the default health period (${r.defaultHealthPeriodSeconds} s), 1x`, `${ms(x.totalMs)}; ${breakdown([x])}`]);
  }
  for (const idle of r.idle) {
    const perMin = idle.requests.length / (idle.seconds / 60);
    const byKey = countBy(idle.requests.map((c) => c.key));
    const gaps = idle.requests.slice(1).map((c, i) => (c.at - idle.requests[i]!.at) / 1000);
    rows.push(
      [`idle ${idle.seconds} s (health period ${idle.healthPeriodSeconds} s)`, `RSS ${round(idle.rssMb, 1)} MB (anon ${round(idle.anonMb, 1)}, peak ${round(idle.peakRssMb, 1)}; target < ${IDLE_RSS_TARGET_MB} MB: ${met(idle.rssMb < IDLE_RSS_TARGET_MB)}; bare node ${round(r.bare.rssMb, 1)}/anon ${round(r.bare.anonMb, 1)}), CPU ${round(idle.cpuPct, 2)}% of one core = ${round(idle.cpuMsPerSec, 2)} ms/s`],
      [
        "  Docker requests while idle",
        `${idle.requests.length} = ${round(perMin, 1)}/min [${byKey || "none"}]${gaps.length ? `, shortest gap ${round(Math.min(...gaps), 1)} s` : ""}; /events streams open: ${idle.openEventStreams} (long-lived, not counted); polling at most every ${IDLE_MIN_POLL_INTERVAL_S} s: ${met(perMin <= 60 / IDLE_MIN_POLL_INTERVAL_S)}`,
      ],
    );
  }
  process.stdout.write(`\nSwitchyard node agent benchmark: ${r.repo}, loopback, health probe period ${r.health.periodSeconds} s in the deploy specs\n`);
  process.stdout.write(table(rows) + "\n");
  process.stdout.write(JSON.stringify(r.result) + "\n");
}

/** Median time per kind of Docker call, and from the container's start to the healthy event. */
function breakdown(runs: DeployRun[]): string {
  const phases: [string, string][] = [
    ["pull", "POST /images/create"],
    ["stop old", "POST /containers/:id/stop"],
    ["remove", "DELETE /containers/:id"],
    ["create", "POST /containers/create"],
    ["start", "POST /containers/:id/start"],
  ];
  const parts: string[] = [];
  for (const [label, key] of phases) {
    const per = runs.map((run) => run.calls.filter((c) => c.key === key).reduce((sum, c) => sum + (c.totalMs ?? c.ms ?? 0), 0));
    if (per.some((v) => v > 0)) parts.push(`${label} ${Math.round(median(per))}`);
  }
  parts.push(`start->healthy ${Math.round(median(runs.map((x) => x.startToHealthyMs)))}`);
  return parts.join(", ") + " ms";
}

function requestMix(runs: DeployRun[]): string {
  const keys = new Set(runs.flatMap((run) => run.calls.map((c) => c.key)));
  const parts = [...keys].map((k) => {
    const n = median(runs.map((run) => run.calls.filter((c) => c.key === k).length));
    return [k, n] as const;
  });
  const total = median(runs.map((run) => run.calls.length));
  return `${total} total: ` + parts.filter(([, n]) => n > 0).map(([k, n]) => `${k} x${n}`).join(", ");
}

function countBy(keys: string[]): string {
  const m = new Map<string, number>();
  for (const k of keys) m.set(k, (m.get(k) ?? 0) + 1);
  return [...m].map(([k, n]) => `${k} x${n}`).join(", ");
}
