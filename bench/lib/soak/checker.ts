/**
 * The soak's invariant checker: pure functions over a recorded History (no I/O), in the manner of a
 * Jepsen checker. Each violation names its invariant and the time window in which it happened; the
 * report prints them with the seed, so the run can be replayed.
 */
import type { Color } from "../../../specs/types.js";
import type { AlertEvent, FaultKind, FaultRecord, History, RequestRecord } from "./history.js";

/** "A handful a minute" (issue 18): before the backoff, 108–271. */
export const MAX_CRASH_LOOP_SPECS_PER_MINUTE = 6;

export const INVARIANTS = {
  requests: "no request through a router fails while a colour is healthy and that router is up (app 5xx aside)",
  liveReady: "live traffic only ever reaches a colour that was Ready (with that tag) when the router switched to it",
  jobs: "jobs: never two epochs delivering at once, no delivery with an old epoch, epochs only grow, nothing delivered twice",
  refusals: "an invalid edit or an unsafe switch is refused without effect",
  convergence: "every desired state is reached again after the faults stop (within the bound)",
  alerts: "every alert that fires has a cause and resolves once the cause is gone",
  leftovers: "nothing is left behind (processes, ports, namespaces, mounts)",
  crashLoop: `a crash-looping app gets at most ${MAX_CRASH_LOOP_SPECS_PER_MINUTE} node specs a minute (the agent restarts it on its backoff)`,
} as const;

export type Invariant = keyof typeof INVARIANTS;

export interface Violation {
  invariant: Invariant;
  from: number;
  to: number;
  message: string;
}

export interface CheckOptions {
  /** Tags that can never be Ready (their switch must never happen). */
  badTags: readonly string[];
  /** How far before a switch a healthy probe of a node of the new colour counts. */
  readyLookbackMs: number;
  /** A probe this long after the switch still counts (probes run every half second; good releases stay healthy). */
  probeSlackMs: number;
}

export function checkHistory(h: History, o: CheckOptions): Violation[] {
  return [...checkRequests(h), ...checkLiveReady(h, o), ...checkJobs(h), ...checkRefusals(h), ...checkConvergence(h), ...checkAlerts(h), ...checkLeftovers(h), ...checkCrashLoop(h)];
}

/** The reconciler never loops on an app that cannot start: the agent's backoff paces it. */
export function checkCrashLoop(h: History): Violation[] {
  return h.faults
    .filter((f) => f.kind === "crash-loop" && f.specsPerMinute !== undefined && f.specsPerMinute > MAX_CRASH_LOOP_SPECS_PER_MINUTE)
    .map((f) => ({ invariant: "crashLoop" as const, from: f.start, to: f.end ?? h.end, message: `the reconciler sent ${f.specsPerMinute!.toFixed(0)} node specs a minute to a crash-looping node (at most ${MAX_CRASH_LOOP_SPECS_PER_MINUTE})` }));
}

/** A failed request is excused only while its own router was down (killed and not yet back). */
export function checkRequests(h: History): Violation[] {
  const out: Violation[] = [];
  const downs = h.faults.filter((f) => f.kind === "kill-router");
  for (const r of h.requests) {
    if (!failed(r)) continue;
    if (downs.some((f) => f.target === r.router && overlaps(f, r.at, r.end, h.end))) continue;
    out.push({ invariant: "requests", from: r.at, to: r.end, message: `request through ${r.router} failed: ${r.status || ""} ${r.error ?? ""}`.replace(/\s+/g, " ").trim() });
  }
  return merge(out);
}

/**
 * Every live answer came from a tag that can be Ready; every switch of a router to a colour found every
 * node of that colour healthy with that tag, by direct probes (ground truth, not the reconciler's word).
 */
export function checkLiveReady(h: History, o: CheckOptions): Violation[] {
  const out: Violation[] = [];
  const byRouter = new Map<string, RequestRecord[]>();
  for (const r of h.requests) {
    if (r.status !== 200 || !r.color) continue;
    if (r.tag && o.badTags.includes(r.tag)) out.push({ invariant: "liveReady", from: r.at, to: r.end, message: `${r.router} sent live traffic to ${r.color} running ${r.tag}, which is never Ready` });
    const list = byRouter.get(r.router) ?? [];
    if (list.length === 0) byRouter.set(r.router, list);
    list.push(r);
  }
  const nodesOf = (c: string) => [...new Set(h.probes.filter((p) => p.color === c).map((p) => p.node))];
  for (const [router, rs] of byRouter) {
    rs.sort((a, b) => a.at - b.at);
    for (let i = 1; i < rs.length; i++) {
      const r = rs[i]!;
      if (r.color === rs[i - 1]!.color) continue;
      const unready = nodesOf(r.color!).filter((node) => !h.probes.some((p) => p.node === node && p.healthy && p.tag === r.tag && p.at >= r.at - o.readyLookbackMs && p.at <= r.end + o.probeSlackMs));
      if (unready.length) out.push({ invariant: "liveReady", from: r.at - o.readyLookbackMs, to: r.end, message: `${router} switched live traffic to ${r.color} (${r.tag}) while ${unready.join(", ")} had not answered healthy with ${r.tag}` });
    }
  }
  return out;
}

/** The store's deliveries in the order it accepted them. */
export function checkJobs(h: History): Violation[] {
  const out: Violation[] = [];
  const seen = new Set<number>();
  let highest = 0;
  for (const d of h.deliveries) {
    if (d.epoch < highest) out.push({ invariant: "jobs", from: d.at, to: d.at, message: `delivery ${d.id} by ${d.node} under epoch ${d.epoch} after epoch ${highest} had delivered` });
    highest = Math.max(highest, d.epoch);
    if (seen.has(d.id)) out.push({ invariant: "jobs", from: d.at, to: d.at, message: `notification ${d.id} delivered twice` });
    seen.add(d.id);
  }
  if (h.duplicates > 0) out.push({ invariant: "jobs", from: h.start, to: h.end, message: `the store counted ${h.duplicates} duplicate deliveries` });
  return out;
}

export function checkRefusals(h: History): Violation[] {
  return h.changes
    .filter((c) => c.refusedWithoutEffect === false)
    .map((c) => ({ invariant: "refusals" as const, from: c.at, to: c.at, message: `${c.kind} (${c.detail}) was not refused without effect${c.note ? `: ${c.note}` : ""}` }));
}

export function checkConvergence(h: History): Violation[] {
  const out: Violation[] = [];
  for (const f of h.faults) {
    if (f.recoveryMs === null) out.push({ invariant: "convergence", from: f.start, to: f.end ?? h.end, message: `${f.kind} ${f.target} (${f.detail}): the desired state was not reached again within the bound after it healed${f.notReachedWhy ? ` (${f.notReachedWhy})` : ""}` });
  }
  for (const c of h.changes) {
    if (c.reachedMs === null) out.push({ invariant: "convergence", from: c.at, to: h.end, message: `${c.kind} (${c.detail}): the desired state was not reached within the bound${c.notReachedWhy ? ` (${c.notReachedWhy})` : ""}` });
  }
  if (!h.final) out.push({ invariant: "convergence", from: h.start, to: h.end, message: "the soak ended before the final convergence was checked" });
  else if (h.final.reachedAt === null) out.push({ invariant: "convergence", from: h.final.from, to: h.final.from + h.final.boundMs, message: `the final desired state was not reached within ${h.final.boundMs} ms after the faults stopped` });
  return out;
}

/** Alerts about one node whose only possible cause is a fault of that node (or of the reconciler's own disk). */
const NODE_FAULTS: Record<string, readonly FaultKind[]> = {
  NodeUnreachable: ["kill-agent", "kill-router", "stop-agent", "partition-agent", "partition-router", "slow-agent"],
  DataDirUnwritable: ["disk-full"],
};

export function checkAlerts(h: History): Violation[] {
  const out: Violation[] = [];
  const causes = (a: AlertEvent) => {
    const kinds = NODE_FAULTS[a.name];
    if (!kinds) return h.faults;
    const target = a.name === "DataDirUnwritable" ? "reconciler" : a.labels.node;
    return h.faults.filter((f) => kinds.includes(f.kind) && f.target === target);
  };
  const last = new Map<string, (typeof h.alerts)[number]>();
  for (const a of h.alerts) {
    last.set(a.fingerprint, a);
    if (a.state !== "firing") continue;
    const what = `${a.name} ${JSON.stringify(a.labels)}`;
    if (h.quietFrom !== null && a.at >= h.quietFrom) {
      out.push({ invariant: "alerts", from: h.quietFrom, to: a.at, message: `${what} fired after the faults stopped and the cluster had settled: no cause` });
      continue;
    }
    const caused = causes(a).some((f) => a.at >= f.start && a.at <= (f.end ?? h.end) + h.causeSlackMs) || (!NODE_FAULTS[a.name] && h.changes.some((c) => a.at >= c.at && a.at <= c.at + h.causeSlackMs));
    if (!caused) out.push({ invariant: "alerts", from: a.at - h.causeSlackMs, to: a.at, message: `${what} fired with no fault or change in the ${h.causeSlackMs} ms before` });
  }
  for (const a of last.values()) {
    if (a.state === "firing") out.push({ invariant: "alerts", from: a.at, to: h.end, message: `${a.name} ${JSON.stringify(a.labels)} fired and never resolved` });
  }
  return out;
}

export function checkLeftovers(h: History): Violation[] {
  return h.leftovers.map((l) => ({ invariant: "leftovers" as const, from: h.end, to: h.end, message: `left behind: ${l}` }));
}

/** One line per violation, with the seed: what a failing run prints. */
export function formatViolations(seed: number, vs: readonly Violation[]): string {
  return vs.map((v) => `seed ${seed} [${new Date(v.from).toISOString()} .. ${new Date(v.to).toISOString()}] ${v.invariant}: ${v.message}`).join("\n");
}

function failed(r: RequestRecord): boolean {
  if (r.status === 200) return false;
  // An answer from the app itself (it carries the colour) is the app's, not the router's.
  return !(r.status >= 500 && r.color !== null);
}

function overlaps(f: FaultRecord, from: number, to: number, historyEnd: number): boolean {
  return f.start <= to && (f.end ?? historyEnd) >= from;
}

/** Consecutive request failures of one router become one violation (a window), not thousands of lines. */
function merge(vs: Violation[]): Violation[] {
  const out: Violation[] = [];
  const byKey = new Map<string, Violation>();
  for (const v of [...vs].sort((a, b) => a.from - b.from)) {
    const key = v.message;
    const prev = byKey.get(key);
    if (prev && v.from - prev.to < 2000) {
      prev.to = Math.max(prev.to, v.to);
      continue;
    }
    const copy = { ...v };
    byKey.set(key, copy);
    out.push(copy);
  }
  return out;
}
