/**
 * When two wire specs are the same: part of the contract between the reconciler (which sends a spec only
 * when it differs from what an agent holds) and the agents (which converge only on a spec that differs).
 */
import type { NodeSpec, RouterSpec } from "./wire.js";

/** Two specs are the same when they differ at most in their generation. */
export function sameSpec(a: NodeSpec | RouterSpec | null | undefined, b: NodeSpec | RouterSpec | null | undefined): boolean {
  if (!a || !b) return a === b;
  return canonical({ ...a, generation: 0 }) === canonical({ ...b, generation: 0 });
}

/** JSON with sorted keys, so that key order never makes two equal values differ. */
export function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(",")}]`;
  if (v && typeof v === "object") {
    const keys = Object.keys(v as object).filter((k) => (v as Record<string, unknown>)[k] !== undefined).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`).join(",")}}`;
  }
  return JSON.stringify(v);
}
