/**
 * The router's per-colour traffic figures: responses by colour, host kind and status class, and a latency
 * histogram per colour. Kept as plain numbers in typed arrays, indexed by small integers the hot path already
 * has: recording a response is a few increments, no label lookup, no allocation, no string. Status, the
 * /metrics endpoint and tests read them.
 */
import type { Color } from "../../specs/types.js";
import { BucketCounts, LATENCY_BUCKETS_SECONDS } from "../../common/metrics.js";
import { HOST_KINDS } from "./table.js";

export const STATUS_CLASSES = ["1xx", "2xx", "3xx", "4xx", "5xx"] as const;
export type StatusClass = (typeof STATUS_CLASSES)[number];
const KINDS = HOST_KINDS.length;
const CLASSES = STATUS_CLASSES.length;

export class Traffic {
  /** Responses: [colour (0 blue, 1 green)][host kind][status class], flattened. */
  readonly responses = new Float64Array(2 * KINDS * CLASSES);
  /** Time from a request's head to the end of its response, per colour. */
  readonly latency: Record<Color, BucketCounts> = { blue: new BucketCounts(LATENCY_BUCKETS_SECONDS), green: new BucketCounts(LATENCY_BUCKETS_SECONDS) };
  /** Table swaps that changed the live colour. */
  flips = 0;
  /** Connections closed by the drain timeout, per colour. */
  readonly drainCloses: Record<Color, number> = { blue: 0, green: 0 };

  /** One response of `color` (hostKind indexes HOST_KINDS), `seconds` after its request head arrived. */
  record(color: Color, hostKind: number, status: number, seconds: number): void {
    let cls = ((status / 100) | 0) - 1;
    if (cls < 0) cls = 0;
    else if (cls >= CLASSES) cls = CLASSES - 1;
    this.responses[((color === "blue" ? 0 : KINDS) + hostKind) * CLASSES + cls]!++;
    this.latency[color].observe(seconds);
  }

  /** Responses of `color` by status class, over every host kind (for status and the dashboard). */
  byStatusClass(color: Color): Record<StatusClass, number> {
    const out = { "1xx": 0, "2xx": 0, "3xx": 0, "4xx": 0, "5xx": 0 };
    for (let k = 0; k < KINDS; k++) {
      for (let c = 0; c < CLASSES; c++) out[STATUS_CLASSES[c]!] += this.count(color, k, c);
    }
    return out;
  }

  /** Responses of one colour, host kind (index) and status class (index). */
  count(color: Color, hostKind: number, statusClass: number): number {
    return this.responses[((color === "blue" ? 0 : KINDS) + hostKind) * CLASSES + statusClass]!;
  }
}
