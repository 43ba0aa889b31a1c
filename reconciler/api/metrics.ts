/**
 * /metrics in the Prometheus text format (prom-client): the loop, actions, alerts and what the agents look
 * like. Every series is read from the controller and the alert manager when scraped; the loop only adds to
 * plain numbers (controller.stats).
 */
import type { Controller } from "../loop/controller.js";
import type { AlertManager } from "../notify/alerts.js";
import { COLORS } from "../../specs/types.js";
import { VERSION } from "../../common/version.js";
import { Registry, collected, type Sample } from "../../common/metrics.js";
import { outsideCalls } from "../../common/op-stats.js";

/** The reconciler's registry; `registry.metrics()` renders it. */
export function reconcilerMetrics(controller: Controller, alerts: AlertManager): Registry {
  const r = new Registry();
  const s = controller.stats;
  const status = () => controller.status();
  const one = (value: number): Sample[] => [{ value }];
  collected(r, "switchyard_build_info", "gauge", "Always 1; its version label is the reconciler's Switchyard version.", () => [{ labels: { version: VERSION }, value: 1 }]);
  collected(r, "switchyard_reconciles_total", "counter", "Reconcile passes run.", () => one(s.reconciles));
  collected(r, "switchyard_reconcile_duration_seconds", "histogram", "Time each reconcile pass spent planning and launching actions.", () => s.reconcileSeconds.samples("switchyard_reconcile_duration_seconds"));
  collected(r, "switchyard_last_reconcile_duration_seconds", "gauge", "Duration of the last reconcile pass.", () => one(s.lastReconcileMs / 1000));
  collected(r, "switchyard_switch_duration_seconds", "histogram", "Time from the reconcile pass that saw a new live colour in the desired state until every router served it.", () => s.switchSeconds.samples("switchyard_switch_duration_seconds"));
  collected(r, "switchyard_router_switches_total", "counter", "Router switches sent (flips of the live colour).", () => one(s.flips));
  collected(r, "switchyard_deploys_total", "counter", "Node deploys sent (a tag to a node).", () => one(s.deploys));
  collected(r, "switchyard_actions_total", "counter", "Actions launched.", () => one(s.actions));
  collected(r, "switchyard_action_results_total", "counter", "Actions finished, by kind (the action type) and result (ok, failed).", () =>
    [...s.actionResults].flatMap(([kind, n]) => [{ labels: { kind, result: "ok" }, value: n.ok }, { labels: { kind, result: "failed" }, value: n.failed }]),
  );
  collected(r, "switchyard_lease_renewals_total", "counter", "Job-lease renewals that succeeded (routine: not in the activity feed).", () => one(s.renewals));
  collected(r, "switchyard_action_failures_total", "counter", "Actions that failed (retried with backoff).", () => one(s.actionFailures));
  collected(r, "switchyard_pending_steps", "gauge", "Steps the reconciler still has to take towards the desired state (the status's pending list).", () => one(status().pending.length));
  collected(r, "switchyard_alerts_firing", "gauge", "Alerts firing now.", () => one(alerts.firing().length));
  collected(r, "switchyard_alerts", "gauge", "Alerts firing now, by name and severity.", () => {
    const by = new Map<string, Sample>();
    for (const a of alerts.firing()) {
      const key = `${a.name}\n${a.severity}`;
      const e = by.get(key) ?? { labels: { alertname: a.name, severity: a.severity }, value: 0 };
      e.value++;
      by.set(key, e);
    }
    return [...by.values()];
  });
  collected(r, "switchyard_agent_reachable", "gauge", "1 when the node's agent answers.", () => {
    const st = status();
    const out: Sample[] = [];
    for (const c of COLORS) for (const n of st.colors?.[c].nodes ?? []) out.push({ labels: { node: n.name, color: c }, value: n.reachable ? 1 : 0 });
    for (const n of st.router?.nodes ?? []) out.push({ labels: { node: n.name, color: "router" }, value: n.reachable ? 1 : 0 });
    return out;
  });
  collected(r, "switchyard_color_ready", "gauge", "1 when every node of the colour runs its tag healthy.", () => COLORS.map((color) => ({ labels: { color }, value: status().colors?.[color].phase === "Ready" ? 1 : 0 })));
  collected(r, "switchyard_color_live", "gauge", "1 for the colour the routers send live traffic to.", () => COLORS.map((color) => ({ labels: { color }, value: status().router?.live === color ? 1 : 0 })));
  collected(r, "switchyard_jobs_handoff_gap_seconds", "histogram", "Job handoffs: how long no node held the job lease, from the pass that saw the old holder gone until the new owner held it.", () => s.jobsHandoffSeconds.samples("switchyard_jobs_handoff_gap_seconds"));
  collected(r, "switchyard_jobs_epoch", "gauge", "Highest job-lease epoch issued.", () => one(status().jobs?.epoch ?? 0));
  const certLabels = (c: NonNullable<ReturnType<Controller["status"]>["certificates"]>[number]) => ({ router: c.router, source: c.source, hosts: c.hosts.join(","), issuer: c.issuer });
  collected(r, "switchyard_certificate_expiry_timestamp_seconds", "gauge", "When each certificate a router serves expires (Unix time).", () =>
    (status().certificates ?? []).map((c) => ({ labels: certLabels(c), value: Date.parse(c.notAfter) / 1000 })),
  );
  collected(r, "switchyard_certificate_load_error", "gauge", "1 when a router could not (re)load the certificate's files.", () =>
    (status().certificates ?? []).map((c) => ({ labels: certLabels(c), value: c.error === null ? 0 : 1 })),
  );
  collected(r, "switchyard_acme_renewal_failures", "gauge", "ACME orders that failed in a row (0 after a success); absent without ACME.", () => {
    const a = status().acme;
    return a ? one(a.failures) : [];
  });
  collected(r, "switchyard_acme_renew_at_timestamp_seconds", "gauge", "When the ACME certificate's renewal starts (Unix time); absent without ACME.", () => {
    const a = status().acme;
    return a ? one(a.renewAt ? Date.parse(a.renewAt) / 1000 : 0) : [];
  });
  collected(r, "switchyard_outside_calls_total", "counter", "Calls to the container registry and to git, by kind (registry, git) and result (ok, error: no answer, a timeout, a 5xx or 429, a git exit code other than 0).", () => outsideCalls.totals());
  collected(r, "switchyard_outside_call_duration_seconds", "histogram", "How long each call to the registry or git took, by kind.", () => outsideCalls.durations("switchyard_outside_call_duration_seconds"));
  collected(r, "switchyard_condition", "gauge", "1 when the condition is True.", () => status().conditions.map((c) => ({ labels: { type: c.type }, value: c.status === "True" ? 1 : 0 })));
  return r;
}
