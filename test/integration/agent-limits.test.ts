/**
 * Agent and reconciler in one process (the demo does this): they share the schema registry, so the
 * reconciler reading an agent's status must not break the agent's first PUT /v1/spec.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AgentClient } from "../../reconciler/agent-client.js";
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
});
