/**
 * What the history tells people: the HistoryNotRecorded and HistoryNotPushed conditions and alerts
 * (contract: condition types in GET /api/v1/status, alert names in webhooks and GET /api/v1/alerts).
 */
import type { AlertCandidate, AlertManager } from "../notify/alerts.js";
import type { HistoryCondition } from "../loop/status.js";
import type { PushOutcome } from "./push.js";

export const HISTORY_NOT_RECORDED = "HistoryNotRecorded";
export const HISTORY_NOT_PUSHED = "HistoryNotPushed";

export interface HistoryView {
  /** Git history is on for the deploy dir. */
  enabled: boolean;
  /** A remote is configured (--git-remote). */
  remote: boolean;
  notRecorded: string | null;
  /** A hand edit is waiting to be recorded as a commit (normal for a second or so after saving). */
  recording?: boolean;
  push: Extract<PushOutcome, { ok: false }> | null;
}

/** The history conditions that apply (see HistoryCondition). */
export function historyConditions(v: HistoryView): HistoryCondition[] {
  const out: HistoryCondition[] = [];
  if (v.enabled) {
    out.push(
      v.notRecorded
        ? { type: HISTORY_NOT_RECORDED, status: "True", reason: "HandEditNotRecorded", message: v.notRecorded }
        : v.recording
          ? { type: HISTORY_NOT_RECORDED, status: "False", reason: "Recording", message: "state.yaml was saved by hand without a commit: Switchyard records it as its own commit, then acts on it" }
          : { type: HISTORY_NOT_RECORDED, status: "False", reason: "Committed", message: "the state in force is a commit" },
    );
  }
  if (v.remote) {
    out.push(
      v.push
        ? { type: HISTORY_NOT_PUSHED, status: "True", reason: v.push.reason, message: `the last push to ${v.push.remote} failed: ${v.push.message}. Commits are kept here and go with the next push` }
        : { type: HISTORY_NOT_PUSHED, status: "False", reason: "Pushed", message: "every push so far went through" },
    );
  }
  return out;
}

/** Fires or resolves the HistoryNotPushed alert for a push outcome. */
export function reportPush(alerts: AlertManager | undefined, o: PushOutcome): void {
  if (o.ok) return alerts?.clear(HISTORY_NOT_PUSHED);
  const a: AlertCandidate = {
    fingerprint: HISTORY_NOT_PUSHED,
    name: HISTORY_NOT_PUSHED,
    severity: "warning",
    summary: `git push to ${o.remote} failed (${o.reason}): ${o.message}. The commit is kept here and goes with the next push`,
    labels: { reason: o.reason },
  };
  alerts?.raise(a);
}

/** Fires or resolves the HistoryNotRecorded alert (a hand edit that does not act). */
export function reportNotRecorded(alerts: AlertManager | undefined, problem: string | null): void {
  if (problem === null) return alerts?.clear(HISTORY_NOT_RECORDED);
  alerts?.raise({ fingerprint: HISTORY_NOT_RECORDED, name: HISTORY_NOT_RECORDED, severity: "critical", summary: problem, labels: { file: "state.yaml" } });
}
