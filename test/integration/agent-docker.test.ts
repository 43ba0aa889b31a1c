/**
 * The node agent against the real Docker engine and the real registry (test bed).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawn, type ChildProcess } from "node:child_process";
import {
  Api, REPO, WatchReader, demoSpec, docker, httpGet, removeNodeContainers, startTestAgent, stopTestAgent,
  waitFor, writeAgentConfig, type AgentHandle,
} from "../support/agent-bed.js";

const NODE = "t-agent-docker";
const PORT = 19111;

describe("node agent on Docker: deploy, replace, observe", () => {
  let h: AgentHandle;
  beforeAll(async () => {
    h = await startTestAgent({ name: NODE, allowed: [REPO, "127.0.0.1:5999/switchyard-demo/app"] });
  });
  afterAll(() => stopTestAgent(h));

  it("deploys v1: running, healthy, answering, labelled", async () => {
    const put = await h.api.putSpec(demoSpec({ node: NODE, tag: "v1", generation: 1, hostPort: PORT }));
    expect(put.status).toBe(202);
    const s = await waitFor("v1 healthy", async () => {
      const st = await h.api.status();
      return st.services.web?.state === "running" && st.services.web.health === "healthy" && st;
    });
    expect(s.services.web).toMatchObject({ tag: "v1", state: "running", health: "healthy", error: null });
    expect(s.observedGeneration).toBe(1);
    const page = await httpGet(`http://127.0.0.1:${PORT}/version`);
    expect(JSON.parse(page.text)).toMatchObject({ version: "v1", color: "blue", node: NODE });
    const info = await docker.getContainer(s.services.web!.containerId!).inspect();
    expect(info.Config.Labels).toMatchObject({
      "dev.switchyard.app": "sytest", "dev.switchyard.node": NODE, "dev.switchyard.color": "blue",
      "dev.switchyard.service": "web", "dev.switchyard.tag": "v1", "dev.switchyard.kind": "web",
    });
    expect(info.HostConfig.RestartPolicy?.Name).toBe("unless-stopped");
    expect(info.HostConfig.Privileged).toBe(false);
    expect(info.HostConfig.PortBindings?.["8080/tcp"]).toEqual([{ HostIp: "127.0.0.1", HostPort: String(PORT) }]);
    expect(info.Config.Env).toEqual(expect.arrayContaining(["SWITCHYARD_COLOR=blue", "SWITCHYARD_TAG=v1", `SWITCHYARD_NODE=${NODE}`]));
  });

  it("the same spec again is a no-op (idempotent)", async () => {
    const before = (await h.api.status()).services.web!.containerId;
    const put = await h.api.putSpec(demoSpec({ node: NODE, tag: "v1", generation: 1, hostPort: PORT }));
    expect(put).toMatchObject({ status: 200, json: { changed: false } });
    expect((await h.api.status()).services.web!.containerId).toBe(before);
    const stale = await h.api.putSpec(demoSpec({ node: NODE, tag: "v2", generation: 1, hostPort: PORT }));
    expect(stale).toMatchObject({ status: 409, json: { error: { code: "AGENT_ERR_STALE_GENERATION" } } });
  });

  it("moves to v2: the v1 container is gone, v2 is healthy", async () => {
    const v1 = (await h.api.status()).services.web!.containerId!;
    await h.api.putSpec(demoSpec({ node: NODE, tag: "v2", generation: 2, hostPort: PORT }));
    await waitFor("v2 healthy", async () => {
      const st = await h.api.status();
      return st.services.web?.tag === "v2" && st.services.web.health === "healthy" && !st.converging;
    });
    expect(await docker.getContainer(v1).inspect().then(() => "exists", () => "gone")).toBe("gone");
    const mine = await docker.listContainers({ all: true, filters: { label: [`dev.switchyard.node=${NODE}`] } });
    expect(mine.map((c) => c.Labels["dev.switchyard.tag"])).toEqual(["v2"]);
    expect(JSON.parse((await httpGet(`http://127.0.0.1:${PORT}/version`)).text).version).toBe("v2");
  });

  it("v3 is reported unhealthy, with the reason", async () => {
    await h.api.putSpec(demoSpec({ node: NODE, tag: "v3", generation: 3, hostPort: PORT }));
    const s = await waitFor("v3 unhealthy", async () => {
      const st = await h.api.status();
      return st.services.web?.tag === "v3" && st.services.web.state === "unhealthy" && st;
    });
    expect(s.services.web!.health).toBe("unhealthy");
    expect(s.services.web!.error).toBe("GET /healthz answered 500");
  });

  it("docker stop by hand shows on /v1/watch within 1 s and is not undone", async () => {
    await h.api.putSpec(demoSpec({ node: NODE, tag: "v1", generation: 4, hostPort: PORT }));
    const s = await waitFor("v1 healthy again", async () => {
      const st = await h.api.status();
      return st.services.web?.tag === "v1" && st.services.web.health === "healthy" && !st.converging && st;
    });
    const watch = new WatchReader(h.api);
    try {
      await watch.waitFor("first snapshot", () => true);
      const stoppedAt = Date.now();
      await docker.getContainer(s.services.web!.containerId!).stop({ t: 1 });
      const done = Date.now();
      const ev = await watch.waitFor("exited on watch", (st) => st.services.web?.state === "exited");
      // Measured from when docker stop returned (the container is down at that point).
      expect(ev.at - done).toBeLessThan(1000);
      expect(ev.at - stoppedAt).toBeLessThan(3000);
      await new Promise((r) => setTimeout(r, 2500));
      const later = await h.api.status();
      expect(later.services.web!.state).toBe("exited");
      expect(later.converging).toBe(false);
    } finally {
      watch.close();
    }
    // A new generation is how the reconciler heals: the agent converges again.
    await h.api.putSpec(demoSpec({ node: NODE, tag: "v1", generation: 5, hostPort: PORT }));
    await waitFor("healed", async () => (await h.api.status()).services.web?.state === "running");
  });

  it("an unknown tag gives a clear error and leaves the running container alone", async () => {
    const before = (await h.api.status()).services.web!.containerId;
    await h.api.putSpec(demoSpec({ node: NODE, tag: "v99", generation: 6, hostPort: PORT }));
    const s = await waitFor("tag error", async () => {
      const st = await h.api.status();
      return st.services.web?.error?.includes("v99") && !st.converging && st;
    });
    expect(s.services.web!.error).toBe(`tag v99 does not exist in ${REPO}; push it first or pick an existing tag`);
    expect(s.services.web!.containerId).toBe(before);
    expect(s.services.web!.state).toBe("running");
  });

  it("registry down: a clear error in status, running containers untouched", async () => {
    const before = (await h.api.status()).services.web!.containerId;
    await h.api.putSpec(demoSpec({ node: NODE, tag: "v2", generation: 7, hostPort: PORT, repository: "127.0.0.1:5999/switchyard-demo/app" }));
    const s = await waitFor("registry error", async () => {
      const st = await h.api.status();
      return st.services.web?.error?.includes("registry") && !st.converging && st;
    });
    expect(s.services.web!.error).toMatch(/^cannot reach the registry 127\.0\.0\.1:5999 \(.+\); is it running and reachable from this VM\?$/);
    expect(s.services.web!.containerId).toBe(before);
    expect((await httpGet(`http://127.0.0.1:${PORT}/healthz`)).status).toBe(200);
  });

  it("a host port taken by another program is named as such", async () => {
    const { createServer } = await import("node:net");
    const squatter = createServer().listen(19119, "127.0.0.1");
    try {
      await h.api.putSpec(demoSpec({ node: NODE, tag: "v1", generation: 8, hostPort: 19119 }));
      const s = await waitFor("port error", async () => {
        const st = await h.api.status();
        return st.services.web?.error?.includes("19119") && !st.converging && st;
      });
      expect(s.services.web!.error).toMatch(/host port 19119 on 127\.0\.0\.1 is already in use/);
    } finally {
      squatter.close();
    }
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
    // Even the right token is refused from an address that is locked out.
    expect((await h.api.req("GET", "/v1/status")).status).toBe(429);
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

describe("agent restart", () => {
  const NAME = "t-agent-restart";
  let child: ChildProcess | undefined;
  afterAll(async () => {
    child?.kill("SIGKILL");
    await removeNodeContainers(NAME);
  });

  function spawnAgent(configFile: string): Promise<{ proc: ChildProcess; url: string }> {
    return new Promise((resolve, reject) => {
      const proc = spawn(process.execPath, ["bin/switchyard.js", "agent", "--config", configFile], { stdio: ["ignore", "pipe", "pipe"] });
      let out = "";
      proc.stdout!.on("data", (d: Buffer) => {
        out += d.toString();
        const m = /listening on (http:\/\/\S+)/.exec(out);
        if (m) resolve({ proc, url: m[1]! });
      });
      proc.stderr!.on("data", (d: Buffer) => (out += d.toString()));
      proc.on("exit", (code) => reject(new Error(`agent exited with ${code}: ${out}`)));
    });
  }

  it("killed with SIGKILL and restarted: status right at once, containers untouched, jobs stopped until a fresh lease", async () => {
    await removeNodeContainers(NAME);
    const { configFile, token } = writeAgentConfig({ name: NAME });
    const first = await spawnAgent(configFile);
    child = first.proc;
    const api = new Api(first.url, token);
    await api.putSpec(demoSpec({ node: NAME, tag: "v1", generation: 1, hostPort: 19131, withWorker: true }));
    expect((await api.req("PUT", "/v1/lease", { epoch: 1, ttlMs: 60_000 })).status).toBe(200);
    const before = await waitFor("web healthy and worker running", async () => {
      const st = await api.status();
      return st.services.web?.health === "healthy" && st.services.worker?.state === "running" && st;
    });
    const webId = before.services.web!.containerId!;
    const startedAt = (await docker.getContainer(webId).inspect()).State.StartedAt;

    first.proc.kill("SIGKILL");
    await new Promise((r) => first.proc.once("exit", r));
    const second = await spawnAgent(configFile);
    child = second.proc;
    const api2 = new Api(second.url, token);
    const after = await api2.status();
    expect(after.observedGeneration).toBe(1);
    expect(after.spec?.tag).toBe("v1");
    expect(after.services.web).toMatchObject({ containerId: webId, tag: "v1" });
    expect(after.services.worker!.state).toBe("missing"); // no job runs without a fresh lease
    expect(after.lease.state).toBe("none");
    expect((await docker.getContainer(webId).inspect()).State.StartedAt).toBe(startedAt);
    await waitFor("healthy after restart", async () => (await api2.status()).services.web?.health === "healthy");

    // A fresh lease starts the worker again, with its epoch in the environment.
    expect((await api2.req("PUT", "/v1/lease", { epoch: 2, ttlMs: 60_000 })).status).toBe(200);
    const w = await waitFor("worker under epoch 2", async () => {
      const st = await api2.status();
      return st.services.worker?.state === "running" && st;
    });
    const env = (await docker.getContainer(w.services.worker!.containerId!).inspect()).Config.Env;
    expect(env).toContain("SWITCHYARD_JOBS_EPOCH=2");
    expect((await docker.getContainer(w.services.worker!.containerId!).inspect()).HostConfig.RestartPolicy?.Name).toBe("no");
  });
});
