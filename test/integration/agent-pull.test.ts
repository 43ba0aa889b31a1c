/**
 * Pulls through the real Docker engine against registries that misbehave: credentials go only to their own
 * registry host, and a registry that accepts and never answers cannot wedge the agent.
 */
import { createServer as createHttpServer, type Server } from "node:http";
import { createServer as createTcpServer, type Server as TcpServer, type Socket } from "node:net";
import type { AddressInfo } from "node:net";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { REPO, demoSpec, docker, startTestAgent, stopTestAgent, waitFor, type AgentHandle } from "../support/agent-bed.js";

const PASSWORD = "pull-Passw0rd-for-registry-a";

/** A fake registry that asks for basic auth and records the Authorization header of every request. */
async function recordingRegistry(): Promise<{ host: string; seen: { path: string; authorization: string | undefined }[]; server: Server }> {
  const seen: { path: string; authorization: string | undefined }[] = [];
  const server = createHttpServer((req, res) => {
    seen.push({ path: req.url ?? "", authorization: req.headers.authorization });
    res.writeHead(401, { "content-type": "application/json", "docker-distribution-api-version": "registry/2.0", "www-authenticate": 'Basic realm="fake"' });
    res.end(JSON.stringify({ errors: [{ code: "UNAUTHORIZED", message: "authentication required" }] }));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return { host: `127.0.0.1:${(server.address() as AddressInfo).port}`, seen, server };
}

/** A "registry" that accepts connections and never says a word. */
async function silentRegistry(): Promise<{ host: string; server: TcpServer; sockets: Set<Socket> }> {
  const sockets = new Set<Socket>();
  const server = createTcpServer((s) => {
    sockets.add(s);
    s.on("error", () => undefined);
    s.on("close", () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  closers.push(async () => {
    for (const s of sockets) s.destroy();
    server.close();
  });
  return { host: `127.0.0.1:${(server.address() as AddressInfo).port}`, server, sockets };
}

const closers: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const c of closers.splice(0)) await c();
});

async function ensureLocal(tag: string): Promise<void> {
  const ok = await docker.getImage(`${REPO}:${tag}`).inspect().then(() => true, () => false);
  if (ok) return;
  const stream = (await docker.pull(`${REPO}:${tag}`)) as NodeJS.ReadableStream;
  await new Promise((resolve, reject) => docker.modem.followProgress(stream, (err: Error | null) => (err ? reject(err) : resolve(undefined))));
}

describe("registry credentials per host", () => {
  const NODE = "t-pull-creds";
  let h: AgentHandle | undefined;
  afterEach(() => stopTestAgent(h));

  it("a pull from another registry carries no Authorization; the credentials' own host gets them", async () => {
    const a = await recordingRegistry();
    const b = await recordingRegistry();
    closers.push(async () => void a.server.close(), async () => void b.server.close());
    const secrets = mkdtempSync(join(tmpdir(), "sy-pull-"));
    closers.push(async () => rmSync(secrets, { recursive: true, force: true }));
    const passwordFile = join(secrets, "registry-a.password");
    writeFileSync(passwordFile, PASSWORD + "\n", { mode: 0o600 });
    const repoA = `${a.host}/shop/app`;
    const repoB = `${b.host}/shop/app`;
    h = await startTestAgent({
      name: NODE,
      allowed: [REPO, repoA, repoB],
      extra: `registries: [ { host: "${a.host}", username: puller, passwordFile: ${passwordFile} } ]`,
    });
    await h.api.putSpec(demoSpec({ node: NODE, tag: "v1", generation: 1, hostPort: 19311, repository: repoB }));
    await waitFor("the pull from b to fail", async () => (await h!.api.status()).services.web?.error?.includes(b.host));
    expect(b.seen.length).toBeGreaterThan(0);
    expect(b.seen.filter((r) => r.authorization !== undefined)).toEqual([]);

    await h.api.putSpec(demoSpec({ node: NODE, tag: "v1", generation: 2, hostPort: 19311, repository: repoA }));
    const basic = `Basic ${Buffer.from(`puller:${PASSWORD}`).toString("base64")}`;
    await waitFor("registry a to see the credentials", async () => a.seen.some((r) => r.authorization === basic));
    const s = await waitFor("the pull from a to fail", async () => {
      const st = await h!.api.status();
      return st.services.web?.error?.includes(a.host) ? st : undefined;
    });
    expect(s.services.web!.error).toContain("unauthorized");
    expect(JSON.stringify(s)).not.toContain(PASSWORD);
  }, 60_000);
});

describe("a stalled registry", () => {
  let h: AgentHandle | undefined;
  afterEach(() => stopTestAgent(h));
  beforeAll(() => Promise.all([ensureLocal("v1"), ensureLocal("v2")]));

  it("fails the pull with AGENT_ERR_PULL_STALLED within the idle timeout", async () => {
    const NODE = "t-pull-stall";
    const silent = await silentRegistry();
    const repo = `${silent.host}/shop/app`;
    h = await startTestAgent({ name: NODE, allowed: [REPO, repo], extra: "docker: { pullIdleTimeoutSeconds: 2 }" });
    const t0 = Date.now();
    await h.api.putSpec(demoSpec({ node: NODE, tag: "v1", generation: 1, hostPort: 19321, repository: repo }));
    const s = await waitFor("the stalled pull to fail", async () => {
      const st = await h!.api.status();
      return st.services.web?.error && !st.converging ? st : undefined;
    }, 20_000);
    const took = Date.now() - t0;
    expect(s.services.web!.error).toMatch(/^AGENT_ERR_PULL_STALLED: pulling 127\.0\.0\.1:\d+\/shop\/app:v1 made no progress for 2 s/);
    expect(s.services.web!.state).toBe("missing");
    // The idle timeout, plus the time to notice; the registry itself never answers.
    expect(took).toBeGreaterThanOrEqual(2_000);
    expect(took).toBeLessThan(8_000);
  }, 60_000);

  it("a newer spec for a cached tag converges without waiting for the stalled pull", async () => {
    const NODE = "t-pull-newer";
    const PORT = 19331;
    const silent = await silentRegistry();
    const repo = `${silent.host}/shop/app`;
    h = await startTestAgent({ name: NODE, allowed: [REPO, repo], extra: "docker: { pullIdleTimeoutSeconds: 300 }" });
    await h.api.putSpec(demoSpec({ node: NODE, tag: "v1", generation: 1, hostPort: PORT }));
    await waitFor("v1 healthy", async () => (await h!.api.status()).services.web?.health === "healthy");
    await h.api.putSpec(demoSpec({ node: NODE, tag: "v3", generation: 2, hostPort: PORT, repository: repo }));
    await waitFor("pulling from the silent registry", async () => (await h!.api.status()).services.web?.state === "pulling" && silent.sockets.size > 0);
    const t0 = Date.now();
    await h.api.putSpec(demoSpec({ node: NODE, tag: "v2", generation: 3, hostPort: PORT }));
    const s = await waitFor("v2 healthy", async () => {
      const st = await h!.api.status();
      return !st.converging && st.services.web?.tag === "v2" && st.services.web.health === "healthy" && st;
    }, 60_000);
    const took = Date.now() - t0;
    expect(took).toBeLessThan(10_000); // far below the 300 s idle timeout, and below the engine's own registry timeouts
    expect(s.observedGeneration).toBe(3);
    expect(s.services.web!.error).toBeNull();
  }, 150_000);
});
