/**
 * The colours' traffic as the routers count it: each reading asks every router for its status and turns
 * its per-colour counters (by status class, since the router started) into running totals that survive a
 * router restart (a counter that went down started again from zero). Rates (requests per second, error
 * ratio) come from the readings of the last TRAFFIC_RATE_SPAN_MS.
 */
import type { Color } from "../../specs/types.js";
import type { ColorTraffic } from "../../specs/api/status.js";
import { TRAFFIC_RATE_SPAN_MS } from "../../specs/defaults.js";

/** One colour's answers: all of them and the 5xx among them. */
export interface Answers {
  all: number;
  errors: number;
}

/** What one router says it answered for each colour (null: it did not answer). */
export type RouterCounts = Record<string, Record<Color, Answers> | null>;

type StatusClassCounts = Record<"1xx" | "2xx" | "3xx" | "4xx" | "5xx", number>;

/** A router status's `responses` as answers per colour. */
export function answersOf(responses: Record<Color, StatusClassCounts> | undefined): Record<Color, Answers> | null {
  if (!responses) return null;
  const one = (c: StatusClassCounts): Answers => ({ all: c["1xx"] + c["2xx"] + c["3xx"] + c["4xx"] + c["5xx"], errors: c["5xx"] });
  return { blue: one(responses.blue), green: one(responses.green) };
}

/** How far `now` is past `base`, per colour; a counter that went down restarted from zero. */
export function grownSince(base: Answers, now: Answers): Answers {
  if (now.all < base.all || now.errors < base.errors) return { ...now };
  return { all: now.all - base.all, errors: now.errors - base.errors };
}

export class TrafficMeter {
  private readonly last = new Map<string, Record<Color, Answers>>();
  private readonly totals: Record<Color, Answers> = { blue: { all: 0, errors: 0 }, green: { all: 0, errors: 0 } };
  private readings: { atMs: number; totals: Record<Color, Answers> }[] = [];

  /** Adds one reading of every router. */
  record(counts: RouterCounts, atMs: number): void {
    for (const [router, now] of Object.entries(counts)) {
      if (!now) continue;
      const before = this.last.get(router);
      this.last.set(router, now);
      if (!before) continue; // the first reading of a router is its baseline
      for (const c of ["blue", "green"] as const) {
        const d = grownSince(before[c], now[c]);
        this.totals[c].all += d.all;
        this.totals[c].errors += d.errors;
      }
    }
    this.readings.push({ atMs, totals: { blue: { ...this.totals.blue }, green: { ...this.totals.green } } });
    const keepFrom = atMs - TRAFFIC_RATE_SPAN_MS;
    while (this.readings.length > 2 && this.readings[1]!.atMs <= keepFrom) this.readings.shift();
  }

  /** Requests per second and error ratio per colour over the span, or null before two readings. */
  rates(): Record<Color, ColorTraffic> | null {
    const first = this.readings[0];
    const last = this.readings[this.readings.length - 1];
    if (!first || !last || last.atMs <= first.atMs) return null;
    const secs = (last.atMs - first.atMs) / 1000;
    const one = (c: Color): ColorTraffic => {
      const all = last.totals[c].all - first.totals[c].all;
      const errors = last.totals[c].errors - first.totals[c].errors;
      return { requestsPerSecond: Math.round((all / secs) * 10) / 10, errorRatio: all > 0 ? Math.round((errors / all) * 1000) / 1000 : 0 };
    };
    return { blue: one("blue"), green: one("green") };
  }
}
