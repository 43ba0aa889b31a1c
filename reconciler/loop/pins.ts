/**
 * Which content each colour's tag stands for. A tag can be pushed again; a colour keeps running the
 * content it was deployed with until someone redeploys it, and every node of a colour runs the same
 * content (a node that pulls later pulls by digest). The pin comes from what the colour's nodes already
 * run (never silently replacing it), else from the registry at deploy time; state.yaml's `digest` (written
 * by a redeploy) overrides both. Every `recheckMs` the registry is asked again: a tag that now points at
 * other content raises TagMoved until the colour is redeployed or the tag is pushed back.
 * Pins are per (colour, repository): a service may run its own repository (cluster.yaml services.*.image),
 * and the colour's tag stands for one content in each.
 */
import type { Logger } from "pino";
import type { Observed } from "../../specs/observed.js";
import { COLORS, type Color } from "../../specs/types.js";
import { clusterRepositories, clusterServiceRepository } from "../../specs/images.js";
import { colorNodes, digestFor, type Desired } from "./desired.js";
import type { DriftAlert } from "./drift.js";
import type { DigestPin, Memory } from "./memory.js";

/** Asks the registry which manifest digest a tag points at now (in `repository`, default spec.image.repository). */
export type DigestOf = (tag: string, repository?: string) => Promise<string>;

type Pin = { tag: string; digest: string };
/** The pins of one pass: spec.image.repository's per colour, and the services' own repositories'. */
export interface PassPins {
  pins: Record<Color, Pin | undefined>;
  imagePins: Partial<Record<Color, Record<string, Pin>>>;
}

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
  /** Colour and repository → tag whose digest is being asked for. */
  private readonly resolving = new Map<string, string>();
  /** Repository and tag → what the registry said at the last recheck. */
  private readonly latest = new Map<string, string>();
  private recheckAtMs = 0;
  /** Repository and tag → when its digest may be asked for again after the registry failed to answer. */
  private readonly retryAtMs = new Map<string, number>();
  private rechecking = false;

  constructor(private readonly o: PinsOptions) {}

  /** The pins of spec.image.repository this pass plans with (see `forPassAll`). */
  forPass(d: Desired, observed: Observed, nowMs: number): Record<Color, Pin | undefined> {
    return this.forPassAll(d, observed, nowMs).pins;
  }

  /** The pins this pass plans with, every repository; records new ones and starts what is missing. */
  forPassAll(d: Desired, observed: Observed, nowMs: number): PassPins {
    const out: PassPins = { pins: { blue: undefined, green: undefined }, imagePins: {} };
    const main = d.cluster.spec.image.repository;
    for (const c of COLORS) {
      const tag = d.state.spec.colors[c].tag;
      for (const repo of clusterRepositories(d.cluster)) {
        const pin = this.pinOf(c, repo, main);
        let got: Pin | undefined;
        if (tag === undefined || pin?.tag === tag) got = pin?.tag === tag ? pin : undefined;
        else {
          const seen = runningDigest(d, observed, c, tag, repo);
          if (seen) got = this.record(c, repo, main, { tag, digest: seen, source: "observed", atMs: nowMs });
          else this.resolve(c, repo, main, tag, nowMs);
        }
        if (repo === main) out.pins[c] = got;
        else if (got) out.imagePins[c] = { ...out.imagePins[c], [repo]: got };
      }
    }
    this.recheck(d, nowMs);
    return out;
  }

  /** True while the registry is asked for the digest of `color`'s new tag: its deploy waits (a few ms, at most the registry timeout). */
  pending(color: Color): boolean {
    return [...this.resolving.keys()].some((k) => k.startsWith(`${color}\n`));
  }

  /** TagMoved for every colour and repository whose tag the registry now serves with other content than the colour runs. */
  alerts(d: Desired): DriftAlert[] {
    const out: DriftAlert[] = [];
    const main = d.cluster.spec.image.repository;
    const mem = this.o.memory.get();
    for (const c of COLORS) {
      const tag = d.state.spec.colors[c].tag;
      for (const repo of clusterRepositories(d.cluster)) {
        const runs = digestFor({ ...d, pins: mem.pins, imagePins: mem.imagePins ?? {} }, c, repo);
        const now = tag !== undefined ? this.latest.get(key(repo, tag)) : undefined;
        if (tag === undefined || runs === undefined || now === undefined || now === runs) continue;
        const own = repo !== main;
        out.push({
          fingerprint: own ? `${TAG_MOVED_ALERT}/${c}/${repo}` : `${TAG_MOVED_ALERT}/${c}`,
          name: TAG_MOVED_ALERT,
          severity: "warning",
          summary: own
            ? `tag ${tag} was pushed again in ${repo}: the registry now serves ${short(now)}, ${c} runs ${short(runs)}. ${c} keeps what it runs; deploy a new tag to the colour that is not live to roll the new content out`
            : `tag ${tag} was pushed again: the registry now serves ${short(now)}, ${c} runs ${short(runs)}. ${c} keeps what it runs; \`switchyard redeploy ${c}\` rolls the new content out (on the colour that is not live)`,
          labels: own ? { color: c, tag, repository: repo } : { color: c, tag },
        });
      }
    }
    return out;
  }

  private pinOf(c: Color, repo: string, main: string): DigestPin | undefined {
    const mem = this.o.memory.get();
    return repo === main ? mem.pins[c] : mem.imagePins?.[c]?.[repo];
  }

  private record(c: Color, repo: string, main: string, pin: DigestPin): DigestPin {
    const own = repo === main ? undefined : repo;
    this.o.memory.recordPin(c, pin, own).catch((err: unknown) => this.o.logger.warn({ color: c, err: (err as Error).message }, "cannot record the tag's digest; retried with the next write"));
    this.o.logger.info({ color: c, repository: repo, tag: pin.tag, digest: pin.digest, source: pin.source }, "tag pinned to its content");
    return pin;
  }

  private resolve(c: Color, repo: string, main: string, tag: string, nowMs: number): void {
    const digestOf = this.o.digestOf();
    const slot = `${c}\n${repo}`;
    if (!digestOf || this.resolving.get(slot) === tag || nowMs < (this.retryAtMs.get(key(repo, tag)) ?? 0)) return;
    this.resolving.set(slot, tag);
    digestOf(tag, repo).then(
      (digest) => {
        this.latest.set(key(repo, tag), digest);
        // Still wanted, and no node reported meanwhile: the registry's content is what this deploy pulls.
        if (this.pinOf(c, repo, main)?.tag !== tag) this.record(c, repo, main, { tag, digest, source: "registry", atMs: Date.now() });
      },
      (err: unknown) => {
        // Not again for a while (the deploy goes on meanwhile: its nodes pull by tag and report the digest).
        this.retryAtMs.set(key(repo, tag), Date.now() + RESOLVE_RETRY_MS);
        this.o.logger.warn({ color: c, repository: repo, tag, err: (err as Error).message }, "cannot ask the registry for the tag's digest; its nodes pull by tag and report it");
      },
    ).finally(() => {
      if (this.resolving.get(slot) === tag) this.resolving.delete(slot);
      this.o.onChange();
    });
  }

  private recheck(d: Desired, nowMs: number): void {
    const digestOf = this.o.digestOf();
    if (!digestOf || this.rechecking || nowMs < this.recheckAtMs) return;
    this.rechecking = true;
    this.recheckAtMs = nowMs + (d.cluster.spec.image.registry?.recheckSeconds ?? 60) * 1000;
    const tags = new Set(COLORS.map((c) => d.state.spec.colors[c].tag).filter((t): t is string => t !== undefined));
    const wanted = new Set(clusterRepositories(d.cluster).flatMap((repo) => [...tags].map((tag) => key(repo, tag))));
    Promise.all(clusterRepositories(d.cluster).flatMap((repo) => [...tags].map((tag) => digestOf(tag, repo).then(
      (digest) => void this.latest.set(key(repo, tag), digest),
      (err: unknown) => this.o.logger.warn({ repository: repo, tag, err: (err as Error).message }, "cannot recheck the tag's digest in the registry"),
    )))).finally(() => {
      for (const k of [...this.latest.keys()]) if (!wanted.has(k)) this.latest.delete(k);
      this.rechecking = false;
      this.o.onChange();
    });
  }

  /** When the next recheck is due (for the loop's scheduling), or undefined without a registry. */
  nextRecheckAt(): number | undefined {
    return this.o.digestOf() ? this.recheckAtMs : undefined;
  }
}

/** The digest most of the colour's nodes report for this tag's services of `repo`, or undefined. */
function runningDigest(d: Desired, observed: Observed, c: Color, tag: string, repo: string): string | undefined {
  const counts = new Map<string, number>();
  for (const n of colorNodes(d.cluster, c)) {
    const obs = observed.nodes[n.name];
    if (!obs?.reachable) continue;
    for (const [name, s] of Object.entries(obs.status.services)) {
      if (name in d.cluster.spec.services && clusterServiceRepository(d.cluster, name) !== repo) continue;
      if (s.tag === tag && s.digest) counts.set(s.digest, (counts.get(s.digest) ?? 0) + 1);
    }
  }
  return [...counts].sort((a, b) => b[1] - a[1])[0]?.[0];
}

function key(repo: string, tag: string): string {
  return `${repo}\n${tag}`;
}

function short(digest: string): string {
  return digest.slice(0, "sha256:".length + 12);
}
