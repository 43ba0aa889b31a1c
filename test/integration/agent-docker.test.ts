/**
 * The node agent against the real Docker engine and the real registry (test bed): the scenarios every
 * runtime passes (test/support/agent-suite.ts, also run on processes), and what only Docker has.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Api, REPO, demoSpec, docker, httpGet, startTestAgent, stopTestAgent, waitFor, type AgentHandle } from "../support/agent-bed.js";
import { agentRestartSuite, agentStopSuite, agentSuite, leaseSuite } from "../support/agent-suite.js";
import { agentSecretsSuite } from "../support/agent-secrets-suite.js";
import { logsSuite } from "../support/logs-suite.js";
import { dockerKit } from "../support/runtime-kit.js";

const kit = async () => dockerKit;
const opts = { prefix: "t-docker", ports: { web: 19111, squat: 19119, restart: 19131, lease: 19161, stop: 19175 } };

describe("node agent on Docker", () => {
  agentSuite(kit, opts);
  agentRestartSuite(kit, opts);
  agentStopSuite(kit, opts);
  leaseSuite(kit, opts);
  agentSecretsSuite(kit, { prefix: opts.prefix, port: 19181 });
  logsSuite(kit, { prefix: opts.prefix, port: 19191 });
});

describe("registry down", () => {
  const NODE = "t-agent-registry";
  const PORT = 19171;
  let h: AgentHandle;
  beforeAll(async () => {
    h = await startTestAgent({ name: NODE, allowed: [REPO, "127.0.0.1:5999/switchyard-demo/app"] });
  });
  afterAll(() => stopTestAgent(h));

  it("a clear error in status, running containers untouched", async () => {
    await h.api.putSpec(demoSpec({ node: NODE, tag: "v1", generation: 1, hostPort: PORT }));
    const before = await waitFor("v1 healthy", async () => {
      const st = await h.api.status();
      return st.services.web?.health === "healthy" && st.services.web.containerId;
    });
    await h.api.putSpec(demoSpec({ node: NODE, tag: "v2", generation: 2, hostPort: PORT, repository: "127.0.0.1:5999/switchyard-demo/app" }));
    const s = await waitFor("registry error", async () => {
      const st = await h.api.status();
      return st.services.web?.error?.includes("registry") && !st.converging && st;
    });
    expect(s.services.web!.error).toMatch(/^cannot reach the registry 127\.0\.0\.1:5999 \(.+\); is it running and reachable from this VM\?$/);
    expect(s.services.web!.containerId).toBe(before);
    expect((await httpGet(`http://127.0.0.1:${PORT}/healthz`)).status).toBe(200);
  });
});

describe("node agent security", () => {
  let h: AgentHandle;
  const logLines: string[] = [];
  beforeAll(async () => {
    h = await startTestAgent({ name: "t-agent-sec", logLines });
  });
  afterAll(() => stopTestAgent(h));

  it("refuses every route but healthz without the token, and rate-limits guessing", async () => {
    expect((await fetch(h.agent.url + "/v1/healthz")).status).toBe(200);
    for (const [m, p] of [["GET", "/v1/status"], ["PUT", "/v1/spec"], ["GET", "/v1/watch"], ["PUT", "/v1/lease"], ["DELETE", "/v1/lease"], ["GET", "/nope"]] as const) {
      const res = await fetch(h.agent.url + p, { method: m });
      expect(res.status, `${m} ${p}`).toBe(401);
      expect(await res.json()).toEqual({ error: { code: "AGENT_ERR_UNAUTHORIZED", message: "missing or wrong bearer token" } });
    }
    const wrong = new Api(h.agent.url, "x".repeat(48));
    let codes: number[] = [];
    for (let i = 0; i < 6; i++) codes.push((await wrong.req("GET", "/v1/status")).status);
    expect(codes.at(-1)).toBe(429);
    // The right token still passes from an address over its limit: a lockout would cut the reconciler off.
    expect((await h.api.req("GET", "/v1/status")).status).toBe(200);
    expect((await wrong.req("GET", "/v1/status")).status).toBe(429);
  });

  it("never puts the token in its responses or logs", async () => {
    await fetch(h.agent.url + "/v1/status", { headers: { authorization: `Bearer ${h.token}x` } });
    const answers = [await fetch(h.agent.url + "/v1/healthz").then((r) => r.text()), JSON.stringify((await h.api.req("GET", "/v1/status")).json)];
    for (const a of answers) expect(a).not.toContain(h.token);
    const log = logLines.join("");
    expect(log).toContain("authentication failed"); // the log is really captured
    expect(log).not.toContain(h.token);
  });
});

describe("least privilege", () => {
  let h: AgentHandle;
  beforeAll(async () => {
    h = await startTestAgent({ name: "t-agent-priv" });
  });
  afterAll(() => stopTestAgent(h));

  it("an image outside allowedRepositories → 403 and nothing pulled", async () => {
    const events: string[] = [];
    const since = Math.floor(Date.now() / 1000);
    const put = await h.api.putSpec(demoSpec({ node: "t-agent-priv", tag: "latest", generation: 1, hostPort: 19121, repository: "127.0.0.1:5000/evil/miner" }));
    expect(put.status).toBe(403);
    expect(put.json.error).toMatchObject({ code: "AGENT_ERR_IMAGE_NOT_ALLOWED" });
    expect(put.json.error.message).toContain("127.0.0.1:5000/evil/miner is not in this agent's allowedRepositories");
    const stream = await docker.getEvents({ since, until: Math.floor(Date.now() / 1000) + 1, filters: { type: ["image"] } });
    for await (const chunk of stream as AsyncIterable<Buffer>) events.push(chunk.toString());
    expect(events.join("")).not.toContain("evil/miner");
    expect((await h.api.status()).observedGeneration).toBe(0);
  });

  it("a spec asking for privileges is refused by the schema", async () => {
    const spec = demoSpec({ node: "t-agent-priv", tag: "v1", generation: 1, hostPort: 19121 }) as unknown as { services: { web: Record<string, unknown> } };
    for (const extra of [{ privileged: true }, { volumes: ["/:/host"] }, { network: "host" }, { capAdd: ["SYS_ADMIN"] }, { devices: ["/dev/kmsg"] }]) {
      const s = structuredClone(spec);
      Object.assign(s.services.web, extra);
      const r = await h.api.putSpec(s);
      expect(r.status, JSON.stringify(extra)).toBe(422);
      expect(r.json.error.code).toBe("AGENT_ERR_INVALID_SPEC");
    }
    const wrongNode = await h.api.putSpec(demoSpec({ node: "someone-else", tag: "v1", generation: 1, hostPort: 19121 }));
    expect(wrongNode).toMatchObject({ status: 409, json: { error: { code: "AGENT_ERR_WRONG_NODE" } } });
    const lowPort = await h.api.putSpec(demoSpec({ node: "t-agent-priv", tag: "v1", generation: 1, hostPort: 80 }));
    expect(lowPort).toMatchObject({ status: 422, json: { error: { code: "AGENT_ERR_INVALID_SPEC" } } });
  });
});
