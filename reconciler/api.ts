/**
 * The reconciler's HTTP API under /api/v1 (contract). This part serves status, alerts and the event
 * log; it binds to loopback unless told otherwise.
 */
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from "fastify";
import type { Logger } from "pino";
import type { Controller } from "./controller.js";
import type { AlertManager } from "./alerts.js";
import type { EventLog, EventRecord } from "./events.js";
import { ReconError, reconError } from "./errors.js";

export interface ApiOptions {
  controller: Controller;
  alerts: AlertManager;
  events: EventLog;
  logger: Logger;
}

export const API_BODY_LIMIT = 64 * 1024;
const SSE_HEARTBEAT_MS = 15_000;

export function buildApi(o: ApiOptions): FastifyInstance {
  const app = Fastify({
    // Request logs are info level; the API logger keeps warnings and errors only.
    loggerInstance: o.logger.child({ component: "api" }, { level: o.logger.levelVal > 40 ? o.logger.level : "warn" }),
    bodyLimit: API_BODY_LIMIT,
    onProtoPoisoning: "error",
    onConstructorPoisoning: "error",
  }) as unknown as FastifyInstance;

  app.setErrorHandler((err: Error & { code?: string; statusCode?: number }, req, reply) => {
    const e = err instanceof ReconError ? err : err.statusCode && err.statusCode < 500 ? reconError("RECON_ERR_BAD_REQUEST", "bad request") : reconError("RECON_ERR_INTERNAL", "internal error; see the reconciler's log");
    if (e.statusCode >= 500) req.log.error({ err: err.message, route: req.url }, "request failed");
    void reply.code(e.statusCode).send(e.toJSON());
  });
  app.setNotFoundHandler((req, reply) => {
    void reply.code(404).send(reconError("RECON_ERR_NOT_FOUND", `no route ${req.method} ${req.url.split("?")[0]}`).toJSON());
  });

  app.get("/healthz", async () => ({ ok: true }));

  /** The cluster's status document: conditions, colours, router, jobs, pending steps. */
  app.get("/api/v1/status", async () => o.controller.status());

  /** Firing alerts first, then recently resolved ones. */
  app.get("/api/v1/alerts", async () => ({ alerts: o.alerts.recent() }));

  /** The event log: JSON (?limit, ?after) or, with Accept: text/event-stream, a live stream of events and status. */
  app.get("/api/v1/events", async (req, reply) => {
    const q = req.query as { limit?: string; after?: string };
    const limit = clampInt(q.limit, 1, 1000, 200);
    const after = clampInt(q.after, 0, Number.MAX_SAFE_INTEGER, 0);
    if ((req.headers.accept ?? "").includes("text/event-stream")) return stream(o, req, reply, after);
    return { events: o.events.recent({ limit, afterSeq: after }) };
  });

  return app;
}

function stream(o: ApiOptions, req: FastifyRequest, reply: FastifyReply, after: number): void {
  reply.hijack();
  const res = reply.raw;
  res.writeHead(200, { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-store", connection: "keep-alive", "x-accel-buffering": "no" });
  const sendEvent = (r: EventRecord) => res.write(`id: ${r.seq}\nevent: event\ndata: ${JSON.stringify(r)}\n\n`);
  const sendStatus = () => res.write(`event: status\ndata: ${JSON.stringify(o.controller.status())}\n\n`);
  for (const r of o.events.recent({ afterSeq: after, limit: 200 })) sendEvent(r);
  sendStatus();
  const offEvents = o.events.subscribe(sendEvent);
  const offStatus = o.controller.onStatus(sendStatus);
  const beat = setInterval(() => res.write(": keep-alive\n\n"), SSE_HEARTBEAT_MS);
  beat.unref();
  req.raw.on("close", () => {
    offEvents();
    offStatus();
    clearInterval(beat);
  });
}

function clampInt(v: string | undefined, min: number, max: number, dflt: number): number {
  if (v === undefined) return dflt;
  if (!/^\d{1,16}$/.test(v)) throw reconError("RECON_ERR_BAD_REQUEST", `expected a whole number, got ${JSON.stringify(v.slice(0, 40))}`);
  return Math.min(max, Math.max(min, Number(v)));
}
