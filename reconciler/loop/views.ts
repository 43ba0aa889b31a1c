/**
 * The node and router views of one pass: what each colour node and router looks like against the
 * desired state (spec given? ready? why not? what differs?). Computed once per reconcile by the
 * controller and handed to plan, drift and status, so the three agree on what they saw. Pure.
 */
import type { ClusterNode } from "../../specs/cluster.js";
import type { NodeObservation, Observed } from "../../specs/observed.js";
import type { NodeSpec, NodeStatus } from "../../specs/wire.js";
import type { Color } from "../../specs/types.js";
import { colorNodes, nodeSpecFor, routerNodes, type Desired } from "./desired.js";
import { sameSpec } from "../../specs/equality.js";
import { specEcho } from "../../specs/secrets.js";
import { serviceImage } from "../../specs/images.js";

/** What the observer records for a node before its first answer or failure. */
export const NOT_OBSERVED = "not observed yet";

/** Every view of one pass. */
export interface ClusterView {
  readonly routers: RouterView;
  readonly colors: Readonly<Record<Color, readonly NodeView[]>>;
}

export function viewCluster(d: Desired, o: Observed): ClusterView {
  return {
    routers: observeRouters(d, o),
    colors: {
      blue: colorNodes(d.cluster, "blue").map((n) => viewNode(d, n, o.nodes[n.name])),
      green: colorNodes(d.cluster, "green").map((n) => viewNode(d, n, o.nodes[n.name])),
    },
  };
}

/** Router observations folded into one view: which colours are live on any reachable router. */
export interface RouterView {
  /** At least one router answered. */
  readonly known: boolean;
  /** Colours live on the reachable routers (two when routers disagree, none before the first switch). */
  readonly live: ReadonlySet<Color>;
  /** The one colour all reachable routers agree is live, else null. */
  readonly consensus: Color | null;
}

export function observeRouters(d: Desired, o: Observed): RouterView {
  const live = new Set<Color>();
  let known = false;
  for (const r of routerNodes(d.cluster)) {
    const obs = o.nodes[r.name];
    if (!obs?.reachable) continue;
    known = true;
    const l = obs.status.router?.spec?.live;
    if (l) live.add(l);
  }
  return { known, live, consensus: live.size === 1 ? [...live][0]! : null };
}

/** One colour node as the planner sees it. */
export interface NodeView {
  readonly node: ClusterNode;
  readonly obs: NodeObservation | undefined;
  /** The spec it should hold (generation is the next one to send). */
  readonly want: NodeSpec;
  readonly specMatches: boolean;
  readonly ready: boolean;
  /** Why the node is not ready, in words (null when ready). */
  readonly problem: string | null;
  /** Containers that differ from an accepted spec (a candidate for healing), in words. */
  readonly drift: readonly string[];
}

/** The codes a service error about its secrets starts with. */
const SECRET_ERRORS = ["AGENT_ERR_SECRET_MISSING", "AGENT_ERR_SECRET_INSECURE", "AGENT_ERR_SECRET_INVALID"];

export function viewNode(d: Desired, node: ClusterNode, obs: NodeObservation | undefined): NodeView {
  const status = obs?.reachable ? obs.status : undefined;
  const want = forAgent(keepRestart(nodeSpecFor(d, node, (status?.observedGeneration ?? 0) + 1), status), status);
  const base = { node, obs, want };
  if (!status) {
    const why = obs && !obs.reachable ? obs.error : "not observed yet";
    return { ...base, specMatches: false, ready: false, problem: `${node.name} is unreachable: ${why}`, drift: [] };
  }
  // The agent echoes the fingerprint key's id, never the key: compare through the same echo.
  const specMatches = sameSpec(status.spec, specEcho(want, d.secretsKeyId));
  const drift: string[] = [];
  let problem: string | null = null;
  if (!specMatches) problem = `${node.name} has not been given ${describeWant(want)} yet`;
  else if (status.converging) problem = `${node.name} is still converging`;
  for (const [name, svc] of Object.entries(want.services)) {
    const s = status.services[name];
    if (want.stopped) {
      if (s && (s.state === "running" || s.state === "starting" || s.state === "unhealthy")) drift.push(`${name} on ${node.name} runs although the colour is stopped`);
      continue;
    }
    if (svc.job) continue; // job containers follow the lease, not the spec
    if (s?.state === "crashLooping") {
      // The agent restarts it on its backoff: not drift to re-send a spec for, but not ready either.
      problem ??= `${name} on ${node.name} is crash looping: ${s.error ?? "it keeps stopping"}`;
      continue;
    }
    if (s?.error && SECRET_ERRORS.some((c) => s.error!.startsWith(c))) {
      // The agent keeps what runs (a broken secret file never takes a workload down) and tries again on its
      // backoff: not drift to re-send a spec for, and not ready, since the spec's workload could not be made.
      problem ??= `${name} on ${node.name} could not be started with its secrets: ${s.error}`;
      continue;
    }
    if (!s || s.state === "missing" || s.state === "exited") {
      drift.push(`${name} on ${node.name} is ${s?.state ?? "missing"}`);
      problem ??= `${name} on ${node.name} is ${s?.state ?? "missing"}${s?.error ? `: ${s.error}` : ""}`;
    } else if (s.tag !== want.tag) {
      drift.push(`${name} on ${node.name} runs ${s.tag ?? "no tag"} instead of ${want.tag}`);
      problem ??= `${name} on ${node.name} runs ${s.tag ?? "no tag"}, not ${want.tag}`;
    } else if (pinned(want, name) !== undefined && s.digest !== undefined && s.digest !== pinned(want, name)) {
      drift.push(`${name} on ${node.name} runs ${want.tag} as ${s.digest.slice(0, 19)}, not the pinned ${pinned(want, name)!.slice(0, 19)}`);
      problem ??= `${name} on ${node.name} runs other content of ${want.tag} than the colour is pinned to`;
    } else if (s.state !== "running" || (svc.hostPort !== undefined && s.health !== "healthy")) {
      problem ??= `${name} on ${node.name} is ${s.state === "running" ? s.health : s.state}${s.error ? `: ${s.error}` : ""}`;
    }
  }
  const ready = !want.stopped && specMatches && !status.converging && problem === null;
  return { ...base, specMatches, ready, problem: want.stopped ? null : problem, drift: specMatches && !status.converging ? drift : [] };
}

function describeWant(want: NodeSpec): string {
  return want.stopped ? "its stop order" : `tag ${want.tag}`;
}

/**
 * A restart request the node already holds is kept (the highest of memory's and the node's): a reconciler
 * that lost its memory never asks for less, which would change the spec of a live colour for nothing.
 */
function keepRestart(spec: NodeSpec, status: NodeStatus | undefined): NodeSpec {
  const held = status?.spec?.restartToken;
  if (held === undefined || (spec.restartToken ?? 0) >= held) return spec;
  return { ...spec, restartToken: held };
}

/** The spec without the optional parts an older agent would refuse (it does not list them in `features`). */
function forAgent(spec: NodeSpec, status: NodeStatus | undefined): NodeSpec {
  let out = spec;
  if (!status?.features?.includes("digest")) {
    const { digest: _unsupported, ...rest } = out;
    // A service's own image stays (an older agent refuses the spec, which says so, rather than run another image).
    const services = Object.fromEntries(Object.entries(rest.services).map(([n, { digest: _d, ...svc }]) => [n, svc]));
    out = { ...rest, services };
  }
  if (!status?.features?.includes("secrets")) {
    const { secretsKey: _key, restartToken: _token, ...rest } = out;
    out = rest;
  }
  return out;
}

/** The content a service of `want` is pinned to (its own repository's, or the spec's), if any. */
function pinned(want: NodeSpec, service: string): string | undefined {
  const svc = want.services[service];
  return svc ? serviceImage(want, svc).digest : want.digest;
}
