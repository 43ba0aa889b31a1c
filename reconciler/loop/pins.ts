/**
 * Which content each colour's tag stands for. A tag can be pushed again; a colour keeps running the
 * content it was deployed with until someone redeploys it, and every node of a colour runs the same
 * content (a node that pulls later pulls by digest). The pin comes from what the colour's nodes already
 * run (never silently replacing it), else from the registry at deploy time; state.yaml's `digest` (written
 * by a redeploy) overrides both. Every `recheckMs` the registry is asked again: a tag that now points at
 * other content raises TagMoved until the colour is redeployed or the tag is pushed back.
 */
import type { Logger } from "pino";
import type { Observed } from "../../specs/observed.js";
import { COLORS, type Color } from "../../specs/types.js";
import { colorNodes, digestFor, type Desired } from "./desired.js";
import type { DriftAlert } from "./drift.js";
import type { DigestPin, Memory } from "./memory.js";

/** Asks the registry which manifest digest a tag points at now. */
export type DigestOf = (tag: string) => Promise<string>;

export interface PinsOptions {
  memory: Memory;
  logger: Logger;
  /** The registry's answer, or null when cluster.yaml names no registry (then pins come from the nodes). */
  digestOf: () => DigestOf | null;
  /** A pin was recorded or a recheck finished: plan again. */
  onChange: () => void;
}

export const TAG_MOVED_ALERT = "TagMoved";
/** After the registry failed to say a tag's digest, ask again only after this long. */
export const RESOLVE_RETRY_MS = 30_000;

export class Pins {
  /** Colour → tag whose digest is being asked for. */
  private readonly resolving = new Map<Color, string>();
  /** Tag → what the registry said at the last recheck. */
  private readonly latest = new Map<string, string>();
  private recheckAtMs = 0;
  /** Tag → when its digest may be asked for again after the registry failed to answer. */
  private readonly retryAtMs = new Map<string, number>();
  private rechecking = false;

  constructor(private readonly o: PinsOptions) {}

  /** The pins this pass plans with; records new ones and starts what is missing. */
  forPass(d: Desired, observed: Observed, nowMs: number): Record<Color, { tag: string; digest: string } | undefined> {
    const out = {} as Record<Color, { tag: string; digest: string } | undefined>;
    for (const c of COLORS) {
      const tag = d.state.spec.colors[c].tag;
      const pin = this.o.memory.get().pins[c];
      if (tag === undefined || pin?.tag === tag) {
        out[c] = pin?.tag === tag ? pin : undefined;
        continue;
      }
      const seen = runningDigest(d, observed, c, tag);
      if (seen) {
        out[c] = this.record(c, { tag, digest: seen, source: "observed", atMs: nowMs });
        continue;
      }
      this.resolve(c, tag, nowMs);
      out[c] = undefined;
    }
    this.recheck(d, nowMs);
    return out;
  }

  /** True while the registry is asked for the digest of `color`'s new tag: its deploy waits (a few ms, at most the registry timeout). */
  pending(color: Color): boolean {
    return this.resolving.has(color);
  }

  /** TagMoved for every colour whose tag the registry now serves with other content than the colour runs. */
  alerts(d: Desired): DriftAlert[] {
    const out: DriftAlert[] = [];
    for (const c of COLORS) {
      const tag = d.state.spec.colors[c].tag;
      const runs = digestFor({ ...d, pins: this.o.memory.get().pins }, c);
      const now = tag !== undefined ? this.latest.get(tag) : undefined;
      if (tag === undefined || runs === undefined || now === undefined || now === runs) continue;
      out.push({
        fingerprint: `${TAG_MOVED_ALERT}/${c}`,
        name: TAG_MOVED_ALERT,
        severity: "warning",
        summary: `tag ${tag} was pushed again: the registry now serves ${short(now)}, ${c} runs ${short(runs)}. ${c} keeps what it runs; \`switchyard redeploy ${c}\` rolls the new content out (on the colour that is not live)`,
        labels: { color: c, tag },
      });
    }
    return out;
  }

  private record(c: Color, pin: DigestPin): DigestPin {
    this.o.memory.recordPin(c, pin).catch((err: unknown) => this.o.logger.warn({ color: c, err: (err as Error).message }, "cannot record the tag's digest; retried with the next write"));
    this.o.logger.info({ color: c, tag: pin.tag, digest: pin.digest, source: pin.source }, "tag pinned to its content");
    return pin;
  }

  private resolve(c: Color, tag: string, nowMs: number): void {
    const digestOf = this.o.digestOf();
    if (!digestOf || this.resolving.get(c) === tag || nowMs < (this.retryAtMs.get(tag) ?? 0)) return;
    this.resolving.set(c, tag);
    digestOf(tag).then(
      (digest) => {
        this.latest.set(tag, digest);
        // Still wanted, and no node reported meanwhile: the registry's content is what this deploy pulls.
        if (this.o.memory.get().pins[c]?.tag !== tag) this.record(c, { tag, digest, source: "registry", atMs: Date.now() });
      },
      (err: unknown) => {
        // Not again for a while (the deploy goes on meanwhile: its nodes pull by tag and report the digest).
        this.retryAtMs.set(tag, Date.now() + RESOLVE_RETRY_MS);
        this.o.logger.warn({ color: c, tag, err: (err as Error).message }, "cannot ask the registry for the tag's digest; its nodes pull by tag and report it");
      },
    ).finally(() => {
      if (this.resolving.get(c) === tag) this.resolving.delete(c);
      this.o.onChange();
    });
  }

  private recheck(d: Desired, nowMs: number): void {
    const digestOf = this.o.digestOf();
    if (!digestOf || this.rechecking || nowMs < this.recheckAtMs) return;
    this.rechecking = true;
    this.recheckAtMs = nowMs + (d.cluster.spec.image.registry?.recheckSeconds ?? 60) * 1000;
    const tags = new Set(COLORS.map((c) => d.state.spec.colors[c].tag).filter((t): t is string => t !== undefined));
    Promise.all([...tags].map((tag) => digestOf(tag).then(
      (digest) => void this.latest.set(tag, digest),
      (err: unknown) => this.o.logger.warn({ tag, err: (err as Error).message }, "cannot recheck the tag's digest in the registry"),
    ))).finally(() => {
      for (const t of [...this.latest.keys()]) if (!tags.has(t)) this.latest.delete(t);
      this.rechecking = false;
      this.o.onChange();
    });
  }

  /** When the next recheck is due (for the loop's scheduling), or undefined without a registry. */
  nextRecheckAt(): number | undefined {
    return this.o.digestOf() ? this.recheckAtMs : undefined;
  }
}

/** The digest most of the colour's nodes report for this tag's web services, or undefined. */
function runningDigest(d: Desired, observed: Observed, c: Color, tag: string): string | undefined {
  const counts = new Map<string, number>();
  for (const n of colorNodes(d.cluster, c)) {
    const obs = observed.nodes[n.name];
    if (!obs?.reachable) continue;
    for (const s of Object.values(obs.status.services)) {
      if (s.tag === tag && s.digest) counts.set(s.digest, (counts.get(s.digest) ?? 0) + 1);
    }
  }
  return [...counts].sort((a, b) => b[1] - a[1])[0]?.[0];
}

function short(digest: string): string {
  return digest.slice(0, "sha256:".length + 12);
}
