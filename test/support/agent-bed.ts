/**
 * Shared setup for agent integration tests: real agents on port 0 with their own temp data dirs and
 * tokens, an authenticated client, a watch-stream reader, and cleanup of every container they made.
 * Needs the test bed (test/bed/setup.sh): a Docker engine and the registry with the demo images.
 */
import { SseParser } from "../../common/sse.js";
import { mkdtempSync, writeFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import Docker from "dockerode";
import { startAgent, type RunningAgent } from "../../node-agent/main.js";
import { makeLogger } from "../../common/log.js";
import type { NodeSpec, NodeStatus } from "../../specs/wire.js";

export const REPO = process.env.SWITCHYARD_TEST_REPO ?? "127.0.0.1:5000/switchyard-demo/app";
export const docker = new Docker({ socketPath: process.env.DOCKER_SOCKET ?? "/var/run/docker.sock" });

export interface AgentHandle {
  name: string;
  dir: string;
  token: string;
  configFile: string;
  agent: RunningAgent;
  api: Api;
  cleanupNode: (node: string) => Promise<void>;
}

export interface AgentBedOptions {
  name: string;
  allowed?: string[];
  role?: "node" | "router";
  extra?: string;
  /** Captures the agent's log lines (JSON) here. */
  logLines?: string[];
  /** Removes what an agent of this node left running (default: its Docker containers). */
  cleanupNode?: (node: string) => Promise<void>;
}

/** Writes agent.yaml + token into a fresh temp dir. */
export function writeAgentConfig(o: AgentBedOptions, dir = mkdtempSync(join(tmpdir(), `sy-${o.name}-`))): { dir: string; token: string; configFile: string } {
  const token = randomBytes(24).toString("hex");
  writeFileSync(join(dir, "token"), token + "\n", { mode: 0o600 });
  const configFile = join(dir, "agent.yaml");
  writeFileSync(
    configFile,
    [
      "apiVersion: switchyard.dev/v1",
      "kind: Agent",
      `name: ${o.name}`,
      "listen: 127.0.0.1:0",
      "tokenFile: token",
      `role: ${o.role ?? "node"}`,
      `allowedRepositories: [${(o.allowed ?? [REPO]).join(", ")}]`,
      "dataDir: data",
      o.extra ?? "",
    ].join("\n"),
  );
  return { dir, token, configFile };
}

export async function startTestAgent(o: AgentBedOptions): Promise<AgentHandle> {
  const cleanupNode = o.cleanupNode ?? removeNodeContainers;
  await cleanupNode(o.name);
  const { dir, token, configFile } = writeAgentConfig(o);
  const logger = o.logLines
    ? makeLogger("switchyard-agent", { level: "debug" }, { write: (line: string) => void o.logLines!.push(line) })
    : undefined;
  const agent = await startAgent(configFile, { listen: "127.0.0.1:0", ...(logger ? { logger } : {}) });
  return { name: o.name, dir, token, configFile, agent, api: new Api(agent.url, token), cleanupNode };
}

export async function stopTestAgent(h: AgentHandle | undefined): Promise<void> {
  if (!h) return;
  await h.agent.close();
  await h.cleanupNode(h.name);
  rmSync(h.dir, { recursive: true, force: true });
}

/** Removes every container an agent of this node name made (labels, never names). */
export async function removeNodeContainers(node: string): Promise<void> {
  const list = await docker.listContainers({ all: true, filters: { label: [`dev.switchyard.node=${node}`] } });
  await Promise.all(list.map((c) => docker.getContainer(c.Id).remove({ force: true }).catch(() => undefined)));
}

/** One authenticated call: the body is sent as JSON (a string as it is); the answer is parsed when it is JSON. */
export async function requestJson(url: string, token: string, method: string, body?: unknown, headers: Record<string, string> = {}, timeoutMs = 30_000): Promise<{ status: number; json: any }> {
  const res = await fetch(url, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { "content-type": "application/json" } : {}), ...headers },
    ...(body !== undefined ? { body: typeof body === "string" ? body : JSON.stringify(body) } : {}),
    signal: AbortSignal.timeout(timeoutMs),
  });
  const text = await res.text();
  let json: unknown = text;
  try {
    json = JSON.parse(text);
  } catch {
    /* not JSON */
  }
  return { status: res.status, json };
}

export class Api {
  constructor(readonly url: string, readonly token: string) {}

  async req(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<{ status: number; json: any }> {
    return requestJson(this.url + path, this.token, method, body, headers);
  }

  async status(): Promise<NodeStatus> {
    const r = await this.req("GET", "/v1/status");
    if (r.status !== 200) throw new Error(`status answered ${r.status}: ${JSON.stringify(r.json)}`);
    return r.json as NodeStatus;
  }

  putSpec(spec: NodeSpec | object) {
    return this.req("PUT", "/v1/spec", spec);
  }
}

export interface SpecOpts {
  node: string;
  tag?: string;
  generation: number;
  hostPort: number;
  stopped?: boolean;
  repository?: string;
  withWorker?: boolean;
  color?: "blue" | "green";
}

/** A node spec for the demo app: web on hostPort, optionally the worker job. */
export function demoSpec(o: SpecOpts): NodeSpec {
  const health = { path: "/healthz", periodSeconds: 0.25, timeoutSeconds: 1, healthyThreshold: 1, unhealthyThreshold: 2 };
  return {
    kind: "NodeSpec",
    generation: o.generation,
    app: "sytest",
    node: o.node,
    color: o.color ?? "blue",
    repository: o.repository ?? REPO,
    ...(o.tag !== undefined ? { tag: o.tag } : {}),
    stopped: o.stopped ?? false,
    services: {
      web: { port: 8080, hostPort: o.hostPort, job: false, stopTimeoutSeconds: 5, health },
      ...(o.withWorker ? { worker: { job: true, command: ["node", "worker.js"], stopTimeoutSeconds: 2, health } } : {}),
    },
  };
}

export async function waitFor<T>(what: string, fn: () => Promise<T | undefined | false>, timeoutMs = 30_000, everyMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${(last as Error).message}` : ""}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** Reads /v1/watch and keeps every status event with its arrival time. */
export class WatchReader {
  readonly events: { at: number; status: NodeStatus }[] = [];
  private readonly ctrl = new AbortController();
  private done: Promise<void>;

  constructor(api: Api) {
    this.done = (async () => {
      const res = await fetch(api.url + "/v1/watch", { headers: { authorization: `Bearer ${api.token}` }, signal: this.ctrl.signal });
      if (!res.ok || !res.body) throw new Error(`watch answered ${res.status}`);
      const sse = new SseParser();
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        for (const data of sse.push(chunk)) this.events.push({ at: Date.now(), status: JSON.parse(data) as NodeStatus });
      }
    })().catch((err: Error) => {
      if (err.name !== "AbortError") throw err;
    });
  }

  async waitFor(what: string, pred: (s: NodeStatus) => boolean, timeoutMs = 10_000): Promise<{ at: number; status: NodeStatus }> {
    return waitFor(what, async () => this.events.find((e) => pred(e.status)), timeoutMs, 20);
  }

  close(): void {
    this.ctrl.abort();
  }
}

export async function httpGet(url: string): Promise<{ status: number; text: string }> {
  const res = await fetch(url);
  return { status: res.status, text: await res.text() };
}
