/**
 * The Docker engine restarted under a running agent (`systemctl restart docker`, a package upgrade): the
 * engine stops every container, and containers have restart policy `no` because the agent owns restarts
 * (issue 18). The agent must start its spec's web services again by itself, as Docker's restart policy did;
 * before, they stayed down until the reconciler healed them as drift, and with `drift.policy: alert` never.
 * A container stopped by hand while the engine runs is still drift first (agent-suite covers that).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { demoSpec, httpGet, startTestAgent, stopTestAgent, waitFor, type AgentHandle } from "../support/agent-bed.js";
import { PrivateEngine } from "../support/private-engine.js";

const NODE = "t-engine-restart";
const PORT = 19201;

describe("Docker engine restarted under a running agent", () => {
  const engine = new PrivateEngine("/tmp/sy-engine-restart", "sy-eng0", "172.31.250");
  let h: AgentHandle;

  beforeAll(async () => {
    await engine.remove();
    await engine.start();
    const removeAll = async () => {
      const list = await engine.docker.listContainers({ all: true }).catch(() => []);
      await Promise.all(list.map((c) => engine.docker.getContainer(c.Id).remove({ force: true }).catch(() => undefined)));
    };
    h = await startTestAgent({ name: NODE, extra: `docker: { socketPath: ${engine.socket} }`, cleanupNode: removeAll });
  }, 120_000);

  afterAll(async () => {
    await stopTestAgent(h).catch(() => undefined);
    await engine.remove();
  }, 120_000);

  it("the agent starts its web service again once the engine is back, with no new spec", async () => {
    await h.api.putSpec(demoSpec({ node: NODE, tag: "v1", generation: 1, hostPort: PORT }));
    await waitFor("v1 healthy", async () => (await h.api.status()).services.web?.health === "healthy", 120_000);
    await engine.stop();
    await engine.start();
    const s = await waitFor("web running and healthy again", async () => {
      const st = await h.api.status();
      return st.services.web?.state === "running" && st.services.web.health === "healthy" && st;
    }, 60_000, 250);
    expect(s.observedGeneration).toBe(1);
    expect((await httpGet(`http://127.0.0.1:${PORT}/healthz`)).status).toBe(200);
  }, 180_000);
});
