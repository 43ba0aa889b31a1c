/**
 * The narrow interface between the agent's converge loop and whatever runs containers. The Docker
 * runtime implements it through dockerode; a process runtime (for hosts without Docker) fits the same.
 * A runtime only ever sees and touches workloads labelled with this agent's app and node.
 */
import type { LogLine } from "../specs/logs.js";

/** `task`: a pre-promotion task run (tasks.ts); runtimes list tasks apart from the workloads the converger owns. */
export type WorkloadKind = "web" | "job" | "task";

/** Labels on every workload (Docker labels, or the process runtime's bookkeeping). */
export const LABEL = {
  app: "dev.switchyard.app",
  node: "dev.switchyard.node",
  color: "dev.switchyard.color",
  service: "dev.switchyard.service",
  tag: "dev.switchyard.tag",
  kind: "dev.switchyard.kind",
  /** Hash of everything that defines the workload; a different hash means replace it. */
  specHash: "dev.switchyard.spec-hash",
  /** Job lease epoch the workload was started under. */
  epoch: "dev.switchyard.epoch",
  /** The secrets it was started with: `name=fingerprint,…` (never a value). */
  secrets: "dev.switchyard.secrets",
  /** The restart request (NodeSpec.restartToken) it was started under. */
  restartToken: "dev.switchyard.restart-token",
  /** A task run's id (kind task): the agent adopts the run by it after a restart. */
  task: "dev.switchyard.task",
  /** A task run's task name (kind task). */
  taskName: "dev.switchyard.task-name",
} as const;

export interface WorkloadDef {
  app: string;
  node: string;
  color: string;
  service: string;
  repository: string;
  tag: string;
  kind: WorkloadKind;
  specHash: string;
  epoch?: number;
  /** NodeSpec.restartToken when it is started. */
  restartToken?: number;
  /** The secrets' fingerprints, label form (secrets.ts fingerprintLabel); set when the secrets are read. */
  secrets?: string;
  /** Set for a task run (kind task): its id and name. */
  task?: { id: string; name: string };
  command?: string[];
  env: Record<string, string>;
  /** Container port, published on publishAddress:hostPort. */
  port?: number;
  hostPort?: number;
  publishAddress: string;
  /** Memory limit (bytes, no swap beyond it) and pids limit. */
  memoryBytes: number;
  pidsLimit: number;
  /** Capabilities kept; every other one is dropped. */
  capabilities: readonly string[];
}

export interface Workload {
  id: string;
  name: string;
  service: string;
  tag: string;
  kind: WorkloadKind;
  specHash: string;
  epoch?: number;
  /** The restart request it was started under (label). */
  restartToken?: number;
  /** The secrets' fingerprints it was started with (label form). */
  secrets?: string;
  /** A task run's id (kind task). */
  task?: string;
  /** The image's repository digests (`repository@sha256:…`), when the engine knows them. */
  repoDigests?: readonly string[];
  running: boolean;
  /** e.g. "running", "exited (1)", "restarting". */
  stateText: string;
  /** ISO time of the last start or exit. */
  since: string;
}

export interface LogOptions {
  tail: number;
  since?: Date;
  follow: boolean;
}

export interface PullProgress {
  currentBytes: number;
  totalBytes: number;
}

export interface Runtime {
  readonly name: "docker" | "process";
  /**
   * Workloads of this app and node (of any app when `app` is empty: leftovers before a spec is known);
   * with `which` "tasks", only task runs (kind task), which a plain list leaves out.
   */
  list(app: string, node: string, which?: "workloads" | "tasks"): Promise<Workload[]>;
  /**
   * Makes the image available locally, pulling it if needed. Throws RuntimeError with a readable message;
   * kind `aborted` when `signal` aborts (a newer spec arrived), `pull-stalled` when the pull made no progress.
   * With `digest`, the local tag is made to hold exactly that content (pulled by digest when it holds other).
   */
  ensureImage(repository: string, tag: string, onProgress?: (p: PullProgress) => void, signal?: AbortSignal, digest?: string): Promise<void>;
  /** Creates and starts a workload; returns its id. */
  start(def: WorkloadDef): Promise<string>;
  /** The last `lines` lines a workload wrote (stdout and stderr), oldest first; for a dead workload's status. */
  logTail?(id: string, lines: number): Promise<string[]>;
  /**
   * A workload's log lines, oldest first: the last `tail` lines (only those since `since`, when given); with
   * `follow`, then one `caught-up` record and every line it writes after, until it stops (the iterable ends)
   * or `signal` aborts. Lines are cut at LOG_LINE_MAX_BYTES. Pulled, never pushed: a reader that does not
   * read holds the source back instead of filling memory.
   */
  logs?(id: string, opts: LogOptions, signal: AbortSignal): AsyncIterable<LogLine | { type: "caught-up" }>;
  /**
   * Graceful stop (SIGTERM, then SIGKILL after timeoutSeconds) and removal. Missing is fine. A workload
   * that is stopped but cannot be removed throws kind `unremovable`: it holds no port, the runtime lists it
   * no more (it is no service's workload) and tries its removal again by itself. One that still runs throws
   * another kind: it blocks its replacement.
   */
  stopAndRemove(id: string, timeoutSeconds: number): Promise<void>;
  /**
   * Calls back (soon, coalesced by the caller) whenever a workload of this node changes. Returns an unsubscribe.
   * `onEngineBack`: the engine stopped answering (a restart, an upgrade) and answers again; what it stopped
   * meanwhile nobody chose to stop. `lostAt` (Date.now()) is when it was first found gone.
   */
  watch(node: string, onChange: () => void, onEngineBack?: (lostAt: number) => void): () => void;
  /**
   * What differs between the workload `id` and what `def` would create, judged by what it is (image, ports,
   * capabilities, security options, mounts...), never by its labels; empty when it matches.
   */
  judge?(id: string, def: WorkloadDef, strict: boolean): Promise<string[]>;
  /** Throws RuntimeError when this runtime would refuse a service's env (checked when a spec arrives). */
  checkEnv?(service: string, env: Readonly<Record<string, unknown>>): void;
  /** Quick liveness check of the runtime itself (e.g. the Docker engine answers). */
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** A runtime failure phrased for a person: what happened and what to do. */
export class RuntimeError extends Error {
  constructor(message: string, readonly kind: "registry-unreachable" | "tag-not-found" | "unauthorized" | "pull-stalled" | "aborted" | "port-in-use" | "engine-unreachable" | "unremovable" | "other" = "other") {
    super(message);
    this.name = "RuntimeError";
  }
}

/** The labels (or the process runtime's bookkeeping) that identify a workload as ours. */
export function labelsOf(def: WorkloadDef): Record<string, string> {
  return {
    [LABEL.app]: def.app,
    [LABEL.node]: def.node,
    [LABEL.color]: def.color,
    [LABEL.service]: def.service,
    [LABEL.tag]: def.tag,
    [LABEL.kind]: def.kind,
    [LABEL.specHash]: def.specHash,
    ...(def.epoch !== undefined ? { [LABEL.epoch]: String(def.epoch) } : {}),
    ...(def.restartToken !== undefined ? { [LABEL.restartToken]: String(def.restartToken) } : {}),
    ...(def.secrets ? { [LABEL.secrets]: def.secrets } : {}),
    ...(def.task ? { [LABEL.task]: def.task.id, [LABEL.taskName]: def.task.name } : {}),
  };
}

/** A workload's kind from its labels. */
export function kindOf(l: Readonly<Record<string, string>>): WorkloadKind {
  return l[LABEL.kind] === "job" ? "job" : l[LABEL.kind] === "task" ? "task" : "web";
}

/** Whether labels belong in a list of `which` (task runs are listed apart). */
export function listedAs(l: Readonly<Record<string, string>>, which: "workloads" | "tasks" = "workloads"): boolean {
  return (kindOf(l) === "task") === (which === "tasks");
}

/** The fields of a workload read from its labels beyond the basic ones (restart token, secrets). */
export function extraFromLabels(l: Readonly<Record<string, string>>): Pick<Workload, "restartToken" | "secrets" | "task"> {
  const token = Number(l[LABEL.restartToken]);
  return {
    ...(Number.isSafeInteger(token) && token > 0 ? { restartToken: token } : {}),
    ...(l[LABEL.secrets] ? { secrets: l[LABEL.secrets] } : {}),
    ...(l[LABEL.task] ? { task: l[LABEL.task] } : {}),
  };
}

export function containerName(def: Pick<WorkloadDef, "app" | "node" | "service" | "task">): string {
  return def.task ? `sy-${def.app}-${def.node}-task-${def.task.name}` : `sy-${def.app}-${def.node}-${def.service}`;
}
