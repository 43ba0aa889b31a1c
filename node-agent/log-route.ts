/**
 * GET /v1/logs?service=web&tail=100&since=10m&follow=true (contract): one service's logs on this node as
 * newline-delimited JSON records (specs/logs.ts). Bounded: `tail` at most LOG_TAIL_MAX lines, lines cut at
 * LOG_LINE_MAX_BYTES, the history at most LOG_ANSWER_MAX_BYTES, at most MAX_LOG_FOLLOWS follows at once
 * (429 AGENT_ERR_TOO_MANY_FOLLOWS). Written with backpressure: a client that does not read holds back the
 * runtime's stream (Docker's socket, the log file) rather than filling the agent's memory. A follow ends
 * when the client goes or the workload stops or is replaced.
 */
import type { FastifyInstance, FastifyRequest } from "fastify";
import { startNdjson, writeNdjson } from "../common/ndjson.js";
import type { Logger } from "pino";
import { LOG_ANSWER_MAX_BYTES, LOG_TAIL_DEFAULT, LOG_TAIL_MAX, MAX_LOG_FOLLOWS } from "../specs/defaults.js";
import { isTrue, sinceTime, type LogEndReason, type LogLine } from "../specs/logs.js";
import { agentError } from "./errors.js";
import type { LogOptions } from "./runtime.js";

/** What the route needs from a node core. */
export interface LogCore {
  readonly role: "node" | "router";
  logs?(service: string, opts: LogOptions, signal: AbortSignal): Promise<AsyncIterable<LogLine | { type: "caught-up" }>>;
}

export function registerLogRoute(app: FastifyInstance, core: LogCore, logger: Logger): void {
  const follows = new Set<AbortController>();
  app.get("/v1/logs", async (req, reply) => {
    if (core.role !== "node" || !core.logs) throw agentError("AGENT_ERR_WRONG_ROLE", "a router runs no services and has no service logs");
    const opts = parseQuery(req);
    if (opts.follow && follows.size >= MAX_LOG_FOLLOWS) {
      reply.header("retry-after", "5");
      throw agentError("AGENT_ERR_TOO_MANY_FOLLOWS", `this agent already serves ${MAX_LOG_FOLLOWS} log follows; close one (another terminal or dashboard tab?) and try again`);
    }
    // The slot is taken and the client's going watched before anything is awaited: a client that hangs up
    // while the runtime is asked for the stream must free both, not leave a follow reading for nobody.
    const ctrl = new AbortController();
    const abort = () => ctrl.abort();
    const res = reply.raw;
    if (opts.follow) follows.add(ctrl);
    req.raw.on("close", abort);
    res.on("close", abort);
    const release = () => {
      follows.delete(ctrl);
      req.raw.off("close", abort);
      res.off("close", abort);
    };
    let source: AsyncIterable<LogLine | { type: "caught-up" }>;
    try {
      source = await core.logs(opts.service, opts, ctrl.signal);
    } catch (err) {
      release();
      throw err;
    }
    if (req.raw.destroyed || res.destroyed) ctrl.abort();
    if (ctrl.signal.aborted) {
      release();
      reply.hijack();
      res.destroy();
      return;
    }
    reply.hijack();
    startNdjson(res);
    let reason: LogEndReason = opts.follow ? "stopped" : "done";
    let message: string | undefined;
    let bytes = 0;
    let live = false;
    try {
      for await (const r of source) {
        // Measured before it is written: a history never exceeds the cap, however long its lines.
        const text = JSON.stringify(r) + "\n";
        if (!live && (bytes += Buffer.byteLength(text)) > LOG_ANSWER_MAX_BYTES) {
          reason = "byte-limit";
          break;
        }
        if (r.type === "caught-up") live = true;
        await writeNdjson(res, text, ctrl.signal);
        if (ctrl.signal.aborted || res.destroyed) break;
      }
    } catch (err) {
      if (!ctrl.signal.aborted) {
        reason = "error";
        message = (err as Error).message.slice(0, 1000);
        logger.warn({ service: opts.service, err: message }, "log stream failed");
      }
    } finally {
      release();
      if (!res.destroyed) res.end(JSON.stringify({ type: "end", reason, ...(message ? { message } : {}) }) + "\n");
    }
  });
  // Follows never end by themselves: end them so that close() does not wait.
  app.addHook("preClose", async () => {
    for (const c of follows) c.abort();
  });
}

function parseQuery(req: FastifyRequest): LogOptions & { service: string } {
  const q = req.query as Record<string, string | undefined>;
  const service = q.service ?? "";
  if (!/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/.test(service)) throw agentError("AGENT_ERR_BAD_REQUEST", "name the service: ?service=web");
  const tail = q.tail === undefined ? LOG_TAIL_DEFAULT : Number(q.tail);
  if (!Number.isInteger(tail) || tail < 0) throw agentError("AGENT_ERR_BAD_REQUEST", "tail is a whole number of lines");
  const since = sinceTime(q.since);
  if (q.since !== undefined && since === undefined) throw agentError("AGENT_ERR_BAD_REQUEST", "since is an ISO 8601 time or an age like 30s, 10m, 2h");
  return { service, tail: Math.min(tail, LOG_TAIL_MAX), ...(since ? { since } : {}), follow: isTrue(q.follow) };
}
