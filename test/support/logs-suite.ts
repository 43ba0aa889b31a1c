/**
 * GET /v1/logs against one runtime (Docker's log API or the process runtime's log files): tail, since,
 * follow until the workload is replaced, the follow cap, refusals. The demo app logs every request with
 * LOG_LEVEL=debug, so a request is how a test makes it print a line.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect } from "node:net";
import { demoSpec, startTestAgent, stopTestAgent, waitFor, type AgentHandle } from "./agent-bed.js";
import { NdjsonReader } from "./ndjson-reader.js";
import type { RuntimeKit } from "./runtime-kit.js";
import { MAX_LOG_FOLLOWS } from "../../specs/defaults.js";
import type { LogRecord } from "../../specs/logs.js";
import type { NodeSpec } from "../../specs/wire.js";

type Line = Extract<LogRecord, { type: "line" }>;

export function logsSuite(getKit: () => Promise<RuntimeKit>, o: { prefix: string; port: number }): void {
  const NODE = `${o.prefix}-logs`;
  let h: AgentHandle;
  let generation = 0;
  const put = async (tag: string) => {
    const spec = demoSpec({ node: NODE, tag, generation: ++generation, hostPort: o.port }) as NodeSpec;
    spec.services.web!.env = { LOG_LEVEL: "debug" };
    expect((await h.api.putSpec(spec)).status).toBe(202);
    return waitFor(`${tag} healthy`, async () => {
      const st = await h.api.status();
      return st.services.web?.tag === tag && st.services.web.health === "healthy" && !st.converging && st.services.web.containerId;
    });
  };
  const hit = (marker: string) => fetch(`http://127.0.0.1:${o.port}/version?m=${marker}`).then((r) => r.text());
  const logs = async (query: string) => {
    const res = await fetch(`${h.agent.url}/v1/logs?${query}`, { headers: { authorization: `Bearer ${h.token}` } });
    const text = await res.text();
    return { status: res.status, records: res.status === 200 ? text.trim().split("\n").map((l) => JSON.parse(l) as LogRecord) : [], json: res.status === 200 ? undefined : JSON.parse(text) };
  };
  const follow = (query: string) => new NdjsonReader<LogRecord>(`${h.agent.url}/v1/logs?${query}&follow=true`, { authorization: `Bearer ${h.token}` });
  const lines = (rs: readonly LogRecord[]) => rs.filter((r): r is Line => r.type === "line");

  describe("logs", () => {
    beforeAll(async () => {
      const kit = await getKit();
      h = await startTestAgent({ name: NODE, extra: kit.agentYaml(), cleanupNode: kit.cleanupNode });
      await put("v1");
    });
    afterAll(() => stopTestAgent(h));

    it("needs the token: 401 without it, 400 for a bad query, 404 for a service the node does not run", async () => {
      const res = await fetch(`${h.agent.url}/v1/logs?service=web`);
      expect(res.status).toBe(401);
      expect(await res.json()).toMatchObject({ error: { code: "AGENT_ERR_UNAUTHORIZED" } });
      expect(await logs("service=web&tail=many")).toMatchObject({ status: 400, json: { error: { code: "AGENT_ERR_BAD_REQUEST" } } });
      expect(await logs("tail=3")).toMatchObject({ status: 400, json: { error: { code: "AGENT_ERR_BAD_REQUEST" } } });
      expect(await logs("service=nothing")).toMatchObject({ status: 404, json: { error: { code: "AGENT_ERR_NO_WORKLOAD" } } });
    });

    it("tail: the last N lines, oldest first, then the end record", async () => {
      for (let i = 1; i <= 5; i++) await hit(`tail-${i}`);
      const marked = await waitFor("5 lines logged", async () => {
        const r = await logs("service=web&tail=100");
        return lines(r.records).some((l) => l.line.includes("m=tail-5")) && r;
      });
      expect(marked.status).toBe(200);
      // Oldest first (health checks are logged too, in between).
      expect(lines(marked.records).map((l) => /m=(tail-\d)/.exec(l.line)?.[1]).filter(Boolean)).toEqual(["tail-1", "tail-2", "tail-3", "tail-4", "tail-5"]);
      expect(lines(marked.records)[0]).toMatchObject({ stream: "stdout" });
      expect(marked.records.at(-1)).toEqual({ type: "end", reason: "done" });
      const three = await logs("service=web&tail=3");
      expect(three.records.map((r) => r.type)).toEqual(["line", "line", "line", "end"]);
    });

    it("since: only the lines written after a time", async () => {
      await hit("before-since");
      await new Promise((r) => setTimeout(r, 1500));
      const since = new Date().toISOString();
      await new Promise((r) => setTimeout(r, 1000));
      await hit("after-since");
      const r = await waitFor("after-since logged", async () => {
        const x = await logs(`service=web&tail=5000&since=${since}`);
        return lines(x.records).some((l) => l.line.includes("m=after-since")) && x;
      });
      const text = lines(r.records).map((l) => l.line).join("\n");
      expect(text).not.toContain("m=before-since");
      expect(text).not.toContain("m=tail-1");
      for (const l of lines(r.records)) if (l.t !== null) expect(l.t >= since.replace("Z", "")).toBe(true);
    });

    it("follow: a line printed after following started arrives; the stream ends when the workload is replaced", async () => {
      const f = follow("service=web&tail=2");
      try {
        await f.waitFor("caught-up", (r) => r.type === "caught-up");
        await hit("followed");
        const got = await f.waitFor("the followed line", (r) => r.type === "line" && r.line.includes("m=followed"));
        expect(got).toMatchObject({ type: "line", stream: "stdout" });
        // Nothing twice: the history and the live part do not overlap.
        expect(lines(f.records).filter((l) => l.line.includes("m=followed"))).toHaveLength(1);
        await put("v2");
        await f.waitFor("the end record", (r) => r.type === "end");
        expect(f.records.at(-1)).toEqual({ type: "end", reason: "stopped" });
        await f.done;
      } finally {
        f.close();
      }
    });

    it(`at most ${MAX_LOG_FOLLOWS} follows at once: the next gets 429 AGENT_ERR_TOO_MANY_FOLLOWS, a history still passes`, async () => {
      const open = Array.from({ length: MAX_LOG_FOLLOWS }, () => follow("service=web&tail=0"));
      try {
        for (const f of open) await f.waitFor("caught-up", (r) => r.type === "caught-up");
        const more = await logs("service=web&tail=0&follow=true");
        expect(more).toMatchObject({ status: 429, json: { error: { code: "AGENT_ERR_TOO_MANY_FOLLOWS" } } });
        expect((await logs("service=web&tail=1")).status).toBe(200);
      } finally {
        for (const f of open) f.close();
      }
      const again = await waitFor("a follow slot free again", async () => {
        const f = follow("service=web&tail=0");
        if ((await f.ready) === 200) return f;
        f.close();
        return false;
      });
      again.close();
    });

    it("follows whose client hangs up before the stream starts free their places (no follow left reading for nobody)", async () => {
      const url = new URL(h.agent.url);
      // Each client sends its request and goes at once: the agent is then still asking the runtime for the stream.
      await Promise.all(Array.from({ length: 3 * MAX_LOG_FOLLOWS }, () => new Promise<void>((resolve) => {
        const s = connect(Number(url.port), url.hostname, () => {
          s.write(`GET /v1/logs?service=web&tail=0&follow=true HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${h.token}\r\n\r\n`, () => s.destroy());
        });
        s.on("close", () => resolve());
        s.on("error", () => resolve());
      })));
      // Every place is free again: MAX_LOG_FOLLOWS new follows are all taken.
      const open = await waitFor("every follow place free", async () => {
        const fs = Array.from({ length: MAX_LOG_FOLLOWS }, () => follow("service=web&tail=0"));
        const statuses = await Promise.all(fs.map((f) => f.ready));
        if (statuses.every((x) => x === 200)) return fs;
        for (const f of fs) f.close();
        return false;
      }, 15_000, 500);
      for (const f of open) f.close();
    });
  });
}
