/**
 * The soak's schedule, drawn from the seed alone: the same seed gives the same sequence of faults and
 * desired-state changes (their timing on the machine varies; their order and content do not).
 * Changes are drawn against the driver's model of the desired state, so each is one a person could make.
 */
import { BAD_TAGS, CRASH_TAG, GOOD_TAGS } from "./cluster.js";
import type { ChangeKind, FaultKind } from "./history.js";
import { other, ownerColor, type DesiredModel } from "./model.js";
import type { Prng } from "./prng.js";

export type InvalidKind = "yaml" | "schema" | "stop-active" | "owner-stopped" | "live-tag";

export interface Change {
  kind: ChangeKind;
  next: DesiredModel;
  invalid?: InvalidKind;
  detail: string;
}

export interface FaultPlan {
  kind: FaultKind;
  target: string;
  detail: string;
  durationMs: number;
  /** Changes made while the fault lasts. */
  changes: number;
}

export interface Targets {
  appNodes: string[];
  routers: string[];
  /** Data dirs on a small tmpfs that can be filled: "reconciler" or a node's name. */
  disks: string[];
  crashLoop: boolean;
  /** Docker nodes run (on the soak's own engine, pulling through the registry relay). */
  docker?: boolean;
}

const FAULTS: readonly (readonly [FaultKind, number])[] = [
  ["kill-reconciler", 3], ["kill-agent", 3], ["kill-router", 2], ["stop-agent", 2], ["partition-agent", 3],
  ["partition-router", 2], ["slow-agent", 2], ["crash-loop", 1], ["disk-full", 1],
  ["registry-down", 2], ["engine-restart", 2],
];
const DOCKER_FAULTS: readonly FaultKind[] = ["registry-down", "engine-restart"];

export function drawFault(p: Prng, t: Targets): FaultPlan {
  const kinds = FAULTS.filter(([k]) => (k !== "crash-loop" || t.crashLoop) && (k !== "disk-full" || t.disks.length > 0) && (!DOCKER_FAULTS.includes(k) || t.docker));
  const kind = p.weighted(kinds);
  const durationMs = p.int(1000, 5000);
  const changes = p.weighted([[0, 3], [1, 3], [2, 1]] as const);
  switch (kind) {
    case "kill-reconciler":
      return { kind, target: "reconciler", detail: `down ${durationMs} ms`, durationMs, changes };
    case "kill-agent":
    case "stop-agent":
      return { kind, target: p.pick(t.appNodes), detail: `${durationMs} ms`, durationMs, changes };
    case "kill-router":
      return { kind, target: p.pick(t.routers), detail: `down ${durationMs} ms`, durationMs, changes };
    case "partition-agent":
    case "partition-router": {
      const mode = p.pick(["cut", "blackhole"] as const);
      return { kind, target: p.pick(kind === "partition-agent" ? t.appNodes : t.routers), detail: mode, durationMs, changes };
    }
    case "slow-agent": {
      const latency = p.int(100, 1500);
      return { kind, target: p.pick([...t.appNodes, ...t.routers]), detail: `latency ${latency} ms`, durationMs, changes };
    }
    case "crash-loop":
      return { kind, target: "idle colour", detail: `tag ${CRASH_TAG}`, durationMs: p.int(4000, 10_000), changes: 0 };
    case "disk-full":
      return { kind, target: p.pick(t.disks), detail: `${durationMs} ms`, durationMs, changes };
    case "registry-down":
      // One deploy during the outage that must pull (the driver makes it), and perhaps more changes.
      return { kind, target: "registry", detail: `down ${durationMs + 4000} ms`, durationMs: durationMs + 4000, changes };
    case "engine-restart":
      return { kind, target: "docker engine", detail: `down ${durationMs} ms`, durationMs, changes };
  }
}

const isBad = (tag: string) => (BAD_TAGS as readonly string[]).includes(tag);

/** A change to the model; `allowDeploy` false while a crash-loop fault owns the idle colour. */
export function drawChange(p: Prng, m: DesiredModel, allowDeploy = true): Change {
  const idle = other(m.active);
  const next = structuredClone(m);
  const choices: [ChangeKind, number][] = [["jobs", 3], ["invalid", 2]];
  const idleGood = !m.stopped[idle] && !isBad(m.tags[idle]);
  if (allowDeploy) choices.push(["deploy", 4]);
  if (idleGood) choices.push(["promote", 4]);
  if (allowDeploy && (isBad(m.tags[idle]) || m.stopped[idle])) choices.push(["bad-promote", 1]);
  if (allowDeploy && !m.stopped[idle] && ownerColor(m) !== idle) choices.push(["stop", 1]);
  if (allowDeploy && m.stopped[idle]) choices.push(["start", 2]);
  const kind = p.weighted(choices);
  switch (kind) {
    case "deploy": {
      const tag = p.weighted([[GOOD_TAGS[0], 3], [GOOD_TAGS[1], 3], ["v3", 1]] as const);
      next.tags[idle] = tag;
      next.stopped[idle] = false;
      return { kind, next, detail: `${tag} to ${idle}` };
    }
    case "promote": {
      next.active = idle;
      const back = m.tags[idle] < m.tags[m.active];
      return { kind: back ? "rollback" : "promote", next, detail: `live → ${idle} (${m.tags[idle]})` };
    }
    case "bad-promote":
      next.active = idle;
      return { kind, next, detail: `live → ${idle}, which ${m.stopped[idle] ? "is stopped" : `runs ${m.tags[idle]}`}` };
    case "stop":
      next.stopped[idle] = true;
      return { kind, next, detail: `stop ${idle}` };
    case "start": {
      next.stopped[idle] = false;
      next.tags[idle] = p.pick(GOOD_TAGS);
      return { kind, next, detail: `start ${idle} on ${next.tags[idle]}` };
    }
    case "jobs": {
      const options = (["active", "blue", "green", "none"] as const).filter((o) => o !== m.owner && (o === "active" || o === "none" || !m.stopped[o]));
      next.owner = p.pick(options);
      return { kind, next, detail: `jobs → ${next.owner}` };
    }
    default: {
      const kinds: InvalidKind[] = ["yaml", "schema", "stop-active", "live-tag"];
      if (m.stopped[idle]) kinds.push("owner-stopped");
      const invalid = p.pick(kinds);
      return { kind: "invalid", next: m, invalid, detail: invalid };
    }
  }
}
