/**
 * GET /api/v1/logs merging several nodes (the route on a bare server, agents replaced by fakes that answer
 * like GET /v1/logs): histories in time order, each line tagged, a refusing node reported in the stream,
 * live lines passed on after every history.
 */
import Fastify, { type FastifyInstance } from "fastify";
import { afterEach, describe, expect, it } from "vitest";
import { registerLogRoutes } from "../../reconciler/api/log-routes.js";
import { useContractValidation } from "../../reconciler/api/route.js";
import { AgentCallError } from "../../reconciler/loop/agent-call-error.js";
import { makeLogger } from "../../common/log.js";
import type { Controller } from "../../reconciler/loop/controller.js";
import type { AuthOptions } from "../../reconciler/auth/hook.js";
import type { ApiLogRecord, LogRecord } from "../../specs/logs.js";
import { MAX_API_LOG_STREAMS } from "../../specs/defaults.js";

const line = (t: string, text: string): LogRecord => ({ type: "line", t: `2026-11-29T20:00:0${t}.000000000Z`, stream: "stdout", line: text });

function fakeClient(records: LogRecord[] | Error) {
  return {
    logs: async (): Promise<AsyncGenerator<LogRecord>> => {
      if (records instanceof Error) throw records;
      return (async function* () {
        for (const r of records) {
          if (r.type === "end") await new Promise((res) => setTimeout(res, 50)); // live lines come later
          yield r;
        }
      })();
    },
  };
}

/** A node that sends its history and then nothing until the request goes. */
function quietClient() {
  return {
    logs: async (_q: unknown, signal: AbortSignal): Promise<AsyncGenerator<LogRecord>> =>
      (async function* () {
        yield { type: "caught-up" } as LogRecord;
        await new Promise((res) => signal.addEventListener("abort", res, { once: true }));
      })(),
  };
}

let app: FastifyInstance | undefined;
afterEach(() => app?.close());

async function serve(targets: { node: string; color: "blue" | "green"; client: { logs(q: unknown, signal: AbortSignal): Promise<AsyncGenerator<LogRecord>> } }[]): Promise<string> {
  app = Fastify({ forceCloseConnections: true });
  useContractValidation(app);
  app.addHook("onRequest", async (req) => {
    req.principal = { name: "tester", role: "deployer", via: "token" };
  });
  const controller = { logTargets: () => targets } as unknown as Controller;
  registerLogRoutes(app, { controller, auth: {} as AuthOptions, logger: makeLogger("test", { level: "silent" }) });
  return app.listen({ port: 0, host: "127.0.0.1" });
}

async function get(url: string): Promise<ApiLogRecord[]> {
  const text = await (await fetch(url)).text();
  return text.trim().split("\n").map((l) => JSON.parse(l) as ApiLogRecord);
}

describe("GET /api/v1/logs merges nodes", () => {
  it("histories in time order, tagged; a refusing node is a record; live lines after every history", async () => {
    const url = await serve([
      { node: "blue-1", color: "blue", client: fakeClient([line("1", "a1"), line("3", "a3"), { type: "caught-up" }, line("7", "a-live"), { type: "end", reason: "stopped" }]) },
      { node: "blue-2", color: "blue", client: fakeClient([line("2", "b2"), line("4", "b4"), { type: "caught-up" }, { type: "end", reason: "stopped" }]) },
      { node: "blue-3", color: "blue", client: fakeClient(new AgentCallError("blue-3", "agent blue-3 answered 404: no web workload", 404, "AGENT_ERR_NO_WORKLOAD")) },
    ]);
    const rs = await get(`${url}/api/v1/logs?service=web&color=blue&follow=true`);
    const lines = rs.filter((r) => r.type === "line").map((r) => r.type === "line" && `${r.node}:${r.line}`);
    expect(lines).toEqual(["blue-1:a1", "blue-2:b2", "blue-1:a3", "blue-2:b4", "blue-1:a-live"]);
    expect(rs[0]).toEqual({ type: "line", node: "blue-1", color: "blue", service: "web", t: "2026-11-29T20:00:01.000000000Z", stream: "stdout", line: "a1" });
    const nodeRecords = rs.filter((r) => r.type === "node");
    expect(nodeRecords).toEqual(expect.arrayContaining([
      { type: "node", node: "blue-1", color: "blue", state: "caught-up" },
      { type: "node", node: "blue-2", color: "blue", state: "caught-up" },
      { type: "node", node: "blue-3", color: "blue", state: "refused", message: "agent blue-3 answered 404: no web workload" },
      { type: "node", node: "blue-1", color: "blue", state: "ended", reason: "stopped" },
      { type: "node", node: "blue-2", color: "blue", state: "ended", reason: "stopped" },
    ]));
    // Every history line (and node state) comes before the first live line.
    const firstLive = rs.findIndex((r) => r.type === "line" && r.line === "a-live");
    expect(rs.slice(0, firstLive).filter((r) => r.type === "node" && r.state === "caught-up")).toHaveLength(2);
  });

  it("an unreachable node (no status) is reported as unreachable, the others' lines still come", async () => {
    const url = await serve([
      { node: "green-1", color: "green", client: fakeClient(new AgentCallError("green-1", "agent green-1 refuses connections (is it running?)")) },
      { node: "green-2", color: "green", client: fakeClient([line("5", "g5"), { type: "end", reason: "done" }]) },
    ]);
    const rs = await get(`${url}/api/v1/logs?service=web&color=green`);
    expect(rs).toEqual([
      { type: "line", node: "green-2", color: "green", service: "web", t: "2026-11-29T20:00:05.000000000Z", stream: "stdout", line: "g5" },
      { type: "node", node: "green-1", color: "green", state: "unreachable", message: "agent green-1 refuses connections (is it running?)" },
      { type: "node", node: "green-2", color: "green", state: "ended", reason: "done" },
    ]);
  });

  it(`at most ${MAX_API_LOG_STREAMS} log answers at once: the next gets 503 RECON_ERR_TOO_MANY_STREAMS, a closed one frees its place`, async () => {
    const url = await serve([{ node: "blue-1", color: "blue", client: quietClient() }]);
    const open = Array.from({ length: MAX_API_LOG_STREAMS }, () => new AbortController());
    const bodies = await Promise.all(open.map(async (c) => (await fetch(`${url}/api/v1/logs?service=web&node=blue-1&follow=true`, { signal: c.signal })).body!.getReader()));
    for (const b of bodies) await b.read(); // the caught-up record: the answer is open
    const more = await fetch(`${url}/api/v1/logs?service=web&node=blue-1`);
    expect(more.status).toBe(503);
    expect(await more.json()).toMatchObject({ error: { code: "RECON_ERR_TOO_MANY_STREAMS" } });
    open[0]!.abort();
    await expect.poll(async () => (await fetch(`${url}/api/v1/logs?service=web&node=blue-1&tail=0`, { signal: AbortSignal.timeout(2000) }).then((r) => { void r.body?.cancel(); return r.status; }))).toBe(200);
    for (const c of open) c.abort();
  });
});
