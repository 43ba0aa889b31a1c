/**
 * Spec admission: what the agent refuses in any spec whatever the reconciler says, the generation rule
 * (idempotent for the same generation and content, never older), and the accepted spec kept in
 * `<dataDir>/spec.json`. A spec kept from the last run is checked like a new one on start-up: one
 * that cannot be applied (no longer valid, or no longer allowed by agent.yaml) is moved aside and
 * reported, so a bad spec can never crash-loop the agent.
 */
import { readFile, rename } from "node:fs/promises";
import { join } from "node:path";
import type { Logger } from "pino";
import type { NodeSpec } from "../../specs/wire.js";
import { validateAgainst } from "../../specs/validate.js";
import { sameSpec } from "../../specs/equality.js";
import { specRepositories } from "../../specs/images.js";
import { writeFileAtomic } from "../../common/atomic-file.js";
import { agentError } from "../errors.js";
import type { Runtime } from "../runtime.js";
import { refuseBeyondBounds, type ContainerBounds } from "../container-bounds.js";

export interface NodeBounds {
  name: string;
  allowedRepositories: readonly string[];
  runtime: Runtime;
  containers: ContainerBounds;
}

/**
 * Admits `spec` over the accepted one (null when none): true when it is new and now on disk, false when it
 * is the accepted spec again; throws the coded error when it is refused or stale. Nothing changes on a throw.
 */
export async function admitSpec(dataDir: string, current: NodeSpec | null, spec: NodeSpec, b: NodeBounds): Promise<boolean> {
  refuseNotAllowed(spec, b);
  if (current && spec.generation < current.generation) {
    throw agentError("AGENT_ERR_STALE_GENERATION", `generation ${spec.generation} is older than the accepted generation ${current.generation}`);
  }
  if (current && spec.generation === current.generation) {
    if (sameSpec(current, spec)) return false;
    throw agentError("AGENT_ERR_STALE_GENERATION", `generation ${spec.generation} was already accepted with different content; send a higher generation`);
  }
  await writeFileAtomic(specFile(dataDir), JSON.stringify(spec, null, 2));
  return true;
}

/** Throws the coded error for the first thing this agent refuses: another node, images, ports, env. */
export function refuseNotAllowed(spec: NodeSpec, b: NodeBounds): void {
  if (spec.node !== b.name) {
    throw agentError("AGENT_ERR_WRONG_NODE", `this agent is node "${b.name}", not "${spec.node}"; check the agent URL in cluster.yaml`);
  }
  for (const repository of specRepositories(spec)) {
    if (!b.allowedRepositories.includes(repository)) {
      throw agentError("AGENT_ERR_IMAGE_NOT_ALLOWED", `image repository ${repository} is not in this agent's allowedRepositories; nothing was pulled or changed`);
    }
  }
  for (const [name, svc] of Object.entries(spec.services)) {
    if (svc.hostPort !== undefined && svc.hostPort < 1024) {
      throw agentError("AGENT_ERR_INVALID_SPEC", `services.${name}.hostPort ${svc.hostPort} is a privileged port; use 1024 or above`);
    }
    if (svc.hostPort !== undefined && svc.port === undefined) {
      throw agentError("AGENT_ERR_INVALID_SPEC", `services.${name} has a hostPort but no container port`);
    }
    if (b.runtime.name === "process" && svc.image !== undefined && svc.image !== spec.repository) {
      throw agentError("AGENT_ERR_INVALID_SPEC", `services.${name}.image ${svc.image}: the process runtime runs releases of one repository (its releasesDir), not images of each service; remove the service's image or run this node with runtime docker`);
    }
    refuseBeyondBounds(name, svc, b.containers);
    try {
      b.runtime.checkEnv?.(name, svc.env ?? {});
    } catch (err) {
      throw agentError("AGENT_ERR_ENV_NOT_ALLOWED", `${(err as Error).message}; nothing was changed`);
    }
  }
}

/** The spec kept by the last run (null when none or set aside), and why it was set aside (else null). */
export async function restoreSpec(dataDir: string, b: NodeBounds, log: Logger): Promise<{ spec: NodeSpec | null; error: string | null }> {
  const file = specFile(dataDir);
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(file, "utf8"));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return { spec: null, error: null };
    return setAside(file, `it is not readable JSON (${(err as Error).message})`, log);
  }
  const v = validateAgainst<NodeSpec>("node-spec", raw);
  if (!v.ok) return setAside(file, v.issues.slice(0, 3).map((i) => i.message).join("; "), log);
  try {
    refuseNotAllowed(v.value, b);
  } catch (err) {
    return setAside(file, (err as Error).message, log);
  }
  return { spec: v.value, error: null };
}

export function specFile(dataDir: string): string {
  return join(dataDir, "spec.json");
}

async function setAside(file: string, why: string, log: Logger): Promise<{ spec: null; error: string }> {
  const aside = `${file}.rejected-${new Date().toISOString().replace(/[:.]/g, "-")}`;
  await rename(file, aside);
  log.error({ file: aside, err: why.slice(0, 500) }, "persisted spec set aside");
  return {
    spec: null,
    error: `the spec kept from the last run cannot be applied: ${why.slice(0, 500)}; it was moved to ${aside} and nothing was started from it; the reconciler will send a new one`,
  };
}
