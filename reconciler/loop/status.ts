/**
 * The cluster's status in the Kubernetes manner: conditions with reason, message and transition time,
 * plus per-colour phases and per-node, per-service health. Built from scratch on every reconcile;
 * only the conditions' transition times carry over.
 */
import type { Action } from "./actions.js";
import type { Observed } from "../../specs/observed.js";
import type { ServiceStatus } from "../../specs/wire.js";
import { COLORS, type Color } from "../../specs/types.js";
import { colorNodes, routerNodes, type Desired } from "./desired.js";
import { observeRouters, viewNode } from "./plan.js";
import type { DriftAlert } from "./drift.js";
import { splitListen } from "../../common/values.js";
import { summarizeIssues } from "../../specs/source.js";

export type ConditionType = "Ready" | "Progressing" | "Degraded" | "Drifted" | "SpecInvalid" | "HistoryNotRecorded" | "HistoryNotPushed";

/**
 * Conditions about state.yaml's git history, present only where they apply: HistoryNotRecorded when history
 * is on (True: a hand edit could not be recorded as a commit, so it does not act), HistoryNotPushed with
 * --git-remote (True: the last push failed; the reason is PushReason).
 */
export type HistoryCondition = { type: "HistoryNotRecorded" | "HistoryNotPushed"; status: "True" | "False"; reason: string; message: string };

export interface Condition {
  type: ConditionType;
  status: "True" | "False" | "Unknown";
  reason: string;
  message: string;
  /** Desired-state revision this condition was computed for. */
  observedRevision: string | null;
  /** Changes only when `status` flips. */
  lastTransitionTime: string;
}

export type ColorPhase = "Empty" | "Stopped" | "Deploying" | "Ready" | "Degraded" | "Failed";

export interface NodeSummary {
  name: string;
  reachable: boolean;
  error: string | null;
  generation: number;
  converging: boolean;
  tag: string | null;
  ready: boolean;
  services: Record<string, Pick<ServiceStatus, "state" | "health" | "tag" | "error" | "pull" | "since">>;
  lease: { state: string; epoch: number; remainingMs: number } | null;
}

export interface ColorStatus {
  phase: ColorPhase;
  /** Desired tag (null when stopped without one). */
  tag: string | null;
  stopped: boolean;
  live: boolean;
  preview: boolean;
  message: string;
  /** Where to look at this colour through the router: its preview address when it is the preview, else its own host name. */
  url: string | null;
  nodes: NodeSummary[];
}

export interface ClusterStatus {
  app: string | null;
  revision: string | null;
  actedRevision: string | null;
  specErrors: string[];
  conditions: Condition[];
  active: Color | null;
  colors: Record<Color, ColorStatus> | null;
  router: { live: Color | null; preview: Color | null; nodes: { name: string; reachable: boolean; live: Color | null; preview: Color | null; error: string | null; inFlight: Record<Color, number> }[] } | null;
  jobs: { owner: string; ownerColor: Color | null; epoch: number; holders: { node: string; color: Color; epoch: number; remainingMs: number }[] } | null;
  pending: { type: "wait" | "refuse"; reason: string; node?: string; color?: Color; message: string }[];
  lastReconcileAt: string | null;
}

export interface BuildInput {
  desired: Desired;
  revision: string;
  actedRevision: string | null;
  observed: Observed;
  actions: readonly Action[];
  drift: readonly DriftAlert[];
  /** The reconciler's own troubles (its data dir cannot be written): Degraded before any drift. */
  faults?: readonly DriftAlert[];
  specErrors: string[];
  /** From the history (see HistoryCondition). */
  history?: readonly HistoryCondition[];
  busy: boolean;
  now: Date;
}

export function buildStatus(i: BuildInput, previous: readonly Condition[]): ClusterStatus {
  const { desired: d, observed: o, actions } = i;
  const routers = observeRouters(d, o);
  const live = routers.consensus;
  const refusals = actions.filter((a): a is Extract<Action, { type: "refuse" }> => a.type === "refuse");
  const waits = actions.filter((a): a is Extract<Action, { type: "wait" }> => a.type === "wait");
  const routerObs = routerNodes(d.cluster).map((r) => {
    const obs = o.nodes[r.name];
    const spec = obs?.reachable ? obs.status.router?.spec ?? null : null;
    return {
      name: r.name,
      reachable: !!obs?.reachable,
      live: (spec?.live ?? null) as Color | null,
      preview: (spec?.preview ?? null) as Color | null,
      error: obs && !obs.reachable ? obs.error : null,
      inFlight: obs?.reachable && obs.status.router ? { ...obs.status.router.inFlight } : { blue: 0, green: 0 },
    };
  });
  const preview = routerObs.find((r) => r.reachable)?.preview ?? null;

  const colors = {} as Record<Color, ColorStatus>;
  for (const c of COLORS) {
    const want = d.state.spec.colors[c];
    const views = colorNodes(d.cluster, c).map((n) => viewNode(d, n, o.nodes[n.name]));
    const nodes: NodeSummary[] = views.map((v) => {
      const st = v.obs?.reachable ? v.obs.status : undefined;
      const services: NodeSummary["services"] = {};
      for (const [name, s] of Object.entries(st?.services ?? {})) {
        services[name] = { state: s.state, health: s.health, tag: s.tag, error: s.error ?? null, since: s.since ?? "", ...(s.pull ? { pull: s.pull } : {}) };
      }
      return {
        name: v.node.name,
        reachable: !!st,
        error: v.obs && !v.obs.reachable ? v.obs.error : st?.error ?? null,
        generation: st?.observedGeneration ?? 0,
        converging: st?.converging ?? false,
        tag: st?.spec?.tag ?? null,
        ready: v.ready,
        services,
        lease: st ? { ...st.lease } : null,
      };
    });
    const failed = refusals.find((r) => r.reason === "DeployFailed" && r.color === c);
    let phase: ColorPhase;
    let message = "";
    if (want.stopped) phase = "Stopped";
    else if (want.tag === undefined) phase = "Empty";
    else if (failed) {
      phase = "Failed";
      message = failed.message;
    } else if (views.every((v) => v.ready)) phase = "Ready";
    else {
      const deploying = views.some((v) => !v.specMatches || (v.obs?.reachable && (v.obs.status.converging || Object.values(v.obs.status.services).some((s) => s.state === "starting" || s.state === "pulling"))));
      const rec = o.deploys[c];
      const recent = rec?.tag === want.tag && i.now.getTime() - rec.startedAtMs < d.cluster.spec.deploy.timeoutSeconds * 1000;
      phase = deploying || recent ? "Deploying" : "Degraded";
      message = views.map((v) => v.problem).filter((x) => x !== null).join("; ");
    }
    colors[c] = { phase, tag: want.tag ?? null, stopped: want.stopped, live: live === c, preview: preview === c, message, url: colorUrl(d, c, preview === c), nodes };
  }

  const ownerSetting = d.state.spec.jobs.owner;
  const ownerColor: Color | null = ownerSetting === "none" ? null : ownerSetting === "active" ? live : ownerSetting;
  const holders: { node: string; color: Color; epoch: number; remainingMs: number }[] = [];
  for (const c of COLORS) {
    for (const n of colors[c].nodes) if (n.lease?.state === "held") holders.push({ node: n.name, color: c, epoch: n.lease.epoch, remainingMs: n.lease.remainingMs });
  }

  const driftOnly = i.drift.filter((a) => !["WouldReplaceLive", "WouldStopLive", "LiveSpecChange", "DeployFailed"].includes(a.name));
  const activeReady = colors[d.state.spec.active].phase === "Ready" && live === d.state.spec.active;
  const progressing = waits.find((w) => w.reason !== "NodeUnreachable" && w.reason !== "RouterUnreachable");
  const cond = (type: ConditionType, status: Condition["status"], reason: string, message: string) => ({ type, status, reason, message });
  const critical = [...(i.faults ?? []), ...i.drift].find((a) => a.severity === "critical");
  const next = [
    cond("Ready", activeReady && refusals.length === 0 ? "True" : "False",
      activeReady && refusals.length === 0 ? "Live" : refusals[0]?.reason ?? waits[0]?.reason ?? (activeReady ? "Live" : "NotReady"),
      activeReady && refusals.length === 0 ? `${d.state.spec.active} serves live traffic with ${d.state.spec.colors[d.state.spec.active].tag}` : refusals[0]?.message ?? waits[0]?.message ?? `${d.state.spec.active} is not live yet`),
    cond("Progressing", progressing || i.busy ? "True" : "False", progressing?.reason ?? (i.busy ? "Acting" : "Idle"), progressing?.message ?? (i.busy ? "actions in progress" : "nothing to do")),
    cond("Degraded", critical || refusals.some((r) => r.reason === "DeployFailed") ? "True" : "False",
      critical?.name ?? (refusals.some((r) => r.reason === "DeployFailed") ? "DeployFailed" : "AsExpected"),
      critical?.summary ?? refusals.find((r) => r.reason === "DeployFailed")?.message ?? "no critical problem"),
    cond("Drifted", driftOnly.length > 0 ? "True" : "False", driftOnly[0]?.name ?? "InSync", driftOnly.length > 0 ? driftOnly.map((a) => a.summary).join("; ") : "reality matches the desired state"),
    cond("SpecInvalid", i.specErrors.length > 0 ? "True" : "False", i.specErrors.length > 0 ? "InvalidFile" : "Valid",
      i.specErrors.length > 0 ? `${summarizeIssues(i.specErrors)} (the last valid desired state stays in force)` : "cluster.yaml and state.yaml are valid"),
    ...(i.history ?? []),
  ];
  return {
    app: d.cluster.metadata.name,
    revision: i.revision,
    actedRevision: i.actedRevision,
    specErrors: i.specErrors,
    conditions: carryTransitions(next, previous, i.revision, i.now),
    active: d.state.spec.active,
    colors,
    router: { live, preview, nodes: routerObs },
    jobs: { owner: ownerSetting, ownerColor, epoch: o.jobs.epoch, holders },
    pending: [...refusals, ...waits].map((a) => ({ type: a.type, reason: a.reason, ...("node" in a && a.node ? { node: a.node } : {}), ...(a.color ? { color: a.color } : {}), message: a.message })),
    lastReconcileAt: i.now.toISOString(),
  };
}

function colorUrl(d: Desired, c: Color, isPreview: boolean): string | null {
  const r = d.cluster.spec.router;
  const host = (isPreview ? r.hosts.preview[0] : undefined) ?? r.hosts[c][0];
  if (!host) return null;
  const port = splitListen(r.listen)[1];
  return `http://${host}${port === 80 || host.includes(":") ? "" : `:${port}`}/`;
}

/** lastTransitionTime changes only when a condition's status flips. */
export function carryTransitions(
  next: Omit<Condition, "lastTransitionTime" | "observedRevision">[],
  previous: readonly Condition[],
  revision: string | null,
  now: Date,
): Condition[] {
  return next.map((c) => {
    const prev = previous.find((p) => p.type === c.type);
    return { ...c, observedRevision: revision, lastTransitionTime: prev && prev.status === c.status ? prev.lastTransitionTime : now.toISOString() };
  });
}
