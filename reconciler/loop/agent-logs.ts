/**
 * The reconciler's side of the agent's GET /v1/logs: the answer's NDJSON records, each validated against
 * the wire schema before it is passed on. Pulled: the next chunk is read from the agent only when the
 * caller asks for the next record, so a slow reader slows the agent down instead of filling memory here.
 */
import { request, type Dispatcher } from "undici";
import type { AgentLogsQuery, LogRecord } from "../../specs/logs.js";
import { validateAgainst } from "../../specs/validate.js";
import { AgentCallError } from "./agent-call-error.js";
import { ndjsonLines } from "../../common/ndjson.js";

export interface AgentLogCall {
  node: string;
  base: string;
  auth: string;
  dispatcher: Dispatcher;
  timeoutMs: number;
}

/** Opens the node's log answer: throws AgentCallError (with the agent's status and code) when it refuses. */
export async function openAgentLogs(c: AgentLogCall, q: AgentLogsQuery, signal: AbortSignal): Promise<AsyncGenerator<LogRecord>> {
  const query = new URLSearchParams(Object.entries(q).filter((e): e is [string, string] => e[1] !== undefined));
  let res: Dispatcher.ResponseData;
  try {
    res = await request(`${c.base}/v1/logs?${query}`, {
      method: "GET",
      headers: { authorization: c.auth, accept: "application/x-ndjson" },
      dispatcher: c.dispatcher,
      signal,
      headersTimeout: c.timeoutMs,
      bodyTimeout: 0,
    });
  } catch (err) {
    const code = (err as { code?: string; cause?: { code?: string } }).code ?? (err as { cause?: { code?: string } }).cause?.code;
    throw new AgentCallError(c.node, code === "ECONNREFUSED" ? `agent ${c.node} refuses connections (is it running?)` : `agent ${c.node}: ${(err as Error).message}`);
  }
  if (res.statusCode !== 200) {
    const text = await headOf(res.body as AsyncIterable<Buffer>, MAX_ERROR_BODY_BYTES);
    let error: { code?: string; message?: string } | undefined;
    try {
      error = (JSON.parse(text) as { error?: { code?: string; message?: string } }).error;
    } catch {
      /* not our error format */
    }
    throw new AgentCallError(c.node, res.statusCode === 401 ? `agent ${c.node} refused our token (401); check the node's tokenFile` : `agent ${c.node} answered ${res.statusCode}: ${error?.message ?? text.slice(0, 300)}`, res.statusCode, error?.code);
  }
  return records(c.node, res.body as AsyncIterable<Buffer>);
}

async function* records(node: string, body: AsyncIterable<Buffer>): AsyncGenerator<LogRecord> {
  for await (const text of ndjsonLines(body)) {
    let v;
    try {
      v = validateAgainst<LogRecord>("log-record", JSON.parse(text));
    } catch {
      throw new AgentCallError(node, `agent ${node} sent a log record that is not JSON`);
    }
    if (!v.ok) throw new AgentCallError(node, `agent ${node} sent a log record that does not match the contract: ${v.issues[0]?.message}`);
    yield v.value;
  }
}

/** An agent's error answer is a short JSON object: more than this is not read. */
const MAX_ERROR_BODY_BYTES = 8192;

/** The first `max` bytes of a body as text; the rest is not read (the body is destroyed). */
async function headOf(body: AsyncIterable<Buffer> & { destroy?: () => void }, max: number): Promise<string> {
  const parts: Buffer[] = [];
  let n = 0;
  try {
    for await (const chunk of body) {
      parts.push(chunk);
      n += chunk.length;
      if (n >= max) break;
    }
  } catch {
    /* what arrived is enough to say why */
  } finally {
    body.destroy?.();
  }
  return Buffer.concat(parts).subarray(0, max).toString("utf8");
}
