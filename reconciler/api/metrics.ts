/** /metrics in the Prometheus text format: the loop, actions, alerts and what the agents look like. */
import type { Controller } from "../loop/controller.js";
import type { AlertManager } from "../notify/alerts.js";
import { COLORS } from "../../specs/types.js";
import { VERSION } from "../../common/version.js";

export function renderMetrics(controller: Controller, alerts: AlertManager): string {
  const s = controller.stats;
  const status = controller.status();
  const lines: string[] = [];
  const metric = (name: string, type: "counter" | "gauge", help: string, samples: [string, number][]) => {
    lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    for (const [labels, v] of samples) lines.push(`${name}${labels} ${Number.isFinite(v) ? v : 0}`);
  };
  metric("switchyard_build_info", "gauge", "Always 1; its version label is the reconciler's Switchyard version.", [[`{version="${VERSION.replace(/["\\\n]/g, "_")}"}`, 1]]);
  metric("switchyard_reconciles_total", "counter", "Reconcile passes run.", [["", s.reconciles]]);
  metric("switchyard_reconcile_duration_seconds_sum", "counter", "Total time spent planning and launching actions.", [["", s.reconcileMsTotal / 1000]]);
  metric("switchyard_reconcile_duration_seconds_count", "counter", "Reconcile passes measured.", [["", s.reconciles]]);
  metric("switchyard_last_reconcile_duration_seconds", "gauge", "Duration of the last reconcile pass.", [["", s.lastReconcileMs / 1000]]);
  metric("switchyard_router_switches_total", "counter", "Router switches sent (flips of the live colour).", [["", s.flips]]);
  metric("switchyard_deploys_total", "counter", "Node deploys sent (a tag to a node).", [["", s.deploys]]);
  metric("switchyard_actions_total", "counter", "Actions launched.", [["", s.actions]]);
  metric("switchyard_lease_renewals_total", "counter", "Job-lease renewals that succeeded (routine: not in the activity feed).", [["", s.renewals]]);
  metric("switchyard_action_failures_total", "counter", "Actions that failed (retried with backoff).", [["", s.actionFailures]]);
  metric("switchyard_alerts_firing", "gauge", "Alerts firing now.", [["", alerts.firing().length]]);
  const nodes: [string, number][] = [];
  for (const c of COLORS) for (const n of status.colors?.[c].nodes ?? []) nodes.push([`{node="${n.name}",color="${c}"}`, n.reachable ? 1 : 0]);
  for (const r of status.router?.nodes ?? []) nodes.push([`{node="${r.name}",color="router"}`, r.reachable ? 1 : 0]);
  metric("switchyard_agent_reachable", "gauge", "1 when the node's agent answers.", nodes);
  metric("switchyard_color_ready", "gauge", "1 when every node of the colour runs its tag healthy.", COLORS.map((c) => [`{color="${c}"}`, status.colors?.[c].phase === "Ready" ? 1 : 0]));
  metric("switchyard_color_live", "gauge", "1 for the colour the routers send live traffic to.", COLORS.map((c) => [`{color="${c}"}`, status.router?.live === c ? 1 : 0]));
  metric("switchyard_jobs_epoch", "gauge", "Highest job-lease epoch issued.", [["", status.jobs?.epoch ?? 0]]);
  const certs = status.certificates ?? [];
  const certLabels = (c: (typeof certs)[number]) => `{router="${c.router}",source="${c.source}",hosts="${label(c.hosts.join(","))}",issuer="${label(c.issuer)}"}`;
  metric("switchyard_certificate_expiry_timestamp_seconds", "gauge", "When each certificate a router serves expires (Unix time).", certs.map((c) => [certLabels(c), Date.parse(c.notAfter) / 1000]));
  metric("switchyard_certificate_load_error", "gauge", "1 when a router could not (re)load the certificate's files.", certs.map((c) => [certLabels(c), c.error === null ? 0 : 1]));
  if (status.acme) {
    metric("switchyard_acme_renewal_failures", "gauge", "ACME orders that failed in a row (0 after a success).", [["", status.acme.failures]]);
    metric("switchyard_acme_renew_at_timestamp_seconds", "gauge", "When the ACME certificate's renewal starts (Unix time).", [["", status.acme.renewAt ? Date.parse(status.acme.renewAt) / 1000 : 0]]);
  }
  metric("switchyard_condition", "gauge", "1 when the condition is True.", status.conditions.map((c) => [`{type="${c.type}"}`, c.status === "True" ? 1 : 0]));
  return lines.join("\n") + "\n";
}

/** A Prometheus label value: backslash, quote and newline escaped. */
function label(v: string): string {
  return v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}
