/**
 * Status building: the node's NodeStatus services from the last workload listing, the health probes and
 * what convergence is doing. A service's `since` moves only when its state or tag changes.
 */
import type { NodeServiceSpec, ServiceState, ServiceStatus, Health } from "../../specs/wire.js";
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
  services(specServices: Record<string, NodeServiceSpec> | undefined): Record<string, ServiceStatus> {
    const out: Record<string, ServiceStatus> = {};
    const names = new Set<string>([...Object.keys(specServices ?? {}), ...this.seen.workloads.map((w) => w.service)]);
    for (const name of [...names].sort()) out[name] = this.service(name, specServices?.[name]);
    return out;
  }

  private service(name: string, svc: NodeServiceSpec | undefined): ServiceStatus {
    const mine = this.seen.workloads.filter((w) => w.service === name);
    const w = mine.find((x) => x.running) ?? mine[0];
    const pull = this.work.pulling.get(name);
    const probe = w && svc ? this.seen.probe(w, svc) : undefined;
    let state: ServiceState;
    let health: Health = "unknown";
    if (pull) state = "pulling";
    else if (w && this.work.stopping.has(w.id)) state = "stopping";
    else if (!w) state = "missing";
    else if (!w.running) state = w.stateText === "created" || w.stateText === "restarting" ? "starting" : "exited";
    else if (w.kind === "web" && svc?.hostPort !== undefined && probe) {
      health = probe.health;
      state = health === "healthy" ? "running" : health === "unhealthy" ? "unhealthy" : "starting";
    } else state = "running";
    const probeError = probe?.lastError ?? null;
    const error = this.work.errors.get(name) ?? (state === "unhealthy" || state === "starting" ? probeError : null) ?? (state === "exited" ? `container ${w!.stateText}` : null);
    const tag = pull ? null : w?.tag ?? null;
    const prev = this.memo.get(name);
    const since = prev && prev.state === state && prev.tag === tag ? prev.since : new Date().toISOString();
    this.memo.set(name, { state, tag, since });
    const restarts = svc?.job ? this.work.restarts.status(name) : undefined;
    return {
      tag,
      containerId: pull ? null : w?.id ?? null,
      state,
      health,
      since,
      error,
      ...(pull ? { pull } : {}),
      ...(restarts ? { restarts } : {}),
    };
  }
}
