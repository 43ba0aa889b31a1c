/**
 * The node agent's scenarios that every runtime must pass, parameterised by a RuntimeKit: deploy, replace,
 * report an unhealthy tag, observe a workload stopped behind its back, refuse an unknown tag and a taken
 * port, survive its own restart without touching workloads, and run jobs only under a lease.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createServer } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  Api, WatchReader, demoSpec, httpGet, startTestAgent, stopTestAgent, waitFor, writeAgentConfig, type AgentHandle, type AgentBedOptions,
} from "./agent-bed.js";
import type { RuntimeKit } from "./runtime-kit.js";
import { RESTART_BACKOFF_INITIAL_MS } from "../../specs/defaults.js";

export interface AgentSuiteOptions {
  /** Node names start with this (unique per runtime: cleanup goes by node). */
  prefix: string;
  /** Host ports: web of the main node, a port the test squats on, web of the restarted node, of the lease node, of the stopped node. */
  ports: { web: number; squat: number; restart: number; lease: number; stop: number };
  /** More agent options for the main node (e.g. more allowed repositories). */
  agent?: Partial<AgentBedOptions>;
}

/** Deploy, replace, observe: the agent against one runtime. */
export function agentSuite(getKit: () => Promise<RuntimeKit>, o: AgentSuiteOptions): void {
  const NODE = `${o.prefix}-agent`;
  const PORT = o.ports.web;
  let kit: RuntimeKit;
  let h: AgentHandle;

  describe("deploy, replace, observe", () => {
    beforeAll(async () => {
      kit = await getKit();
      h = await startTestAgent({ name: NODE, extra: kit.agentYaml(), cleanupNode: kit.cleanupNode, ...o.agent });
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
      const id = s.services.web!.containerId!;
      expect(await kit.labels(h.dir, id)).toMatchObject({
        "dev.switchyard.app": "sytest", "dev.switchyard.node": NODE, "dev.switchyard.color": "blue",
        "dev.switchyard.service": "web", "dev.switchyard.tag": "v1", "dev.switchyard.kind": "web",
      });
      expect(await kit.env(h.dir, id)).toEqual(expect.arrayContaining(["SWITCHYARD_COLOR=blue", "SWITCHYARD_TAG=v1", `SWITCHYARD_NODE=${NODE}`]));
      await kit.checkShape(h.dir, id, { kind: "web", hostPort: PORT });
    });

    it("the same spec again is a no-op (idempotent)", async () => {
      const before = (await h.api.status()).services.web!.containerId;
      const put = await h.api.putSpec(demoSpec({ node: NODE, tag: "v1", generation: 1, hostPort: PORT }));
      expect(put).toMatchObject({ status: 200, json: { changed: false } });
      expect((await h.api.status()).services.web!.containerId).toBe(before);
      const stale = await h.api.putSpec(demoSpec({ node: NODE, tag: "v2", generation: 1, hostPort: PORT }));
      expect(stale).toMatchObject({ status: 409, json: { error: { code: "AGENT_ERR_STALE_GENERATION" } } });
    });

    it("moves to v2: the v1 workload is gone, v2 is healthy", async () => {
      const v1 = (await h.api.status()).services.web!.containerId!;
      await h.api.putSpec(demoSpec({ node: NODE, tag: "v2", generation: 2, hostPort: PORT }));
      await waitFor("v2 healthy", async () => {
        const st = await h.api.status();
        return st.services.web?.tag === "v2" && st.services.web.health === "healthy" && !st.converging;
      });
      expect(await kit.exists(h.dir, v1)).toBe(false);
      expect(await kit.tagsOnNode(NODE)).toEqual(["v2"]);
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

    it("a workload stopped by hand shows on /v1/watch within 1 s and is not undone", async () => {
      await h.api.putSpec(demoSpec({ node: NODE, tag: "v1", generation: 4, hostPort: PORT }));
      const s = await waitFor("v1 healthy again", async () => {
        const st = await h.api.status();
        return st.services.web?.tag === "v1" && st.services.web.health === "healthy" && !st.converging && st;
      });
      const watch = new WatchReader(h.api);
      try {
        await watch.waitFor("first snapshot", () => true);
        const stoppedAt = Date.now();
        await kit.stopByHand(h.dir, s.services.web!.containerId!);
        const done = Date.now();
        const ev = await watch.waitFor("exited on watch", (st) => st.services.web?.state === "exited");
        // Measured from when the stop returned (the workload is down at that point).
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

    it("an unknown tag gives a clear error and leaves the running workload alone", async () => {
      const before = (await h.api.status()).services.web!.containerId;
      await h.api.putSpec(demoSpec({ node: NODE, tag: "v99", generation: 6, hostPort: PORT }));
      const s = await waitFor("tag error", async () => {
        const st = await h.api.status();
        return st.services.web?.error?.includes("v99") && !st.converging && st;
      });
      expect(s.services.web!.error).toBe(kit.unknownTagError("v99"));
      expect(s.services.web!.containerId).toBe(before);
      expect(s.services.web!.state).toBe("running");
    });

    it("a host port taken by another program is named as such", async () => {
      const squatter = createServer().listen(o.ports.squat, "127.0.0.1");
      try {
        await h.api.putSpec(demoSpec({ node: NODE, tag: "v1", generation: 8, hostPort: o.ports.squat }));
        const s = await waitFor("port error", async () => {
          const st = await h.api.status();
          return st.services.web?.error?.includes(String(o.ports.squat)) && !st.converging && st;
        });
        expect(s.services.web!.error).toMatch(new RegExp(`host port ${o.ports.squat} on 127\\.0\\.0\\.1 is already in use`));
      } finally {
        squatter.close();
      }
    });
  });
}

/** The agent killed and restarted: status right at once, workloads untouched, jobs only under a fresh lease. */
export function agentRestartSuite(getKit: () => Promise<RuntimeKit>, o: AgentSuiteOptions): void {
  describe("agent restart", () => {
    const NAME = `${o.prefix}-restart`;
    let kit: RuntimeKit;
    let child: ChildProcess | undefined;
    let agentDir: string | undefined;
    /** The agent the first test leaves running (worker under a lease), for the next one. */
    let live: { api: Api; configFile: string } | undefined;
    beforeAll(async () => {
      kit = await getKit();
    });
    afterAll(async () => {
      child?.kill("SIGKILL");
      await kit.cleanupNode(NAME);
      if (agentDir) rmSync(agentDir, { recursive: true, force: true });
    });

    it("killed with SIGKILL and restarted within its lease: status right at once, web and job workloads untouched (the lease adopted)", async () => {
      await kit.cleanupNode(NAME);
      const { configFile, token, dir } = writeAgentConfig({ name: NAME, extra: kit.agentYaml() });
      agentDir = dir;
      const first = await spawnAgent(configFile);
      child = first.proc;
      const api = new Api(first.url, token);
      await api.putSpec(demoSpec({ node: NAME, tag: "v1", generation: 1, hostPort: o.ports.restart, withWorker: true }));
      expect((await api.req("PUT", "/v1/lease", { epoch: 1, ttlMs: 60_000 })).status).toBe(200);
      const before = await waitFor("web healthy and worker running", async () => {
        const st = await api.status();
        return st.services.web?.health === "healthy" && st.services.worker?.state === "running" && st;
      });
      const webId = before.services.web!.containerId!;
      const startedAt = await kit.startedAt(dir, webId);
      const workerId1 = before.services.worker!.containerId!;
      const workerStartedAt = await kit.startedAt(dir, workerId1);

      first.proc.kill("SIGKILL");
      await new Promise((r) => first.proc.once("exit", r));
      const second = await spawnAgent(configFile);
      child = second.proc;
      const api2 = new Api(second.url, token);
      const after = await api2.status();
      expect(after.observedGeneration).toBe(1);
      expect(after.spec?.tag).toBe("v1");
      expect(after.services.web).toMatchObject({ containerId: webId, tag: "v1" });
      // The lease (60 s) has not expired: adopted, its running worker kept — the same one, never restarted.
      expect(after.lease).toMatchObject({ state: "held", epoch: 1 });
      expect(after.services.worker).toMatchObject({ state: "running", containerId: workerId1 });
      expect(await kit.exists(dir, webId)).toBe(true);
      expect(await kit.startedAt(dir, webId)).toBe(startedAt);
      expect(await kit.startedAt(dir, workerId1)).toBe(workerStartedAt);
      await waitFor("healthy after restart", async () => (await api2.status()).services.web?.health === "healthy");

      // A renewal of the same epoch confirms the adopted lease: still the same worker.
      expect((await api2.req("PUT", "/v1/lease", { epoch: 1, ttlMs: 60_000 })).status).toBe(200);
      expect((await api2.status()).services.worker).toMatchObject({ state: "running", containerId: workerId1 });
      expect(await kit.startedAt(dir, workerId1)).toBe(workerStartedAt);

      // A new epoch replaces the worker, with its epoch in the environment.
      expect((await api2.req("PUT", "/v1/lease", { epoch: 2, ttlMs: 60_000 })).status).toBe(200);
      const w = await waitFor("worker under epoch 2", async () => {
        const st = await api2.status();
        return st.services.worker?.state === "running" && st.services.worker.containerId !== workerId1 && st;
      });
      const workerId = w.services.worker!.containerId!;
      expect(workerId).not.toBe(workerId1);
      expect(await kit.env(dir, workerId)).toContain("SWITCHYARD_JOBS_EPOCH=2");
      await kit.checkShape(dir, workerId, { kind: "job" });

      live = { api: api2, configFile };

      // A workload that dies after the restart (not this agent's child any more) is still seen within 1 s.
      const watch = new WatchReader(api2);
      try {
        await watch.waitFor("first snapshot", () => true);
        await kit.stopByHand(dir, webId);
        const done = Date.now();
        const ev = await watch.waitFor("exited on watch", (st) => st.services.web?.state === "exited");
        expect(ev.at - done).toBeLessThan(1000);
      } finally {
        watch.close();
      }
    });

    it("restarted after its web workload stopped (an engine or VM restart): starts it again, no spec needed", async () => {
      const { configFile } = live!;
      const token = readFileSync(join(agentDir!, "token"), "utf8").trim();
      const before = await live!.api.status();
      expect(before.services.web!.state).toBe("exited"); // stopped by hand in the first test
      child!.kill("SIGKILL");
      await new Promise((r) => child!.once("exit", r));
      const again = await spawnAgent(configFile);
      child = again.proc;
      const api = new Api(again.url, token);
      await waitFor("web running and healthy again", async () => (await api.status()).services.web?.health === "healthy", 30_000);
      expect((await api.status()).observedGeneration).toBe(1); // no spec was sent
      // The worker again under a fresh lease, for the tests that follow.
      expect((await api.req("PUT", "/v1/lease", { epoch: 3, ttlMs: 60_000 })).status).toBe(200);
      await waitFor("worker under epoch 3", async () => {
        const w = (await api.status()).services.worker;
        return w?.state === "running" && w.containerId !== before.services.worker!.containerId; // the adopted epoch-2 one replaced
      });
      live = { api, configFile };
    });

    it("a second agent on the same config exits non-zero at once and leaves the first one's workloads alone", async () => {
      const { api, configFile } = live!;
      const before = (await api.status()).services.worker!;
      expect(before.state).toBe("running");
      const workerId = before.containerId!;
      const startedAt = await kit.startedAt(agentDir!, workerId);
      const { code, out } = await runAgentToExit(configFile);
      expect(code, out).not.toBe(0);
      expect(typeof code, out).toBe("number");
      expect(out).toMatch(/in use by another agent/);
      expect(await kit.exists(agentDir!, workerId)).toBe(true);
      expect(await kit.startedAt(agentDir!, workerId)).toBe(startedAt);
      expect((await api.status()).services.worker).toMatchObject({ state: "running", containerId: workerId });
    });

    it("an agent of the same node whose port is taken exits non-zero before it touches a workload", async () => {
      const { api } = live!;
      const before = (await api.status()).services.worker!;
      expect(before.state).toBe("running");
      const startedAt = await kit.startedAt(agentDir!, before.containerId!);
      const squat = createServer();
      await new Promise<void>((resolve) => squat.listen(0, "127.0.0.1", resolve));
      const port = (squat.address() as { port: number }).port;
      const other = writeAgentConfig({ name: NAME, extra: kit.agentYaml() }); // its own data dir: only the port is in the way
      writeFileSync(other.configFile, readFileSync(other.configFile, "utf8").replace("listen: 127.0.0.1:0", `listen: 127.0.0.1:${port}`));
      try {
        const { code, out } = await runAgentToExit(other.configFile);
        expect(typeof code, out).toBe("number");
        expect(code, out).not.toBe(0);
        expect(out).toMatch(/EADDRINUSE|address already in use/);
        expect(await kit.exists(agentDir!, before.containerId!)).toBe(true);
        expect(await kit.startedAt(agentDir!, before.containerId!)).toBe(startedAt);
        expect((await api.status()).services.worker).toMatchObject({ state: "running", containerId: before.containerId });
      } finally {
        squat.close();
        rmSync(other.dir, { recursive: true, force: true });
      }
    });
  });
}

/**
 * Stopping an agent stops its jobs before it exits (ground truth: the runtime, read after the exit); an agent
 * restarted within its lease keeps the job it adopted only until the lease expires unless it is renewed.
 */
export function agentStopSuite(getKit: () => Promise<RuntimeKit>, o: AgentSuiteOptions): void {
  describe("agent stop and jobs", () => {
    const NAME = `${o.prefix}-stop`;
    let kit: RuntimeKit;
    let child: ChildProcess | undefined;
    let cfg: { configFile: string; token: string; dir: string };
    beforeAll(async () => {
      kit = await getKit();
      await kit.cleanupNode(NAME);
      cfg = writeAgentConfig({ name: NAME, extra: kit.agentYaml() });
    });
    afterAll(async () => {
      child?.kill("SIGKILL");
      await kit.cleanupNode(NAME);
      rmSync(cfg.dir, { recursive: true, force: true });
    });

    let current: Api | undefined;
    async function start(): Promise<{ api: Api; out: () => string }> {
      const a = await spawnAgent(cfg.configFile, { SWITCHYARD_LOG_LEVEL: "info", SWITCHYARD_LOG_FORMAT: "json" });
      child = a.proc;
      current = new Api(a.url, cfg.token);
      return { api: current, out: a.out };
    }
    const exited = (p: ChildProcess) => new Promise<void>((r) => (p.exitCode !== null || p.signalCode !== null ? r() : p.once("exit", () => r())));

    it("SIGTERM: the job workload is gone before the agent process exits, and it says so; the web workload is untouched", async () => {
      const { api, out } = await start();
      await api.putSpec(demoSpec({ node: NAME, tag: "v1", generation: 1, hostPort: o.ports.stop, withWorker: true }));
      expect((await api.req("PUT", "/v1/lease", { epoch: 1, ttlMs: 10_000 })).status).toBe(200);
      const st = await waitFor("web healthy and worker running", async () => {
        const s = await api.status();
        return s.services.web?.health === "healthy" && s.services.worker?.state === "running" && s;
      });
      const webId = st.services.web!.containerId!;
      const webStartedAt = await kit.startedAt(cfg.dir, webId);
      const workerId = st.services.worker!.containerId!;
      const proc = child!;
      proc.kill("SIGTERM");
      await exited(proc);
      // Nothing else stops it: had the agent exited first, it would still be there.
      expect(await kit.exists(cfg.dir, workerId)).toBe(false);
      expect(await kit.exists(cfg.dir, webId)).toBe(true);
      expect(await kit.startedAt(cfg.dir, webId)).toBe(webStartedAt);
      expect(out(), out()).toMatch(/agent stopping: stopping its job workloads/);
      expect(out()).toMatch(/"stopped":1[,}].*agent stopping: job workloads stopped/);
    });

    it("restarted after a stop: no job adopted (the lease was given up); a renewal of the same epoch starts it again", async () => {
      const { api } = await start();
      const st = await api.status();
      expect(st.lease.state).not.toBe("held");
      expect(st.services.worker!.state).toBe("missing");
      expect((await api.req("PUT", "/v1/lease", { epoch: 1, ttlMs: 10_000 })).status).toBe(200);
      await waitFor("worker running", async () => (await api.status()).services.worker?.state === "running");
    });

    it("SIGKILL and restart within the lease, no renewal: the adopted job keeps running until the lease expires, then it is stopped", async () => {
      // Long enough for the worker's start, the kill and the agent's restart on a loaded machine (3–9 s each seen).
      const ttlMs = 30_000;
      const api0 = current!;
      const grantedAt = Date.now();
      expect((await api0.req("PUT", "/v1/lease", { epoch: 2, ttlMs })).status).toBe(200);
      const w = await waitFor("worker under epoch 2", async () => {
        const s = await api0.status();
        const id = s.services.worker?.state === "running" ? s.services.worker.containerId : undefined;
        const env: string[] = id ? await kit.env(cfg.dir, id).catch(() => []) : [];
        return env.includes("SWITCHYARD_JOBS_EPOCH=2") ? s : false;
      });
      const workerId = w.services.worker!.containerId!;
      child!.kill("SIGKILL");
      await exited(child!);
      const { api } = await start();
      const after = await api.status();
      expect(after.lease).toMatchObject({ state: "held", epoch: 2 });
      expect(after.lease.remainingMs).toBeLessThanOrEqual(ttlMs);
      expect(after.services.worker).toMatchObject({ state: "running", containerId: workerId });
      await waitFor("worker stopped at the lease's expiry", async () => !(await kit.exists(cfg.dir, workerId)), ttlMs + 15_000);
      const goneAt = Date.now();
      expect(goneAt - grantedAt).toBeGreaterThanOrEqual(ttlMs - 500);
      // The agent's own view follows the process's end (it said "stopping" for a moment on CI's machine).
      const s = await waitFor("status: the worker gone", async () => {
        const st = await api.status();
        return st.services.worker?.state === "missing" ? st : false;
      });
      expect(s.lease.state).toBe("expired");
      expect(await kit.exists(cfg.dir, workerId)).toBe(false); // none started under a lease nobody renewed
    }, 120_000);
  });
}

/** The job lease on one agent: grant starts the worker under its epoch, revoke answers once it stopped, a lapse stops it. */
export function leaseSuite(getKit: () => Promise<RuntimeKit>, o: AgentSuiteOptions): void {
  describe("job lease", () => {
    const NODE = `${o.prefix}-lease`;
    let kit: RuntimeKit;
    let h: AgentHandle;
    beforeAll(async () => {
      kit = await getKit();
      h = await startTestAgent({ name: NODE, extra: kit.agentYaml(), cleanupNode: kit.cleanupNode });
      await h.api.putSpec(demoSpec({ node: NODE, tag: "v1", generation: 1, hostPort: o.ports.lease, withWorker: true }));
      await waitFor("web healthy", async () => (await h.api.status()).services.web?.health === "healthy");
    });
    afterAll(() => stopTestAgent(h));

    const worker = async () => (await h.api.status()).services.worker!;

    it("no lease: no worker", async () => {
      expect((await worker()).state).toBe("missing");
      expect(await kit.tagsOnNode(NODE)).toEqual(["v1"]); // the web service only
    });

    it("grant: the worker runs under the epoch; revoke answers once it has stopped", async () => {
      expect((await h.api.req("PUT", "/v1/lease", { epoch: 5, ttlMs: 60_000 })).status).toBe(200);
      const w = await waitFor("worker running", async () => {
        const s = await worker();
        return s.state === "running" && s;
      });
      expect(await kit.env(h.dir, w.containerId!)).toContain("SWITCHYARD_JOBS_EPOCH=5");
      const del = await h.api.req("DELETE", "/v1/lease");
      expect(del.status).toBe(200);
      expect(del.json).toMatchObject({ state: "revoked" });
      expect(await kit.exists(h.dir, w.containerId!)).toBe(false);
      expect((await worker()).state).toBe("missing");
      // A revoked epoch is never granted again.
      expect((await h.api.req("PUT", "/v1/lease", { epoch: 5, ttlMs: 60_000 })).json).toMatchObject({ error: { code: "AGENT_ERR_STALE_EPOCH" } });
    });

    it("a lease that is not renewed lapses and the agent stops the worker by itself", async () => {
      const ttlMs = 1500;
      const at = Date.now();
      expect((await h.api.req("PUT", "/v1/lease", { epoch: 6, ttlMs })).status).toBe(200);
      const w = await waitFor("worker running", async () => {
        const s = await worker();
        return s.state === "running" && s;
      });
      await waitFor("worker stopped by the lapse", async () => !(await kit.exists(h.dir, w.containerId!)), ttlMs + 5000, 20);
      expect(Date.now() - at).toBeLessThan(ttlMs + 1500);
      expect((await h.api.status()).lease.state).toBe("expired");
    });

    it("a worker that dies under a held lease is started again, with backoff, and status says how it died", async () => {
      expect((await h.api.req("PUT", "/v1/lease", { epoch: 7, ttlMs: 60_000 })).status).toBe(200);
      const first = await waitFor("worker running", async () => {
        const s = await worker();
        return s.state === "running" && s;
      });
      expect(first.restarts).toBeUndefined();
      await kit.stopByHand(h.dir, first.containerId!);
      const second = await waitFor("worker running again", async () => {
        const s = await worker();
        return s.state === "running" && s.containerId !== first.containerId && s;
      }, 15_000);
      expect(second.restarts).toMatchObject({ count: 1, nextRestartAt: null });
      expect(second.restarts!.lastExit).toMatch(/exited|stopped|missing/);
      expect(await kit.env(h.dir, second.containerId!)).toContain("SWITCHYARD_JOBS_EPOCH=7");

      // Dying again soon after: the next start waits (backoff), and status says when it comes.
      await kit.stopByHand(h.dir, second.containerId!);
      const down = await waitFor("second death seen", async () => {
        const s = await worker();
        return s.restarts?.count === 2 && s.state !== "running" && s;
      }, 15_000);
      const next = Date.parse(down.restarts!.nextRestartAt!);
      expect(next - Date.parse(down.restarts!.lastExitAt)).toBeGreaterThanOrEqual(RESTART_BACKOFF_INITIAL_MS);
      const third = await waitFor("worker running a third time", async () => {
        const s = await worker();
        return s.state === "running" && s.containerId !== second.containerId && s;
      }, 15_000);
      expect(Date.now()).toBeGreaterThanOrEqual(next);
      expect(third.restarts).toMatchObject({ count: 2, nextRestartAt: null });
      expect((await h.api.req("DELETE", "/v1/lease")).status).toBe(200);
      expect((await worker()).restarts).toBeUndefined();
    });
  });
}

function spawnAgent(configFile: string, env: Record<string, string> = {}): Promise<{ proc: ChildProcess; url: string; out: () => string }> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, ["bin/switchyard.js", "agent", "--config", configFile], { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, ...env } });
    let out = "";
    proc.stdout!.on("data", (d: Buffer) => {
      out += d.toString();
      const m = /listening on (http:\/\/\S+)/.exec(out);
      if (m) resolve({ proc, url: m[1]!, out: () => out });
    });
    proc.stderr!.on("data", (d: Buffer) => (out += d.toString()));
    proc.on("exit", (code) => reject(new Error(`agent exited with ${code}: ${out}`)));
  });
}

/** Runs `switchyard agent` and waits up to 15 s for it to exit: its exit code (or why not) and its output. */
async function runAgentToExit(configFile: string): Promise<{ code: number | string; out: string }> {
  const proc = spawn(process.execPath, ["bin/switchyard.js", "agent", "--config", configFile], { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  proc.stdout!.on("data", (d: Buffer) => (out += d.toString()));
  proc.stderr!.on("data", (d: Buffer) => (out += d.toString()));
  const code = await new Promise<number | string>((resolve) => {
    const t = setTimeout(() => resolve("still running after 15 s"), 15_000);
    proc.once("exit", (c, sig) => {
      clearTimeout(t);
      resolve(c ?? String(sig));
    });
  });
  proc.kill("SIGKILL");
  return { code, out };
}
