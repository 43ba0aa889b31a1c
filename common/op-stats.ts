/**
 * Calls a part makes to something outside it (the reconciler: the container registry, git), counted by kind
 * and result with their durations, for /metrics. One per process: a reconciler runs alone in its process
 * (its data dir lock), so the counters need no owner to be handed through.
 */
import { BucketCounts, SLOW_BUCKETS_SECONDS, type Sample } from "./metrics.js";

export type OperationKind = "registry" | "git";

export class OperationStats {
  private readonly by = new Map<OperationKind, { ok: number; error: number; seconds: BucketCounts }>();

  /** Records one call of `kind` that took `seconds`; `ok` false when it failed (an error, a refusal, a timeout). */
  record(kind: OperationKind, ok: boolean, seconds: number): void {
    let e = this.by.get(kind);
    if (!e) this.by.set(kind, (e = { ok: 0, error: 0, seconds: new BucketCounts(SLOW_BUCKETS_SECONDS) }));
    if (ok) e.ok++;
    else e.error++;
    e.seconds.observe(seconds);
  }

  /** Runs `f`, recording it as one call of `kind` (failed when it throws). */
  async time<T>(kind: OperationKind, f: () => Promise<T>): Promise<T> {
    const t0 = performance.now();
    try {
      const v = await f();
      this.record(kind, true, (performance.now() - t0) / 1000);
      return v;
    } catch (err) {
      this.record(kind, false, (performance.now() - t0) / 1000);
      throw err;
    }
  }

  /** `<name>_total{kind,result}` samples. */
  totals(): Sample[] {
    return [...this.by].flatMap(([kind, e]) => [{ labels: { kind, result: "ok" }, value: e.ok }, { labels: { kind, result: "error" }, value: e.error }]);
  }

  /** The duration histogram's samples, per kind. */
  durations(name: string): Sample[] {
    return [...this.by].flatMap(([kind, e]) => e.seconds.samples(name, { kind }));
  }
}

/** This process's outside calls. */
export const outsideCalls = new OperationStats();
