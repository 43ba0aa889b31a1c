/**
 * Status building: the node's NodeStatus services from the last workload listing, the health probes and
 * what convergence is doing. A service's `since` moves only when its state or tag changes.
 */
import type { NodeServiceSpec, NodeSpec, ServiceState, ServiceStatus, Health } from "../../specs/wire.js";
import { specHash } from "./workload.js";
import { parseFingerprintLabel } from "./secrets.js";
import { serviceImage } from "../../specs/images.js";
import type { Converger } from "./convergence.js";
import type { Observer } from "./observer.js";

interface ServiceMemo {
  state: ServiceState;
  tag: string | null;
  since: string;
}

export class ServiceStatusBook {
  private readonly memo = new Map<string, ServiceMemo>();

  constructor(private readonly seen: Observer, private readonly work: Converger) {}

  /** Every service of the spec and every service a workload of this node runs, by name. */
  services(spec: NodeSpec | null): Record<string, ServiceStatus> {
    const out: Record<string, ServiceStatus> = {};
    const names = new Set<string>([...Object.keys(spec?.services ?? {}), ...this.seen.workloads.map((w) => w.service)]);
    for (const name of [...names].sort()) out[name] = this.service(name, spec?.services[name], spec);
    return out;
  }

  private service(name: string, svc: NodeServiceSpec | undefined, spec: NodeSpec | null): ServiceStatus {
    const mine = this.seen.workloads.filter((w) => w.service === name);
    const w = mine.find((x) => x.running) ?? mine[0];
    const pull = this.work.pulling.get(name);
    const probe = w && svc ? this.seen.probe(w, svc) : undefined;
    let state: ServiceState;
    let health: Health = "unknown";
    if (pull) state = "pulling";
    else if (w && this.work.stopping.has(w.id)) state = "stopping";
    else if ((!w || !w.running) && svc && this.work.restarts.crashLooping(name)) state = "crashLooping";
    else if (!w) state = "missing";
    else if (!w.running) state = w.stateText === "created" || w.stateText === "restarting" ? "starting" : "exited";
    else if (svc && !svc.job && svc.hostPort !== undefined && probe) {
      health = probe.health;
      state = health === "healthy" ? "running" : health === "unhealthy" ? "unhealthy" : "starting";
    } else state = "running";
    const probeError = probe?.lastError ?? null;
    const restarts = svc ? this.work.restarts.status(name) : undefined;
    // What the container is, judged against the spec: a difference is drift, whatever its labels say.
    const drift = w && svc && spec ? [...this.work.judged.of(w.id, specHash(spec, name, svc))] : [];
    const runningCount = mine.filter((x) => x.running).length;
    if (svc && runningCount > 1) drift.push(`is one of ${runningCount} running containers of this service; the spec asks for one`);
    const error = (drift.length > 0 ? `the container is not what the spec asks for: it ${drift.join("; ")}` : null) ?? this.work.errors.get(name) ?? (state === "unhealthy" || state === "starting" ? probeError : null) ?? (state === "exited" ? `container ${w!.stateText}` : null) ?? (state === "crashLooping" && restarts ? crashLoopText(restarts) : null);
    // A drifted container's tag label says nothing: labels can be copied.
    const tag = pull || drift.length > 0 ? null : w?.tag ?? null;
    // The content it runs, in the service's repository: with a pin, the pinned digest when the image has it.
    const image = spec && svc ? serviceImage(spec, svc) : spec ? { repository: spec.repository, digest: spec.digest } : undefined;
    const mineAt = image ? w?.repoDigests?.filter((d) => d.startsWith(`${image.repository}@`)).map((d) => d.slice(image.repository.length + 1)) : undefined;
    const digest = mineAt?.find((d) => d === image?.digest) ?? mineAt?.[0];
    // Which secrets the running workload was started with (from its labels: fingerprints, never values).
    const secrets = tag !== null && w?.running ? parseFingerprintLabel(w.secrets) : [];
    const prev = this.memo.get(name);
    const since = prev && prev.state === state && prev.tag === tag ? prev.since : new Date().toISOString();
    this.memo.set(name, { state, tag, since });
    return {
      tag,
      ...(tag !== null && digest ? { digest } : {}),
      containerId: pull ? null : w?.id ?? null,
      state,
      health,
      since,
      error,
      ...(pull ? { pull } : {}),
      ...(restarts ? { restarts } : {}),
      ...(drift.length > 0 ? { drift } : {}),
      ...(secrets.length > 0 ? { secrets } : {}),
    };
  }
}

/** A crash-looping service's error line: what the agent does about it. */
function crashLoopText(r: NonNullable<ServiceStatus["restarts"]>): string {
  return `crash looping: stopped ${r.count} times, last ${r.lastExit}; the agent starts it again ${r.nextRestartAt ? `at ${r.nextRestartAt}` : "now"}`;
}
