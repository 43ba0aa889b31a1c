/** What a pass hands the analysis (reconciler/loop/analysis.ts): pure, from the desired and observed state. */
import type { Observed } from "../../specs/observed.js";
import type { Color } from "../../specs/types.js";
import type { Desired } from "./desired.js";
import type { PassView } from "./analysis.js";
import { answersOf, type RouterCounts } from "./traffic.js";

export function analysisView(desired: Desired, observed: Observed, routersLive: Color | null): PassView {
  const counts: RouterCounts = {};
  for (const n of desired.cluster.spec.nodes) {
    if (n.role !== "router") continue;
    const o = observed.nodes[n.name];
    counts[n.name] = o?.reachable ? answersOf(o.status.router?.responses) : null;
  }
  const s = desired.state.spec;
  return {
    config: desired.cluster.spec.rollback as PassView["config"],
    active: s.active,
    tags: { blue: s.colors.blue.stopped ? undefined : s.colors.blue.tag, green: s.colors.green.stopped ? undefined : s.colors.green.tag },
    routersLive,
    counts,
  };
}
