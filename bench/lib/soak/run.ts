/**
 * The chaos soak, one engine for `npm run soak` and the seeded soak in `npm test`: starts the cluster,
 * puts load through both routers, runs the seeded schedule of faults and desired-state changes for the
 * given time, lets the cluster settle, tears everything down, and checks the recorded history.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { portFree } from "../../../cli/demo/ports.js";
import { findProcs } from "../../../test/support/procs.js";
import { percentile } from "../stats.js";
import { BAD_TAGS, GOOD_TAGS, SoakCluster } from "./cluster.js";
import { checkHistory, INVARIANTS, type Violation } from "./checker.js";
import { Driver } from "./driver.js";
import type { History } from "./history.js";
import { LoadGenerator, NodeProber } from "./load.js";
import { describeModel, other, ownerColor, type DesiredModel } from "./model.js";
import { leftoverNetns } from "./netns.js";
import { Prng } from "./prng.js";
import type { EngineContainer } from "./engine.js";
import { drawFault } from "./schedule.js";

export interface SoakOptions {
  seed: number;
  durationMs: number;
  perColor?: number;
  /** One Docker-runtime agent per colour besides (default true): the registry and engine faults need them. */
  docker?: boolean;
  log?: (line: string) => void;
}

export interface SoakResult {
  history: History;
  violations: Violation[];
  summary: string[];
  dir: string;
}

/** After a fault heals, the desired state must be reached within this (the lease handoff alone can take TTL + margin). */
const RECOVERY_BOUND_MS = 60_000;
const FINAL_BOUND_MS = 120_000;
/** After the cluster settled at the end: no alert may fire in this stretch. */
const QUIET_MS = 10_000;
/**
 * The share of steps that are faults (the rest: a change alone, then a settle). Faults bring changes of their
 * own, so 0.7 gives about as many changes as faults: 30 minutes at 0.6 gave 184 faults and 299 changes.
 */
const FAULT_SHARE = 0.7;

export async function runSoak(o: SoakOptions): Promise<SoakResult> {
  const log = o.log ?? ((l: string) => console.log(l));
  const perColor = o.perColor ?? 2;
  const docker = o.docker ?? true;
  const tag = `sk${randomBytes(3).toString("hex")}`;
  const initial: DesiredModel = { active: "blue", tags: { blue: "v1", green: "v2" }, stopped: { blue: false, green: false }, owner: "active" };
  const cluster = new SoakCluster({ tag, perColor, docker, leaseTtlSeconds: 3, deployTimeoutSeconds: 20, alertGraceSeconds: 2, disks: ["reconciler", `${tag}-green-${perColor}`] });
  const h: History = { seed: o.seed, start: Date.now(), end: 0, requests: [], faults: [], changes: [], samples: [], probes: [], alerts: cluster.alerts, deliveries: [], duplicates: 0, final: null, leftovers: [], causeSlackMs: 30_000, quietFrom: null };
  const prng = new Prng(o.seed);
  let load: LoadGenerator | undefined;
  let prober: NodeProber | undefined;
  let driver: Driver | undefined;
  try {
    await cluster.start(initial);
    driver = new Driver(cluster, prng, h, initial, { perColor: cluster.nodesPerColor, recoveryBoundMs: RECOVERY_BOUND_MS, log });
    driver.startSampling();
    const first = await driver.settle(Date.now(), FINAL_BOUND_MS);
    if (first.ms === null) throw new Error(`the soak cluster did not come up: ${first.why}`);
    log(`cluster up in ${first.ms} ms: ${perColor} process agents${docker ? " and 1 Docker agent" : ""} per colour, 2 routers, the reconciler; ${cluster.dir}`);
    prober = new NodeProber(cluster.appNodes.map((n) => ({ name: n.name, color: n.color!, addr: `${cluster.publishIp}:${n.webPort}` })));
    load = new LoadGenerator(Object.fromEntries(cluster.routers.map((r) => [r.name, `${r.apiHost}:${cluster.routerPort}`])));
    h.start = Date.now();
    const targets = { appNodes: cluster.appNodes.map((n) => n.name), routers: cluster.routers.map((n) => n.name), disks: ["reconciler", `${tag}-green-${perColor}`], crashLoop: true, docker };
    while (Date.now() - h.start < o.durationMs) {
      if (prng.next() < FAULT_SHARE) {
        await driver.fault(drawFault(prng, targets));
      } else {
        await driver.change();
        const rec = h.changes.at(-1)!;
        const r = await driver.settle(Date.now());
        rec.reachedMs = r.ms;
        if (r.ms === null) rec.notReachedWhy = r.why;
      }
    }
    // The faults stop: a good release on every colour that runs a bad one, then everything must settle.
    const idle = other(driver.model.active);
    if (!(GOOD_TAGS as readonly string[]).includes(driver.model.tags[idle])) {
      await driver.apply({ kind: "deploy", next: { ...structuredClone(driver.model), tags: { ...driver.model.tags, [idle]: GOOD_TAGS[0] } }, detail: `${GOOD_TAGS[0]} to ${idle} (final)` });
    }
    const from = Date.now();
    const fin = await driver.settle(from, FINAL_BOUND_MS);
    h.final = { from, reachedAt: fin.ms === null ? null : from + fin.ms, boundMs: FINAL_BOUND_MS, desired: driver.model };
    log(`final: ${describeModel(driver.model)}: ${fin.ms === null ? `NOT reached: ${fin.why}` : `reached in ${fin.ms} ms`}`);
    await waitAlertsResolved(h, 30_000);
    h.quietFrom = Date.now();
    await new Promise((r) => setTimeout(r, QUIET_MS));
    h.leftovers.push(...strayWorkloads(tag, cluster.appNodes.filter((n) => n.runtime !== "docker").map((n) => ({ name: n.name, color: n.color! })), driver.model));
    if (cluster.engine) h.leftovers.push(...strayContainers(await cluster.engine.running(tag), cluster.appNodes.filter((n) => n.runtime === "docker").map((n) => ({ name: n.name, color: n.color! })), driver.model));
  } finally {
    driver?.stopSampling();
    await load?.stop();
    h.requests = load?.records ?? [];
    prober?.stop();
    h.probes = prober?.probes ?? [];
    const records = await fetch(cluster.storeUrl + "/records").then((r) => r.json() as Promise<{ delivered: History["deliveries"]; duplicates: number }>, () => null);
    if (records) {
      h.deliveries = records.delivered;
      h.duplicates = records.duplicates;
    }
    h.end = Date.now();
    await cluster.stopAll();
    for (const p of findProcs((e) => e.SWITCHYARD_APP === tag)) h.leftovers.push(`process ${p.pid} (${p.env.SWITCHYARD_NODE} ${p.env.SWITCHYARD_SERVICE})`);
    for (const p of cluster.ports()) if (!(await portFree(p.host, p.port))) h.leftovers.push(`port ${p.host}:${p.port} (${p.what}) still in use`);
    cluster.teardown();
    h.leftovers.push(...leftoverNetns(tag).map((n) => `network namespace or link ${n}`));
    h.leftovers.push(...(cluster.engine?.leftovers() ?? []));
    h.leftovers.push(...readFileSync("/proc/mounts", "utf8").split("\n").filter((l) => l.includes(cluster.dir)).map((l) => `mount ${l.split(" ")[1]}`));
  }
  // Written before the check, so a check that fails or is interrupted still leaves the history to read.
  writeFileSync(join(cluster.dir, "history.json"), JSON.stringify(h));
  const violations = checkHistory(h, { badTags: BAD_TAGS, readyLookbackMs: 30_000, probeSlackMs: 1000 });
  if (violations.length === 0) cluster.removeFiles();
  return { history: h, violations, summary: summarize(h, driver, violations, cluster.dir), dir: cluster.dir };
}

async function waitAlertsResolved(h: History, boundMs: number): Promise<void> {
  const deadline = Date.now() + boundMs;
  const firing = () => {
    const last = new Map<string, string>();
    for (const a of h.alerts) last.set(a.fingerprint, a.state);
    return [...last.values()].some((s) => s === "firing");
  };
  while (firing() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 250));
}

/** Workloads on the machine that the desired state does not explain: one web per running node, a worker only on the owner's. */
function strayWorkloads(tag: string, nodes: { name: string; color: "blue" | "green" }[], m: DesiredModel): string[] {
  const out: string[] = [];
  const leaders = findProcs((e) => e.SWITCHYARD_APP === tag).filter((p) => pgrp(p.pid) === p.pid);
  for (const n of nodes) {
    const mine = leaders.filter((p) => p.env.SWITCHYARD_NODE === n.name);
    const web = mine.filter((p) => p.env.SWITCHYARD_SERVICE === "web");
    const workers = mine.filter((p) => p.env.SWITCHYARD_SERVICE === "worker");
    const wantWeb = m.stopped[n.color] ? 0 : 1;
    const wantWorkers = ownerColor(m) === n.color ? 1 : 0;
    if (web.length !== wantWeb || web.some((p) => p.env.SWITCHYARD_TAG !== m.tags[n.color])) out.push(`${n.name}: web processes ${web.map((p) => `${p.pid}:${p.env.SWITCHYARD_TAG}`).join(", ") || "none"}, expected ${wantWeb ? m.tags[n.color] : "none"}`);
    if (workers.length !== wantWorkers) out.push(`${n.name}: ${workers.length} worker processes, expected ${wantWorkers}`);
  }
  return out;
}

/** The same for the Docker nodes, by the containers running on the soak's engine. */
function strayContainers(running: readonly EngineContainer[], nodes: { name: string; color: "blue" | "green" }[], m: DesiredModel): string[] {
  const out: string[] = [];
  for (const n of nodes) {
    const web = running.filter((c) => c.node === n.name && c.service === "web");
    const workers = running.filter((c) => c.node === n.name && c.service === "worker");
    const wantWeb = m.stopped[n.color] ? 0 : 1;
    const wantWorkers = ownerColor(m) === n.color ? 1 : 0;
    if (web.length !== wantWeb || web.some((c) => c.tag !== m.tags[n.color])) out.push(`${n.name}: web containers ${web.map((c) => c.tag).join(", ") || "none"}, expected ${wantWeb ? m.tags[n.color] : "none"}`);
    if (workers.length !== wantWorkers) out.push(`${n.name}: ${workers.length} worker containers, expected ${wantWorkers}`);
  }
  return out;
}

function pgrp(pid: number): number {
  try {
    const raw = readFileSync(`/proc/${pid}/stat`, "utf8");
    return Number(raw.slice(raw.lastIndexOf(")") + 2).split(" ")[2]);
  } catch {
    return -1;
  }
}

function summarize(h: History, d: Driver | undefined, vs: readonly Violation[], dir: string): string[] {
  const count = <T>(xs: readonly T[], key: (x: T) => string) => {
    const m = new Map<string, number>();
    for (const x of xs) m.set(key(x), (m.get(key(x)) ?? 0) + 1);
    return [...m].sort((a, b) => b[1] - a[1]).map(([k, n]) => `${k} ${n}`).join(", ");
  };
  const rec = h.faults.map((f) => f.recoveryMs).filter((x): x is number => typeof x === "number");
  const worst = h.faults.reduce<(typeof h.faults)[number] | null>((w, f) => ((f.recoveryMs ?? 0) > (w?.recoveryMs ?? -1) ? f : w), null);
  const failed = h.requests.filter((r) => r.status !== 200).length;
  const lines = [
    `seed ${h.seed}: ${((h.end - h.start) / 60_000).toFixed(1)} min, ${h.faults.length} faults, ${h.changes.length} desired-state changes`,
    `faults: ${count(h.faults, (f) => f.kind) || "none"}`,
    `changes: ${count(h.changes, (c) => c.kind) || "none"}`,
    `recovery after a fault: p50 ${percentile(rec, 50) || 0} ms, p99 ${percentile(rec, 99) || 0} ms, worst ${worst?.recoveryMs ?? 0} ms (${worst ? `${worst.kind} ${worst.target} ${worst.detail}` : "-"})`,
    `requests: ${h.requests.length} through ${new Set(h.requests.map((r) => r.router)).size} routers, ${failed} not 200${failed ? ` (${count(h.requests.filter((r) => r.status !== 200), (r) => `${r.status || "no answer"}${r.color ? ` from ${r.color}` : ""}`)})` : ""}; job deliveries ${h.deliveries.length} over epochs ${[...new Set(h.deliveries.map((x) => x.epoch))].length} from ${new Set(h.deliveries.map((x) => x.node)).size} nodes; alerts fired ${h.alerts.filter((a) => a.state === "firing").length}`,
    ...(d?.crashLoopSpecsPerMinute.length ? [`crash-loop: the reconciler sent ${d.crashLoopSpecsPerMinute.map((x) => x.toFixed(0)).join(", ")} specs/min per crash-looping node`] : []),
    `invariants checked: ${Object.keys(INVARIANTS).join(", ")}`,
    vs.length === 0 ? "all invariants held" : `${vs.length} violations (files kept in ${dir})`,
  ];
  return lines;
}
