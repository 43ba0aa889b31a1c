/**
 * Turns cluster.yaml + state.yaml into the exact specs each agent should hold. Pure.
 */
import type { Cluster, ClusterNode } from "../../specs/cluster.js";
import type { State } from "../../specs/state.js";
import type { NodeServiceSpec, NodeSpec, RouterSpec, UpstreamService } from "../../specs/wire.js";
import { COLORS, type Color } from "../../specs/types.js";

export interface Desired {
  readonly cluster: Cluster;
  readonly state: State;
  /** The content each colour's tag was pinned to at its deploy (reconciler memory); state.yaml's digest wins. */
  readonly pins?: Partial<Record<Color, { readonly tag: string; readonly digest: string }>>;
  /** The same for the services' own repositories (cluster.yaml services.*.image): colour → repository → pin. */
  readonly imagePins?: Partial<Record<Color, Readonly<Record<string, { readonly tag: string; readonly digest: string }>>>>;
  /** The key of the secrets' fingerprints (reconciler data dir), sent to every colour node. */
  readonly secretsKey?: string;
  /** Its id (specs/secrets-key-id.ts), which agents echo in its place. */
  readonly secretsKeyId?: string;
  /** Each colour's last restart request (reconciler memory): workloads started before it are re-created. */
  readonly restarts?: Partial<Record<Color, number>>;
}

/**
 * The content a colour's tag must run in `repository` (default spec.image.repository): for that repository
 * state.yaml's digest, else the pin of this very tag, else unknown; for a service's own repository its pin.
 */
export function digestFor(d: Desired, color: Color, repository = d.cluster.spec.image.repository): string | undefined {
  const want = d.state.spec.colors[color];
  if (repository !== d.cluster.spec.image.repository) {
    const pin = d.imagePins?.[color]?.[repository];
    return want.tag !== undefined && pin?.tag === want.tag ? pin.digest : undefined;
  }
  const pin = d.pins?.[color];
  return want.digest ?? (want.tag !== undefined && pin?.tag === want.tag ? pin.digest : undefined);
}

export function colorNodes(cluster: Cluster, color: Color): ClusterNode[] {
  return cluster.spec.nodes.filter((n) => n.role !== "router" && n.color === color);
}

export function routerNodes(cluster: Cluster): ClusterNode[] {
  return cluster.spec.nodes.filter((n) => n.role === "router");
}

export function jobServices(cluster: Cluster): string[] {
  return Object.entries(cluster.spec.services).filter(([, s]) => s.job).map(([n]) => n);
}

/** The spec a colour node should hold, without its generation (compared with `sameSpec`). */
export function nodeSpecFor(d: Desired, node: ClusterNode, generation: number): NodeSpec {
  const color = node.color as Color;
  const want = d.state.spec.colors[color];
  const digest = digestFor(d, color);
  const services: Record<string, NodeServiceSpec> = {};
  for (const [name, svc] of Object.entries(d.cluster.spec.services)) {
    const hostPort = node.ports?.[name];
    const own = svc.image !== undefined && svc.image !== d.cluster.spec.image.repository ? svc.image : undefined;
    const ownDigest = own !== undefined ? digestFor(d, color, own) : undefined;
    services[name] = {
      job: svc.job,
      stopTimeoutSeconds: svc.stopTimeoutSeconds,
      ...(svc.port !== undefined ? { port: svc.port } : {}),
      health: svc.health,
      ...(hostPort !== undefined ? { hostPort } : {}),
      ...(svc.env ? { env: svc.env } : {}),
      ...(svc.secrets?.length ? { secrets: svc.secrets } : {}),
      ...(svc.command ? { command: svc.command } : {}),
      ...(own !== undefined ? { image: own } : {}),
      ...(ownDigest !== undefined ? { digest: ownDigest } : {}),
      // Hand-built clusters (tests, older callers) may lack the schema defaults.
      ...(svc.limits ? { limits: svc.limits } : {}),
      ...(svc.capabilities?.length ? { capabilities: svc.capabilities } : {}),
    };
  }
  return {
    kind: "NodeSpec",
    generation,
    app: d.cluster.metadata.name,
    node: node.name,
    color,
    repository: d.cluster.spec.image.repository,
    ...(want.tag !== undefined ? { tag: want.tag } : {}),
    ...(digest !== undefined ? { digest } : {}),
    stopped: want.stopped,
    ...(d.secretsKey !== undefined ? { secretsKey: d.secretsKey } : {}),
    ...(d.restarts?.[color] !== undefined ? { restartToken: d.restarts[color] } : {}),
    services,
  };
}

/** The routing table every router should hold for the given live colour. */
export function routerSpecFor(d: Desired, live: Color | null, generation: number): RouterSpec {
  const { router, services } = d.cluster.spec;
  const upstreams = {} as Record<Color, UpstreamService[]>;
  for (const color of COLORS) {
    upstreams[color] = Object.entries(services)
      .filter(([, s]) => s.expose !== undefined)
      .map(([name, s]) => ({
        service: name,
        pathPrefix: s.expose!.pathPrefix,
        health: s.health,
        nodes: colorNodes(d.cluster, color)
          .filter((n) => n.address !== undefined && n.ports?.[name] !== undefined)
          .map((n) => ({ node: n.name, address: n.address!, port: n.ports![name]! })),
      }));
  }
  const previewColor: Color | null = live
    ? otherIfRunning(d, live)
    : d.state.spec.colors[otherOf(d.state.spec.active)].stopped ? null : otherOf(d.state.spec.active);
  return {
    kind: "RouterSpec",
    generation,
    app: d.cluster.metadata.name,
    listen: router.listen,
    live,
    preview: previewColor,
    hosts: { live: router.hosts.live, preview: router.hosts.preview, blue: router.hosts.blue, green: router.hosts.green },
    defaultRoute: router.defaultRoute,
    drainTimeoutSeconds: router.drainTimeoutSeconds,
    ...(router.https !== undefined ? { https: router.https } : {}),
    upstreams,
  };
}

function otherOf(c: Color): Color {
  return c === "blue" ? "green" : "blue";
}

function otherIfRunning(d: Desired, live: Color): Color | null {
  const other = otherOf(live);
  return d.state.spec.colors[other].stopped ? null : other;
}
