/**
 * Crash-loop backoff with real agents, the real reconciler and the router, on both runtimes: a web service
 * of the idle colour that cannot stay up (its host port held by a leftover program, or an app that exits at
 * once) is started again by its agent on the backoff schedule — ground truth from the machine (process spawn
 * times in the process log, Docker's own container events) — the reconciler sends few specs for it, one
 * CrashLooping alert fires, and it resolves once the cause is gone and the service stays up.
 */
import { createServer, type Server } from "node:net";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ClusterBed } from "../support/cluster-bed.js";
import { docker, waitFor } from "../support/agent-bed.js";
import { processKit } from "../support/runtime-kit.js";
import { RELEASE_MANIFEST } from "../../node-agent/release-command.js";
import { restartDelayMs } from "../../node-agent/node/restarts.js";
import { CRASH_LOOP_SETTLE_MS, RESTART_BACKOFF_INITIAL_MS } from "../../specs/defaults.js";
import type { ClusterStatus } from "../../reconciler/loop/status.js";
import type { NodeStatus } from "../../specs/wire.js";

const ready = (s: ClusterStatus) => s.conditions.find((c) => c.type === "Ready")?.status === "True";
/** How long the spec rate is watched. */
const WINDOW_MS = 8_000;

/**
 * The most start attempts the backoff allows in any window of `ms`: the densest window begins at the first
 * death (attempts at 0, d2, d2+d3, …), plus the reconciler's one heal of the first death.
 */
export function attemptsAllowed(ms: number): number {
  let n = 1;
  let t = 0;
  for (let count = 2; ; count++) {
    t += restartDelayMs(count);
    if (t > ms) return n + 1;
    n++;
  }
}

/** Starts the bed's agents and reconciler; resolves once blue is live and green ready. */
async function bothReady(bed: ClusterBed): Promise<void> {
  await bed.startAgents();
  await bed.startReconciler();
  await waitFor("both colours ready", async () => {
    const s = await bed.status();
    return ready(s) && s.colors?.green.phase === "Ready";
  }, 60_000);
}

interface AlertView { name: string; state: string; labels: Record<string, string> }

async function agentStatus(bed: ClusterBed, node: string): Promise<NodeStatus> {
  const { url, token } = bed.agentApi(node);
  const res = await fetch(`${url}/v1/status`, { headers: { authorization: `Bearer ${token}` } });
  return (await res.json()) as NodeStatus;
}

async function alerts(bed: ClusterBed, name: string): Promise<AlertView[]> {
  const a = (await bed.api("/api/v1/alerts")) as { alerts: AlertView[] };
  return a.alerts.filter((x) => x.name === name);
}

/** Spec generations the node accepted during WINDOW_MS (each one is a PUT /v1/spec with a change). */
async function specsDuring(bed: ClusterBed, node: string): Promise<number> {
  const g0 = (await agentStatus(bed, node)).observedGeneration;
  await new Promise((r) => setTimeout(r, WINDOW_MS));
  return (await agentStatus(bed, node)).observedGeneration - g0;
}

/**
 * Checks that consecutive start attempts are at least the backoff apart (10% slack for timers), and not
 * much more: a death must be seen soon (the app's own start-up on a busy host is the rest of the gap).
 */
function expectBackoff(attempts: readonly number[]): void {
  for (let i = 2; i < attempts.length; i++) {
    // attempts[i] follows death number i (attempts[0] is the first start, attempts[1] the reconciler's heal).
    const gap = attempts[i]! - attempts[i - 1]!;
    expect(gap, `gap before attempt ${i + 1} (${JSON.stringify(attempts)})`).toBeGreaterThanOrEqual(restartDelayMs(i) * 0.9);
    expect(gap, `gap before attempt ${i + 1} (${JSON.stringify(attempts)})`).toBeLessThan(restartDelayMs(i) + 10_000);
  }
}

describe("crash loop: process runtime", () => {
  let bed: ClusterBed;
  let holder: Server | undefined;
  beforeAll(async () => {
    const kit = await processKit();
    // A release whose web process says a few words and exits at once (a missing config, say).
    const crash = join(kit.releasesDir!, "crash");
    mkdirSync(crash, { recursive: true });
    writeFileSync(join(crash, "server.js"), "console.log('loading config');\nconsole.error('fatal: DATABASE_URL is not set');\nprocess.exit(3);\n");
    writeFileSync(join(crash, RELEASE_MANIFEST), JSON.stringify({ command: ["node", "server.js"] }));
    bed = new ClusterBed({ prefix: "cl1", kit, alertGraceSeconds: 1 });
    await bothReady(bed);
  });
  afterAll(async () => {
    await new Promise((r) => (holder ? holder.close(r) : r(null)));
    holder = undefined;
    await bed.close();
  });

  it("the idle colour's port held by a leftover: few specs, CrashLooping with the reason, one alert; freed → back and resolved", async () => {
    const green = bed.names.green;
    const port = bed.ports.green;
    const agentDir = join(bed.dir, "agents", green);
    // The leftover: green's web dies and another program takes its port before anyone starts it again.
    for (let i = 0; !holder && i < 50; i++) {
      const id = (await agentStatus(bed, green)).services.web?.containerId;
      if (id) await bed.o.kit!.stopByHand(agentDir, id).catch(() => undefined);
      holder = await new Promise<Server | undefined>((resolve) => {
        // The router's health checks connect to it too: each connection is dropped at once.
        const s = createServer((c) => c.destroy());
        s.once("error", () => resolve(undefined));
        s.listen({ host: "127.0.0.1", port, exclusive: true }, () => resolve(s));
      });
    }
    expect(holder, "the test could take green's port").toBeDefined();
    const specs = await specsDuring(bed, green);
    console.log(`process, port held: ${specs} spec(s) in ${WINDOW_MS} ms (${Math.round((specs * 60_000) / WINDOW_MS)} a minute)`);
    expect(specs).toBeLessThanOrEqual(attemptsAllowed(WINDOW_MS));

    const st = await agentStatus(bed, green);
    expect(st.services.web).toMatchObject({ state: "crashLooping" });
    const r = st.services.web!.restarts!;
    expect(r.count).toBeGreaterThanOrEqual(3);
    expect(r.lastExit).toContain(`host port ${port} on 127.0.0.1 is already in use`);
    expect(Date.parse(r.nextRestartAt!)).toBeGreaterThan(Date.parse(r.lastExitAt));
    const cs = await bed.status();
    expect(cs.colors!.green.nodes[0]!.services.web).toMatchObject({ state: "crashLooping", restarts: expect.objectContaining({ count: r.count }) });
    expect(cs.colors!.blue.phase).toBe("Ready"); // the live colour is untouched
    const firing = (await alerts(bed, "CrashLooping")).filter((a) => a.state === "firing");
    expect(firing).toEqual([expect.objectContaining({ labels: expect.objectContaining({ node: green, service: "web" }) })]);

    // The cause goes: the next attempt (at most the current backoff away) starts it; it stays up, the alert resolves.
    await new Promise((r) => holder!.close(r));
    holder = undefined;
    const freedAt = Date.now();
    await waitFor("green web runs again", async () => (await agentStatus(bed, green)).services.web?.state === "running", restartDelayMs(r.count + 1) + 10_000);
    await waitFor("CrashLooping resolved", async () => {
      const a = await alerts(bed, "CrashLooping");
      return a.length === 1 && a[0]!.state === "resolved";
    }, CRASH_LOOP_SETTLE_MS + restartDelayMs(r.count + 1) + 15_000, 500);
    expect(Date.now() - freedAt).toBeGreaterThanOrEqual(CRASH_LOOP_SETTLE_MS * 0.9);
    expect((await bed.status()).colors!.green.phase).toBe("Ready");
  }, 120_000);

  it("a release that exits at once: spawns follow the backoff (spawn times from the process log), last lines in status; a good tag ends it", async () => {
    const green = bed.names.green;
    bed.writeState({ blue: "v1", green: "crash" });
    const logFile = join(bed.dir, "agents", green, "data", "logs", `sy-cl1-${green}-web.log`);
    const spawnsOfCrash = () => readFileSync(logFile, "utf8").split("\n").filter((l) => l.includes("switchyard: starting web crash")).map((l) => Date.parse(l.slice(4, 28)));
    await waitFor("green crash looping", async () => (await agentStatus(bed, green)).services.web?.state === "crashLooping", 20_000);
    const specs = await specsDuring(bed, green);
    console.log(`process, exits at once: ${specs} spec(s) in ${WINDOW_MS} ms`);
    expect(specs).toBeLessThanOrEqual(attemptsAllowed(WINDOW_MS));
    const spawns = spawnsOfCrash();
    expect(spawns.length).toBeGreaterThanOrEqual(4);
    expect(spawns.length).toBeLessThanOrEqual(attemptsAllowed(spawns.at(-1)! - spawns[0]!) + 1);
    expectBackoff(spawns);
    const web = (await agentStatus(bed, green)).services.web!;
    expect(web.restarts).toMatchObject({ exitCode: 3, lastExit: "exited (3)" });
    expect(web.restarts!.logTail).toEqual(expect.arrayContaining(["loading config", "fatal: DATABASE_URL is not set"]));
    for (const line of web.restarts!.logTail!) expect(line.length).toBeLessThanOrEqual(200);
    expect((await alerts(bed, "CrashLooping")).filter((a) => a.state === "firing")).toHaveLength(1);

    bed.writeState({ blue: "v1", green: "v2" });
    await waitFor("green ready on v2", async () => (await bed.status()).colors?.green.phase === "Ready", 30_000);
    expect((await agentStatus(bed, green)).services.web?.restarts).toBeUndefined(); // a new workload, a new count
  }, 120_000);
});

describe("crash loop: Docker", () => {
  const bed = new ClusterBed({ prefix: "cl2", alertGraceSeconds: 1 });
  beforeAll(async () => {
    await bothReady(bed);
  });
  afterAll(() => bed.close());

  it("an app that exits at once: no restart policy, starts follow the backoff (Docker events), few specs, one alert; fixed → resolved", async () => {
    const green = bed.names.green;
    // Docker's `since` is in whole seconds: it reaches back up to a second, where the start of green's
    // healthy container (bothReady) may lie. Only starts from the change on are attempts of the crashing app.
    const changedAt = Date.now();
    const since = Math.floor(changedAt / 1000);
    // The app cannot bind the address it is told to: it logs the error and exits 1, at once.
    bed.o.webEnv = { HOST: "203.0.113.1" };
    bed.writeCluster();
    await waitFor("green crash looping", async () => (await agentStatus(bed, green)).services.web?.state === "crashLooping", 30_000).catch(async (err: Error) => {
      const st = await agentStatus(bed, green);
      throw new Error(`${err.message}: ${JSON.stringify({ gen: st.observedGeneration, converging: st.converging, web: st.services.web })} ${JSON.stringify((await bed.status()).colors?.green)}`);
    });
    const specs = await specsDuring(bed, green);
    console.log(`docker, exits at once: ${specs} spec(s) in ${WINDOW_MS} ms`);
    expect(specs).toBeLessThanOrEqual(attemptsAllowed(WINDOW_MS));
    const st = await agentStatus(bed, green);
    const id = st.services.web!.containerId;
    if (id) expect((await docker.getContainer(id).inspect()).HostConfig.RestartPolicy?.Name).toBe("no");
    expect(st.services.web!.restarts).toMatchObject({ exitCode: 1 });
    expect(st.services.web!.restarts!.logTail!.join("\n")).toContain("203.0.113.1");

    // Ground truth: the engine's own start events for green's web containers.
    const until = Math.ceil(Date.now() / 1000);
    const stream = await docker.getEvents({ since, until, filters: { type: ["container"], event: ["start"], label: [`dev.switchyard.node=${green}`, "dev.switchyard.service=web", "dev.switchyard.kind=web"] } });
    const text = await new Promise<string>((resolve) => {
      let out = "";
      stream.on("data", (d: Buffer) => (out += d.toString()));
      stream.on("end", () => resolve(out));
    });
    const starts = text.trim().split("\n").filter(Boolean).map((l) => (JSON.parse(l) as { timeNano: number }).timeNano / 1e6).filter((t) => t >= changedAt);
    console.log(`docker starts: ${JSON.stringify(starts.map((t) => Math.round(t - starts[0]!)))}, agent count ${st.services.web!.restarts!.count}`);
    // The first start is the spec change itself (a new container for the new env).
    expect(starts.length).toBeGreaterThanOrEqual(4);
    expect(starts.length).toBeLessThanOrEqual(attemptsAllowed(starts.at(-1)! - starts[0]!) + 1);
    expectBackoff(starts);
    expect((await alerts(bed, "CrashLooping")).filter((a) => a.state === "firing")).toHaveLength(1);
    // The live colour is untouched: its change is refused until it is deployed to blue another way.
    expect((await bed.status()).colors!.blue.nodes[0]!.services.web!.state).toBe("running");
    expect(JSON.parse((await bed.viaRouter()).body).color).toBe("blue");

    bed.o.webEnv = {};
    bed.writeCluster();
    await waitFor("green ready again", async () => (await bed.status()).colors?.green.phase === "Ready", 30_000);
    await waitFor("CrashLooping resolved", async () => {
      const a = await alerts(bed, "CrashLooping");
      return a.length === 1 && a[0]!.state === "resolved";
    }, CRASH_LOOP_SETTLE_MS + 15_000, 500);
    expect(RESTART_BACKOFF_INITIAL_MS).toBeGreaterThanOrEqual(1000);
  }, 150_000);
});
