/**
 * The node agent under abuse and faults (issue 12), on the process runtime: env that would run code
 * through a release's own shell, a spec's HOST against publishAddress, releases as a dedicated user,
 * the right token from an address over its failure limit, and specs that used to crash the agent.
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { chmodSync, chownSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Api, demoSpec, startTestAgent, stopTestAgent, waitFor, writeAgentConfig, type AgentHandle } from "../support/agent-bed.js";
import { processKit, type RuntimeKit } from "../support/runtime-kit.js";
import { freePort } from "../support/cluster-bed.js";
import { killProcsOfNode } from "../support/procs.js";
import { startAgent } from "../../node-agent/main.js";

/** A dedicated unprivileged user for releases (and for an agent run without root), made once per machine. */
const USER = "sy-release-test";
let kit: RuntimeKit;

beforeAll(async () => {
  kit = await processKit();
  // Readable by the unprivileged user: the releases' parent is a 0700 temp dir.
  chmodSync(dirname(kit.releasesDir!), 0o755);
  // A release whose program is a bash script, as many are.
  const sh = join(kit.releasesDir!, "sh1");
  cpSync(join(kit.releasesDir!, "v1"), sh, { recursive: true });
  mkdirSync(join(sh, "bin"));
  writeFileSync(join(sh, "bin", "start"), '#!/bin/bash\ncd "$(dirname "$0")/.."\nexec node server.js\n', { mode: 0o755 });
  try {
    execFileSync("id", ["-u", USER], { stdio: "ignore" });
  } catch {
    execFileSync("useradd", ["--system", "--user-group", "--no-create-home", "--shell", "/usr/sbin/nologin", USER]);
  }
});
afterAll(() => {
  if (kit) rmSync(dirname(kit.releasesDir!), { recursive: true, force: true });
});

const userIds = () => ({ uid: Number(execFileSync("id", ["-u", USER], { encoding: "utf8" })), gid: Number(execFileSync("id", ["-g", USER], { encoding: "utf8" })) });

/** An agent in this process on the process runtime for the enclosing describe; its handle may be replaced in a test. */
function useAgent(name: string, extra: () => string): () => AgentHandle {
  let h: AgentHandle | undefined;
  beforeAll(async () => {
    h = await startTestAgent({ name, extra: extra(), cleanupNode: killProcsOfNode });
  });
  afterAll(() => stopTestAgent(h));
  return () => h!;
}

/** An agent process of its own, run as the unprivileged user (as the reviewer ran it). */
async function agentAsUser(name: string): Promise<{ api: Api; dir: string; proc: ChildProcess; close(): Promise<void> }> {
  const { uid, gid } = userIds();
  const port = await freePort();
  const { dir, token, configFile } = writeAgentConfig({ name, extra: kit.agentYaml() }, mkdtempSync(join(tmpdir(), `sy-${name}-`)));
  writeFileSync(configFile, readFileSync(configFile, "utf8").replace("listen: 127.0.0.1:0", `listen: 127.0.0.1:${port}`));
  for (const f of [dir, ...readdirSync(dir).map((x) => join(dir, x))]) chownSync(f, uid, gid);
  const proc = spawn(process.execPath, ["bin/switchyard.js", "agent", "--config", configFile], { uid, gid, env: { PATH: process.env.PATH ?? "" }, stdio: "ignore" });
  const api = new Api(`http://127.0.0.1:${port}`, token);
  await waitFor("the agent answers", async () => (await fetch(api.url + "/v1/healthz").then((r) => r.ok, () => false)), 20_000);
  return {
    api, dir, proc,
    close: async () => {
      if (proc.exitCode === null) {
        proc.kill("SIGTERM");
        await new Promise((r) => proc.once("exit", r));
      }
      await killProcsOfNode(name);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

describe("process runtime: env cannot run code through a release's shell", () => {
  const NODE = "t-hard-shell";
  let a: Awaited<ReturnType<typeof agentAsUser>>;
  beforeAll(async () => {
    a = await agentAsUser(NODE);
  });
  afterAll(() => a?.close());

  it("SHELLOPTS=xtrace with PS4='$(id …)' on a bash ./bin/start is refused with a 403, and nothing runs", async () => {
    const marker = join(a.dir, "pwned");
    const port = await freePort();
    const bad = demoSpec({ node: NODE, tag: "sh1", generation: 1, hostPort: port });
    Object.assign(bad.services.web!, { command: ["./bin/start"], env: { SHELLOPTS: "xtrace", PS4: `$(id > ${marker})` } });
    const r = await a.api.putSpec(bad);
    // Had it been accepted, the release would have started; give it the time to show what it did.
    if (r.status < 300) await waitFor("the release ran", async () => (await a.api.status()).services.web?.health === "healthy", 20_000).catch(() => undefined);
    const ran = existsSync(marker) ? readFileSync(marker, "utf8").trim() : null;
    expect({ status: r.status, code: r.json?.error?.code, ran }).toEqual({ status: 403, code: "AGENT_ERR_ENV_NOT_ALLOWED", ran: null });
    expect(r.json.error.message).toMatch(/services\.web\.env\.SHELLOPTS is refused by the process runtime/);
    expect((await a.api.status()).observedGeneration).toBe(0);
    // The same release, without the hostile env, runs under this agent: the refusal is about the env.
    const good = demoSpec({ node: NODE, tag: "sh1", generation: 1, hostPort: port });
    good.services.web!.command = ["./bin/start"];
    expect((await a.api.putSpec(good)).status).toBe(202);
    await waitFor("sh1 healthy", async () => (await a.api.status()).services.web?.health === "healthy", 20_000);
    expect(existsSync(marker)).toBe(false);
  });
});

describe("process runtime: HOST and PORT belong to the agent", () => {
  const NODE = "t-hard-env";
  const agent = useAgent(NODE, () => kit.agentYaml());

  it("a spec's HOST=0.0.0.0 and PORT lose to publishAddress and the host port: the app listens on 127.0.0.1 only", async () => {
    const h = agent();
    const port = await freePort();
    const spec = demoSpec({ node: NODE, tag: "v1", generation: 1, hostPort: port });
    spec.services.web!.env = { HOST: "0.0.0.0", PORT: "18999", LOG_LEVEL: "debug" };
    expect((await h.api.putSpec(spec)).status).toBe(202);
    const s = await waitFor("v1 healthy", async () => { const st = await h.api.status(); return st.services.web?.health === "healthy" && st; }, 20_000);
    const env = await kit.env(h.dir, s.services.web!.containerId!);
    expect(env).toEqual(expect.arrayContaining(["HOST=127.0.0.1", `PORT=${port}`, "LOG_LEVEL=debug"]));
    expect(env).not.toContain("HOST=0.0.0.0");
    expect(listeners(port)).toEqual(["127.0.0.1"]);
  });

});

describe("process runtime: releases run as agent.yaml process.user", () => {
  const NODE = "t-hard-user";
  const agent = useAgent(NODE, () => `runtime: process\nprocess: { releasesDir: ${kit.releasesDir}, user: ${USER} }`);

  it("its uid and gid, no supplementary groups, no capabilities, its HOME", async () => {
    const h = agent();
    const { uid, gid } = userIds();
    expect((await h.api.putSpec(demoSpec({ node: NODE, tag: "v1", generation: 1, hostPort: await freePort() }))).status).toBe(202);
    const st = await waitFor("v1 healthy", async () => { const x = await h.api.status(); return x.services.web?.health === "healthy" && x; }, 20_000);
    const pid = JSON.parse(readFileSync(join(h.dir, "data", "processes", `${st.services.web!.containerId}.json`), "utf8")).identity.pid as number;
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    expect(status.match(/^Uid:\s+(.*)$/m)![1]!.split(/\s+/).map(Number)).toEqual([uid, uid, uid, uid]);
    expect(status.match(/^Gid:\s+(.*)$/m)![1]!.split(/\s+/).map(Number)).toEqual([gid, gid, gid, gid]);
    expect(status.match(/^Groups:[ \t]*(.*)$/m)![1]!.trim()).toBe("");
    expect(status.match(/^CapEff:\s+(.*)$/m)![1]).toBe("0000000000000000");
    expect(await kit.env(h.dir, st.services.web!.containerId!)).toEqual(expect.arrayContaining([`USER=${USER}`, `LOGNAME=${USER}`, `HOME=${execFileSync("getent", ["passwd", USER], { encoding: "utf8" }).split(":")[5]}`]));
  });

  it("an agent refuses to start with process.user root or a user that does not exist", async () => {
    for (const [user, why] of [["root", /releases must run as an unprivileged user/], ["sy-no-such-user", /does not exist on this machine/]] as const) {
      const { dir, configFile } = writeAgentConfig({ name: "t-hard-nouser", extra: `runtime: process\nprocess: { releasesDir: ${kit.releasesDir}, user: ${user} }` });
      await expect(startAgent(configFile, { listen: "127.0.0.1:0" })).rejects.toThrow(why);
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("agent auth: failures are limited per address, the right token always passes", () => {
  const agent = useAgent("t-hard-auth", () => kit.agentYaml());

  it("12 wrong tokens from 127.0.0.1, then the right token gets 200; wrong ones stay limited", async () => {
    const h = agent();
    const wrong = new Api(h.agent.url, "x".repeat(48));
    const codes: number[] = [];
    for (let i = 0; i < 12; i++) codes.push((await wrong.req("GET", "/v1/status")).status);
    expect(codes.slice(0, 10)).toEqual(Array(10).fill(401));
    expect(codes.slice(10)).toEqual([429, 429]);
    expect((await h.api.req("GET", "/v1/status")).status).toBe(200);
    expect((await h.api.req("PUT", "/v1/lease", { epoch: 1, ttlMs: 5000 })).status).toBe(200);
    expect((await wrong.req("GET", "/v1/status")).status).toBe(429);
    expect((await fetch(h.agent.url + "/v1/status")).status).toBe(429);
  });
});

describe("specs that used to crash the agent", () => {
  const NODE = "t-hard-spec";
  const agent = useAgent(NODE, () => kit.agentYaml());

  it("a health path with a character above U+00FF is refused by the schema; the agent keeps serving", async () => {
    const h = agent();
    const spec = demoSpec({ node: NODE, tag: "v1", generation: 1, hostPort: await freePort() });
    spec.services.web!.health.path = "/healthz\u0100";
    const r = await h.api.putSpec(spec);
    expect(r.status).toBe(422);
    expect(r.json.error.code).toBe("AGENT_ERR_INVALID_SPEC");
    expect(r.json.error.message).toMatch(/health\.path/);
    expect((await h.api.req("GET", "/v1/status")).status).toBe(200);
  });

  it("a health object without timeoutSeconds gets the schema's default and the service turns healthy", async () => {
    const h = agent();
    const spec = demoSpec({ node: NODE, tag: "v1", generation: 1, hostPort: await freePort() });
    const { timeoutSeconds: _dropped, ...health } = spec.services.web!.health;
    const r = await h.api.putSpec({ ...spec, services: { web: { ...spec.services.web!, health } } });
    expect(r.status).toBe(202);
    const s = await waitFor("v1 healthy", async () => { const st = await h.api.status(); return st.services.web?.health === "healthy" && st; }, 20_000);
    expect(s.spec!.services.web!.health.timeoutSeconds).toBe(2);
  });

  it("restarted with persisted specs it cannot apply, it keeps serving and says why; a spec without defaults is filled", async () => {
    const h = agent();
    const file = join(h.dir, "data", "spec.json");
    const persisted = JSON.parse(readFileSync(file, "utf8"));
    // As written by an agent that checked less: a probe timeout missing, with the service still running.
    delete persisted.services.web.health.timeoutSeconds;
    await h.agent.close();
    writeFileSync(file, JSON.stringify(persisted));
    h.agent = await startAgent(h.configFile, { listen: "127.0.0.1:0" });
    h.api = new Api(h.agent.url, h.token);
    const s = await waitFor("healthy again", async () => { const st = await h.api.status(); return st.services.web?.health === "healthy" && st; }, 20_000);
    expect(s.spec!.services.web!.health.timeoutSeconds).toBe(2);
    expect(s.error).toBeNull();
    // A path no probe can send, with the service still running: set aside, reported, the agent serves.
    persisted.services.web.health.path = "/healthz\u0100";
    await h.agent.close();
    writeFileSync(file, JSON.stringify(persisted));
    h.agent = await startAgent(h.configFile, { listen: "127.0.0.1:0" });
    h.api = new Api(h.agent.url, h.token);
    await new Promise((r) => setTimeout(r, 1000)); // probes would have run by now
    const after = await h.api.status();
    expect(after.observedGeneration).toBe(0);
    expect(after.error).toMatch(/the spec kept from the last run cannot be applied: services\.web\.health\.path: .* it was moved to .*spec\.json\.rejected-/);
    expect(existsSync(file)).toBe(false);
    expect(readdirSync(join(h.dir, "data")).filter((f) => f.startsWith("spec.json.rejected-"))).toHaveLength(1);
    // And the reconciler can hand it a new spec.
    expect((await h.api.putSpec(demoSpec({ node: NODE, tag: "v1", generation: 1, hostPort: persisted.services.web.hostPort }))).status).toBe(202);
    expect((await h.api.status()).error).toBeNull();
  });
});

/** Local addresses with a listening TCP socket on this port, from /proc/net/tcp and tcp6. */
function listeners(port: number): string[] {
  const out: string[] = [];
  for (const f of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    for (const line of readFileSync(f, "utf8").split("\n").slice(1)) {
      const cols = line.trim().split(/\s+/);
      if (cols[3] !== "0A") continue; // LISTEN
      const [addr, p] = cols[1]!.split(":");
      if (parseInt(p!, 16) !== port) continue;
      out.push(addr!.length === 8 ? addr!.match(/../g)!.reverse().map((b) => parseInt(b, 16)).join(".") : addr!);
    }
  }
  return out;
}
