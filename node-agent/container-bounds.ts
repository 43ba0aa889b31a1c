/**
 * What a service's container may ask for: memory and pids limits and capabilities added back, each bounded
 * by agent.yaml `containers`. The defaults live in specs/defaults.ts.
 */
import type { NodeServiceSpec } from "../specs/wire.js";
import { DEFAULT_CAPABILITIES, DEFAULT_MEMORY_MIB, DEFAULT_PIDS_LIMIT } from "../specs/defaults.js";
import { agentError } from "./errors.js";

/** agent.yaml `containers`. */
export interface ContainerBounds {
  maxMemoryMiB: number;
  maxPids: number;
  allowedCapabilities: readonly string[];
}

/** The limits and capabilities a service's container gets (defaults filled in, capabilities sorted). */
export function containerLimits(svc: NodeServiceSpec): { memoryBytes: number; pidsLimit: number; capabilities: string[] } {
  return {
    memoryBytes: (svc.limits?.memoryMiB ?? DEFAULT_MEMORY_MIB) * 1024 * 1024,
    pidsLimit: svc.limits?.pids ?? DEFAULT_PIDS_LIMIT,
    capabilities: [...new Set<string>([...DEFAULT_CAPABILITIES, ...(svc.capabilities ?? [])])].sort(),
  };
}

/** Throws AGENT_ERR_LIMIT_NOT_ALLOWED when a service asks for more than this agent gives. */
export function refuseBeyondBounds(name: string, svc: NodeServiceSpec, b: ContainerBounds): void {
  const memoryMiB = svc.limits?.memoryMiB ?? DEFAULT_MEMORY_MIB;
  if (memoryMiB > b.maxMemoryMiB) {
    throw agentError("AGENT_ERR_LIMIT_NOT_ALLOWED", `services.${name}.limits.memoryMiB ${memoryMiB} is above this agent's containers.maxMemoryMiB ${b.maxMemoryMiB}; nothing was changed`);
  }
  const pids = svc.limits?.pids ?? DEFAULT_PIDS_LIMIT;
  if (pids > b.maxPids) {
    throw agentError("AGENT_ERR_LIMIT_NOT_ALLOWED", `services.${name}.limits.pids ${pids} is above this agent's containers.maxPids ${b.maxPids}; nothing was changed`);
  }
  const extra = (svc.capabilities ?? []).filter((c) => !b.allowedCapabilities.includes(c) && !(DEFAULT_CAPABILITIES as readonly string[]).includes(c));
  if (extra.length > 0) {
    throw agentError("AGENT_ERR_LIMIT_NOT_ALLOWED", `services.${name}.capabilities ${extra.join(", ")} not in this agent's containers.allowedCapabilities; nothing was changed`);
  }
}
