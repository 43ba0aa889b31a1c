/**
 * Drift: everything observed that the desired state does not explain. Pure: (desired, observed,
 * plan) → alert candidates with stable fingerprints, so one problem fires once and resolves once.
 */
import { DEPLOY_FAILURES, type Action } from "./actions.js";
import type { Observed } from "../../specs/observed.js";
import type { Color } from "../../specs/types.js";
import { COLORS } from "../../specs/types.js";
import { routerNodes, type Desired } from "./desired.js";
import { NOT_OBSERVED, viewCluster, type ClusterView } from "./views.js";
import type { ServiceStatus } from "../../specs/wire.js";
import { CERT_EXPIRY_ALERT_DAYS, CRASH_LOOP_SETTLE_MS } from "../../specs/defaults.js";

const DAY_MS = 86_400_000;

/** Same shape as the alert manager's candidates (kept structural to stay free of I/O imports). */
export interface DriftAlert {
  fingerprint: string;
  name: string;
  severity: "warning" | "critical";
  summary: string;
  labels: Record<string, string>;
  /** How long it must persist before it fires (default: cluster.yaml's alerts.graceSeconds). */
  forMs?: number;
}

export interface DriftInput {
  desired: Desired;
  observed: Observed;
  actions: readonly Action[];
  /** The live colour the reconciler last set on the routers (null before the first switch). */
  routerLive: Color | null;
  /** Fingerprints firing now: a problem being healed stays open until reality matches again. */
  firing?: ReadonlySet<string>;
  /** This pass's views (computed here when not given). */
  views?: ClusterView;
  /** Now (ms since the epoch): how long a crash-looping service has stayed up, certificate expiry. */
  now?: number;
  /** The ACME certificate's renewal state: failed orders in a row and the last error. */
  acme?: { hosts: readonly string[]; failures: number; lastError: string | null } | null;
}

export function detectDrift({ desired: d, observed: o, actions, routerLive, firing = new Set(), views = viewCluster(d, o), now = Date.now(), acme = null }: DriftInput): DriftAlert[] {
  const out: DriftAlert[] = [];
  const add = (name: string, severity: DriftAlert["severity"], key: string, summary: string, labels: Record<string, string>) =>
    out.push({ fingerprint: `${name}/${key}`, name, severity, summary, labels });

  for (const c of COLORS) {
    for (const v of views.colors[c]) {
      const n = v.node;
      const obs = v.obs;
      if (!obs?.reachable) {
        // Right after a start nothing has been observed yet: that is not an outage.
        if (obs && obs.error !== NOT_OBSERVED) add("NodeUnreachable", "critical", n.name, `node ${n.name} (${c}) is unreachable: ${obs.error}`, { node: n.name, color: c });
        continue;
      }
      const status = obs.status;
      if (v.specMatches && !v.want.stopped) {
        // One alert per crash loop, whether the agent is converging (a restart attempt) or waiting out its backoff.
        for (const [svcName, svc] of Object.entries(v.want.services)) {
          const s = status.services[svcName];
          if (svc.job || !s || !crashLooping(s, now)) continue;
          const r = s.restarts; // an agent's status may say crashLooping without its record: no count then
          const next = s.state === "crashLooping" ? (r?.nextRestartAt ? `; the agent starts it again at ${r.nextRestartAt}` : "; the agent is starting it again") : `; it runs again since ${s.since}`;
          const how = r ? `: ${r.count} times, last ${r.lastExit}` : "";
          add("CrashLooping", c === routerLive ? "critical" : "warning", `${n.name}/${svcName}`, `${svcName} on ${n.name} (${c}) keeps stopping${how}${next}. Fix the cause (its last log lines are in status) or deploy another tag`, { node: n.name, color: c, service: svcName });
        }
      }
      if (v.specMatches && status.converging) {
        // Healing in progress: a container-down alert stays open until the container runs again.
        for (const [svcName, svc] of Object.entries(v.want.services)) {
          const s = status.services[svcName];
          const fp = `ContainerDown/${n.name}/${svcName}`;
          if (!svc.job && firing.has(fp) && (!s || (s.state !== "running" && s.state !== "starting" && s.state !== "unhealthy" && s.state !== "crashLooping"))) {
            add("ContainerDown", c === routerLive ? "critical" : "warning", `${n.name}/${svcName}`, `${svcName} on ${n.name} (${c}) is ${s?.state ?? "missing"}; healing`, { node: n.name, color: c, service: svcName });
          }
        }
      }
      if (v.specMatches && !status.converging) {
        for (const [svcName, svc] of Object.entries(v.want.services)) {
          const s = status.services[svcName];
          if (v.want.stopped) {
            if (s && s.state !== "missing" && s.state !== "exited") add("ContainerRunning", "warning", `${n.name}/${svcName}`, `${svcName} on ${n.name} runs although ${c} is stopped`, { node: n.name, color: c, service: svcName });
            continue;
          }
          if (svc.job) {
            const running = s && (s.state === "running" || s.state === "starting" || s.state === "unhealthy");
            if (running && status.lease.state !== "held") {
              add("JobWithoutLease", "critical", `${n.name}/${svcName}`, `job ${svcName} runs on ${n.name} without a lease`, { node: n.name, color: c, service: svcName });
              // A revoked or lapsed lease: the agent is stopping the job, which may take its whole stop timeout.
              if (status.lease.state !== "none") out[out.length - 1]!.forMs = (d.cluster.spec.alerts.graceSeconds + svc.stopTimeoutSeconds) * 1000;
            }
            // The agent saw it die under the held lease: down while it waits to start again, and while it keeps
            // dying (judged as for a web service: up again for CRASH_LOOP_SETTLE_MS ends it).
            const r = s?.restarts;
            if (r && status.lease.state === "held" && (!running || crashLooping(s, now))) {
              const why = running ? `keeps stopping: ${r.count} times, last with ${r.lastExit}` : `is down: it stopped with ${r.lastExit}; the agent starts it again ${r.nextRestartAt ? `at ${r.nextRestartAt}` : "now"}`;
              add("JobDown", "critical", `${n.name}/${svcName}`, `job ${svcName} on ${n.name} (${c}) ${why}`, { node: n.name, color: c, service: svcName });
            }
            continue;
          }
          if (!s || s.state === "missing" || s.state === "exited") {
            add("ContainerDown", c === routerLive ? "critical" : "warning", `${n.name}/${svcName}`, `${svcName} on ${n.name} (${c}) is ${s?.state ?? "missing"}${s?.error ? `: ${s.error}` : ""}`, { node: n.name, color: c, service: svcName });
          } else if (s.drift?.length) {
            add("ContainerDrifted", c === routerLive ? "critical" : "warning", `${n.name}/${svcName}`, `${svcName} on ${n.name} (${c}) is not what the spec asks for: it ${s.drift.join("; ")}`, { node: n.name, color: c, service: svcName });
          } else if (s.tag !== v.want.tag) {
            add("WrongImage", "warning", `${n.name}/${svcName}`, `${svcName} on ${n.name} runs ${s.tag ?? "an unknown tag"} instead of ${v.want.tag}`, { node: n.name, color: c, service: svcName });
          }
        }
      }
      for (const svcName of Object.keys(status.services)) {
        if (!(svcName in d.cluster.spec.services) && status.services[svcName]!.state !== "missing") {
          add("ExtraContainer", "warning", `${n.name}/${svcName}`, `${n.name} runs ${svcName}, which is not a service of this cluster`, { node: n.name, color: c, service: svcName });
        }
      }
    }
  }

  const routers = views.routers;
  for (const r of routerNodes(d.cluster)) {
    const obs = o.nodes[r.name];
    if (!obs?.reachable) {
      if (obs && obs.error !== NOT_OBSERVED) add("NodeUnreachable", "critical", r.name, `router ${r.name} is unreachable: ${obs.error}`, { node: r.name });
      continue;
    }
    const live = obs.status.router?.spec?.live ?? null;
    if (routerLive !== null && live !== null && live !== routerLive) {
      add("RouterElsewhere", "critical", r.name, `router ${r.name} sends live traffic to ${live}, but Switchyard last set ${routerLive}`, { node: r.name, color: live });
    }
    if (obs.status.router?.tableError) add("RouterTableCorrupt", "warning", r.name, `router ${r.name}: ${obs.status.router.tableError}`, { node: r.name });
    for (const c of obs.status.router?.tls?.certificates ?? []) {
      const host = c.hosts[0] ?? c.certFile ?? "?";
      if (c.error !== null) add("CertificateNotLoaded", "warning", `${r.name}/${host}`, `router ${r.name} could not load a certificate (${c.error}); it serves the one loaded before, if any`, { node: r.name, host });
      const left = Date.parse(c.notAfter) - now;
      if (c.hosts.length > 0 && left < CERT_EXPIRY_ALERT_DAYS * DAY_MS) {
        add("CertificateExpiring", left < 3 * DAY_MS ? "critical" : "warning", `${r.name}/${host}`,
          `the certificate for ${c.hosts.join(", ")} on router ${r.name} expires ${c.notAfter} (${Math.max(0, Math.floor(left / DAY_MS))} days left)`, { node: r.name, host });
      }
    }
  }
  if (acme !== null && acme.failures > 0) {
    add("CertificateRenewalFailed", "warning", acme.hosts[0] ?? "acme", `ordering the ACME certificate for ${acme.hosts.join(", ")} failed ${acme.failures} time(s): ${acme.lastError ?? "unknown"}; the current certificate stays served, retrying with backoff`, { host: acme.hosts[0] ?? "" });
  }
  if (routers.live.size === 2) add("RoutersDisagree", "critical", "all", "routers disagree about the live colour", {});

  for (const a of actions) {
    if (a.type !== "refuse") continue;
    add(a.reason, DEPLOY_FAILURES.has(a.reason) ? "critical" : "warning", a.color ?? "all", a.message, a.color ? { color: a.color } : {});
  }
  return out;
}

/**
 * A web service crash loops while its agent waits to start it again after it died again and again, and
 * until it has then stayed up CRASH_LOOP_SETTLE_MS (a start that works for a moment ends nothing).
 */
export function crashLooping(s: ServiceStatus, nowMs: number): boolean {
  if (s.state === "crashLooping") return true;
  const r = s.restarts;
  if (!r || r.count < 2) return false;
  const up = s.state === "running" || s.state === "unhealthy" || s.state === "starting";
  return !up || nowMs - Date.parse(s.since ?? r.lastExitAt) < CRASH_LOOP_SETTLE_MS;
}
