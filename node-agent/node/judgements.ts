/**
 * The node's judgements of its workloads against the accepted spec (Runtime.judge), kept per workload and
 * spec hash: a container's facts do not change while it lives, so each is inspected once.
 */
import type { NodeServiceSpec, NodeSpec } from "../../specs/wire.js";
import type { Runtime, Workload, WorkloadDef } from "../runtime.js";

export class Judgements {
  private readonly drift = new Map<string, readonly string[]>();

  constructor(private readonly runtime: Runtime) {}

  /**
   * Judges every workload of a spec service not judged yet. With `prune` (the observer's listing, the one
   * status shows) it also forgets workloads that are gone; other callers' listings may be older than a
   * judgement made meanwhile, so they never prune.
   */
  async update(ws: readonly Workload[], spec: NodeSpec | null, defOf: (name: string, svc: NodeServiceSpec, epoch?: number) => WorkloadDef, prune = false): Promise<void> {
    if (!this.runtime.judge || !spec || spec.tag === undefined) {
      this.drift.clear();
      return;
    }
    const keep = new Set<string>();
    for (const w of ws) {
      const svc = spec.services[w.service];
      if (!svc) continue;
      const def = defOf(w.service, svc, w.epoch);
      const key = `${w.id}|${def.specHash}`;
      keep.add(key);
      // A container left from an earlier spec is judged against the tag it claims to run, and less strictly.
      const strict = w.specHash === def.specHash;
      if (this.drift.has(key)) continue;
      // A failed inspection is not a verdict: nothing is kept, and the next listing judges it again.
      const verdict = await this.runtime.judge(w.id, strict ? def : { ...def, tag: w.tag }, strict).catch(() => null);
      if (verdict) this.drift.set(key, verdict);
    }
    if (prune) for (const k of [...this.drift.keys()]) if (!keep.has(k)) this.drift.delete(k);
  }

  /** Forgets every judgement (the image a tag names changed, so every verdict may have). */
  forget(): void {
    this.drift.clear();
  }

  /** How workload `id` differs from the spec whose hash is `hash` (empty when it matches or is not judged). */
  of(id: string, hash: string): readonly string[] {
    return this.drift.get(`${id}|${hash}`) ?? [];
  }
}

/**
 * Whether a workload is a job as far as the lease goes: what the spec says of its service, never its label
 * alone; a workload the spec does not explain (unknown service, or a label that contradicts the spec) is
 * treated as one, so revocation stops it. Without a spec only the label is known.
 */
export function jobLike(w: Workload, spec: NodeSpec | null): boolean {
  if (!spec) return w.kind === "job";
  const svc = spec.services[w.service];
  return svc === undefined || svc.job || w.kind === "job";
}
