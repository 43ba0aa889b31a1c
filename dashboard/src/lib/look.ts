/** How states look: a tone (colour) and an icon, always shown next to the word itself. */
import type { ColorPhase, Condition, ConditionType } from "../../../specs/api/status.js";

export type Tone = "ok" | "warn" | "bad" | "info" | "idle";

export const PHASE: Record<ColorPhase, { tone: Tone; icon: string; hint: string }> = {
  Empty: { tone: "idle", icon: "○", hint: "no tag assigned" },
  Stopped: { tone: "idle", icon: "■", hint: "taken offline on purpose" },
  Deploying: { tone: "info", icon: "↻", hint: "pulling and starting the new tag" },
  Ready: { tone: "ok", icon: "✓", hint: "every node runs the tag and is healthy" },
  Degraded: { tone: "warn", icon: "⚠", hint: "some node or service is not healthy" },
  Failed: { tone: "bad", icon: "✕", hint: "the deploy failed" },
  Refused: { tone: "warn", icon: "⊘", hint: "the desired change was refused; the colour keeps what it runs" },
};

const ICON: Record<Tone, string> = { ok: "✓", warn: "⚠", bad: "✕", info: "↻", idle: "–" };

export function icon(t: Tone): string {
  return ICON[t];
}

/** Ready and Progressing are good when True; Degraded, Drifted and SpecInvalid are bad when True. */
export function conditionTone(c: Pick<Condition, "type" | "status">): Tone {
  if (c.status === "Unknown") return "idle";
  const yes = c.status === "True";
  switch (c.type) {
    case "Ready":
      return yes ? "ok" : "bad";
    case "Progressing":
      return yes ? "info" : "idle";
    case "Drifted":
      return yes ? "warn" : "ok";
    default:
      return yes ? "bad" : "ok";
  }
}

/** Each condition in plain words for either answer, so none reads as a double negative ("Degraded: False"). */
const CONDITION_WORDS: Record<ConditionType, [yes: string, no: string]> = {
  Ready: ["Live traffic served", "Live traffic not served"],
  Progressing: ["Working", "Nothing to do"],
  Degraded: ["Degraded", "Everything reachable"],
  Drifted: ["Drifted", "In sync"],
  SpecInvalid: ["Files invalid", "Files valid"],
  HistoryNotRecorded: ["Hand edit not recorded", "History recorded"],
  HistoryNotPushed: ["History not pushed", "History pushed"],
};

export function conditionWords(c: Pick<Condition, "type" | "status">): string {
  if (c.status === "Unknown") return `${c.type}: unknown`;
  const [yes, no] = CONDITION_WORDS[c.type];
  return c.status === "True" ? yes : no;
}

/** A container's state. Job containers sit exited or missing on colours that do not own jobs, so those are neutral. */
export function serviceTone(state: string): Tone {
  if (state === "running") return "ok";
  if (state === "pulling" || state === "starting") return "info";
  if (state === "unhealthy" || state === "crashLooping") return "bad";
  return "idle";
}

export function healthTone(health: string): Tone {
  return health === "healthy" ? "ok" : health === "unhealthy" ? "bad" : "idle";
}
