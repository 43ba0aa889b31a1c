/**
 * The agent core for role router: the routing data plane behind the agent API. A router spec is
 * swapped in atomically and answered once it is on disk; status carries the table and per-colour
 * in-flight counts so the reconciler never replaces a colour that still serves requests.
 */
import { VERSION } from "../common/version.js";
import type { Logger } from "pino";
import type { CertificateInfo, NodeStatus, RouterSpec } from "../specs/wire.js";
import { agentError } from "./errors.js";
import { RouterDataPlane, type DataPlaneOptions } from "./router/data-plane.js";
import { registerRouterMetrics } from "./router/metrics.js";
import type { Registry } from "../common/metrics.js";

export interface RouterAgentOptions {
  name: string;
  dataDir: string;
  /** From agent.yaml router.listen: the only address this router serves on. */
  listen: string;
  /** From agent.yaml router.allowedUpstreams: where this router may send traffic. */
  allowedUpstreams?: readonly string[];
  /** From agent.yaml router.tls: HTTPS listen address and certificates from files. */
  tls?: DataPlaneOptions["tls"];
  /** Listening sockets passed by systemd (socket activation): fds for router.listen and router.tls.listen. */
  listenFds?: { http?: number; https?: number };
  logger: Logger;
  bootId: string;
}

export class RouterAgent {
  readonly role = "router" as const;
  private readonly plane: RouterDataPlane;
  private readonly listeners = new Set<() => void>();

  constructor(private readonly o: RouterAgentOptions) {
    const fds = o.listenFds ?? {};
    if (fds.https !== undefined && o.tls === undefined) throw new Error("systemd passed an https socket but agent.yaml has no router.tls; remove it from the .socket unit or configure router.tls");
    const tls = o.tls && fds.https !== undefined ? { ...o.tls, listenFd: fds.https } : o.tls;
    this.plane = new RouterDataPlane({ dataDir: o.dataDir, listen: o.listen, ...(fds.http !== undefined ? { listenFd: fds.http } : {}), allowedUpstreams: o.allowedUpstreams, tls, logger: o.logger.child({ component: "router" }), onChange: () => this.emit() });
  }

  /** Restores the last table from disk and serves it before any contact with the reconciler. */
  start(): Promise<void> {
    return this.plane.start();
  }

  status(): NodeStatus {
    const router = {
      ...this.plane.status(),
      upstreams: this.plane.health().map((u) => ({ color: u.color, service: u.service, node: u.node, health: u.health })),
    };
    return {
      kind: "NodeStatus",
      node: this.o.name,
      role: "router",
      bootId: this.o.bootId,
      version: VERSION,
      observedGeneration: router.spec?.generation ?? 0,
      spec: null,
      converging: false,
      services: {},
      lease: { state: "none", epoch: 0, remainingMs: 0 },
      router,
      error: router.tableError,
    };
  }

  registerMetrics(registry: Registry): void {
    registerRouterMetrics(registry, this.plane);
  }

  async applySpec(spec: RouterSpec): Promise<{ changed: boolean }> {
    // Also for the table already served: the answer waits until it is durable.
    const changed = await this.plane.apply(spec);
    if (changed) this.emit();
    return { changed };
  }

  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** The HTTP-01 answers this router serves (every router gets the same set: the CA may reach any). */
  setChallenges(list: ReadonlyArray<{ token: string; keyAuthorization: string }>): void {
    this.plane.setChallenges(list);
  }

  /** Stores and serves a certificate the reconciler obtained; needs agent.yaml router.tls. */
  async installCertificate(name: string, certificate: string, key: string): Promise<CertificateInfo> {
    const https = this.plane.https;
    if (https === null) throw agentError("AGENT_ERR_NO_TLS", "this router has no router.tls in agent.yaml, so it cannot serve HTTPS; the certificate was not stored");
    const info = await https.installAcme(name, certificate, key);
    this.emit();
    return info;
  }

  close(): Promise<void> {
    return this.plane.close();
  }

  private emit(): void {
    for (const l of this.listeners) l();
  }
}
