/**
 * The planner: plan(desired, observed, now) → the ordered actions that are safe to perform now.
 *
 * Pure: no I/O, no clock, no randomness — only its arguments. It re-derives everything from scratch
 * each time (level-triggered), so a restarted reconciler resumes from observation, not from memory.
 * Action order: refusals, lease revocations (break before make), node specs, router tables, lease
 * grants and renewals, then what the plan waits for.
 */
import type { Action, NodeSpecReason, RefuseReason } from "./actions.js";
import { TAG_MISSING_CODE } from "../../specs/errors.js";
import type { NodeObservation, Observed } from "../../specs/observed.js";
import type { NodeSpec, NodeStatus } from "../../specs/wire.js";
import { COLORS, otherColor, type Color } from "../../specs/types.js";
import { LEASE_RENEW_FRACTION, LEASE_SAFETY_MARGIN_MS } from "../../specs/defaults.js";
import { colorNodes, routerNodes, routerSpecFor, type Desired } from "./desired.js";
import { viewCluster, type ClusterView, type NodeView, type RouterView } from "./views.js";
import { sameSpec } from "../../specs/equality.js";
import { specEcho } from "../../specs/secrets.js";
import { serviceImage } from "../../specs/images.js";
import { taskGate, type TaskGate } from "./plan-tasks.js";

export function plan(desired: Desired, observed: Observed, nowMs: number, views: ClusterView = viewCluster(desired, observed)): Action[] {
  const p = new Planner(desired, observed, nowMs, views);
  p.planColors();
  p.planTasks();
  p.planRouters();
  p.planJobs();
  return [...p.refusals, ...p.revokes, ...p.nodeSpecs, ...p.tasks, ...p.routerSpecs, ...p.leases, ...p.waits];
}

class Planner {
  readonly refusals: Action[] = [];
  readonly revokes: Action[] = [];
  readonly nodeSpecs: Action[] = [];
  readonly routerSpecs: Action[] = [];
  readonly leases: Action[] = [];
  readonly tasks: Action[] = [];
  readonly waits: Action[] = [];
  private readonly gates = new Map<Color, TaskGate>();
  private readonly routers: RouterView;
  private readonly views: Readonly<Record<Color, readonly NodeView[]>>;
  private readonly failed = new Set<Color>();

  constructor(private readonly d: Desired, private readonly o: Observed, private readonly now: number, views: ClusterView) {
    this.routers = views.routers;
    this.views = views.colors;
  }

  /** Colours that may be serving live traffic: all of them while no router can be asked. */
  private isProtected(c: Color): boolean {
    return !this.routers.known || this.routers.live.has(c);
  }

  private isReady(c: Color): boolean {
    return !this.d.state.spec.colors[c].stopped && this.views[c].every((v) => v.ready);
  }

  planColors(): void {
    const policy = this.d.cluster.spec.drift.policy;
    for (const c of COLORS) {
      this.checkTagMissing(c);
      this.checkDeployTimeout(c);
      for (const v of this.views[c]) {
        const status = v.obs?.reachable ? v.obs.status : undefined;
        if (!status) {
          this.waits.push({ type: "wait", reason: "NodeUnreachable", node: v.node.name, color: c, message: v.problem! });
          continue;
        }
        if (v.specMatches) {
          if (v.drift.length > 0 && policy === "heal" && !this.failed.has(c)) {
            this.nodeSpecs.push({ type: "applyNodeSpec", node: v.node.name, color: c, reason: "heal", spec: v.want });
          }
          continue;
        }
        if (this.isProtected(c)) {
          this.planLiveChange(c, v, status.spec ?? null);
          continue;
        }
        const draining = this.inFlight(c);
        if (draining > 0) {
          this.waits.push({ type: "wait", reason: "Draining", node: v.node.name, color: c, message: `${c} still serves ${draining} request(s) or connection(s); ${v.node.name} changes once they finish` });
          continue;
        }
        this.nodeSpecs.push({ type: "applyNodeSpec", node: v.node.name, color: c, reason: specReason(status.spec ?? null, v.want), spec: v.want });
      }
    }
  }

  /** Pre-promotion tasks (plan-tasks.ts): run them on a ready colour that does not serve yet; a failure is TaskFailed. */
  planTasks(): void {
    for (const c of COLORS) {
      const gate = taskGate(this.d, this.o, c, this.views[c], this.isProtected(c), this.isReady(c) && !this.failed.has(c));
      this.gates.set(c, gate);
      for (const a of gate.actions) (a.type === "wait" ? this.waits : this.tasks).push(a);
      if (gate.failed !== undefined) {
        this.failed.add(c);
        this.refuse("TaskFailed", c, gate.failed);
      }
    }
  }

  /** Every task succeeded for the colour's tag (or it needs none, or it already serves). */
  private tasksDone(c: Color): boolean {
    return this.gates.get(c)?.done ?? true;
  }

  /** A spec change on a colour that may be serving live traffic: heal in place, wait for the switch, or refuse. */
  private planLiveChange(c: Color, v: NodeView, current: NodeSpec | null): void {
    const want = v.want;
    const status = v.obs?.reachable ? v.obs.status : undefined;
    const runningTags = new Set(Object.values(status?.services ?? {}).map((s) => s.tag).filter((t) => t !== null));
    const switchingAway = this.d.state.spec.active !== c;
    if (!this.routers.known) {
      this.waits.push({ type: "wait", reason: "RouterUnreachable", node: v.node.name, color: c, message: `no router answers, so ${c} may be live; ${v.node.name} is left as it is` });
      return;
    }
    if (current && onlyKeyChanges(current, want, this.d.secretsKeyId)) {
      // The fingerprint key joins (or changes): it re-creates nothing, it only keys fingerprints from now on.
      this.nodeSpecs.push({ type: "applyNodeSpec", node: v.node.name, color: c, reason: "update", spec: want });
      return;
    }
    if (current && onlyPinsWhatRuns(current, want, status, this.d.secretsKeyId)) {
      // The digest joins (or leaves) the spec of content the node already runs: no container changes.
      this.nodeSpecs.push({ type: "applyNodeSpec", node: v.node.name, color: c, reason: "update", spec: want });
      return;
    }
    if (current === null && !want.stopped && [...runningTags].every((t) => t === want.tag)) {
      // The agent lost its spec but runs (or ran) the desired tag: giving it back is healing, not a deploy.
      this.nodeSpecs.push({ type: "applyNodeSpec", node: v.node.name, color: c, reason: "heal", spec: want });
      return;
    }
    if (switchingAway) {
      this.waits.push({ type: "wait", reason: "SwitchFirst", node: v.node.name, color: c, message: `${c} is live; ${v.node.name} changes after traffic has switched to ${otherColor(c)}` });
      return;
    }
    if (want.stopped) {
      this.refuse("WouldStopLive", c, `${c} is live and cannot be stopped; make ${otherColor(c)} active first`);
    } else if (current?.tag !== want.tag) {
      this.refuse("WouldReplaceLive", c, `${c} is live and runs ${current?.tag ?? "an unknown tag"}; ${want.tag} would replace it under live traffic. Deploy ${want.tag} to ${otherColor(c)} and make it active instead`);
    } else {
      this.refuse("LiveSpecChange", c, `${c} is live; its changed service settings apply on its next deploy. Deploy to ${otherColor(c)} and switch to roll them out`);
    }
  }

  private refuse(reason: RefuseReason, color: Color, message: string): void {
    if (!this.refusals.some((a) => a.type === "refuse" && a.reason === reason && a.color === color)) {
      this.refusals.push({ type: "refuse", reason, color, message });
    }
  }

  /**
   * A node that was given the colour's tag says it does not exist there (no such tag in the registry, no such
   * release): the deploy cannot finish, so it fails now rather than after the deploy timeout, naming the nodes.
   */
  private checkTagMissing(c: Color): void {
    const want = this.d.state.spec.colors[c];
    if (want.stopped || want.tag === undefined) return;
    const lacking: string[] = [];
    let why = "";
    for (const v of this.views[c]) {
      const st = v.obs?.reachable ? v.obs.status : undefined;
      if (!st || st.spec?.tag !== want.tag) continue;
      const err = Object.values(st.services).map((s) => s.error).find((e) => e?.startsWith(TAG_MISSING_CODE) && e.includes(` ${want.tag} `));
      if (err) {
        lacking.push(v.node.name);
        why ||= err.slice(TAG_MISSING_CODE.length).replace(/^:\s*/, "");
      }
    }
    if (lacking.length === 0) return;
    this.failed.add(c);
    this.refuse("TagMissing", c, `${want.tag} is missing on ${lacking.join(", ")} (${why}). Live traffic was not touched; push or copy ${want.tag} there, or deploy another tag`);
  }

  private checkDeployTimeout(c: Color): void {
    const want = this.d.state.spec.colors[c];
    const rec = this.o.deploys[c];
    if (want.stopped || !rec || rec.tag !== want.tag || this.isReady(c) || this.failed.has(c)) return;
    const timeoutMs = this.d.cluster.spec.deploy.timeoutSeconds * 1000;
    if (this.now - rec.startedAtMs < timeoutMs) return;
    const why = this.views[c].map((v) => v.problem).filter((x) => x !== null).join("; ");
    this.failed.add(c);
    this.refuse("DeployFailed", c, `${c} did not become ready with ${want.tag} within ${timeoutMs / 1000}s: ${why}. Live traffic was not touched; deploy another tag or fix the app`);
  }

  private inFlight(c: Color): number {
    let n = 0;
    for (const r of routerNodes(this.d.cluster)) {
      const obs = this.o.nodes[r.name];
      if (obs?.reachable && obs.status.router) n += obs.status.router.inFlight[c] + obs.status.router.websockets[c];
    }
    return n;
  }

  planRouters(): void {
    const active = this.d.state.spec.active;
    const { known, consensus, live } = this.routers;
    if (!known) {
      this.waits.push({ type: "wait", reason: "RouterUnreachable", message: "no router answers; traffic keeps flowing to the colour the routers last knew" });
      return;
    }
    let target: Color | null;
    const routerDoubt = this.routerDoubt(active);
    if (consensus === active || (this.isReady(active) && !this.failed.has(active) && routerDoubt === null && this.tasksDone(active))) target = active;
    else if (live.size === 2) return; // routers disagree and the active colour is not ready: leave them until it is
    else target = consensus;
    if (target !== active && !this.failed.has(active) && this.isReady(active) && routerDoubt === null && !this.tasksDone(active)) {
      // The plan's TaskRunning or TasksPending wait already says what it waits for.
    } else if (target !== active && !this.failed.has(active)) {
      const why = this.views[active].map((v) => v.problem).filter((x) => x !== null);
      if (why.length === 0 && routerDoubt) why.push(routerDoubt);
      this.waits.push({ type: "wait", reason: "WaitingForHealth", color: active, message: `traffic switches to ${active} once it is ready: ${why.join("; ") || "not ready"}` });
    }
    for (const r of routerNodes(this.d.cluster)) {
      const obs = this.o.nodes[r.name];
      if (!obs?.reachable) {
        this.waits.push({ type: "wait", reason: "NodeUnreachable", node: r.name, message: `router ${r.name} is unreachable: ${obs ? (obs as { error: string }).error : "not observed yet"}` });
        continue;
      }
      const current = obs.status.router?.spec ?? null;
      const want = routerSpecFor(this.d, target, obs.status.observedGeneration + 1);
      if (sameSpec(current, want)) continue;
      this.routerSpecs.push({ type: "applyRouterSpec", node: r.name, reason: (current?.live ?? null) !== target ? "switch" : "update", spec: want });
    }
  }

  /** Why a router would not yet send traffic to `c` (its own health checks disagree), or null. */
  private routerDoubt(c: Color): string | null {
    for (const r of routerNodes(this.d.cluster)) {
      const obs = this.o.nodes[r.name];
      if (!obs?.reachable) continue;
      const bad = (obs.status.router?.upstreams ?? []).filter((u) => u.color === c && u.health === "unhealthy");
      if (bad.length > 0) return `router ${r.name} does not see ${bad.map((u) => `${u.service} on ${u.node}`).join(", ")} healthy yet`;
    }
    return null;
  }

  planJobs(): void {
    const ttlMs = this.d.cluster.spec.jobs.leaseTtlSeconds * 1000;
    let owner = this.resolveOwner();
    if (owner !== null && owner !== "hold" && !this.tasksDone(owner)) {
      // A tag's jobs start only after its tasks succeeded: nobody runs them meanwhile (break before make).
      this.waits.push({ type: "wait", reason: "TasksPending", color: owner, message: `${owner}'s jobs start once its tasks succeeded` });
      owner = null;
    }
    if (owner === "hold") {
      this.renewHolders(ttlMs);
      return;
    }
    const ledger = this.o.jobs;
    let blocked = false;
    let maxSeen = ledger.epoch;
    for (const c of COLORS) {
      for (const v of this.views[c]) {
        const name = v.node.name;
        const obs = v.obs;
        if (obs?.reachable) {
          maxSeen = Math.max(maxSeen, obs.status.lease.epoch);
          if (c !== owner && holdsJobs(obs)) {
            this.revokes.push({ type: "revokeLease", node: name });
            this.waits.push({ type: "wait", reason: "LeaseRevocation", node: name, color: c, message: `${name} must confirm its jobs stopped before anyone else runs them` });
            blocked = true;
          }
        } else if (c !== owner) {
          const until = this.mayHoldUntil(name, ttlMs);
          if (this.now < until) {
            this.waits.push({ type: "wait", reason: "LeaseExpiry", node: name, color: c, untilMs: until, message: `${name} is unreachable and may still run jobs until its lease expires` });
            blocked = true;
          }
        }
      }
    }
    if (owner === null) return;
    const owners = this.views[owner].filter((v) => v.obs?.reachable);
    const holding = owners.filter((v) => heldEpoch(v.obs) === ledger.epoch && ledger.epoch > 0 && ledger.epoch >= maxSeen);
    if (blocked) {
      // Break before make: nothing new is granted; current holders of the owner colour keep their lease.
      for (const v of holding) this.renew(v.node.name, ledger.epoch, ttlMs, v.obs);
      return;
    }
    // A node that revoked the ledger's epoch refuses it for good: then the whole colour moves to a new one.
    const stale = owners.some((v) => heldEpoch(v.obs) !== ledger.epoch && revokedThrough(v.obs) >= ledger.epoch);
    const epoch = holding.length > 0 && !stale ? ledger.epoch : maxSeen + 1;
    for (const v of owners) {
      if (heldEpoch(v.obs) === epoch) this.renew(v.node.name, epoch, ttlMs, v.obs);
      else this.leases.push({ type: "grantLease", node: v.node.name, epoch, ttlMs });
    }
  }

  /** The colour that should run jobs; "hold" when it cannot be known (no router answers). */
  private resolveOwner(): Color | null | "hold" {
    const { owner } = this.d.state.spec.jobs;
    if (owner === "none") return null;
    if (owner === "active") {
      if (!this.routers.known || this.routers.live.size === 2) return "hold";
      return this.routers.consensus;
    }
    return this.d.state.spec.colors[owner].stopped ? null : owner;
  }

  private renewHolders(ttlMs: number): void {
    for (const c of COLORS) {
      for (const v of this.views[c]) {
        const e = heldEpoch(v.obs);
        if (e !== null && e === this.o.jobs.epoch) this.renew(v.node.name, e, ttlMs, v.obs);
      }
    }
  }

  private renew(node: string, epoch: number, ttlMs: number, obs: NodeObservation | undefined): void {
    const rec = this.o.jobs.grants[node];
    const remaining = obs?.reachable ? obs.status.lease.remainingMs : 0;
    const due = !rec || rec.epoch !== epoch || this.now - rec.sentAtMs >= ttlMs * LEASE_RENEW_FRACTION || remaining <= ttlMs * (1 - LEASE_RENEW_FRACTION);
    if (due) this.leases.push({ type: "renewLease", node, epoch, ttlMs });
  }

  /**
   * Until when an unreachable node may still run jobs: last grant sent + TTL, then the agent's own stop of
   * its job containers (SIGTERM, up to the longest job stopTimeoutSeconds, then SIGKILL), then the margin.
   */
  private mayHoldUntil(node: string, ttlMs: number): number {
    const rec = this.o.jobs.grants[node];
    const from = rec ? rec.sentAtMs + rec.ttlMs : this.o.jobs.startedAtMs + ttlMs;
    return from + longestJobStopMs(this.d) + LEASE_SAFETY_MARGIN_MS;
  }
}

/** The longest stopTimeoutSeconds of the app's job services, in ms (0 without jobs). */
export function longestJobStopMs(d: Desired): number {
  return Math.max(0, ...Object.values(d.cluster.spec.services).filter((s) => s.job).map((s) => s.stopTimeoutSeconds * 1000));
}

/** A node holds jobs while its lease is held or any job container still runs. */
function holdsJobs(obs: NodeObservation & { reachable: true }): boolean {
  if (obs.status.lease.state === "held") return true;
  const spec = obs.status.spec;
  return Object.entries(obs.status.services).some(
    ([name, s]) => spec?.services[name]?.job === true && (s.state === "running" || s.state === "starting" || s.state === "stopping" || s.state === "unhealthy"),
  );
}

/** The epoch up to which a node refuses grants (older agents do not say: a revoked lease refuses its own epoch). */
function revokedThrough(obs: NodeObservation | undefined): number {
  if (!obs?.reachable) return 0;
  const l = obs.status.lease;
  return l.revokedThrough ?? (l.state === "revoked" ? l.epoch : 0);
}

function heldEpoch(obs: NodeObservation | undefined): number | null {
  return obs?.reachable && obs.status.lease.state === "held" ? obs.status.lease.epoch : null;
}

/** True when `want` differs from the echoed `current` only in its secrets' fingerprint key. */
function onlyKeyChanges(current: NodeSpec, want: NodeSpec, keyId: string | undefined): boolean {
  const echo = specEcho(want, keyId);
  return current.secretsKeyId !== echo.secretsKeyId && sameSpec({ ...current, secretsKeyId: undefined }, { ...echo, secretsKeyId: undefined });
}

function specReason(current: NodeSpec | null, want: NodeSpec): NodeSpecReason {
  if (want.stopped) return "stop";
  if (current?.stopped) return "start";
  if (!current || current.tag !== want.tag) return "deploy";
  return "update";
}

/**
 * True when `want` differs from `current` only in its digest and the node's web services already run that
 * content (or the digest goes): sending it replaces nothing, even on a live colour.
 */
function onlyPinsWhatRuns(current: NodeSpec, want: NodeSpec, status: NodeStatus | undefined, keyId: string | undefined): boolean {
  if (sameSpec(current, specEcho(want, keyId)) || !sameSpec(withPinsOf(current, want), specEcho(want, keyId))) return false;
  // Every web service whose pin joins or changes already runs that content (a pin that goes changes nothing).
  const web = Object.entries(want.services).filter(([, s]) => !s.job);
  const changed = web.filter(([n, s]) => {
    const was = current.services[n];
    return serviceImage(want, s).digest !== undefined && (!was || serviceImage(current, was).digest !== serviceImage(want, s).digest);
  });
  if (changed.length === 0) return true;
  return web.length > 0 && changed.every(([n, s]) => {
    const st = status?.services[n];
    return st !== undefined && st.tag === want.tag && st.digest === serviceImage(want, s).digest;
  });
}

/** `current` with the digests (the spec's and each service's) of `want`. */
function withPinsOf(current: NodeSpec, want: NodeSpec): NodeSpec {
  const { digest: _d, ...rest } = current;
  const services = Object.fromEntries(Object.entries(current.services).map(([n, { digest: _sd, ...svc }]) => {
    const d = want.services[n]?.digest;
    return [n, d !== undefined ? { ...svc, digest: d } : svc];
  }));
  return { ...rest, ...(want.digest !== undefined ? { digest: want.digest } : {}), services };
}
