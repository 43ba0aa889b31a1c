/**
 * A service's secrets on every runtime: the agent adds the variables of `<secretsDir>/<name>.env` to the
 * workload's env, status shows the keyed fingerprint and never the value or the key, and a missing file
 * keeps the service from starting with a coded error. Parameterised by a RuntimeKit (Docker, processes).
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { demoSpec, startTestAgent, stopTestAgent, waitFor, type AgentHandle } from "./agent-bed.js";
import type { RuntimeKit } from "./runtime-kit.js";
import type { NodeSpec } from "../../specs/wire.js";
import { fingerprint } from "../../node-agent/node/secrets.js";
import { secretsKeyId } from "../../specs/secrets-key-id.js";

export function agentSecretsSuite(getKit: () => Promise<RuntimeKit>, o: { prefix: string; port: number }): void {
  const NODE = `${o.prefix}-secrets`;
  const KEY = randomBytes(32).toString("hex");
  const VALUE = `postgres://shop:pw-${randomBytes(10).toString("hex")}@db.internal/shop`;
  const logLines: string[] = [];
  let kit: RuntimeKit;
  let h: AgentHandle;
  const spec = (generation: number, secrets: string[]): NodeSpec => {
    const s = demoSpec({ node: NODE, tag: "v1", generation, hostPort: o.port });
    return { ...s, secretsKey: KEY, services: { web: { ...s.services.web!, secrets } } };
  };

  describe("secrets from the node's secretsDir", () => {
    beforeAll(async () => {
      kit = await getKit();
      h = await startTestAgent({ name: NODE, extra: `${kit.agentYaml()}\nsecretsDir: secrets`, cleanupNode: kit.cleanupNode, logLines });
      mkdirSync(join(h.dir, "secrets"), { mode: 0o700 });
      writeFileSync(join(h.dir, "secrets", "database.env"), `DATABASE_URL=${VALUE}\n`, { mode: 0o600 });
    });
    afterAll(() => stopTestAgent(h));

    it("the workload gets the variables; status has the fingerprint and the key's id, never the value or the key", async () => {
      await h.api.putSpec(spec(1, ["database"]));
      const s = await waitFor("web healthy with its secret", async () => {
        const st = await h.api.status();
        return st.services.web?.health === "healthy" && !st.converging && st;
      });
      expect(s.services.web!.secrets).toEqual([{ name: "database", fingerprint: fingerprint(KEY, { DATABASE_URL: VALUE }) }]);
      expect(await kit.env(h.dir, s.services.web!.containerId!)).toContain(`DATABASE_URL=${VALUE}`);
      expect(s.spec!.secretsKeyId).toBe(secretsKeyId(KEY));
      const text = JSON.stringify(s);
      expect(text).not.toContain(VALUE);
      expect(text).not.toContain(KEY);
      expect(logLines.length).toBeGreaterThan(0);
      expect(logLines.filter((l) => l.includes(VALUE) || l.includes(KEY))).toEqual([]);
    });

    it("a missing secret file: the new workload is not started (the one that ran keeps running), its status says AGENT_ERR_SECRET_MISSING with the file", async () => {
      await h.api.putSpec(spec(2, ["database", "payments"]));
      const s = await waitFor("web refused for its missing secret", async () => {
        const st = await h.api.status();
        return st.services.web?.error?.startsWith("AGENT_ERR_SECRET_MISSING") && st;
      });
      expect(s.services.web!.error).toContain(join(h.dir, "secrets", "payments.env"));
      // The secrets are read before the workload they would replace is stopped: the one that ran keeps running.
      expect(s.services.web!.state).toBe("running");
      expect(s.services.web!.secrets?.map((x) => x.name)).not.toContain("payments");
    });
  });
}
