/**
 * GET /api/v1/logs (contract): one service's logs, by colour (blue, green, live, preview) or node, as one
 * NDJSON stream of records tagged with node and colour (specs/logs.ts). Deployers and admins only. The
 * nodes' histories are merged in time order; with `follow`, live lines then pass on as they come. A node
 * that cannot be reached, or refuses, is a record in the stream, never the end of it. Backpressure reaches
 * the agents: a node's next record is read only once the last one was written out.
 */
import type { FastifyInstance } from "fastify";
import { startNdjson, writeNdjson } from "../../common/ndjson.js";
import type { Logger } from "pino";
import type { Controller } from "../loop/controller.js";
import type { AgentClient } from "../loop/agent-client.js";
import { AgentCallError } from "../loop/agent-call-error.js";
import { stillAuthenticated, type AuthOptions } from "../auth/hook.js";
import { reconError } from "../errors.js";
import { declareRoute } from "./route.js";
import { LOG_ANSWER_MAX_BYTES, LOG_TAIL_DEFAULT, LOG_TAIL_MAX, MAX_API_LOG_STREAMS } from "../../specs/defaults.js";
import { isTrue, type AgentLogsQuery, type ApiLogRecord, type LogRecord, type LogsQuery } from "../../specs/logs.js";

/** How often an open follow checks that its session or token still stands. */
const ACCESS_CHECK_MS = 1_000;

type Target = { node: string; color: "blue" | "green"; client: AgentClient };
type Opened = { target: Target; history: ApiLogRecord[]; after: ApiLogRecord | null; live?: AsyncGenerator<LogRecord> };

export function registerLogRoutes(app: FastifyInstance, o: { controller: Controller; auth: AuthOptions; logger: Logger }): void {
  const answers = new Set<AbortController>();
  declareRoute(app, "GET /api/v1/logs", async (req, reply) => {
    const q = req.query as LogsQuery;
    if (q.color === undefined && q.node === undefined) throw reconError("RECON_ERR_BAD_REQUEST", "name a colour (?color=blue|green|live|preview) or a node (?node=<name>)");
    const follow = isTrue(q.follow);
    if (answers.size >= MAX_API_LOG_STREAMS) {
      throw reconError("RECON_ERR_TOO_MANY_STREAMS", `this reconciler already serves ${MAX_API_LOG_STREAMS} log streams; close one (another terminal or dashboard tab?)`);
    }
    const targets = o.controller.logTargets({ service: q.service, ...(q.color ? { color: q.color } : {}), ...(q.node ? { node: q.node } : {}) });
    if (typeof targets === "string") throw reconError(targets.startsWith("the desired state") ? "RECON_ERR_UNAVAILABLE" : "RECON_ERR_NOT_FOUND", targets);
    const tail = q.tail === undefined ? LOG_TAIL_DEFAULT : Math.min(Number(q.tail), LOG_TAIL_MAX);
    const agentQuery: AgentLogsQuery = { service: q.service, tail: String(tail), ...(q.since ? { since: q.since } : {}), ...(follow ? { follow: "true" } : {}) };

    const ctrl = new AbortController();
    answers.add(ctrl);
    reply.hijack();
    const res = reply.raw;
    startNdjson(res);
    const abort = () => ctrl.abort();
    res.on("close", abort);
    const access = follow ? setInterval(() => !stillAuthenticated(req, o.auth, "deploy") && ctrl.abort(), ACCESS_CHECK_MS) : undefined;
    access?.unref();
    const write = (r: ApiLogRecord) => writeNdjson(res, JSON.stringify(r) + "\n", ctrl.signal);
    try {
      const opened = await Promise.all(targets.map((t) => open(t, agentQuery, ctrl.signal)));
      // Stable: lines of one node keep their order; lines without a time come first.
      for (const r of opened.flatMap((x) => x.history).sort((a, b) => timeOf(a).localeCompare(timeOf(b)))) await write(r);
      for (const x of opened) if (x.after) await write(x.after);
      await Promise.all(opened.map((x) => (x.live ? pass(x.target, q.service, x.live, write, ctrl.signal) : undefined)));
    } catch (err) {
      if (!ctrl.signal.aborted) o.logger.warn({ err: (err as Error).message }, "log stream failed");
    } finally {
      if (access) clearInterval(access);
      answers.delete(ctrl);
      if (!res.destroyed) res.end();
      ctrl.abort(); // whatever agent streams are still open
    }
  });
  app.addHook("preClose", async () => {
    for (const c of answers) c.abort();
  });
}

/** A node's history up to its `caught-up` (or end), and what comes after it. */
async function open(t: Target, q: AgentLogsQuery, signal: AbortSignal): Promise<Opened> {
  const history: ApiLogRecord[] = [];
  const tag = { node: t.node, color: t.color } as const;
  let bytes = 0;
  try {
    const gen = await t.client.logs(q, signal);
    for (;;) {
      const next = await gen.next();
      if (next.done) return { target: t, history, after: { type: "node", ...tag, state: "ended", reason: "stopped" } };
      const r = next.value;
      // A node keeps its history within LOG_ANSWER_MAX_BYTES; one that does not is cut off here, not trusted.
      if (r.type === "line" && (bytes += r.line.length + 64) > LOG_ANSWER_MAX_BYTES) {
        await gen.return(undefined);
        return { target: t, history, after: { type: "node", ...tag, state: "ended", reason: "byte-limit" } };
      }
      if (r.type === "line") history.push({ ...r, ...tag, service: q.service });
      else if (r.type === "caught-up") return { target: t, history, after: { type: "node", ...tag, state: "caught-up" }, live: gen };
      else return { target: t, history, after: { type: "node", ...tag, state: "ended", reason: r.reason, ...(r.message ? { message: r.message } : {}) } };
    }
  } catch (err) {
    return { target: t, history, after: failure(t, err) };
  }
}

async function pass(t: Target, service: string, live: AsyncGenerator<LogRecord>, write: (r: ApiLogRecord) => Promise<void>, signal: AbortSignal): Promise<void> {
  const tag = { node: t.node, color: t.color } as const;
  try {
    for await (const r of live) {
      if (signal.aborted) return;
      if (r.type === "line") await write({ ...r, ...tag, service });
      else if (r.type === "end") await write({ type: "node", ...tag, state: "ended", reason: r.reason, ...(r.message ? { message: r.message } : {}) });
    }
  } catch (err) {
    if (!signal.aborted) await write(failure(t, err));
  }
}

function failure(t: Target, err: unknown): ApiLogRecord {
  const e = err as AgentCallError;
  const refused = e instanceof AgentCallError && e.status !== undefined;
  return { type: "node", node: t.node, color: t.color, state: refused ? "refused" : "unreachable", message: (e.message ?? String(err)).slice(0, 500) };
}

function timeOf(r: ApiLogRecord): string {
  return r.type === "line" ? (r.t ?? "") : "";
}
