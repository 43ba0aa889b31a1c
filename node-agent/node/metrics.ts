/**
 * A node agent's series on /metrics: its workloads by service, state and health, its health probes, its
 * pulls, its job lease and how far it is behind its spec. Probes and pulls add to plain numbers as they
 * happen; everything else is read from the node's status when scraped. Labels are bounded by the spec
 * (service names), never a tag or an image.
 */
import type { NodeStatus } from "../../specs/wire.js";
import { BucketCounts, LATENCY_BUCKETS_SECONDS, SLOW_BUCKETS_SECONDS, collected, type Registry, type Sample } from "../../common/metrics.js";

const LEASE_STATES = ["none", "held", "expired", "revoked"] as const;

export class NodeMetrics {
  private readonly probes = new Map<string, { latency: BucketCounts; failures: number }>();
  private readonly pullSeconds = { ok: new BucketCounts(SLOW_BUCKETS_SECONDS), failed: new BucketCounts(SLOW_BUCKETS_SECONDS) };
  /** When the spec being converged was accepted (ms since the epoch); 0 while converged. */
  unconvergedSince = 0;

  /** One health probe of `service`'s workload: how long it took and whether it passed. */
  probe(service: string, seconds: number, ok: boolean): void {
    let p = this.probes.get(service);
    if (p === undefined) {
      p = { latency: new BucketCounts(LATENCY_BUCKETS_SECONDS), failures: 0 };
      this.probes.set(service, p);
    }
    p.latency.observe(seconds);
    if (!ok) p.failures++;
  }

  /** One image pull (or the check that the image is already there), its duration and outcome. */
  pull(seconds: number, ok: boolean): void {
    this.pullSeconds[ok ? "ok" : "failed"].observe(seconds);
  }

  register(registry: Registry, status: () => NodeStatus): void {
    collected(registry, "switchyard_agent_workload", "gauge", "1 for each service of this node, labelled with its container's (or process's) state and health.", () =>
      Object.entries(status().services).map(([service, s]): Sample => ({ labels: { service, state: s.state, health: s.health }, value: 1 })),
    );
    collected(registry, "switchyard_agent_probe_duration_seconds", "histogram", "Health probes of this node's workloads by service: how long each took.", () =>
      [...this.probes].flatMap(([service, p]) => p.latency.samples("switchyard_agent_probe_duration_seconds", { service })),
    );
    collected(registry, "switchyard_agent_probe_failures_total", "counter", "Health probes that failed (error, timeout, or not 2xx/3xx), by service.", () =>
      [...this.probes].map(([service, p]) => ({ labels: { service }, value: p.failures })),
    );
    collected(registry, "switchyard_agent_pull_duration_seconds", "histogram", "Image pulls (or checks that the image is present) by result, and how long each took.", () => [
      ...this.pullSeconds.ok.samples("switchyard_agent_pull_duration_seconds", { result: "ok" }),
      ...this.pullSeconds.failed.samples("switchyard_agent_pull_duration_seconds", { result: "failed" }),
    ]);
    collected(registry, "switchyard_agent_lease_state", "gauge", "1 for the job lease's state on this node (none, held, expired, revoked).", () => {
      const l = status().lease;
      return LEASE_STATES.map((state) => ({ labels: { state }, value: l.state === state ? 1 : 0 }));
    });
    collected(registry, "switchyard_agent_lease_remaining_seconds", "gauge", "Time left on the job lease this node holds (0 without one).", () => [{ value: status().lease.remainingMs / 1000 }]);
    collected(registry, "switchyard_agent_lease_epoch", "gauge", "Highest job-lease epoch this agent has seen.", () => [{ value: status().lease.epoch }]);
    collected(registry, "switchyard_agent_spec_generation", "gauge", "Generation of the last spec this agent accepted (0 before any).", () => [{ value: status().observedGeneration }]);
    collected(registry, "switchyard_agent_converging", "gauge", "1 while the agent works towards its spec.", () => [{ value: status().converging ? 1 : 0 }]);
    collected(registry, "switchyard_agent_spec_lag_seconds", "gauge", "How long the agent has been converging towards its accepted spec (0 once it got there).", () => [
      { value: status().converging && this.unconvergedSince > 0 ? (Date.now() - this.unconvergedSince) / 1000 : 0 },
    ]);
  }
}
