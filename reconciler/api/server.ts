/**
 * The reconciler's HTTP API under /api/v1 (contract), /metrics, and the dashboard's static files.
 * Every route but login, health and the static files needs a session or an API token.
 */
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from "fastify";
import type { Logger } from "pino";
import type { Controller } from "../loop/controller.js";
import type { AlertManager } from "../notify/alerts.js";
import type { EventLog, EventRecord } from "../notify/events.js";
import type { EventsQuery } from "../../specs/api/events.js";
import { ReconError, reconError } from "../errors.js";
import { registerAuth, stillAuthenticated, type AuthOptions } from "../auth/hook.js";
import { declareRoute, useContractValidation } from "./route.js";
import { registerStateRoutes, type StateApiOptions } from "./state-routes.js";
import { registerUserRoutes } from "./user-routes.js";
import { registerLogRoutes } from "./log-routes.js";
import { registerStatic } from "./static.js";
import { reconcilerMetrics } from "./metrics.js";
import { METRICS_CONTENT_TYPE } from "../../common/metrics.js";
import { SseHub } from "../../common/sse.js";
import { MAX_API_STREAMS, MAX_STREAM_BUFFERED_BYTES } from "../../specs/defaults.js";

export interface ApiOptions {
  controller: Controller;
  alerts: AlertManager;
  events: EventLog;
  logger: Logger;
  auth: AuthOptions;
  state: Omit<StateApiOptions, "controller">;
  /** Built dashboard folder, or null when it is not built. */
  dashboardRoot: string | null;
  /** Called on the new server before any route is declared (tests add their contract check here). */
  setup?: (app: FastifyInstance) => void;
}

export const API_BODY_LIMIT = 64 * 1024;
const SSE_HEARTBEAT_MS = 15_000;
/** How often an open event stream checks that its session or token still stands (removed users, revoked tokens). */
const SSE_ACCESS_CHECK_MS = 1_000;

export function buildApi(o: ApiOptions): FastifyInstance {
  const app = Fastify({
    forceCloseConnections: true,
    // Request logs are info level; the API logger keeps warnings and errors only.
    loggerInstance: o.logger.child({ component: "api" }, { level: o.logger.levelVal > 40 ? o.logger.level : "warn" }),
    bodyLimit: API_BODY_LIMIT,
    onProtoPoisoning: "error",
    onConstructorPoisoning: "error",
  }) as unknown as FastifyInstance;
  o.setup?.(app);
  useContractValidation(app);

  app.setErrorHandler((err: Error & { code?: string; statusCode?: number }, req, reply) => {
    const e = toReconError(err);
    if (e.statusCode >= 500) req.log.error({ err: err.message, route: req.url }, "request failed");
    void reply.code(e.statusCode).send(e.toJSON());
  });
  app.setNotFoundHandler((req, reply) => {
    void reply.code(404).send(reconError("RECON_ERR_NOT_FOUND", `no route ${req.method} ${req.url.split("?")[0]}`).toJSON());
  });

  // API answers are about now and may carry a CSRF token: never stored by a browser or a proxy. The
  // dashboard's files set their own caching (hashed assets: long; index.html: no-cache).
  app.addHook("onSend", async (_req, reply, payload) => {
    if (!reply.hasHeader("cache-control")) void reply.header("cache-control", "no-store");
    return payload;
  });
  declareRoute(app, "GET /healthz", async () => ({ ok: true }));
  const streams = new SseHub({ maxStreams: MAX_API_STREAMS, maxBufferedBytes: MAX_STREAM_BUFFERED_BYTES, heartbeatMs: SSE_HEARTBEAT_MS }, (bufferedBytes) =>
    o.logger.warn({ bufferedBytes }, "event stream closed: its client does not read"),
  );
  registerAuth(app, o.auth);
  registerStateRoutes(app, { ...o.state, controller: o.controller });
  registerUserRoutes(app, o.auth);
  registerLogRoutes(app, { controller: o.controller, auth: o.auth, logger: o.logger });

  /** The cluster's status document: conditions, colours, router, jobs, pending steps. */
  declareRoute(app, "GET /api/v1/status", async (_req, reply) =>
    // Sent as the text the controller keeps: one JSON.stringify per status, however many readers.
    reply.type("application/json; charset=utf-8").send(o.controller.statusJson()),
  );

  /** Firing alerts first, then recently resolved ones. */
  declareRoute(app, "GET /api/v1/alerts", async () => ({ alerts: o.alerts.recent() }));

  /** Prometheus text format. */
  const metrics = reconcilerMetrics(o.controller, o.alerts);
  declareRoute(app, "GET /metrics", async (_req, reply) => reply.type(METRICS_CONTENT_TYPE).send(await metrics.metrics()));

  /** The event log: JSON (?limit, ?after) or, with Accept: text/event-stream, a live stream of events and status. */
  declareRoute(app, "GET /api/v1/events", async (req, reply) => {
    const q = req.query as EventsQuery;
    const limit = clampInt(q.limit, 1, 1000, 200);
    const after = clampInt(q.after, 0, Number.MAX_SAFE_INTEGER, 0);
    if ((req.headers.accept ?? "").includes("text/event-stream")) return stream(o, req, reply, after, streams);
    return { events: o.events.recent({ limit, afterSeq: after }) };
  });

  registerStatic(app, o.dashboardRoot);
  // Event streams never end by themselves: close() ends them.
  app.addHook("preClose", async () => streams.endAll());
  return app;
}

function toReconError(err: Error & { code?: string; statusCode?: number }): ReconError {
  if (err instanceof ReconError) return err;
  switch (err.code) {
    case "FST_ERR_CTP_BODY_TOO_LARGE":
      return reconError("RECON_ERR_PAYLOAD_TOO_LARGE", `the body is larger than ${API_BODY_LIMIT} bytes`);
    case "FST_ERR_CTP_INVALID_MEDIA_TYPE":
      return reconError("RECON_ERR_UNSUPPORTED_MEDIA", "send the body as Content-Type: application/json");
  }
  if (err instanceof SyntaxError || err.code === "FST_ERR_CTP_INVALID_JSON_BODY") return reconError("RECON_ERR_BAD_REQUEST", "the body is not valid JSON");
  if (err.statusCode && err.statusCode < 500) return reconError("RECON_ERR_BAD_REQUEST", "bad request");
  return reconError("RECON_ERR_INTERNAL", "internal error; see the reconciler's log");
}

function stream(o: ApiOptions, req: FastifyRequest, reply: FastifyReply, after: number, streams: SseHub): void {
  if (streams.full) throw reconError("RECON_ERR_TOO_MANY_STREAMS", `this reconciler already serves ${MAX_API_STREAMS} event streams; close one (another dashboard tab?) or poll GET /api/v1/events`);
  reply.hijack();
  const s = streams.open(req.raw, reply.raw)!;
  const sendEvent = (r: EventRecord) => s.send("event", JSON.stringify(r), r.seq);
  const sendStatus = () => s.send("status", o.controller.statusJson());
  for (const r of o.events.recent({ afterSeq: after, limit: 200 })) sendEvent(r);
  sendStatus();
  const offEvents = o.events.subscribe(sendEvent);
  const offStatus = o.controller.onStatus(sendStatus);
  const access = setInterval(() => {
    if (!stillAuthenticated(req, o.auth)) s.end();
  }, SSE_ACCESS_CHECK_MS);
  access.unref();
  s.onClose(() => {
    offEvents();
    offStatus();
    clearInterval(access);
  });
}

/** `v` is a whole number as text (the route's schema checked it). */
function clampInt(v: string | undefined, min: number, max: number, dflt: number): number {
  if (v === undefined) return dflt;
  return Math.min(max, Math.max(min, Number(v)));
}
