/**
 * The cluster's status in the Kubernetes manner: conditions with reason, message and transition time,
 * plus per-colour phases and per-node, per-service health. Built from scratch on every reconcile;
 * only the conditions' transition times carry over.
 */
import { DEPLOY_FAILURES, type Action } from "./actions.js";
import type { Observed } from "../../specs/observed.js";
import type { ClusterStatus, ColorPhase, ColorStatus, Condition, ConditionType, NodeSummary } from "../../specs/api/status.js";
import { COLORS, type Color } from "../../specs/types.js";
import { colorNodes, digestFor, routerNodes, type Desired } from "./desired.js";
import { viewCluster, type ClusterView, type NodeView } from "./views.js";
import type { DriftAlert } from "./drift.js";
import { splitListen } from "../../common/values.js";
import { VERSION } from "../../common/version.js";
import { summarizeIssues } from "../../specs/source.js";
import { taskStatuses } from "./task-status.js";

// The status document's types come from its schema, the API contract (specs/api/status.ts).
export type { ClusterStatus, ColorPhase, ColorStatus, Condition, ConditionType, NodeSummary };

/**
 * Conditions about state.yaml's git history, present only where they apply: HistoryNotRecorded when history
 * is on (True: a hand edit could not be recorded as a commit, so it does not act), HistoryNotPushed with
 * --git-remote (True: the last push failed; the reason is PushReason).
 */
export type HistoryCondition = { type: "HistoryNotRecorded" | "HistoryNotPushed"; status: "True" | "False"; reason: string; message: string };

export interface BuildInput {
  desired: Desired;
  revision: string;
  stateRevision: string;
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
  /** This pass's views (computed here when not given). */
  views?: ClusterView;
  /** The ACME certificate's state (cluster.yaml acme), from the reconciler's ACME manager. */
  acme?: ClusterStatus["acme"];
}

export function buildStatus(i: BuildInput, previous: readonly Condition[]): ClusterStatus {
  const { desired: d, observed: o, actions } = i;
  const views = i.views ?? viewCluster(d, o);
  const routers = views.routers;
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
    const colorViews = views.colors[c];
    const nodes: NodeSummary[] = colorViews.map((v) => {
      const st = v.obs?.reachable ? v.obs.status : undefined;
      const services: NodeSummary["services"] = {};
      for (const [name, s] of Object.entries(st?.services ?? {})) {
        services[name] = { state: s.state, health: s.health, tag: s.tag, ...(s.digest ? { digest: s.digest } : {}), error: s.error ?? null, since: s.since ?? "", ...(s.pull ? { pull: s.pull } : {}), ...(s.restarts ? { restarts: s.restarts } : {}), ...(s.secrets ? { secrets: s.secrets } : {}) };
      }
      return {
        name: v.node.name,
        reachable: !!st,
        error: v.obs && !v.obs.reachable ? v.obs.error : st?.error ?? null,
        generation: st?.observedGeneration ?? 0,
        converging: st?.converging ?? false,
        tag: st?.spec?.tag ?? null,
        ...(st?.version ? { version: st.version } : {}),
        ready: v.ready,
        services,
        lease: st ? { ...st.lease } : null,
      };
    });
    const failed = refusals.find((r) => DEPLOY_FAILURES.has(r.reason) && r.color === c);
    const refused = refusals.find((r) => !DEPLOY_FAILURES.has(r.reason) && r.color === c);
    let phase: ColorPhase;
    let message = "";
    if (refused) {
      phase = "Refused";
      message = refused.message;
    } else if (want.stopped) phase = "Stopped";
    else if (want.tag === undefined) phase = "Empty";
    else if (failed) {
      phase = "Failed";
      message = failed.message;
    } else if (colorViews.every((v) => v.ready)) phase = "Ready";
    else {
      const deploying = colorViews.some((v) => !v.specMatches || (v.obs?.reachable && (v.obs.status.converging || Object.values(v.obs.status.services).some((s) => s.state === "starting" || s.state === "pulling"))));
      const rec = o.deploys[c];
      const recent = rec?.tag === want.tag && i.now.getTime() - rec.startedAtMs < d.cluster.spec.deploy.timeoutSeconds * 1000;
      phase = deploying || recent ? "Deploying" : "Degraded";
      message = colorViews.map((v) => v.problem).filter((x) => x !== null).join("; ");
    }
    const digest = digestFor(d, c);
    const tasks = taskStatuses(d, o, c);
    colors[c] = { phase, tag: want.tag ?? null, ...(digest ? { digest } : {}), stopped: want.stopped, live: live === c, preview: preview === c, message, url: colorUrl(d, c, preview === c), nodes, ...(tasks ? { tasks } : {}) };
  }

  const ownerSetting = d.state.spec.jobs.owner;
  const ownerColor: Color | null = ownerSetting === "none" ? null : ownerSetting === "active" ? live : ownerSetting;
  const holders: { node: string; color: Color; epoch: number; remainingMs: number }[] = [];
  for (const c of COLORS) {
    for (const n of colors[c].nodes) if (n.lease?.state === "held") holders.push({ node: n.name, color: c, epoch: n.lease.epoch, remainingMs: n.lease.remainingMs });
  }

  const next = [...conditions(i, views, colors, refusals, waits), ...(i.history ?? [])];
  return {
    app: d.cluster.metadata.name,
    revision: i.revision,
    stateRevision: i.stateRevision,
    specErrors: i.specErrors,
    conditions: carryTransitions(next, previous, i.revision, i.now),
    active: d.state.spec.active,
    colors,
    router: { live, preview, nodes: routerObs },
    jobs: { owner: ownerSetting, ownerColor, epoch: o.jobs.epoch, holders },
    pending: [...refusals, ...waits].map((a) => ({ type: a.type, reason: a.reason, ...("node" in a && a.node ? { node: a.node } : {}), ...(a.color ? { color: a.color } : {}), message: a.message })),
    lastReconcileAt: i.now.toISOString(),
    version: VERSION,
    certificates: routerNodes(d.cluster).flatMap((r) => {
      const obs = o.nodes[r.name];
      const certs = obs?.reachable ? obs.status.router?.tls?.certificates ?? [] : [];
      return certs.map((c) => ({ router: r.name, source: c.source, hosts: [...c.hosts], issuer: c.issuer, notAfter: c.notAfter, error: c.error ?? null }));
    }),
    acme: i.acme ?? null,
  };
}

/** The names of refusals: a change Switchyard will not make (they are not drift). */
const REFUSALS = new Set(["WouldReplaceLive", "WouldStopLive", "LiveSpecChange", ...DEPLOY_FAILURES]);

/**
 * The four conditions, each with one meaning (docs/conditions.md):
 * - Ready: live traffic is served by a healthy colour (whatever else is going on).
 * - Progressing: Switchyard is working towards the desired state; says with what and how far.
 * - Degraded: something desired cannot be reached (a failed deploy, a refused change, a critical
 *   problem such as an unreachable node), counted once its alert fires.
 * - Drifted: reality differs from the desired state outside a change in progress, once its alert fires.
 * `i.drift` and `i.faults` hold only the problems whose alerts fire (past their grace period).
 */
function conditions(
  i: BuildInput,
  views: ClusterView,
  colors: Record<Color, ColorStatus>,
  refusals: readonly Extract<Action, { type: "refuse" }>[],
  waits: readonly Extract<Action, { type: "wait" }>[],
): Omit<Condition, "lastTransitionTime" | "observedRevision">[] {
  const d = i.desired;
  const cond = (type: ConditionType, status: Condition["status"], reason: string, message: string) => ({ type, status, reason, message });
  const routers = views.routers;
  const live = routers.consensus;

  let ready;
  if (!routers.known) ready = cond("Ready", "False", "RoutersUnreachable", "no router answers, so nothing can be said about live traffic");
  else if (routers.live.size > 1) ready = cond("Ready", "False", "RoutersDisagree", `routers send live traffic to ${[...routers.live].join(" and ")}`);
  else if (live === null) ready = cond("Ready", "False", "NoLiveColor", "no colour serves live traffic yet");
  else {
    const sick = views.colors[live].map(serving).filter((x) => x !== null);
    const tag = views.colors[live][0]?.obs?.reachable ? views.colors[live][0].obs.status.spec?.tag : undefined;
    ready = sick.length === 0
      ? cond("Ready", "True", "Live", `${live} serves live traffic${tag ? ` with ${tag}` : ""}`)
      : cond("Ready", "False", "LiveUnhealthy", `${live} serves live traffic but ${sick.join("; ")}`);
  }

  const failed = refusals.find((r) => DEPLOY_FAILURES.has(r.reason));
  const refused = refusals.find((r) => !DEPLOY_FAILURES.has(r.reason));
  const deploying = COLORS.find((c) => colors[c].phase === "Deploying");
  const step = waits.find((w) => w.reason !== "NodeUnreachable" && w.reason !== "RouterUnreachable");
  let progressing;
  if (deploying) {
    const tag = colors[deploying].tag;
    const rec = i.observed.deploys[deploying];
    const timeout = d.cluster.spec.deploy.timeoutSeconds;
    const elapsed = rec && rec.tag === tag ? Math.max(0, Math.floor((i.now.getTime() - rec.startedAtMs) / 1000)) : 0;
    progressing = cond("Progressing", "True", "Deploying", `deploying ${tag} to ${deploying}, ${elapsed} s of ${timeout} s`);
  } else if (step) progressing = cond("Progressing", "True", step.reason, step.message);
  else if (i.busy) progressing = cond("Progressing", "True", "Acting", "actions in progress");
  else if (failed) progressing = cond("Progressing", "False", failed.reason, failed.message);
  else if (refused) progressing = cond("Progressing", "False", refused.reason, refused.message);
  else progressing = cond("Progressing", "False", "Idle", "nothing to do");

  const problems = [...(i.faults ?? []), ...i.drift];
  const degradedBy = problems.find((a) => a.severity === "critical" || REFUSALS.has(a.name));
  const degraded = degradedBy
    ? cond("Degraded", "True", degradedBy.name, degradedBy.summary)
    : cond("Degraded", "False", "AsExpected", "everything desired can be reached");

  const driftOnly = i.drift.filter((a) => !REFUSALS.has(a.name));
  const drifted = driftOnly.length > 0
    ? cond("Drifted", "True", driftOnly[0]!.name, driftOnly.map((a) => a.summary).join("; "))
    : cond("Drifted", "False", "InSync", "reality matches the desired state");

  const specInvalid = i.specErrors.length > 0
    ? cond("SpecInvalid", "True", "InvalidFile", `${summarizeIssues(i.specErrors)} (the last valid desired state stays in force)`)
    : cond("SpecInvalid", "False", "Valid", "cluster.yaml and state.yaml are valid");
  return [ready, progressing, degraded, drifted, specInvalid];
}

/** Why a node of the live colour does not serve well (null: it does): reachable, every web service running and healthy. */
function serving(v: NodeView): string | null {
  if (!v.obs?.reachable) return `${v.node.name} is unreachable`;
  const st = v.obs.status;
  // Judged against the spec the node holds (a refused change leaves the live colour on its old one).
  if (!st.spec) return `${v.node.name} holds no spec`;
  for (const [name, svc] of Object.entries(st.spec.services)) {
    if (svc.job || svc.hostPort === undefined) continue;
    const s = st.services[name];
    if (!s || s.state !== "running" || s.health !== "healthy") return `${name} on ${v.node.name} is ${s ? (s.state === "running" ? s.health : s.state) : "missing"}`;
  }
  return null;
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

/** The status before the first pass. */
export function startingStatus(): ClusterStatus {
  return {
    app: null, revision: null, stateRevision: null, specErrors: [], active: null, colors: null, router: null, jobs: null, pending: [], lastReconcileAt: null,
    conditions: carryTransitions([{ type: "Ready", status: "Unknown", reason: "Starting", message: "the reconciler is starting" }], [], null, new Date()),
  };
}
