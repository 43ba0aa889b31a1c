/**
 * Observation: this node's workloads as the runtime lists them (on runtime events, debounced, and on a slow
 * resync), and one health probe per running web workload with a host port.
 */
import { performance } from "node:perf_hooks";
import type { NodeSpec, NodeServiceSpec } from "../../specs/wire.js";
import { canonical } from "../../specs/equality.js";
import { HealthProbe, NODE_PROBES } from "../health.js";
import type { NodeMetrics } from "./metrics.js";
import type { Runtime, Workload } from "../runtime.js";

/** Resync with the runtime this often even without events (events do the real work). */
const RESYNC_MS = 30_000;
/** Coalesce bursts of runtime events into one refresh. */
const REFRESH_DEBOUNCE_MS = 25;
/**
 * A runtime may announce a change before its own listing shows it (Docker lists a container as running
 * for a moment after its `die` event, longer on a busy host): every burst of events is listed once more
 * this much after its last event (measured from the first, a `die` right after a `start` was seen only
 * at the next resync, 30 s later: a container that exits at once looked running that long).
 */
const EVENT_SETTLE_MS = 500;

export interface ObserverHost {
  readonly name: string;
  readonly runtime: Runtime;
  readonly publishAddress: string;
  /** Probe durations and failures go here. */
  readonly metrics?: NodeMetrics;
  spec(): NodeSpec | null;
  changed(): void;
  /** Each successful listing, before `changed`; `listedAt` is performance.now() when the listing began. */
  observed(workloads: readonly Workload[], listedAt: number): void;
  /** Judges a fresh listing against the spec before anyone reads it (what each container is, not its labels). */
  judge(workloads: readonly Workload[]): Promise<void>;
}

export class Observer {
  /** The last listing of this node's workloads. */
  workloads: Workload[] = [];
  /** Why the runtime could not be listed last time; null when it could. */
  runtimeError: string | null = null;
  private readonly probes = new Map<string, HealthProbe>(); // by workload id + probe settings
  private unwatch: (() => void) | undefined;
  private resync: NodeJS.Timeout | undefined;
  private refreshTimer: NodeJS.Timeout | undefined;
  private settleTimer: NodeJS.Timeout | undefined;
  private refreshing: Promise<void> | undefined;
  private refreshAgain = false;
  private closed = false;

  constructor(private readonly h: ObserverHost) {}

  /** Follows runtime events from now on; `onEngineBack` as Runtime.watch has it. */
  watch(onEngineBack?: (lostAt: number) => void): void {
    this.unwatch = this.h.runtime.watch(this.h.name, () => {
      this.scheduleRefresh();
      if (this.settleTimer) clearTimeout(this.settleTimer);
      this.settleTimer = undefined;
      if (this.closed) return;
      this.settleTimer = setTimeout(() => {
        this.settleTimer = undefined;
        this.scheduleRefresh();
      }, EVENT_SETTLE_MS);
      this.settleTimer.unref();
    }, onEngineBack);
    this.resync = setInterval(() => this.scheduleRefresh(), RESYNC_MS);
    this.resync.unref();
  }

  close(): void {
    this.closed = true;
    this.unwatch?.();
    if (this.resync) clearInterval(this.resync);
    if (this.refreshTimer) clearTimeout(this.refreshTimer);
    if (this.settleTimer) clearTimeout(this.settleTimer);
    for (const p of this.probes.values()) p.stop();
  }

  /** The health probe of workload `w` as service `svc` is probed now, if any. */
  probe(w: Workload, svc: NodeServiceSpec): HealthProbe | undefined {
    return this.probes.get(probeKey(w.id, svc));
  }

  scheduleRefresh(): void {
    if (this.closed || this.refreshTimer) return;
    this.refreshTimer = setTimeout(() => {
      this.refreshTimer = undefined;
      void this.refresh();
    }, REFRESH_DEBOUNCE_MS);
  }

  /** Re-lists this node's workloads and (re)starts health probes; emits when anything changed. */
  refresh(): Promise<void> {
    if (this.refreshing) {
      this.refreshAgain = true;
      return this.refreshing;
    }
    this.refreshing = (async () => {
      do {
        this.refreshAgain = false;
        try {
          const listedAt = performance.now();
          const listed = await this.h.runtime.list(this.h.spec()?.app ?? "", this.h.name);
          await this.h.judge(listed);
          this.workloads = listed;
          this.runtimeError = null;
          this.h.observed(this.workloads, listedAt);
        } catch (err) {
          this.runtimeError = (err as Error).message;
        }
        this.syncProbes();
        this.h.changed();
      } while (this.refreshAgain && !this.closed);
    })().finally(() => {
      this.refreshing = undefined;
    });
    return this.refreshing;
  }

  private syncProbes(): void {
    const live = new Set<string>();
    const spec = this.h.spec();
    for (const w of this.workloads) {
      const svc = spec?.services[w.service];
      if (!w.running || w.kind !== "web" || !svc || svc.hostPort === undefined) continue;
      // A new spec may change how the service is probed: the key includes the settings.
      const key = probeKey(w.id, svc);
      live.add(key);
      if (this.probes.has(key)) continue;
      const address = this.h.publishAddress;
      const probe = new HealthProbe(
        { host: address === "0.0.0.0" || address === "::" ? "127.0.0.1" : address, port: svc.hostPort, ...svc.health },
        () => this.h.changed(),
        NODE_PROBES,
        (seconds, ok) => this.h.metrics?.probe(w.service, seconds, ok),
      );
      this.probes.set(key, probe);
      probe.start();
    }
    for (const [id, p] of this.probes) {
      if (!live.has(id)) {
        p.stop();
        this.probes.delete(id);
      }
    }
  }
}

function probeKey(id: string, svc: NodeServiceSpec): string {
  return `${id}|${svc.hostPort}|${canonical(svc.health)}`;
}
