/**
 * bench:converge — how fast an edit to state.yaml becomes reality, on the real stack (Docker engine,
 * registry, agents, router, reconciler) on loopback.
 *   1. Both colours healthy; 50 flips by writing state.yaml; time from the write until the router
 *      serves the new colour (polled with back-to-back requests).
 *   2. Full deploy of a new tag (write → new colour healthy and live): image present, and pulled.
 * The last line is one JSON object.
 */
import { execFileSync } from "node:child_process";
import { Agent, request } from "undici";
import { ClusterBed } from "../test/support/cluster-bed.js";
import { REPO, docker, waitFor } from "../test/support/agent-bed.js";
import { percentile, round } from "./lib/stats.js";

process.env.SWITCHYARD_LOG_LEVEL ??= "warn";
const FLIPS = Number(process.env.FLIPS ?? 50);
const dispatcher = new Agent({ connections: 1, keepAliveTimeout: 10_000 });

async function servedColor(bed: ClusterBed): Promise<string | null> {
  const res = await request(`http://127.0.0.1:${bed.routerPort}/healthz`, { headers: { host: "live.test" }, dispatcher });
  await res.body.dump();
  return (res.headers["x-switchyard-color"] as string | undefined) ?? null;
}

async function servedVersion(bed: ClusterBed): Promise<string | null> {
  const res = await request(`http://127.0.0.1:${bed.routerPort}/version`, { headers: { host: "live.test" }, dispatcher });
  if (res.statusCode !== 200) {
    await res.body.dump();
    return null;
  }
  return ((await res.body.json()) as { version: string }).version;
}

/** Time from `write()` until the router answers with `color`, polling as fast as one connection allows. */
async function timeUntil(bed: ClusterBed, write: () => void, done: () => Promise<boolean>, limitMs = 120_000): Promise<number> {
  const t0 = performance.now();
  write();
  while (!(await done())) {
    if (performance.now() - t0 > limitMs) throw new Error("timed out");
  }
  return performance.now() - t0;
}

async function main(): Promise<void> {
  const bed = new ClusterBed({ prefix: "bconv" });
  let state = { active: "blue", blue: "v1", green: "v2" };
  const write = () => bed.writeState(state);
  try {
    await bed.startAgents();
    await bed.startReconciler();
    await waitFor("both colours ready", async () => {
      const s = await bed.status();
      return s.colors?.blue.phase === "Ready" && s.colors.green.phase === "Ready" && s.router?.live === "blue";
    }, 120_000);

    const flips: number[] = [];
    for (let i = 0; i < FLIPS; i++) {
      const target = state.active === "blue" ? "green" : "blue";
      state = { ...state, active: target };
      flips.push(await timeUntil(bed, write, async () => (await servedColor(bed)) === target));
      await new Promise((r) => setTimeout(r, 100));
    }

    // Full deploys: bench tags are copies of v1/v2 under new names, so a pull fetches only the manifest
    // and the small app layer (the base layer is shared, as in any real image family).
    const tags = ["bench-a", "bench-b", "bench-c", "bench-d"];
    for (const [i, t] of tags.entries()) {
      execFileSync("docker", ["tag", `${REPO}:${i % 2 ? "v2" : "v1"}`, `${REPO}:${t}`]);
      execFileSync("docker", ["push", "-q", `${REPO}:${t}`], { stdio: "ignore" });
    }
    const deploy = async (tag: string, pull: boolean): Promise<number> => {
      const idle = state.active === "blue" ? "green" : "blue";
      if (pull) await docker.getImage(`${REPO}:${tag}`).remove().catch(() => undefined);
      state = { ...state, active: idle, [idle]: tag };
      const want = tag.startsWith("bench-") ? (tags.indexOf(tag) % 2 ? "v2" : "v1") : tag;
      return timeUntil(bed, write, async () => {
        const v = await servedVersion(bed);
        const c = await servedColor(bed);
        return v === want && c === idle;
      });
    };
    const present = [await deploy("bench-a", false), await deploy("bench-b", false)];
    const pulled = [await deploy("bench-c", true), await deploy("bench-d", true)];

    const out = {
      flips: flips.length,
      flipP50Ms: round(percentile(flips, 50), 1),
      flipP99Ms: round(percentile(flips, 99), 1),
      flipMaxMs: round(Math.max(...flips), 1),
      deployPresentMs: present.map((x) => round(x)),
      deployPulledMs: pulled.map((x) => round(x)),
    };
    console.log(`flip (write state.yaml → router serves the new colour): p50 ${out.flipP50Ms} ms, p99 ${out.flipP99Ms} ms, max ${out.flipMaxMs} ms over ${FLIPS}`);
    console.log(`full deploy of a new tag (write → new colour healthy and live): image present ${out.deployPresentMs.join(", ")} ms; pulled ${out.deployPulledMs.join(", ")} ms`);
    console.log(JSON.stringify(out));
  } finally {
    await bed.close();
    for (const t of ["bench-a", "bench-b", "bench-c", "bench-d"]) await docker.getImage(`${REPO}:${t}`).remove().catch(() => undefined);
    await dispatcher.close();
  }
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(`bench:converge failed: ${(err as Error).stack}`);
    process.exit(1);
  },
);
