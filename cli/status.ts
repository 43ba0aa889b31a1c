import { parseArgs } from "node:util";
import type { ClusterStatus } from "../specs/api/status.js";
import { DEFAULT_RECONCILER_LISTEN } from "../specs/defaults.js";
import { COLORS } from "../specs/types.js";

export const statusHelp = `Usage: switchyard status [--server URL] [--json]

Shows the cluster's status from the reconciler API: conditions, both colours side by side, the router
and the jobs owner. --server defaults to $SWITCHYARD_SERVER or http://${DEFAULT_RECONCILER_LISTEN}.
`;

export async function runStatus(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { server: { type: "string" }, json: { type: "boolean" } } });
  const server = (values.server ?? process.env.SWITCHYARD_SERVER ?? `http://${DEFAULT_RECONCILER_LISTEN}`).replace(/\/+$/, "");
  let s: ClusterStatus;
  try {
    const res = await fetch(`${server}/api/v1/status`, { headers: process.env.SWITCHYARD_TOKEN ? { authorization: `Bearer ${process.env.SWITCHYARD_TOKEN}` } : {}, signal: AbortSignal.timeout(5000) });
    if (!res.ok) throw new Error(`${server} answered ${res.status}: ${(await res.text()).slice(0, 200)}`);
    s = (await res.json()) as ClusterStatus;
  } catch (err) {
    const e = err as Error & { cause?: { code?: string } };
    process.stderr.write(`switchyard status: cannot get the status from ${server}: ${e.cause?.code ?? e.message}\n`);
    return 1;
  }
  if (values.json) {
    process.stdout.write(JSON.stringify(s, null, 2) + "\n");
    return 0;
  }
  process.stdout.write(renderStatus(s));
  return 0;
}

export function renderStatus(s: ClusterStatus): string {
  const lines: string[] = [];
  lines.push(`cluster ${s.app ?? "?"}  revision ${s.revision ?? "-"}  active ${s.active ?? "-"}  live ${s.router?.live ?? "none"}`);
  lines.push("");
  lines.push("CONDITION     STATUS  REASON              MESSAGE");
  for (const c of s.conditions) lines.push(`${c.type.padEnd(13)} ${c.status.padEnd(7)} ${c.reason.padEnd(19)} ${c.message}`);
  if (s.colors) {
    lines.push("");
    lines.push("COLOUR  PHASE      TAG        BADGES        NODES");
    for (const c of COLORS) {
      const col = s.colors[c];
      const badges = [col.live ? "LIVE" : "", col.preview ? "PREVIEW" : "", s.jobs?.ownerColor === c ? "JOBS" : ""].filter(Boolean).join(",") || "-";
      const nodes = col.nodes.map((n) => `${n.name}:${!n.reachable ? "unreachable" : Object.entries(n.services).map(([k, v]) => `${k}=${v.state}`).join("/")}`).join(" ");
      lines.push(`${c.padEnd(7)} ${col.phase.padEnd(10)} ${(col.tag ?? "-").padEnd(10)} ${badges.padEnd(13)} ${nodes}`);
      if (col.message) lines.push(`        ${col.message}`);
      for (const n of col.nodes) for (const [name, v] of Object.entries(n.services)) lines.push(...crashLoopLines(n.name, name, v));
      for (const t of col.tasks ?? []) lines.push(`        task ${t.name}: ${t.state}${t.attempt > 1 ? ` (attempt ${t.attempt})` : ""} — ${t.message}`);
    }
  }
  // Versions: the reconciler's, and every agent whose version differs from it (a rolling upgrade under way).
  const others = Object.values(s.colors ?? {}).flatMap((c) => c.nodes).filter((n) => n.version && n.version !== s.version).map((n) => `${n.name} ${n.version}`);
  if (s.version) lines.push("", `switchyard ${s.version}${others.length ? `; agents on other versions: ${others.join(", ")}` : ""}`);
  if (s.jobs) lines.push("", `jobs: owner ${s.jobs.owner} → ${s.jobs.ownerColor ?? "none"}, epoch ${s.jobs.epoch}, held by ${s.jobs.holders.map((h) => `${h.node}(${h.epoch}, ${Math.round(h.remainingMs / 1000)}s)`).join(", ") || "nobody"}`);
  if (s.pending.length) {
    lines.push("", "PENDING");
    for (const p of s.pending) lines.push(`  ${p.reason}: ${p.message}`);
  }
  return lines.join("\n") + "\n";
}

type ServiceSummary = NonNullable<ClusterStatus["colors"]>["blue"]["nodes"][number]["services"][string];

/** A crash-looping service in a few lines: restarts, last exit, next attempt and its last log lines. */
function crashLoopLines(node: string, service: string, v: ServiceSummary): string[] {
  const r = v.restarts;
  if (v.state !== "crashLooping" || !r) return [];
  const code = r.exitCode !== null && r.exitCode !== undefined ? ` (exit code ${r.exitCode})` : "";
  const out = [`        ${service} on ${node} is crash looping: ${r.count} restarts, last ${r.lastExit}${code}; next attempt ${r.nextRestartAt ?? "now"}`];
  for (const line of (r.logTail ?? []).slice(-3)) out.push(`          | ${line}`);
  return out;
}
