/**
 * Builders for planner tests: a desired state from real YAML files and observed node statuses that
 * are checked against the node-status wire schema, so fixtures cannot drift from the contract.
 */
import { readFileSync } from "node:fs";
import { parseSpec } from "../../specs/load.js";
import type { Cluster } from "../../specs/cluster.js";
import type { State } from "../../specs/state.js";
import type { NodeStatus, ServiceStatus, RouterStatus } from "../../specs/wire.js";
import type { JobsLedger, NodeObservation, Observed } from "../../specs/observed.js";
import { validateAgainst } from "../../specs/validate.js";
import { nodeSpecFor, routerSpecFor, type Desired } from "../../reconciler/loop/desired.js";
import type { Color } from "../../specs/types.js";
import type { Action } from "../../reconciler/loop/actions.js";

export const NOW = 10_000_000;
export const TTL = 10_000;

export function loadCluster(path: string): Cluster {
  const r = parseSpec(path, readFileSync(path), { checkFiles: false });
  if (!r.ok) throw new Error(r.issues.map((i) => i.message).join("\n"));
  return r.spec.value as Cluster;
}

export const cluster1x1 = (): Cluster => loadCluster("examples/local/cluster.yaml");
export const cluster2x2 = (): Cluster => loadCluster("test/fixtures/cluster-2x2.yaml");

export interface StateOpts {
  active?: Color;
  blue?: string | null; // null: stopped
  green?: string | null;
  owner?: "active" | "blue" | "green" | "none";
}

export function desired(cluster: Cluster, o: StateOpts = {}): Desired {
  const color = (t: string | null | undefined, dflt: string) => (t === null ? { stopped: true } : { tag: t ?? dflt, stopped: false });
  const state = {
    apiVersion: "switchyard.dev/v1",
    kind: "State",
    spec: { active: o.active ?? "blue", colors: { blue: color(o.blue, "v1"), green: color(o.green, "v2") }, jobs: { owner: o.owner ?? "active" } },
  } as State;
  return { cluster, state };
}

/** A web container's observed state; "unprobed": running, health not known yet (before the agent's first probe). */
export type Svc = "healthy" | "unhealthy" | "unprobed" | "starting" | "exited" | "missing" | "pulling" | { tag: string };

export interface NodeOpts {
  /** Tag the agent was given (null: stopped spec; undefined: no spec at all). */
  tag?: string | null;
  gen?: number;
  converging?: boolean;
  web?: Svc;
  /** Job container state; default follows the lease. */
  worker?: "running" | "missing" | "exited";
  lease?: { epoch: number; state?: "held" | "none" | "expired" | "revoked"; remainingMs?: number; revokedThrough?: number };
  env?: Record<string, string>;
}

/** An observed colour node whose agent accepted the spec for `tag` and runs it as described. */
export function node(d: Desired, name: string, o: NodeOpts = {}): NodeObservation {
  const cn = d.cluster.spec.nodes.find((n) => n.name === name)!;
  const gen = o.gen ?? 3;
  let spec = null;
  if (o.tag !== undefined) {
    const color = cn.color as Color;
    const st = structuredClone(d.state) as State;
    st.spec.colors[color] = o.tag === null ? { stopped: true } : { tag: o.tag, stopped: false };
    const cl = structuredClone(d.cluster);
    if (o.env) for (const s of Object.values(cl.spec.services)) if (!s.job) s.env = o.env;
    spec = nodeSpecFor({ cluster: cl, state: st }, cn, gen);
  }
  const services: Record<string, ServiceStatus> = {};
  const tag = typeof o.tag === "string" ? o.tag : null;
  const web = o.web ?? (tag ? "healthy" : "missing");
  services.web = svc(web, tag);
  const held = o.lease && (o.lease.state ?? "held") === "held";
  const worker = o.worker ?? (held && tag ? "running" : "missing");
  services.worker = { tag: worker === "missing" ? null : tag, containerId: null, state: worker, health: "unknown", since: "2026-01-01T00:00:00Z", error: null };
  const status: NodeStatus = {
    kind: "NodeStatus",
    node: name,
    role: "node",
    features: ["digest"],
    observedGeneration: o.tag === undefined ? 0 : gen,
    spec,
    converging: o.converging ?? false,
    services,
    lease: { state: o.lease ? (o.lease.state ?? "held") : "none", epoch: o.lease?.epoch ?? 0, remainingMs: o.lease?.remainingMs ?? (held ? TTL - 1000 : 0), ...(o.lease?.revokedThrough !== undefined ? { revokedThrough: o.lease.revokedThrough } : {}) },
    error: null,
  };
  return checked(status);
}

function svc(s: Svc, tag: string | null): ServiceStatus {
  const base = { containerId: "c0ffee", since: "2026-01-01T00:00:00Z", error: null };
  if (typeof s === "object") return { ...base, tag: s.tag, state: "running", health: "healthy" };
  switch (s) {
    case "healthy": return { ...base, tag, state: "running", health: "healthy" };
    case "unhealthy": return { ...base, tag, state: "unhealthy", health: "unhealthy", error: "GET /healthz answered 500" };
    case "unprobed": return { ...base, tag, state: "running", health: "unknown" };
    case "starting": return { ...base, tag, state: "starting", health: "unknown" };
    case "pulling": return { ...base, tag: null, containerId: null, state: "pulling", health: "unknown" };
    case "exited": return { ...base, tag, state: "exited", health: "unknown", error: "exited with code 1" };
    case "missing": return { ...base, tag: null, containerId: null, state: "missing", health: "unknown" };
  }
}

export interface RouterOpts {
  live?: Color | null;
  /** No table at all (fresh router). */
  fresh?: boolean;
  gen?: number;
  inFlight?: Partial<Record<Color, number>>;
  /** The router's own view of upstream health. */
  upstreams?: { color: Color; node: string; health: "healthy" | "unhealthy" | "unknown" }[];
}

export function router(d: Desired, name: string, o: RouterOpts = {}): NodeObservation {
  const gen = o.gen ?? 5;
  const spec = o.fresh ? null : routerSpecFor(d, o.live ?? null, gen);
  const r: RouterStatus = {
    spec,
    inFlight: { blue: o.inFlight?.blue ?? 0, green: o.inFlight?.green ?? 0 },
    websockets: { blue: 0, green: 0 },
    tableError: null,
    ...(o.upstreams ? { upstreams: o.upstreams.map((u) => ({ ...u, service: "web" })) } : {}),
  };
  return checked({
    kind: "NodeStatus", node: name, role: "router", observedGeneration: o.fresh ? 0 : gen, spec: null,
    converging: false, services: {}, lease: { state: "none", epoch: 0, remainingMs: 0 }, router: r, error: null,
  });
}

export const down = (error = "connect ECONNREFUSED"): NodeObservation => ({ reachable: false, error });

export function ledger(o: Partial<JobsLedger> = {}): JobsLedger {
  return { epoch: 0, grants: {}, startedAtMs: NOW - 3_600_000, ...o };
}

export function world(nodes: Record<string, NodeObservation>, jobs: JobsLedger = ledger(), deploys: Observed["deploys"] = {}): Observed {
  return { nodes, jobs, deploys };
}

/** One line per action, so that planner tables read like a runbook. */
export function summarize(a: Action): string {
  switch (a.type) {
    case "applyNodeSpec":
      return a.spec.stopped ? `${a.reason} ${a.node}` : `${a.reason} ${a.node} ${a.spec.tag}`;
    case "applyRouterSpec":
      return `${a.reason} ${a.node} live=${a.spec.live ?? "none"}`;
    case "revokeLease":
      return `revoke ${a.node}`;
    case "grantLease":
      return `grant ${a.node} epoch ${a.epoch}`;
    case "renewLease":
      return `renew ${a.node} epoch ${a.epoch}`;
    case "runTask":
      return `task ${a.run.name} ${a.node} ${a.run.tag}#${a.attempt}`;
    case "refuse":
      return `refuse ${a.reason} ${a.color ?? ""}`.trim();
    case "wait":
      return `wait ${a.reason}${a.node ? ` ${a.node}` : a.color ? ` ${a.color}` : ""}`;
  }
}

function checked(status: NodeStatus): NodeObservation {
  const copy = structuredClone(status);
  const v = validateAgainst("node-status", copy);
  if (!v.ok) throw new Error("fixture is not a valid NodeStatus: " + JSON.stringify(v.issues));
  return { reachable: true, status };
}
