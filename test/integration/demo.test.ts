/**
 * `switchyard demo` end to end, as a newcomer runs it: it comes up and says where, v1 serves through the
 * router, a deploy of v2 through the API runs the migrate task, shows on the preview address and a promote
 * makes it live, each step printing a notification line; v4 promoted is rolled back on its own; an unknown
 * tag is refused, and Ctrl-C leaves nothing behind — on the process runtime, and on Docker when an engine
 * is there. A second run in the same folder works.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { request } from "undici";
import { spawnSync } from "node:child_process";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { DemoRun } from "../support/demo-run.js";
import { docker, waitFor } from "../support/agent-bed.js";
import { findProcs } from "../support/procs.js";
import { portFree } from "../../cli/demo/ports.js";
import { DEMO_APP } from "../../cli/demo/files.js";

const dockerThere = existsSync(process.env.DOCKER_SOCKET ?? "/var/run/docker.sock");

for (const runtime of ["process", "docker"] as const) {
  describe.skipIf(runtime === "docker" && !dockerThere)(`switchyard demo on the ${runtime} runtime`, () => {
    const dir = join(mkdtempSync(join(tmpdir(), `sy-demo-${runtime}-`)), "demo");
    const demo = new DemoRun(dir, runtime);
    afterAll(() => {
      demo.kill();
      rmSync(dirname(dir), { recursive: true, force: true });
    });

    it("comes up in under a minute and says where", async () => {
      const info = await demo.start(60_000);
      expect(info.runtime).toBe(runtime);
      expect(demo.out).toContain(`${runtime} runtime`);
      expect(demo.out).toContain(`dashboard  ${info.dashboard}   user admin, password ${info.password}`);
      expect(demo.out).toContain(`live       ${info.live}`);
      expect(demo.out).toContain(`preview    ${info.preview}`);
      console.log(`switchyard demo (${runtime}): up in ${info.startupMs} ms by its own count, ${demo.startedMs} ms from spawn`);
      expect(demo.startedMs).toBeLessThan(60_000);
      // Not in a terminal (stdout is a pipe here): the log file is JSON lines.
      const lines = readFileSync(info.logFile, "utf8").split("\n").filter((l) => l !== "");
      expect(lines.length).toBeGreaterThan(0);
      for (const l of lines) expect(JSON.parse(l)).toHaveProperty("msg");
    }, 70_000);

    it("serves v1 on blue as live and on green as preview; the printed login works", async () => {
      expect(await demo.viaRouter("live")).toMatchObject({ status: 200, version: "v1", color: "blue" });
      expect(await demo.viaRouter("preview")).toMatchObject({ status: 200, version: "v1", color: "green" });
      const login = await fetch(`${demo.info.dashboard}api/v1/auth/login`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ username: demo.info.user, password: demo.info.password }) });
      expect(login.status).toBe(200);
      expect((await demo.api("GET", "/api/v1/tags")).json.tags.map((t: { tag: string }) => t.tag)).toEqual(expect.arrayContaining(["v1", "v2", "v3", "v4"]));
      const history = await demo.api("GET", "/api/v1/history");
      expect(history.json.enabled).toBe(true);
    });

    it("refuses an unknown tag and changes nothing", async () => {
      const r = await demo.act("deploy", { tag: "v9" });
      expect(r.status).toBe(422);
      expect(r.json.error.message).toMatch(runtime === "process" ? /^release v9 does not exist in / : /^tag v9 is not in the registry/);
    });

    it("deploy v2 through the API → preview serves v2; promote → live serves v2", async () => {
      expect((await demo.act("deploy", { tag: "v2" })).status).toBe(200);
      await waitFor("v2 on preview", async () => (await demo.viaRouter("preview")).version === "v2", 60_000, 100);
      expect(await demo.viaRouter("live")).toMatchObject({ version: "v1", color: "blue" });
      await waitFor("green ready", async () => (await demo.api("GET", "/api/v1/status")).json.colors?.green.phase === "Ready", 30_000, 100);
      expect((await demo.act("promote")).status).toBe(200);
      await waitFor("v2 live", async () => (await demo.viaRouter("live")).version === "v2", 30_000, 50);
      expect(await demo.viaRouter("live")).toMatchObject({ version: "v2", color: "green" });
      const s = (await demo.api("GET", "/api/v1/status")).json;
      expect(s.active).toBe("green");
      await waitFor("jobs follow the live colour", async () => (await demo.api("GET", "/api/v1/status")).json.jobs?.holders.map((h: { color: string }) => h.color).join() === "green", 30_000, 100);
    }, 120_000);

    it("the migrate task ran for green (v2) before it went live; each step printed a signed notification line", async () => {
      const s = (await demo.api("GET", "/api/v1/status")).json;
      const task = s.colors.green.tasks[0];
      expect(task).toMatchObject({ name: "migrate", state: "succeeded", attempt: 1, node: "green-1", exitCode: 0 });
      expect(task.output.join("\n")).toContain("migrate: schema at v2; database postgres://shop@db.internal:5432/shop");
      expect(JSON.stringify(s)).not.toMatch(/postgres:\/\/shop:/);
      // The switch to green (the analysis window's start) came after the task had finished.
      expect(s.analysis).toMatchObject({ color: "green", tag: "v2" });
      expect(Date.parse(task.finishedAt)).toBeLessThanOrEqual(Date.parse(s.analysis.startedAt));
      await waitFor("the promote's notification", async () => demo.out.includes("notification: green (v2) promoted by admin"), 10_000, 50);
      const lines = demo.out.split("\n").filter((l) => l.startsWith("notification: "));
      expect(lines.slice(0, 3)).toEqual(["notification: deploy of v2 to green started by admin", "notification: green is ready with v2", "notification: green (v2) promoted by admin"]);
      // The receiver prints only what the reconciler signed with the demo's key.
      const forged = await request(`http://127.0.0.1:${demo.info.ports.notifications}/notify`, { method: "POST", body: JSON.stringify({ version: 1, event: { type: "promoted", at: new Date().toISOString(), summary: "forged" } }), headers: { "content-type": "application/json", "x-switchyard-timestamp": String(Math.floor(Date.now() / 1000)), "x-switchyard-signature": "sha256=" + "0".repeat(64) } });
      expect(forged.statusCode).toBe(401);
      await forged.body.dump();
      expect(demo.out).not.toContain("notification: forged");
    });

    it("the CLI lines it prints work as printed, pasted into a shell outside the project (--wait included)", async () => {
      const block = demo.out.split("with the CLI (paste these lines into a shell):\n")[1]!.split("\n  The desired state")[0]!;
      expect(block).toContain("switchyard promote --wait");
      const shell = spawnSync("bash", ["-e", "-c", block], { cwd: tmpdir(), encoding: "utf8", env: { PATH: "/usr/bin:/bin", HOME: tmpdir() }, timeout: 110_000 });
      expect(shell.stderr).toBe("");
      expect(shell.status).toBe(0);
      expect(shell.stdout).toMatch(/done: blue runs v2 and is ready/);
      expect(shell.stdout).toMatch(/done: live traffic goes to blue/);
      expect(await demo.viaRouter("live")).toMatchObject({ version: "v2", color: "blue" });
    }, 120_000);

    it("maintenance from the CLI: stop green --wait stops it, the live colour cannot be stopped, start --wait brings it back", async () => {
      const fn = demo.out.split("\n").find((l) => l.trim().startsWith("switchyard() {"))!.trim();
      const env = { PATH: "/usr/bin:/bin", HOME: tmpdir(), SWITCHYARD_SERVER: demo.info.dashboard.replace(/\/$/, ""), SWITCHYARD_TOKEN: readFileSync(demo.info.apiTokenFile, "utf8").trim() };
      const sh = (line: string) => spawnSync("bash", ["-c", `${fn}\n${line}`], { cwd: tmpdir(), encoding: "utf8", env, timeout: 110_000 });
      const live = sh("switchyard stop blue --wait");
      expect(live.status).toBe(1);
      expect(live.stderr).toMatch(/blue is live; promote green first/);
      const stop = sh("switchyard stop green --wait");
      expect(stop.stdout).toMatch(/done: green is stopped/);
      expect(stop.status).toBe(0);
      expect((await demo.api("GET", "/api/v1/status")).json.colors.green.phase).toBe("Stopped");
      expect((await demo.viaRouter("live")).version).toBe("v2");
      const start = sh("switchyard start green --wait");
      expect(start.stdout).toMatch(/done: green is ready/);
      expect(start.status).toBe(0);
      expect(await demo.viaRouter("preview")).toMatchObject({ status: 200, color: "green" });
    }, 120_000);

    it("v4 (500s behind a passing health check) promoted under the demo's own visitors is rolled back automatically", async () => {
      expect((await demo.act("deploy", { tag: "v4" })).status).toBe(200);
      await waitFor("green ready on v4 with its task done", async () => {
        const g = (await demo.api("GET", "/api/v1/status")).json.colors?.green;
        return g?.tag === "v4" && g.phase === "Ready" && g.tasks?.[0]?.state === "succeeded";
      }, 60_000, 100);
      expect((await demo.act("promote")).status).toBe(200);
      await waitFor("rolled back to blue", async () => (await demo.api("GET", "/api/v1/status")).json.analysis?.state === "rolled-back", 45_000, 100);
      await waitFor("live on blue (v2) again", async () => (await demo.viaRouter("live")).color === "blue", 10_000, 50);
      expect(await demo.viaRouter("live")).toMatchObject({ status: 200, version: "v2", color: "blue" });
      await waitFor("the rollback's notification", async () => /^notification: automatic rollback to blue \(v2\): 5xx \d+% over \d+ s > 5% \(Switchyard\)$/m.test(demo.out), 10_000, 50);
    }, 120_000);

    it("Ctrl-C stops everything: no processes, no containers, no ports", async () => {
      const ports = demo.info.ports;
      const { code, ms } = await demo.interrupt();
      expect(code).toBe(0);
      console.log(`switchyard demo (${runtime}): stopped in ${ms} ms`);
      expect(demo.out).toContain("switchyard demo: stopped");
      expect(findProcs((e) => e.SWITCHYARD_APP === DEMO_APP)).toEqual([]);
      // A Docker error fails the test: it is no evidence that no container was left.
      if (dockerThere) expect(await docker.listContainers({ all: true, filters: { label: [`dev.switchyard.app=${DEMO_APP}`] } })).toEqual([]);
      for (const p of [ports.dashboard, ports.router, ...Object.values(ports.agents), ports.web.blue, ports.web.green, ports.notifications]) {
        expect(await portFree("127.0.0.1", p), `port ${p}`).toBe(true);
      }
    });

    it("a second run in the same folder works; --log-format pretty writes readable log lines", async () => {
      const again = await demo.start(60_000, ["--log-format", "pretty"]);
      const log = readFileSync(again.logFile, "utf8").split("\n").filter((l) => l !== "");
      expect(log.some((l) => /^\[\d\d:\d\d:\d\d\.\d{3}\] INFO \(switchyard-demo\): agent listening \{"node":/.test(l)), log.slice(0, 5).join("\n")).toBe(true);
      expect(log.join("\n")).not.toContain("\x1b[");
      expect(await demo.viaRouter("live")).toMatchObject({ status: 200, version: "v1", color: "blue" });
      expect(again.password).not.toBe("");
      const { code } = await demo.interrupt();
      expect(code).toBe(0);
      expect(findProcs((e) => e.SWITCHYARD_APP === DEMO_APP)).toEqual([]);
    }, 70_000);
  });
}
