/**
 * Judging a container by what it is, not by its labels: labels can be copied onto a container run by
 * hand. The facts Docker reports (image ID, published ports, capabilities, security options, mounts,
 * privileges, namespaces, limits) are compared with what the agent would create for the spec; every
 * difference is drift, in words.
 */
import type { WorkloadDef } from "./runtime.js";
import { ADDABLE_CAPABILITIES } from "../specs/defaults.js";

/** Capabilities a container of an earlier spec may hold (a service may add these back). */
const ALLOWED_ANYWHERE: ReadonlySet<string> = new Set(ADDABLE_CAPABILITIES);

/** What `docker inspect` says about a container, reduced to what the spec decides. */
export interface ContainerFacts {
  imageId: string;
  portBindings: Record<string, { HostIp?: string; HostPort?: string }[] | null>;
  capAdd: string[];
  capDrop: string[];
  securityOpt: string[];
  /** Host paths and named volumes mounted in (anonymous volumes an image declares are not listed). */
  mounts: string[];
  privileged: boolean;
  /** Namespaces shared with the host or another container: network, pid, ipc, uts (e.g. "network=host"). */
  sharedNamespaces: string[];
  devices: number;
  memoryBytes: number;
  pidsLimit: number;
}

/**
 * Differences between a container and what the agent would create for `def`; empty when it is ours as made.
 * `strict` when the container claims to be made for this very spec (its spec-hash label): then its ports,
 * limits and added capabilities must match too; a container left from an earlier spec is only held to its
 * image (of the tag it claims) and to what every container of ours has (no privileges, mounts, host namespaces).
 */
export function driftOf(f: ContainerFacts, def: WorkloadDef, expectedImageId: string | undefined, strict = true): string[] {
  const out: string[] = [];
  if (expectedImageId === undefined) out.push(`runs image ${short(f.imageId)}, and ${def.repository}:${def.tag} is not on this node`);
  else if (f.imageId !== expectedImageId) out.push(`runs image ${short(f.imageId)}, not ${def.repository}:${def.tag} (${short(expectedImageId)})`);
  const wantPorts = def.port !== undefined && def.hostPort !== undefined ? [`${def.port}/tcp ${def.publishAddress}:${def.hostPort}`] : [];
  const ports = Object.entries(f.portBindings ?? {}).flatMap(([p, bs]) => (bs ?? []).map((b) => `${p} ${b.HostIp || "0.0.0.0"}:${b.HostPort ?? ""}`)).sort();
  if (strict && ports.join(",") !== wantPorts.join(",")) out.push(`publishes ${ports.join(", ") || "nothing"} instead of ${wantPorts.join(", ") || "nothing"}`);
  const capAdd = caps(f.capAdd);
  const wantAdd = caps([...def.capabilities]);
  if (caps(f.capDrop).join(",") !== "ALL") out.push("does not drop all capabilities");
  if (strict ? capAdd.join(",") !== wantAdd.join(",") : capAdd.some((c) => !ALLOWED_ANYWHERE.has(c))) out.push(`adds capabilities ${capAdd.join(", ") || "none"} instead of ${wantAdd.join(", ") || "none"}`);
  if (!f.securityOpt.includes("no-new-privileges") || f.securityOpt.length !== 1) out.push(`has security options ${f.securityOpt.join(", ") || "none"} instead of no-new-privileges`);
  if (f.mounts.length > 0) out.push(`mounts ${f.mounts.join(", ")}`);
  if (f.privileged) out.push("is privileged");
  if (f.sharedNamespaces.length > 0) out.push(`shares ${f.sharedNamespaces.join(", ")}`);
  if (f.devices > 0) out.push(`has ${f.devices} device(s)`);
  if (strict && f.memoryBytes !== def.memoryBytes) out.push(`has a memory limit of ${mib(f.memoryBytes)} instead of ${mib(def.memoryBytes)}`);
  else if (f.memoryBytes <= 0) out.push("has no memory limit");
  if (strict && f.pidsLimit !== def.pidsLimit) out.push(`has a pids limit of ${f.pidsLimit || "none"} instead of ${def.pidsLimit}`);
  return out;
}

function caps(l: readonly string[]): string[] {
  return l.map((c) => c.toUpperCase().replace(/^CAP_/, "")).sort();
}

function short(id: string): string {
  return id.replace(/^sha256:/, "").slice(0, 12);
}

function mib(bytes: number): string {
  return bytes > 0 ? `${Math.round(bytes / 1024 / 1024)} MiB` : "none";
}
