/**
 * Automatic rollback (cluster.yaml `rollback`). When a pass sees the routers switch to the desired live
 * colour, a window opens: the routers' counts of that colour at the switch are the baseline, and every
 * ANALYSIS_POLL_MS the routers are read again. When the colour's 5xx answers since the switch exceed
 * `maxErrorRatio` of all its answers (at least `minRequests` of them) before the window ends, Switchyard
 * switches back by committing state.yaml itself, raises AutomaticRollback, records the figures in the
 * event log and marks the tag: switching to it again needs confirmation. A person may abort the window.
 *
 * The window (start, end, baseline per router) and the marks are written to `analysis.json` in the data
 * dir before they count, so a reconciler restart during a window resumes it with the same baseline (a
 * router restarted meanwhile counts from zero). Between readings the routers' counters are polled every
 * TRAFFIC_POLL_MS for the requests per second and error rate in status.
 */
import { readFile } from "node:fs/promises";
import type { Logger } from "pino";
import type { Color } from "../../specs/types.js";
import type { Cluster } from "../../specs/cluster.js";
import type { AnalysisSummary, RolledBackTag } from "../../specs/api/status.js";
import { ANALYSIS_POLL_MS, TRAFFIC_POLL_MS } from "../../specs/defaults.js";
import { writeFileAtomic } from "../../common/atomic-file.js";
import type { AlertManager } from "../notify/alerts.js";
import type { EventLog } from "../notify/events.js";
import type { AgentClient } from "./agent-client.js";
import { answersOf, grownSince, TrafficMeter, type Answers, type RouterCounts } from "./traffic.js";

export const ANALYSIS_FILE = "analysis.json";
export const ROLLBACK_ALERT = "AutomaticRollback";

type RollbackConfig = Required<NonNullable<Cluster["spec"]["rollback"]>>;

interface Window {
  state: AnalysisSummary["state"];
  color: Color;
  tag: string;
  from: Color;
  fromTag: string;
  startedAtMs: number;
  endsAtMs: number;
  /** Each router's answers for `color` at the switch. */
  baseline: Record<string, Answers>;
  seen: Answers;
  maxErrorRatio: number;
  minRequests: number;
  message: string;
}

interface AnalysisDoc {
  version: 1;
  window: Window | null;
  /** Tags rolled back automatically, by tag. */
  rolledBack: Record<string, RolledBackTag>;
}

/** What a pass tells the analysis. */
export interface PassView {
  config: RollbackConfig | undefined;
  active: Color;
  tags: Record<Color, string | undefined>;
  /** The colour every reachable router serves as live (null: none, or they disagree). */
  routersLive: Color | null;
  /** The routers' counts as the pass observed them (the switch's watch event carries them). */
  counts: RouterCounts;
}

export interface AnalysisOptions {
  dataDir: string;
  logger: Logger;
  events: EventLog;
  alerts: AlertManager;
  routers: () => AgentClient[];
  /** Commits state.yaml with `color` live again, authored by Switchyard with `message`. */
  switchBack: (color: Color, message: string) => Promise<void>;
  /** The status changed (queue a pass). */
  onChange: () => void;
  now?: () => number;
}

export class Analysis {
  private doc: AnalysisDoc = { version: 1, window: null, rolledBack: {} };
  private readonly meter = new TrafficMeter();
  private lastRoutersLive: Color | null | undefined;
  /** The colour Switchyard is switching back to (its commit is under way or landed, the switch not seen yet). */
  private switchingBackTo: Color | null = null;
  private timer: NodeJS.Timeout | undefined;
  private polling = false;
  private saving: Promise<void> = Promise.resolve();
  private closed = false;
  private readonly now: () => number;
  private readonly file: string;

  constructor(private readonly o: AnalysisOptions) {
    this.now = o.now ?? Date.now;
    this.file = `${o.dataDir}/${ANALYSIS_FILE}`;
  }

  /** Reads analysis.json (a window still open resumes with its baseline) and re-raises the alerts of marked tags. */
  async load(): Promise<void> {
    try {
      const doc = JSON.parse(await readFile(this.file, "utf8")) as AnalysisDoc;
      if (doc.version === 1) this.doc = { version: 1, window: doc.window ?? null, rolledBack: doc.rolledBack ?? {} };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") this.o.logger.error({ err: (err as Error).message, file: this.file }, "analysis.json unreadable; starting without a window or marks");
    }
    for (const m of Object.values(this.doc.rolledBack)) this.raiseAlert(m);
    if (this.doc.window?.state === "running") this.o.logger.info({ color: this.doc.window.color, tag: this.doc.window.tag }, "analysis window resumed after a restart");
    this.schedule(0);
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
  }

  /** Called by every pass: opens a window on a switch, ends one the desired state moved away from. */
  onPass(v: PassView): void {
    const w = this.doc.window;
    const now = this.now();
    if (w?.state === "running" && this.switchingBackTo !== w.from && (v.active !== w.color || v.tags[w.color] !== w.tag)) {
      this.finish(w, "aborted", `ended by a change of the desired state (${v.active} live with ${v.tags[v.active] ?? "no tag"})`);
    }
    const before = this.lastRoutersLive;
    this.lastRoutersLive = v.routersLive;
    if (before == null || v.routersLive === null || v.routersLive === before || v.routersLive !== v.active) return;
    if (this.switchingBackTo === v.routersLive) {
      this.switchingBackTo = null; // Switchyard's own rollback is not watched: it goes back to what ran before
      return;
    }
    const tag = v.tags[v.active];
    const fromTag = v.tags[before];
    if (!v.config || tag === undefined || fromTag === undefined) return;
    const baseline: Record<string, Answers> = {};
    for (const [router, c] of Object.entries(v.counts)) if (c) baseline[router] = c[v.active];
    const next: Window = {
      state: "running", color: v.active, tag, from: before, fromTag, startedAtMs: now, endsAtMs: now + v.config.window * 1000,
      baseline, seen: { all: 0, errors: 0 }, maxErrorRatio: v.config.maxErrorRatio, minRequests: v.config.minRequests,
      message: `watching ${v.active} (${tag}) for ${v.config.window} s: rolls back to ${before} (${fromTag}) above ${pct(v.config.maxErrorRatio)} 5xx of at least ${v.config.minRequests} answers`,
    };
    this.doc.window = next;
    this.save();
    this.o.events.append({ type: "info", message: `analysis started: ${next.message}`, analysis: "started", color: next.color, tag, from: before, windowSeconds: v.config.window });
    this.o.logger.info({ color: next.color, tag, from: before }, "analysis window opened");
    this.schedule(0);
  }

  /** A person stops the running window: no automatic rollback for this switch. */
  abort(by: string): { color: Color; tag: string; message: string } | null {
    const w = this.doc.window;
    if (w?.state !== "running") return null;
    this.finish(w, "aborted", `aborted by ${by}: ${w.color} (${w.tag}) stays live without automatic rollback`);
    return { color: w.color, tag: w.tag, message: w.message };
  }

  /** The mark of a tag rolled back automatically, if any. */
  marked(tag: string | undefined): RolledBackTag | undefined {
    return tag === undefined ? undefined : this.doc.rolledBack[tag];
  }

  /** A person confirmed a switch to a marked tag: the mark and its alert go. */
  unmark(tag: string): void {
    if (!this.doc.rolledBack[tag]) return;
    delete this.doc.rolledBack[tag];
    this.o.alerts.clear(`${ROLLBACK_ALERT}:${tag}`);
    this.save();
  }

  summary(): AnalysisSummary | null {
    const w = this.doc.window;
    if (!w) return null;
    const ratio = w.seen.all > 0 ? w.seen.errors / w.seen.all : 0;
    return {
      state: w.state, color: w.color, tag: w.tag, from: w.from, fromTag: w.fromTag,
      startedAt: new Date(w.startedAtMs).toISOString(), endsAt: new Date(w.endsAtMs).toISOString(),
      secondsLeft: w.state === "running" ? Math.max(0, Math.ceil((w.endsAtMs - this.now()) / 1000)) : 0,
      requests: w.seen.all, errors: w.seen.errors, errorRatio: Math.round(ratio * 1000) / 1000,
      maxErrorRatio: w.maxErrorRatio, minRequests: w.minRequests, message: w.message,
    };
  }

  rolledBack(): RolledBackTag[] {
    return Object.values(this.doc.rolledBack);
  }

  traffic(): ReturnType<TrafficMeter["rates"]> {
    return this.meter.rates();
  }

  private shown(): string {
    return JSON.stringify([this.meter.rates(), this.summary()]);
  }

  private schedule(ms: number): void {
    if (this.closed) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.poll(), ms);
    this.timer.unref();
  }

  /** One reading of every router: traffic rates, and the running window's verdict. */
  private async poll(): Promise<void> {
    if (this.polling || this.closed) return;
    this.polling = true;
    try {
      const counts: RouterCounts = {};
      await Promise.all(this.o.routers().map(async (c) => {
        counts[c.node] = await c.status().then((s) => answersOf(s.router?.responses), () => null);
      }));
      const now = this.now();
      const before = this.shown();
      this.meter.record(counts, now);
      const w = this.doc.window;
      if (w?.state === "running") await this.judge(w, counts, now);
      // A pass (and a status to every dashboard) only when what status shows changed.
      if (this.shown() !== before) this.o.onChange();
    } catch (err) {
      this.o.logger.error({ err: (err as Error).message }, "analysis reading failed");
    } finally {
      this.polling = false;
      this.schedule(this.doc.window?.state === "running" ? ANALYSIS_POLL_MS : TRAFFIC_POLL_MS);
    }
  }

  private async judge(w: Window, counts: RouterCounts, now: number): Promise<void> {
    const seen = { all: 0, errors: 0 };
    for (const [router, c] of Object.entries(counts)) {
      if (!c) continue;
      const base = w.baseline[router] ?? { all: 0, errors: 0 };
      const d = grownSince(base, c[w.color]);
      if (d.all === c[w.color].all && base.all > 0) w.baseline[router] = { all: 0, errors: 0 }; // restarted: counts from zero now
      seen.all += d.all;
      seen.errors += d.errors;
    }
    // A router that did not answer keeps what it counted last time.
    if (seen.all >= w.seen.all) w.seen = seen;
    const ratio = w.seen.all > 0 ? w.seen.errors / w.seen.all : 0;
    if (w.seen.all >= w.minRequests && ratio > w.maxErrorRatio) return this.rollBack(w, ratio, now);
    if (now >= w.endsAtMs) {
      this.finish(w, "passed", `${w.color} (${w.tag}) passed: 5xx ${pct(ratio)} of ${w.seen.all} answers over ${Math.round((w.endsAtMs - w.startedAtMs) / 1000)} s (limit ${pct(w.maxErrorRatio)})`);
    }
  }

  private async rollBack(w: Window, ratio: number, now: number): Promise<void> {
    const secs = Math.max(1, Math.round((now - w.startedAtMs) / 1000));
    const reason = `5xx ${pct(ratio)} over ${secs} s > ${pct(w.maxErrorRatio)}`;
    const message = `automatic rollback to ${w.from} (${w.fromTag}): ${reason}`;
    this.switchingBackTo = w.from;
    const decided = performance.now();
    try {
      await this.o.switchBack(w.from, message);
    } catch (err) {
      this.switchingBackTo = null;
      this.o.logger.error({ err: (err as Error).message, color: w.from }, "automatic rollback could not be committed; trying again at the next reading");
      this.o.events.append({ type: "info", message: `automatic rollback to ${w.from} not committed: ${(err as Error).message}`, analysis: "rollback-failed" });
      return;
    }
    const mark: RolledBackTag = { tag: w.tag, color: w.color, at: new Date(now).toISOString(), reason };
    this.doc.rolledBack[w.tag] = mark;
    this.raiseAlert(mark, w);
    this.o.events.append({
      type: "info", message, analysis: "rolled-back", color: w.color, tag: w.tag, to: w.from, toTag: w.fromTag,
      requests: w.seen.all, errors: w.seen.errors, errorRatio: Math.round(ratio * 1000) / 1000, maxErrorRatio: w.maxErrorRatio, minRequests: w.minRequests, seconds: (now - w.startedAtMs) / 1000,
      commitMs: Math.round(performance.now() - decided),
    });
    this.finish(w, "rolled-back", message);
  }

  private raiseAlert(m: RolledBackTag, w?: Window): void {
    const back = w ? ` to ${w.from} (${w.fromTag})` : "";
    this.o.alerts.raise({
      fingerprint: `${ROLLBACK_ALERT}:${m.tag}`, name: ROLLBACK_ALERT, severity: "critical", labels: { color: m.color, tag: m.tag },
      summary: `${m.color} (${m.tag}) was rolled back automatically${back} at ${m.at}: ${m.reason}. The previous version serves live traffic; ${m.tag} still runs on ${m.color} for inspection. Promoting ${m.tag} again needs confirmation`,
    });
  }

  private finish(w: Window, state: Window["state"], message: string): void {
    w.state = state;
    w.message = message;
    this.save();
    if (state !== "rolled-back") this.o.events.append({ type: "info", message: `analysis ${state}: ${message}`, analysis: state, color: w.color, tag: w.tag, requests: w.seen.all, errors: w.seen.errors });
    this.o.logger.info({ color: w.color, tag: w.tag, state }, message);
    this.o.onChange();
  }

  private save(): void {
    const text = JSON.stringify(this.doc, null, 2) + "\n";
    // One write after another: the file always ends as the latest document.
    this.saving = this.saving.then(() => writeFileAtomic(this.file, text)).catch((err: unknown) => this.o.logger.error({ err: (err as Error).message, file: this.file }, "analysis.json not written"));
  }
}

function pct(r: number): string {
  const p = r * 100;
  return `${p >= 10 || Number.isInteger(p) ? Math.round(p) : p.toFixed(1)}%`;
}
