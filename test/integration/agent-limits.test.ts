/**
 * A router agent (no Docker needed) at its limits: in one process with the reconciler's client (the demo
 * does this), sharing one schema registry; more watch streams than it serves; a watcher that never reads.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createServer, type Server } from "node:http";
import { connect } from "node:net";
import { SseHub } from "../../common/sse.js";
import { MAX_AGENT_STREAMS, MAX_STREAM_BUFFERED_BYTES } from "../../specs/defaults.js";
import { waitFor } from "../support/agent-bed.js";
import { AgentClient } from "../../reconciler/loop/agent-client.js";
import { startTestAgent, stopTestAgent, type AgentHandle } from "../support/agent-bed.js";
import { freePort, LOOPBACK, routerSpec } from "../support/router-world.js";

describe("an agent and a reconciler in one process", () => {
  let agent: AgentHandle;
  let listen = "";

  beforeAll(async () => {
    listen = `${LOOPBACK}:${await freePort()}`;
    agent = await startTestAgent({ name: "router-1p", role: "router", extra: `router: { listen: "${listen}" }`, cleanupNode: async () => undefined });
  });
  afterAll(async () => {
    await stopTestAgent(agent);
  });

  it("the first PUT /v1/spec after the reconciler validated a status is accepted (each schema compiled once)", async () => {
    const client = new AgentClient({ node: "router-1p", url: agent.agent.url, token: agent.token });
    try {
      const before = await client.status(); // validates against node-status, which embeds the spec schemas
      expect(before.node).toBe("router-1p");
      await client.putSpec(routerSpec(listen, { upstreams: { blue: [], green: [] } }));
      const after = await client.status();
      expect(after.router?.spec?.live).toBe("blue");
    } finally {
      await client.close();
    }
  });

  it(`at most ${MAX_AGENT_STREAMS} watch streams at once; the next gets 503 AGENT_ERR_TOO_MANY_STREAMS`, async () => {
    const ctrls: AbortController[] = [];
    const watch = (signal?: AbortSignal) => fetch(`${agent.agent.url}/v1/watch`, { headers: { authorization: `Bearer ${agent.token}` }, ...(signal ? { signal } : {}) });
    try {
      for (let i = 0; i < MAX_AGENT_STREAMS; i++) {
        const c = new AbortController();
        ctrls.push(c);
        expect((await watch(c.signal)).status).toBe(200);
      }
      const over = await watch();
      expect(over.status).toBe(503);
      expect(((await over.json()) as { error: { code: string } }).error.code).toBe("AGENT_ERR_TOO_MANY_STREAMS");
    } finally {
      for (const c of ctrls) c.abort();
    }
    await waitFor("slots free again", async () => {
      const c = new AbortController();
      const res = await watch(c.signal);
      c.abort();
      return res.status === 200;
    });
  });
});

describe("the shared SSE writer", () => {
  let server: Server;
  let hub: SseHub;
  const slow: number[] = [];
  let closed = 0;
  let port = 0;

  beforeAll(async () => {
    hub = new SseHub({ maxStreams: 4, maxBufferedBytes: MAX_STREAM_BUFFERED_BYTES, heartbeatMs: 60_000 }, (b) => void slow.push(b));
    server = createServer((req, res) => {
      const s = hub.open(req, res);
      if (!s) {
        res.writeHead(503).end();
        return;
      }
      s.onClose(() => void closed++);
      // Offers up to 256 MiB in 64 KiB frames, as fast as the event loop turns.
      const frame = "x".repeat(64 * 1024);
      let sent = 0;
      let open = true;
      s.onClose(() => (open = false));
      const pump = () => {
        for (let i = 0; i < 16 && open; i++, sent++) s.send("status", frame);
        if (open && sent < 4096) setImmediate(pump);
      };
      pump();
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
    port = (server.address() as { port: number }).port;
  });
  afterAll(async () => {
    hub.endAll();
    await new Promise((r) => server.close(r));
  });

  it("a client that never reads is disconnected once its unsent bytes pass the bound, with no more buffered than the bound and one frame", async () => {
    const sock = connect(port, "127.0.0.1");
    sock.write("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    sock.pause();
    await waitFor("the slow stream closed", async () => closed === 1, 20_000);
    sock.destroy();
    expect(slow).toHaveLength(1);
    expect(slow[0]).toBeGreaterThan(MAX_STREAM_BUFFERED_BYTES);
    expect(slow[0]).toBeLessThanOrEqual(MAX_STREAM_BUFFERED_BYTES + 64 * 1024 + 200);
    expect(hub.size).toBe(0);
  });
});
