/**
 * Private keys travel only over TLS or loopback (design rule 10, issue 15): a router agent refuses a
 * certificate with its key that arrives over plain HTTP from another address, and the reconciler's client
 * never sends one to a plain-HTTP agent that is not on loopback.
 */
import { describe, expect, it } from "vitest";
import { networkInterfaces } from "node:os";
import { pino } from "pino";
import { buildAgentServer, type RouterCore } from "../../node-agent/server.js";
import { TokenGuard } from "../../node-agent/auth.js";
import { AgentClient, AgentCallError } from "../../reconciler/loop/agent-client.js";
import type { CertificateInfo, NodeStatus } from "../../specs/wire.js";
import { cleanup } from "../support/router-world.js";
import { testCa } from "../support/tls-world.js";
import { readFileSync } from "node:fs";

const TOKEN = "a-long-enough-test-token-0123456789";

function fakeRouter(): RouterCore & { installed: string[]; challenges: number } {
  const core = {
    role: "router" as const,
    installed: [] as string[],
    challenges: 0,
    status: () => ({ kind: "NodeStatus", node: "r1", role: "router", observedGeneration: 0, converging: false, services: {}, lease: { state: "none", epoch: 0, remainingMs: 0 } }) as NodeStatus,
    applySpec: async () => ({ changed: false }),
    onChange: () => () => {},
    setChallenges: (list: unknown[]) => { core.challenges = list.length; },
    installCertificate: async (name: string): Promise<CertificateInfo> => {
      core.installed.push(name);
      return { source: "acme", hosts: ["shop.test"], issuer: "x", notBefore: "", notAfter: "", error: null };
    },
  };
  return core;
}

/** The first non-loopback IPv4 address of this machine, if any. */
function outsideAddress(): string | undefined {
  for (const list of Object.values(networkInterfaces())) for (const a of list ?? []) if (a.family === "IPv4" && !a.internal) return a.address;
  return undefined;
}

describe("agent: ACME certificates and challenges", () => {
  it("takes a certificate over loopback, refuses one over plain HTTP from another address (AGENT_ERR_INSECURE_CHANNEL)", async () => {
    const ca = await testCa();
    const pair = ca.issue("shop", ["shop.test"]);
    const body = { kind: "AcmeCertificate", name: "shop", certificate: readFileSync(pair.certFile, "utf8"), key: readFileSync(pair.keyFile, "utf8") };
    const core = fakeRouter();
    const app = buildAgentServer({ core, guard: new TokenGuard(TOKEN), logger: pino({ level: "silent" }) });
    cleanup(() => app.close());
    const outside = outsideAddress();
    await app.listen({ host: "0.0.0.0", port: 0 });
    const port = (app.server.address() as { port: number }).port;
    const put = (host: string, path: string, b: unknown) => fetch(`http://${host}:${port}${path}`, { method: "PUT", headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" }, body: JSON.stringify(b) });

    const local = await put("127.0.0.1", "/v1/acme/certificate", body);
    expect(local.status).toBe(200);
    expect(core.installed).toEqual(["shop"]);
    expect((await put("127.0.0.1", "/v1/acme/challenges", { kind: "AcmeChallenges", challenges: [{ token: "tok_1", keyAuthorization: "tok_1.thumb" }] })).status).toBe(200);
    expect(core.challenges).toBe(1);
    expect((await put("127.0.0.1", "/v1/acme/challenges", { kind: "AcmeChallenges", challenges: [{ token: "../etc", keyAuthorization: "x" }] })).status).toBe(422);

    if (outside === undefined) return; // no other interface to come from on this machine
    const remote = await put(outside, "/v1/acme/certificate", body);
    expect(remote.status).toBe(403);
    expect(((await remote.json()) as { error: { code: string } }).error.code).toBe("AGENT_ERR_INSECURE_CHANNEL");
    expect(core.installed).toEqual(["shop"]);
  });

  it("the reconciler's client refuses to send a key to a plain-HTTP agent off loopback, and sends nothing", async () => {
    const client = new AgentClient({ node: "router-1", url: "http://192.0.2.10:7100", token: TOKEN, timeoutMs: 1_000 });
    cleanup(() => client.close());
    const err = await client.putCertificate("shop", "cert", "key").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AgentCallError);
    expect((err as AgentCallError).code).toBe("AGENT_ERR_INSECURE_CHANNEL");
    expect((err as Error).message).toMatch(/not sending a private key/);
  });
});
