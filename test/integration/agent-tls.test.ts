/**
 * Agents over TLS with a private CA: the reconciler's client trusts the agent only through the CA it was
 * given, and tokens never travel in clear.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { startAgent, type RunningAgent } from "../../node-agent/main.js";
import { AgentClient } from "../../reconciler/loop/agent-client.js";
import { freePort } from "../support/cluster-bed.js";

describe("agent over TLS", () => {
  const dir = mkdtempSync(join(tmpdir(), "sy-tls-"));
  const token = randomBytes(24).toString("hex");
  let agent: RunningAgent;

  beforeAll(async () => {
    const ssl = (...a: string[]) => execFileSync("openssl", a, { cwd: dir, stdio: "ignore" });
    ssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=test-ca", "-keyout", "ca.key", "-out", "ca.crt");
    ssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=router-1", "-keyout", "tls.key", "-out", "tls.csr");
    writeFileSync(join(dir, "ext.cnf"), "subjectAltName=IP:127.0.0.1\n");
    ssl("x509", "-req", "-in", "tls.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-days", "1", "-extfile", "ext.cnf", "-out", "tls.crt");
    writeFileSync(join(dir, "token"), token);
    const routerPort = await freePort();
    writeFileSync(join(dir, "agent.yaml"), [
      "apiVersion: switchyard.dev/v1", "kind: Agent", "name: router-1", "listen: 127.0.0.1:0", "tokenFile: token", "role: router",
      `router: { listen: 127.0.0.1:${routerPort} }`, "dataDir: data", "tls: { certFile: tls.crt, keyFile: tls.key }",
    ].join("\n"));
    agent = await startAgent(join(dir, "agent.yaml"));
  });
  afterAll(async () => {
    await agent?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("serves https; a client with the CA gets the status", async () => {
    expect(agent.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const client = new AgentClient({ node: "router-1", url: agent.url, token, ca: readFileSync(join(dir, "ca.crt"), "utf8") });
    const s = await client.status();
    expect(s).toMatchObject({ node: "router-1", role: "router" });
    await client.close();
  });

  it("a client without the CA refuses the connection; plain http gets nothing", async () => {
    const client = new AgentClient({ node: "router-1", url: agent.url, token });
    await expect(client.status()).rejects.toThrow(/certificate|self[- ]signed|unable to verify/i);
    await client.close();
    const plain = agent.url.replace("https:", "http:");
    await expect(fetch(plain + "/v1/healthz")).rejects.toThrow();
  });
});
