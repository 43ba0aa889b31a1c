/**
 * --wait for the CLI's actions: follows the status until the reconciler has acted on the committed
 * state.yaml revision and finished (Progressing False), printing each progress message once; then says whether the
 * change took effect. Exit codes: 0 done, 1 failed or refused, 3 timed out (still in progress).
 */
import type { ClusterStatus } from "../reconciler/loop/status.js";
import { otherColor, type Color } from "../specs/types.js";
import { call } from "./client.js";

/** What the change asked for, to check it against the status at the end. */
export type Goal =
  | { kind: "deploy"; color: Color | null; tag: string }
  | { kind: "live"; color: Color | null }
  | { kind: "jobs"; owner: string }
  | { kind: "stopped"; color: Color; stopped: boolean };

export const WAIT_POLL_MS = 500;
export const EXIT_TIMED_OUT = 3;

export async function waitFor(server: string, revision: string, goal: Goal, timeoutMs: number, out: (line: string) => void): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  let said = "";
  for (;;) {
    let s: ClusterStatus;
    try {
      s = await call<ClusterStatus>(server, "GET", "/api/v1/status");
    } catch (err) {
      // A blip (a restart, a 503) is not the change failing: keep following it until the deadline.
      if (Date.now() >= deadline) throw err;
      const line = `… the reconciler did not answer (${(err as Error).message}); trying again`;
      if (line !== said) out((said = line));
      await new Promise((r) => setTimeout(r, WAIT_POLL_MS));
      continue;
    }
    const progressing = s.conditions.find((c) => c.type === "Progressing");
    if (s.stateRevision === revision) {
      const line = progressing?.status === "True" ? `… ${progressing.message}` : "";
      if (line && line !== said) out((said = line));
      if (progressing?.status === "False") return verdict(s, goal, out);
    }
    if (Date.now() >= deadline) {
      out(`still in progress after ${Math.round(timeoutMs / 1000)} s${progressing ? `: ${progressing.message}` : ""}; "switchyard status" follows it`);
      return EXIT_TIMED_OUT;
    }
    await new Promise((r) => setTimeout(r, WAIT_POLL_MS));
  }
}

function verdict(s: ClusterStatus, goal: Goal, out: (line: string) => void): number {
  // Only a refusal of this change counts (another colour's trouble is not this change failing).
  const color = goal.kind === "deploy" ? goal.color ?? (s.active ? otherColor(s.active) : null) : goal.kind === "stopped" ? goal.color : goal.kind === "live" ? s.active : s.jobs?.ownerColor ?? null;
  const refused = s.pending.find((p) => p.type === "refuse" && (p.color === undefined || p.color === color));
  if (refused) {
    out(`failed: ${refused.message}`);
    return 1;
  }
  const fail = (why: string) => (out(`failed: ${why}`), 1);
  switch (goal.kind) {
    case "deploy": {
      // Without --to the API deploys to the idle colour: the one that is not active.
      const c = goal.color ?? (s.active ? otherColor(s.active) : null);
      const cs = c && s.colors?.[c];
      if (!cs || cs.phase !== "Ready" || cs.tag !== goal.tag) return fail(`${c ?? "the colour"} is ${cs?.phase ?? "unknown"}${cs?.message ? `: ${cs.message}` : ""}`);
      out(`done: ${c} runs ${goal.tag} and is ready`);
      return 0;
    }
    case "live":
      if (s.router?.live !== s.active) return fail(`live traffic goes to ${s.router?.live ?? "no colour"}, not ${s.active}`);
      out(`done: live traffic goes to ${s.router.live}`);
      return 0;
    case "jobs": {
      const want = s.jobs?.ownerColor ?? null;
      const holders = s.jobs?.holders ?? [];
      if (want === null ? holders.length > 0 : !holders.every((h) => h.color === want) || holders.length === 0) return fail(`the job lease is held by ${holders.map((h) => h.node).join(", ") || "no node"}`);
      out(`done: jobs run on ${want ?? "no colour"}`);
      return 0;
    }
    case "stopped": {
      const cs = s.colors?.[goal.color];
      const ok = goal.stopped ? cs?.phase === "Stopped" && cs.nodes.every((n) => Object.values(n.services).every((x) => x.state !== "running")) : cs?.phase === "Ready";
      if (!ok) return fail(`${goal.color} is ${cs?.phase ?? "unknown"}${cs?.message ? `: ${cs.message}` : ""}`);
      out(`done: ${goal.color} is ${cs!.phase.toLowerCase()}`);
      return 0;
    }
  }
}
