/**
 * The agent's HTTP API (contract): JSON over HTTP(S), `Authorization: Bearer <token>` on everything but
 * GET /v1/healthz. Errors are always `{ error: { code, message } }`; internals never leak to clients.
 */
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from "fastify";
import type { Logger } from "pino";
import type { AcmeCertificate, AcmeChallenges, CertificateInfo, LeaseRequest, NodeSpec, NodeStatus, RouterSpec } from "../specs/wire.js";
import type { TLSSocket } from "node:tls";
import { isLoopbackAddress } from "../common/values.js";
import { validateAgainst } from "../specs/validate.js";
import { AgentError, agentError } from "./errors.js";
import type { TokenGuard } from "./auth.js";
import { SseHub } from "../common/sse.js";
import { MAX_AGENT_STREAMS, MAX_STREAM_BUFFERED_BYTES } from "../specs/defaults.js";
import { METRICS_CONTENT_TYPE, Registry, collected } from "../common/metrics.js";
import { VERSION } from "../common/version.js";
import { registerLogRoute } from "./log-route.js";
import { registerTaskRoutes } from "./task-route.js";
import type { TaskRecord, TaskRunRequest } from "../specs/tasks.js";
import type { LogOptions } from "./runtime.js";
import type { LogLine } from "../specs/logs.js";

interface CoreOf<R extends "node" | "router", S> {
  readonly role: R;
  status(): NodeStatus;
  /** Adds this core's series to the agent's /metrics registry (read at scrape time). */
  registerMetrics?(registry: Registry): void;
  applySpec(spec: S): Promise<{ changed: boolean }>;
  onChange(listener: () => void): () => void;
}

/** What the server needs from a node agent behind it: it takes NodeSpecs and holds the job lease. */
export interface NodeCore extends CoreOf<"node", NodeSpec> {
  grantLease(epoch: number, ttlMs: number): Promise<void>;
  revokeLease(): Promise<void>;
  /** GET /v1/logs: a service's log lines on this node (throws AGENT_ERR_NO_WORKLOAD when it runs none). */
  logs(service: string, opts: LogOptions, signal: AbortSignal): Promise<AsyncIterable<LogLine | { type: "caught-up" }>>;
  /** POST /v1/tasks/run and GET /v1/tasks/:id (task-route.ts). */
  runTask?(req: TaskRunRequest): Promise<TaskRecord>;
  task?(id: string): TaskRecord;
}

/** What the server needs from a router agent behind it: it takes RouterSpecs, ACME answers and certificates, and runs no jobs. */
export interface RouterCore extends CoreOf<"router", RouterSpec> {
  setChallenges(list: AcmeChallenges["challenges"]): void;
  installCertificate(name: string, certificate: string, key: string): Promise<CertificateInfo>;
}

/** The agent behind the server, typed by its role: each takes only its own kind of spec. */
export type AgentCore = NodeCore | RouterCore;

export interface AgentServerOptions {
  core: AgentCore;
  guard: TokenGuard;
  logger: Logger;
  tls?: { cert: Buffer; key: Buffer };
  /** False while the core starts (the port is bound first): every route but healthz answers 503 meanwhile. */
  ready?: () => boolean;
}

/** Largest request body accepted. A node spec is a few KiB. */
export const AGENT_BODY_LIMIT = 256 * 1024;
/** SSE comment sent this often so proxies and clients notice dead connections. */
export const WATCH_HEARTBEAT_MS = 15_000;

export function buildAgentServer(o: AgentServerOptions): FastifyInstance {
  const app = Fastify({
    forceCloseConnections: true,
    // Request logs are info level; the API logger keeps warnings and errors only.
    loggerInstance: o.logger.child({ component: "api" }, { level: o.logger.levelVal > 40 ? o.logger.level : "warn" }),
    bodyLimit: AGENT_BODY_LIMIT,
    onProtoPoisoning: "error",
    onConstructorPoisoning: "error",
    ...(o.tls ? { https: { cert: o.tls.cert, key: o.tls.key } } : {}),
  }) as unknown as FastifyInstance;

  app.addHook("onRequest", async (req, reply) => {
    if (req.url === "/v1/healthz" && req.method === "GET") return;
    const verdict = o.guard.check(req.ip, req.headers.authorization);
    if (verdict === "ok") return;
    if (verdict === "metrics") {
      if (req.method === "GET" && req.routeOptions.url === "/metrics") return;
      throw agentError("AGENT_ERR_FORBIDDEN", "the metrics token may only read GET /metrics; use the agent token for anything else");
    }
    if (verdict === "limited") {
      reply.header("retry-after", "60");
      throw agentError("AGENT_ERR_RATE_LIMITED", "too many failed authentication attempts from this address; wait a minute");
    }
    req.log.warn({ ip: req.ip, route: req.url }, "authentication failed");
    throw agentError("AGENT_ERR_UNAUTHORIZED", "missing or wrong bearer token");
  });
  app.addHook("onRequest", async (req) => {
    if (o.ready && !o.ready() && !(req.url === "/v1/healthz" && req.method === "GET")) throw agentError("AGENT_ERR_RUNTIME", "the agent is starting; try again in a moment");
  });

  app.setErrorHandler((err: Error & { code?: string; statusCode?: number }, req, reply) => {
    const e = toAgentError(err);
    if (e.statusCode >= 500) req.log.error({ err: err.message, route: req.url }, "request failed");
    void reply.code(e.statusCode).send(e.toJSON());
  });
  app.setNotFoundHandler((req, reply) => {
    void reply.code(404).send(agentError("AGENT_ERR_NOT_FOUND", `no route ${req.method} ${req.url.split("?")[0]}`).toJSON());
  });

  /** Liveness only: tells nothing about the node to anonymous callers. */
  app.get("/v1/healthz", async () => ({ ok: true }));

  /** Prometheus text format: the agent token or the read-only metrics token (agent.yaml metricsTokenFile). */
  const registry = new Registry();
  collected(registry, "switchyard_agent_build_info", "gauge", "Always 1; labels: the agent's Switchyard version and role.", () => [{ labels: { version: VERSION, role: o.core.role }, value: 1 }]);
  o.core.registerMetrics?.(registry);
  app.get("/metrics", async (_req, reply) => reply.type(METRICS_CONTENT_TYPE).send(await registry.metrics()));

  /** The observed node: services, lease, router table. */
  app.get("/v1/status", async () => o.core.status());

  /** The node's desired spec. Idempotent per generation; the agent converges on its own. */
  app.put("/v1/spec", async (req, reply) => {
    const body = requireJsonObject(req);
    const kind = (body as { kind?: unknown }).kind;
    const expected = o.core.role === "router" ? "RouterSpec" : "NodeSpec";
    if (kind !== expected) {
      throw agentError(kind === "RouterSpec" || kind === "NodeSpec" ? "AGENT_ERR_WRONG_ROLE" : "AGENT_ERR_INVALID_SPEC",
        `this agent has role ${o.core.role} and takes kind ${expected}, got ${JSON.stringify(kind) ?? "nothing"}`);
    }
    const core = o.core;
    const r = core.role === "router" ? await applyValid(core, "router-spec", body) : await applyValid(core, "node-spec", body);
    void reply.code(r.changed ? 202 : 200);
    return { accepted: true, changed: r.changed, generation: r.generation };
  });

  /** Grant or renew the job lease. */
  app.put("/v1/lease", async (req) => {
    const core = o.core;
    if (core.role !== "node") throw agentError("AGENT_ERR_WRONG_ROLE", "a router runs no jobs and holds no lease");
    const body = requireJsonObject(req);
    const v = validateAgainst<LeaseRequest>("lease", body);
    if (!v.ok) throw agentError("AGENT_ERR_BAD_REQUEST", v.issues.map((i) => i.message).join("; "), v.issues);
    await core.grantLease(v.value.epoch, v.value.ttlMs);
    return core.status().lease;
  });

  /** Revoke the job lease; answers once every job container of this node has stopped. */
  app.delete("/v1/lease", async () => {
    const core = o.core;
    if (core.role !== "node") throw agentError("AGENT_ERR_WRONG_ROLE", "a router runs no jobs and holds no lease");
    await core.revokeLease();
    return core.status().lease;
  });

  /** Server-sent events: a status snapshot at once and whenever anything changes. */
  const streams = new SseHub({ maxStreams: MAX_AGENT_STREAMS, maxBufferedBytes: MAX_STREAM_BUFFERED_BYTES, heartbeatMs: WATCH_HEARTBEAT_MS }, (bufferedBytes) =>
    o.logger.warn({ bufferedBytes }, "watch stream closed: its client does not read"),
  );
  app.put("/v1/acme/challenges", async (req) => {
    const core = o.core;
    if (core.role !== "router") throw agentError("AGENT_ERR_WRONG_ROLE", "only a router answers ACME challenges");
    const v = validateAgainst<AcmeChallenges>("acme-challenges", requireJsonObject(req));
    if (!v.ok) throw agentError("AGENT_ERR_INVALID_SPEC", v.issues.map((i) => i.message).join("; ").slice(0, 2000));
    core.setChallenges(v.value.challenges);
    return { challenges: v.value.challenges.length };
  });

  // Private keys travel only over TLS or loopback (design rule 10): checked before anything is looked at or stored.
  app.put("/v1/acme/certificate", async (req) => {
    const core = o.core;
    if (core.role !== "router") throw agentError("AGENT_ERR_WRONG_ROLE", "only a router serves certificates");
    if ((req.socket as TLSSocket).encrypted !== true && !isLoopbackAddress(req.socket.remoteAddress ?? "")) {
      throw agentError("AGENT_ERR_INSECURE_CHANNEL", "a private key may reach this agent only over TLS or loopback; give the agent tls in agent.yaml and an https:// URL in cluster.yaml; nothing was stored");
    }
    const v = validateAgainst<AcmeCertificate>("acme-certificate", requireJsonObject(req));
    if (!v.ok) throw agentError("AGENT_ERR_INVALID_SPEC", v.issues.map((i) => i.message).join("; ").slice(0, 2000));
    return core.installCertificate(v.value.name, v.value.certificate, v.value.key);
  });

  app.get("/v1/watch", (req, reply) => watch(o.core, req, reply, streams));
  registerLogRoute(app, o.core, o.logger);
  registerTaskRoutes(app, o.core);
  // Watch streams never end by themselves: end them so that close() does not wait forever.
  app.addHook("preClose", async () => streams.endAll());

  return app;
}

function watch(core: AgentCore, req: FastifyRequest, reply: FastifyReply, streams: SseHub): void {
  if (streams.full) throw agentError("AGENT_ERR_TOO_MANY_STREAMS", `this agent already serves ${MAX_AGENT_STREAMS} watch streams; close one first`);
  reply.hijack();
  const stream = streams.open(req.raw, reply.raw)!;
  let last = "";
  let scheduled = false;
  let id = 0;
  const send = () => {
    scheduled = false;
    const body = JSON.stringify(core.status());
    if (body === last) return;
    last = body;
    stream.send("status", body, ++id);
  };
  send();
  // Coalesce bursts (a converge changes many things at once) into one event per tick.
  const off = core.onChange(() => {
    if (scheduled) return;
    scheduled = true;
    setImmediate(send);
  });
  stream.onClose(off);
}

/** Validates the body against the core's spec schema (a coded refusal with the schema's complaints) and applies it. */
async function applyValid<S extends NodeSpec | RouterSpec>(core: CoreOf<"node" | "router", S>, schema: "node-spec" | "router-spec", body: object): Promise<{ changed: boolean; generation: number }> {
  const v = validateAgainst<S>(schema, body);
  if (!v.ok) throw agentError("AGENT_ERR_INVALID_SPEC", v.issues.map((i) => i.message).join("; ").slice(0, 2000), v.issues.slice(0, 20));
  const r = await core.applySpec(v.value);
  return { changed: r.changed, generation: v.value.generation };
}

export function requireJsonObject(req: FastifyRequest): object {
  const body = req.body;
  if (body === undefined || body === null || typeof body !== "object" || Array.isArray(body)) {
    throw agentError("AGENT_ERR_BAD_REQUEST", "the body must be a JSON object (Content-Type: application/json)");
  }
  return body;
}

function toAgentError(err: Error & { code?: string; statusCode?: number }): AgentError {
  if (err instanceof AgentError) return err;
  switch (err.code) {
    case "FST_ERR_CTP_BODY_TOO_LARGE":
      return agentError("AGENT_ERR_PAYLOAD_TOO_LARGE", `the body is larger than ${AGENT_BODY_LIMIT} bytes`);
    case "FST_ERR_CTP_INVALID_MEDIA_TYPE":
      return agentError("AGENT_ERR_UNSUPPORTED_MEDIA", "send the body as Content-Type: application/json");
    case "FST_ERR_CTP_EMPTY_JSON_BODY":
    case "FST_ERR_CTP_INVALID_CONTENT_LENGTH":
      return agentError("AGENT_ERR_BAD_REQUEST", "the body is empty or its length is wrong");
  }
  if (err instanceof SyntaxError || err.code === "FST_ERR_CTP_INVALID_JSON_BODY") return agentError("AGENT_ERR_BAD_REQUEST", "the body is not valid JSON");
  if (err.statusCode && err.statusCode >= 400 && err.statusCode < 500) return agentError("AGENT_ERR_BAD_REQUEST", "bad request");
  return agentError("AGENT_ERR_INTERNAL", "internal error; see the agent's log");
}
