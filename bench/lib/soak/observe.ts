/** Reading the cluster for the soak: status samples, and whether the desired state is reached. */
import type { ClusterStatus } from "../../../reconciler/loop/status.js";
import type { Color } from "../../../specs/types.js";
import { BAD_TAGS, CRASH_TAG, type SoakCluster } from "./cluster.js";
import type { StatusSample } from "./history.js";
import { ownerColor, type DesiredModel } from "./model.js";

export function sampleOf(s: ClusterStatus, at: number): StatusSample {
  const c = s.colors;
  return {
    at,
    active: s.active,
    ready: s.conditions.find((x) => x.type === "Ready")?.status === "True",
    phases: { blue: c?.blue.phase ?? "?", green: c?.green.phase ?? "?" },
    tags: { blue: c?.blue.tag ?? null, green: c?.green.tag ?? null },
    routersLive: s.router?.nodes.map((r) => r.live) ?? [],
    holders: (s.jobs?.holders ?? []).map((h) => h.color),
  };
}

/** Why the status does not show the desired state reached yet (null: reached). */
export function notReached(s: ClusterStatus | null, m: DesiredModel, perColor: number): string | null {
  if (!s || !s.colors || !s.router || !s.jobs) return "no status from the reconciler";
  if (s.conditions.find((x) => x.type === "Ready")?.status !== "True") return "not Ready";
  if (s.conditions.find((x) => x.type === "SpecInvalid")?.status === "True") return "SpecInvalid";
  const routers = s.router.nodes;
  if (routers.some((r) => !r.reachable || r.live !== m.active)) return `routers: ${routers.map((r) => `${r.name}=${r.reachable ? r.live : "unreachable"}`).join(", ")}`;
  for (const c of ["blue", "green"] as Color[]) {
    const cs = s.colors[c];
    if (cs.nodes.some((n) => !n.reachable)) return `${c}: a node is unreachable`;
    if (m.stopped[c]) {
      if (cs.phase !== "Stopped") return `${c} is ${cs.phase}, not Stopped`;
    } else if (!(BAD_TAGS as readonly string[]).includes(m.tags[c])) {
      if (cs.phase !== "Ready" || cs.tag !== m.tags[c]) return `${c} is ${cs.phase} ${cs.tag}, not Ready ${m.tags[c]}`;
    } else if (m.tags[c] !== CRASH_TAG) {
      // A release that runs but is never Ready (v3): reached once every node runs it (pulled, started).
      const behind = cs.nodes.filter((n) => n.services.web?.tag !== m.tags[c]);
      if (behind.length > 0) return `${c}: ${behind.map((n) => n.name).join(", ")} not running ${m.tags[c]} yet`;
    }
  }
  const owner = ownerColor(m);
  const holders = s.jobs.holders;
  if (owner === null && holders.length > 0) return "a node holds the jobs lease with owner none";
  if (owner !== null && (holders.length !== perColor || holders.some((h) => h.color !== owner))) return `jobs held by ${holders.map((h) => h.node).join(", ") || "nobody"}, not ${owner}`;
  return null;
}

export async function status(cluster: SoakCluster): Promise<ClusterStatus | null> {
  return cluster.api<ClusterStatus>("/api/v1/status");
}
