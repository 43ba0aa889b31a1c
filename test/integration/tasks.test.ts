/**
 * Pre-promotion tasks (issue 17 item 1), on real Docker with the test bed's registry: a migration task runs from
 * the web service's image with its env on one node of the colour going live, and writes a marker to a shared
 * store (an HTTP server here that the task's container reaches on the Docker bridge). Green never serves live
 * traffic before its marker exists; a failing task keeps green out (TaskFailed, promotion refused, the output in
 * status), and Retry after the store is fixed lets it through.
 */
import { createServer, type Server } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ClusterBed, freePort } from "../support/cluster-bed.js";
import { docker, waitFor } from "../support/agent-bed.js";
import { launchChromium } from "../support/browser.js";

/** The shared store: POST /marker records the colour that migrated, or answers 500 while `broken`. */
class MarkerStore {
  readonly markers: { color: string; at: number }[] = [];
  broken = false;
  /** Hold each answer this long (a task that takes a while). */
  slowMs = 0;
  private server: Server | undefined;
  url = "";

  async start(): Promise<void> {
    const net = await docker.getNetwork("bridge").inspect();
    const host = (net.IPAM?.Config?.[0] as { Gateway?: string } | undefined)?.Gateway ?? "172.17.0.1";
    const port = await freePort();
    this.server = createServer((req, res) => {
      let body = "";
      req.on("data", (d) => (body += d));
      req.on("end", () => {
        if (this.broken) {
          res.writeHead(500).end("database is read-only");
          return;
        }
        this.markers.push({ color: body, at: Date.now() });
        const n = this.markers.length;
        setTimeout(() => res.writeHead(200).end(`marker ${n}`), this.slowMs);
      });
    });
    await new Promise<void>((r) => this.server!.listen(port, host, () => r()));
    this.url = `http://${host}:${port}/marker`;
  }

  close(): Promise<void> {
    return new Promise((r) => (this.server ? this.server.close(() => r()) : r()));
  }
}

const MIGRATE_JS =
  'fetch(process.env.MARKER_URL,{method:"POST",body:process.env.SWITCHYARD_COLOR}).then(async r=>{console.log("migrate:",r.status,await r.text());process.exit(r.ok?0:1)},e=>{console.error("migrate:",String(e));process.exit(2)})';

describe("tasks before promotion", () => {
  let bed: ClusterBed;
  const store = new MarkerStore();
  /** Every answer on the live host name: when, and which colour served it. */
  const seen: { at: number; color: string | null }[] = [];
  let polling = true;
  let poller: Promise<void> | undefined;

  beforeAll(async () => {
    await store.start();
    bed = new ClusterBed({
      prefix: "tasks",
      deployTimeoutSeconds: 600,
      webEnv: { MARKER_URL: store.url },
      tasks: [`{ name: migrate, service: web, command: [node, -e, ${JSON.stringify(MIGRATE_JS)}], timeoutSeconds: 60 }`],
      state: {},
    });
    await bed.startAgents();
    bed.writeState({ greenStopped: true });
    await bed.startReconciler();
    await waitFor("blue live after its own migration", async () => {
      const s = await bed.status();
      return s.router?.live === "blue" && s;
    }, 90_000);
    expect(store.markers.map((m) => m.color)).toEqual(["blue"]);
    poller = (async () => {
      while (polling) {
        const r = await bed.viaRouter().catch(() => null);
        if (r) seen.push({ at: Date.now(), color: r.color });
        await new Promise((res) => setTimeout(res, 50));
      }
    })();
  }, 150_000);

  afterAll(async () => {
    polling = false;
    await poller;
    await bed?.close();
    await store.close();
  }, 60_000);

  it("a failing task keeps green out with TaskFailed and its output; Retry after the fix lets it through, never before the marker", async () => {
    store.broken = true;
    bed.writeState({ active: "green", green: "v2" });
    const failed = await waitFor("green Failed with TaskFailed", async () => {
      const s = await bed.status();
      return s.colors?.green.phase === "Failed" && s.conditions.some((c) => c.type === "Progressing" && c.reason === "TaskFailed") && s;
    }, 120_000, 250);
    const task = failed.colors!.green.tasks![0]!;
    expect(task).toMatchObject({ name: "migrate", state: "failed", attempt: 1, node: bed.names.green, exitCode: 1 });
    expect(task.output.join("\n")).toContain("migrate: 500 database is read-only");
    expect(failed.colors!.green.message).toMatch(/^task migrate failed on tasks-green-1 for green \(v2\): exit code 1; last output: .*500 database is read-only/);
    expect(failed.conditions.find((c) => c.type === "Degraded")).toMatchObject({ status: "True", reason: "TaskFailed" });
    expect(failed.router?.live).toBe("blue");
    // Promotion stays refused while it failed: still blue a while later, and no green marker.
    await new Promise((r) => setTimeout(r, 2_000));
    expect((await bed.status()).router?.live).toBe("blue");
    expect(store.markers.filter((m) => m.color === "green")).toEqual([]);
    const events = await bed.api<{ events: { message: string }[] }>("/api/v1/events?limit=500");
    expect(events.events.some((e) => /^task migrate for green \(v2\) on tasks-green-1 failed in [\d.]+ s: exit code 1/.test(e.message))).toBe(true);

    // The dashboard: green's card shows the failed task with its output, and its Retry button runs it again.
    store.broken = false;
    const browser = await launchChromium();
    try {
      const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
      await page.goto(bed.reconcilerUrl + "/");
      await page.getByTestId("login-username").fill("tester");
      await page.getByTestId("login-password").fill("tester-password-1");
      await page.getByTestId("login-submit").click();
      const card = page.getByTestId("task-green-migrate");
      await card.waitFor({ timeout: 15_000 });
      await expect.poll(async () => (await card.getByTestId("task-state").textContent())?.trim()).toBe("✕failed");
      expect(await card.textContent()).toContain("500 database is read-only");
      await page.screenshot({ path: "dashboard/screenshots/task-failed-laptop.png", fullPage: true });
      await page.getByTestId("retry-green-migrate").click();
      await expect.poll(async () => (await bed.status()).colors?.green.tasks?.[0]?.attempt, { timeout: 15_000 }).toBe(2);
    } finally {
      await browser.close();
    }
    const live = await waitFor("green live after the retry", async () => {
      const s = await bed.status();
      return s.router?.live === "green" && s;
    }, 120_000, 250);
    expect(live.colors!.green.tasks![0]).toMatchObject({ name: "migrate", state: "succeeded", attempt: 2, exitCode: 0 });
    const marker = store.markers.find((m) => m.color === "green");
    expect(marker).toBeDefined();
    await waitFor("green answers on the live host", async () => seen.some((x) => x.color === "green"), 30_000);
    const firstGreen = seen.find((x) => x.color === "green")!;
    // The ground truth: green served no live request before its migration's marker existed.
    expect(firstGreen.at).toBeGreaterThanOrEqual(marker!.at);
    expect(seen.filter((x) => x.color === "green" && x.at < marker!.at)).toEqual([]);
    console.log(`green's marker ${marker!.at}, its first live answer ${firstGreen.at - marker!.at} ms later; ${seen.length} live answers seen`);
  }, 300_000);

  it("a reconciler restart during a task neither runs it twice nor loses its result", async () => {
    store.slowMs = 6_000;
    const before = store.markers.length;
    bed.writeState({ active: "green", blue: "v2", green: "v2" });
    await waitFor("blue's task running on v2", async () => {
      const s = await bed.status();
      return s.colors?.blue.tag === "v2" && s.colors.blue.tasks?.[0]?.state === "running" && store.markers.length > before && s;
    }, 120_000, 100);
    await bed.reconciler!.close();
    await bed.startReconciler();
    const done = await waitFor("blue's task succeeded after the restart", async () => {
      const s = await bed.status();
      return s.colors?.blue.tasks?.[0]?.state === "succeeded" && s;
    }, 120_000, 250);
    expect(done.colors!.blue.tasks![0]).toMatchObject({ name: "migrate", state: "succeeded", attempt: 1, exitCode: 0, node: bed.names.blue });
    expect(done.colors!.blue.tasks![0]!.durationMs).toBeGreaterThanOrEqual(6_000);
    // Once: the restarted reconciler followed the run it had asked for, and asked for no other.
    await new Promise((r) => setTimeout(r, 2_000));
    expect(store.markers.slice(before).map((m) => m.color)).toEqual(["blue"]);
    expect(done.router?.live).toBe("green");
    store.slowMs = 0;
  }, 300_000);
});
