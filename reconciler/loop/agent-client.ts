/**
 * The reconciler's side of the agent contract: authenticated JSON calls and the /v1/watch stream,
 * reconnected with backoff. Every answer is validated against the wire schema before it is believed.
 */
import type { TaskRecord, TaskRunRequest } from "../../specs/tasks.js";
import { Agent, request, type Dispatcher } from "undici";
import type { AcmeChallenges, LeaseStatus, NodeSpec, NodeStatus, RouterSpec } from "../../specs/wire.js";
import { isLoopbackAddress } from "../../common/values.js";
import { validateAgainst } from "../../specs/validate.js";
import { SseParser } from "../../common/sse.js";
import type { AgentLogsQuery, LogRecord } from "../../specs/logs.js";
import { openAgentLogs } from "./agent-logs.js";
import { AgentCallError } from "./agent-call-error.js";

export interface AgentClientOptions {
  node: string;
  url: string;
  token: string;
  /** PEM CA bundle for https agents with a private CA. */
  ca?: string;
  /** Per-call timeout (headers and body). */
  timeoutMs?: number;
}

export const DEFAULT_AGENT_TIMEOUT_MS = 5_000;
const WATCH_RETRY_MIN_MS = 200;
const WATCH_RETRY_MAX_MS = 5_000;
/** A watch stream that shows nothing (not even a heartbeat) for this long is considered dead. */
const WATCH_SILENCE_MS = 40_000;

export { AgentCallError };

export class AgentClient {
  readonly node: string;
  private readonly base: string;
  private auth: string;
  private readonly dispatcher: Dispatcher;
  private readonly timeoutMs: number;

  constructor(o: AgentClientOptions) {
    this.node = o.node;
    this.base = o.url.replace(/\/+$/, "");
    this.auth = `Bearer ${o.token}`;
    this.timeoutMs = o.timeoutMs ?? DEFAULT_AGENT_TIMEOUT_MS;
    this.dispatcher = o.ca ? new Agent({ keepAliveTimeout: 30_000, connections: 4, connect: { ca: o.ca } }) : sharedDispatcher();
  }

  /** The node's token file changed: later calls carry the new token (a watch stream already open goes on). */
  setToken(token: string): void {
    this.auth = `Bearer ${token}`;
  }

  async status(): Promise<NodeStatus> {
    const body = await this.call("GET", "/v1/status");
    return this.checkStatus(body);
  }

  async putSpec(spec: NodeSpec | RouterSpec): Promise<{ changed: boolean }> {
    return (await this.call("PUT", "/v1/spec", spec)) as { changed: boolean };
  }

  /** The HTTP-01 answers a router serves (replaces its set). */
  async putChallenges(challenges: AcmeChallenges["challenges"]): Promise<void> {
    await this.call("PUT", "/v1/acme/challenges", { kind: "AcmeChallenges", challenges });
  }

  /** Hands a certificate and its key to a router: only over TLS or loopback (never sent otherwise). */
  async putCertificate(name: string, certificate: string, key: string): Promise<void> {
    const u = new URL(this.base);
    if (u.protocol !== "https:" && !isLoopbackAddress(u.hostname.replace(/^\[|\]$/g, ""))) {
      throw new AgentCallError(this.node, `not sending a private key to agent ${this.node} over plain HTTP (${this.base}); give it tls in agent.yaml and an https:// URL in cluster.yaml`, undefined, "AGENT_ERR_INSECURE_CHANNEL");
    }
    await this.call("PUT", "/v1/acme/certificate", { kind: "AcmeCertificate", name, certificate, key });
  }

  async putLease(epoch: number, ttlMs: number): Promise<LeaseStatus> {
    return (await this.call("PUT", "/v1/lease", { epoch, ttlMs })) as LeaseStatus;
  }

  /** POST /v1/tasks/run: starts a task run once (idempotent by id); answers its record. */
  async runTask(req: TaskRunRequest): Promise<TaskRecord> {
    return this.checkTask(await this.call("POST", "/v1/tasks/run", req));
  }

  /** GET /v1/tasks/:id: a task run's record. */
  async task(id: string): Promise<TaskRecord> {
    return this.checkTask(await this.call("GET", `/v1/tasks/${id}`));
  }

  /** GET /v1/logs: the node's log records for one service (see agent-logs.ts). */
  logs(q: AgentLogsQuery, signal: AbortSignal): Promise<AsyncGenerator<LogRecord>> {
    return openAgentLogs({ node: this.node, base: this.base, auth: this.auth, dispatcher: this.dispatcher, timeoutMs: this.timeoutMs }, q, signal);
  }

  /** Answers once the node's job containers stopped, so it may take up to their stop timeout. */
  async deleteLease(timeoutMs: number): Promise<LeaseStatus> {
    return (await this.call("DELETE", "/v1/lease", undefined, timeoutMs)) as LeaseStatus;
  }

  /**
   * Follows /v1/watch: `onStatus` for every snapshot, `onDown` when the stream breaks (it reconnects by
   * itself, with backoff). Returns a function that stops watching.
   */
  watch(onStatus: (s: NodeStatus) => void, onDown: (reason: string) => void): () => void {
    let stopped = false;
    let retry = WATCH_RETRY_MIN_MS;
    let current: AbortController | undefined;
    const loop = async () => {
      while (!stopped) {
        const ctrl = new AbortController();
        current = ctrl;
        let silence: NodeJS.Timeout | undefined;
        const arm = () => {
          if (silence) clearTimeout(silence);
          silence = setTimeout(() => ctrl.abort(new Error("watch stream went silent")), WATCH_SILENCE_MS);
          silence.unref();
        };
        try {
          const res = await request(this.base + "/v1/watch", {
            method: "GET",
            headers: { authorization: this.auth, accept: "text/event-stream" },
            dispatcher: this.dispatcher,
            signal: ctrl.signal,
            headersTimeout: this.timeoutMs,
            bodyTimeout: 0,
          });
          if (res.statusCode !== 200) {
            const text = await res.body.text().catch(() => "");
            throw new AgentCallError(this.node, describeHttp(this.node, res.statusCode, text), res.statusCode);
          }
          arm();
          const sse = new SseParser();
          for await (const chunk of res.body) {
            arm(); // heartbeats count as signs of life
            for (const data of sse.push(chunk as Buffer)) {
              retry = WATCH_RETRY_MIN_MS;
              onStatus(this.checkStatus(JSON.parse(data)));
            }
          }
          throw new Error("the agent closed the watch stream");
        } catch (err) {
          if (stopped) return;
          onDown(reason(this.node, err));
        } finally {
          if (silence) clearTimeout(silence);
        }
        await new Promise((r) => setTimeout(r, retry));
        retry = Math.min(retry * 2, WATCH_RETRY_MAX_MS);
      }
    };
    void loop();
    return () => {
      stopped = true;
      current?.abort();
    };
  }

  async close(): Promise<void> {
    if (this.dispatcher !== shared) await this.dispatcher.close().catch(() => undefined);
  }

  private async call(method: "GET" | "PUT" | "POST" | "DELETE", path: string, body?: unknown, timeoutMs = this.timeoutMs): Promise<unknown> {
    let res: Dispatcher.ResponseData;
    try {
      res = await request(this.base + path, {
        method,
        headers: { authorization: this.auth, ...(body !== undefined ? { "content-type": "application/json" } : {}) },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        dispatcher: this.dispatcher,
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
      });
    } catch (err) {
      throw new AgentCallError(this.node, reason(this.node, err));
    }
    const text = await res.body.text();
    if (res.statusCode >= 300) {
      let code: string | undefined;
      try {
        code = (JSON.parse(text) as { error?: { code?: string } }).error?.code;
      } catch {
        /* not our error format */
      }
      throw new AgentCallError(this.node, describeHttp(this.node, res.statusCode, text), res.statusCode, code);
    }
    try {
      return JSON.parse(text);
    } catch {
      throw new AgentCallError(this.node, `agent ${this.node} answered ${method} ${path} with something that is not JSON`);
    }
  }

  private checkTask(body: unknown): TaskRecord {
    const v = validateAgainst<TaskRecord>("task-record", body);
    if (!v.ok) throw new AgentCallError(this.node, `agent ${this.node} sent a task record that does not match the contract: ${v.issues[0]?.message}`);
    return v.value;
  }

  private checkStatus(body: unknown): NodeStatus {
    const v = validateAgainst<NodeStatus>("node-status", body);
    if (!v.ok) throw new AgentCallError(this.node, `agent ${this.node} sent a status that does not match the contract: ${v.issues[0]?.message}`);
    if (v.value.node !== this.node) throw new AgentCallError(this.node, `the agent at ${this.base} is node "${v.value.node}", not "${this.node}"; check cluster.yaml`);
    return v.value;
  }
}

/** One connection pool for every agent without a private CA: pools are per origin inside it. */
let shared: Agent | undefined;
function sharedDispatcher(): Agent {
  shared ??= new Agent({ keepAliveTimeout: 30_000, connections: 4 });
  return shared;
}

function describeHttp(node: string, status: number, text: string): string {
  let msg = text.slice(0, 300);
  try {
    msg = (JSON.parse(text) as { error?: { message?: string } }).error?.message ?? msg;
  } catch {
    /* keep the text */
  }
  if (status === 401) return `agent ${node} refused our token (401); check the node's tokenFile`;
  return `agent ${node} answered ${status}: ${msg}`;
}

function reason(node: string, err: unknown): string {
  const e = err as NodeJS.ErrnoException & { cause?: NodeJS.ErrnoException };
  if (e instanceof AgentCallError) return e.message;
  const code = e.code ?? e.cause?.code;
  if (code === "ECONNREFUSED") return `agent ${node} refuses connections (is it running?)`;
  if (code === "UND_ERR_HEADERS_TIMEOUT" || code === "UND_ERR_CONNECT_TIMEOUT" || code === "UND_ERR_BODY_TIMEOUT") return `agent ${node} did not answer in time`;
  if (code === "ECONNRESET" || code === "UND_ERR_SOCKET") return `the connection to agent ${node} broke`;
  return `agent ${node}: ${e.message ?? String(err)}`;
}
