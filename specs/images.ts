/**
 * Which image each service runs. A service may name its own repository (cluster.yaml `services.<name>.image`);
 * the colour's tag applies to every service, and content is pinned per (colour, repository).
 */
import type { Cluster } from "./cluster.js";
import type { NodeServiceSpec, NodeSpec } from "./wire.js";

export interface ServiceImage {
  repository: string;
  /** The pinned content of the spec's tag in this repository, when known. */
  digest?: string;
}

/** The image a node spec's service runs: its own repository and digest, else the spec's. */
export function serviceImage(spec: Pick<NodeSpec, "repository" | "digest">, svc: Pick<NodeServiceSpec, "image" | "digest">): ServiceImage {
  if (svc.image !== undefined && svc.image !== spec.repository) return { repository: svc.image, ...(svc.digest !== undefined ? { digest: svc.digest } : {}) };
  return { repository: spec.repository, ...(spec.digest !== undefined ? { digest: spec.digest } : {}) };
}

/** Every repository a node spec's services run (its own `repository` when no service names another), in order. */
export function specRepositories(spec: Pick<NodeSpec, "repository" | "services">): string[] {
  const out = new Set<string>();
  for (const svc of Object.values(spec.services)) out.add(svc.image ?? spec.repository);
  if (out.size === 0) out.add(spec.repository);
  return [...out];
}

/** The repository a cluster.yaml service runs. */
export function clusterServiceRepository(cluster: Cluster, service: string): string {
  return cluster.spec.services[service]?.image ?? cluster.spec.image.repository;
}

/** Every repository the app's services run, spec.image.repository first when a service runs it. */
export function clusterRepositories(cluster: Cluster): string[] {
  const used = new Set(Object.keys(cluster.spec.services).map((s) => clusterServiceRepository(cluster, s)));
  const main = cluster.spec.image.repository;
  return used.has(main) ? [main, ...[...used].filter((r) => r !== main)] : [...used];
}

/** The registry host an image repository names (docker.io when it names none). */
export function registryHost(repository: string): string {
  const first = repository.split("/")[0]!;
  return repository.includes("/") && (first.includes(".") || first.includes(":") || first === "localhost") ? first : "docker.io";
}
