/** The one-line commit message of a change to state.yaml, in the words of the action it amounts to. */
import type { State } from "../../specs/state.js";
import { COLORS, type Color } from "../../specs/types.js";

/**
 * A message a person understands for the change from `before` to `after`: "deploy v2 to green",
 * "promote green (v2)", "roll back to blue (v1)", "stop blue", "move jobs to green", joined by commas.
 * Whether a switch is a promotion or a rollback is the caller's `intent` when given; otherwise a switch
 * to an older version tag (v1 after v2) reads as a rollback.
 */
export function describeChange(before: State, after: State, o: { intent?: "promote" | "rollback" } = {}): string {
  const b = before.spec;
  const a = after.spec;
  const starts: string[] = [];
  const stops: string[] = [];
  for (const c of COLORS) {
    const was = b.colors[c];
    const now = a.colors[c];
    const wasRunning = was.stopped !== true;
    const nowRunning = now.stopped !== true;
    if (nowRunning && (!wasRunning || was.tag !== now.tag)) starts.push(was.tag === now.tag ? `start ${c} (${now.tag})` : `deploy ${now.tag} to ${c}`);
    else if (!nowRunning && wasRunning) stops.push(`stop ${c}`);
    else if (!nowRunning && was.tag !== now.tag) stops.push(`set ${c} to ${now.tag ?? "no tag"} (stopped)`);
    else if (was.tag === now.tag && was.digest !== now.digest) starts.push(now.digest ? `redeploy ${c} (${now.tag} as ${now.digest.slice(0, 19)})` : `unpin ${c} (${now.tag})`);
  }
  const parts = [...starts];
  if (a.active !== b.active) {
    const tag = a.colors[a.active].tag;
    const rollback = o.intent ? o.intent === "rollback" : isOlderVersion(tag, b.colors[b.active].tag);
    parts.push(`${rollback ? "roll back to" : "promote"} ${a.active}${tag ? ` (${tag})` : ""}`);
  }
  parts.push(...stops);
  const ownerBefore = b.jobs?.owner ?? "active";
  const ownerAfter = a.jobs?.owner ?? "active";
  if (ownerAfter !== ownerBefore) {
    parts.push(ownerAfter === "none" ? "stop jobs (owner none)" : ownerAfter === "active" ? `move jobs to the active colour (${a.active})` : `move jobs to ${ownerAfter as Color}`);
  }
  if (parts.length > 0) return parts.join(", ");
  return JSON.stringify(before) === JSON.stringify(after) ? "no change" : "edit state.yaml";
}

const versionOrder = new Intl.Collator("en", { numeric: true, sensitivity: "base" });

function isOlderVersion(tag: string | undefined, than: string | undefined): boolean {
  const looksVersioned = (t: string | undefined): t is string => t !== undefined && /^v?\d/i.test(t);
  return looksVersioned(tag) && looksVersioned(than) && versionOrder.compare(tag, than) < 0;
}
