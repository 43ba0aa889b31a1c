/**
 * What a service of a node spec looks like as a workload (container or process): its definition, and
 * whether a running workload still is what the spec asks for.
 */
import { createHash } from "node:crypto";
import type { NodeSpec, NodeServiceSpec } from "../../specs/wire.js";
import { canonical } from "../../specs/equality.js";
import { serviceImage } from "../../specs/images.js";
import type { Workload, WorkloadDef } from "../runtime.js";
import { containerLimits } from "../container-bounds.js";

/** How a workload differs from the spec whose hash is given, judged by what it is (empty: it matches). */
export type DriftOf = (id: string, hash: string) => readonly string[];
const NO_DRIFT: DriftOf = () => [];

/** Everything that defines a service's container; a change means the container is replaced. */
export function specHash(spec: NodeSpec, name: string, svc: NodeServiceSpec): string {
  const identity = { repository: serviceImage(spec, svc).repository, tag: spec.tag, color: spec.color, name, port: svc.port, hostPort: svc.hostPort, env: svc.env, command: svc.command, job: svc.job, ...containerLimits(svc), ...(svc.secrets?.length ? { secrets: svc.secrets } : {}) };
  return createHash("sha256").update(canonical(identity)).digest("hex").slice(0, 16);
}

/** True when `w` runs service `name` as the spec defines it: tag and spec hash, and nothing judged different. */
export function matches(w: Workload, name: string, svc: NodeServiceSpec, spec: NodeSpec, driftOf: DriftOf = NO_DRIFT): boolean {
  const hash = specHash(spec, name, svc);
  return w.tag === spec.tag && w.specHash === hash && restartedSince(w, spec) && driftOf(w.id, hash).length === 0;
}

/**
 * True unless a restart was asked for after `w` started (spec.restartToken above the one it started under).
 * Only a higher token re-creates: a spec without one (a reconciler that forgot it) never does.
 */
export function restartedSince(w: Workload, spec: NodeSpec): boolean {
  return spec.restartToken === undefined || (w.restartToken ?? 0) >= spec.restartToken;
}

/** True when exactly one workload of the service runs and it matches the spec. */
export function satisfied(all: readonly Workload[], name: string, svc: NodeServiceSpec, spec: NodeSpec, driftOf: DriftOf = NO_DRIFT): boolean {
  const mine = all.filter((w) => w.service === name);
  return mine.length === 1 && mine[0]!.running && matches(mine[0]!, name, svc, spec, driftOf);
}

/** The workload that runs service `name` of `spec` (`epoch` for a job, the lease epoch it runs under). */
export function workloadDef(spec: NodeSpec, name: string, svc: NodeServiceSpec, publishAddress: string, epoch?: number): WorkloadDef {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(svc.env ?? {})) env[k] = String(v);
  if (svc.port !== undefined && env.PORT === undefined) env.PORT = String(svc.port);
  Object.assign(env, {
    SWITCHYARD_APP: spec.app,
    SWITCHYARD_COLOR: spec.color,
    SWITCHYARD_TAG: spec.tag!,
    SWITCHYARD_NODE: spec.node,
    SWITCHYARD_SERVICE: name,
    ...(epoch !== undefined ? { SWITCHYARD_JOBS_EPOCH: String(epoch) } : {}),
  });
  return {
    app: spec.app,
    node: spec.node,
    color: spec.color,
    service: name,
    repository: serviceImage(spec, svc).repository,
    tag: spec.tag!,
    kind: svc.job ? "job" : "web",
    specHash: specHash(spec, name, svc),
    ...(epoch !== undefined ? { epoch } : {}),
    ...(spec.restartToken !== undefined ? { restartToken: spec.restartToken } : {}),
    ...(svc.command ? { command: svc.command } : {}),
    env,
    ...(svc.port !== undefined ? { port: svc.port } : {}),
    ...(svc.hostPort !== undefined ? { hostPort: svc.hostPort } : {}),
    publishAddress,
    ...containerLimits(svc),
  };
}
