/**
 * bench:scale — the reconciler against 100 nodes per colour: lightweight agents that speak the real agent
 * API (real converge loop and health probes, memory runtime) in a child process, a real router agent, and
 * the reconciler in this process. Measures the CPU time of a reconcile with nothing to do, the time of a
 * full flip (write state.yaml → every router serves the new colour), and the reconciler's RSS.
 * The last line is one JSON object.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from "node:fs";
import { spawn } from "node:child_process";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { startReconciler } from "../reconciler/main.js";
import { makeLogger } from "../common/log.js";
import { percentile, round } from "./lib/stats.js";

process.env.SWITCHYARD_LOG_LEVEL ??= "warn";
const PER_COLOR = Number(process.env.NODES_PER_COLOR ?? 100);
const ROUTER_PORT = 18600;
const BASE_PORT = 21000;

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "sy-scale-"));
  const fleetJs = fileURLToPath(new URL("./lib/fleet.js", import.meta.url));
  const fleet = spawn(process.execPath, [fleetJs, dir, String(PER_COLOR), String(ROUTER_PORT), String(BASE_PORT)], { stdio: "inherit" });
  let reconciler: Awaited<ReturnType<typeof startReconciler>> | undefined;
  try {
    const t0 = Date.now();
    while (!existsSync(join(dir, "fleet.json"))) {
      if (Date.now() - t0 > 120_000) throw new Error("the fleet did not start");
      await new Promise((r) => setTimeout(r, 200));
    }
    const agents = JSON.parse(readFileSync(join(dir, "fleet.json"), "utf8")) as { name: string; color?: string; role: string; url: string; token: string; webPort?: number }[];
    const deploy = join(dir, "deploy");
    mkdirSync(join(deploy, "secrets"), { recursive: true });
    for (const a of agents) writeFileSync(join(deploy, "secrets", `${a.name}.token`), a.token);
    const nodes = agents.map((a) => a.role === "router"
      ? `    - { name: ${a.name}, role: router, agent: ${a.url}, tokenFile: secrets/${a.name}.token }`
      : `    - { name: ${a.name}, color: ${a.color}, agent: ${a.url}, tokenFile: secrets/${a.name}.token, address: 127.0.0.1, ports: { web: ${a.webPort} } }`);
    writeFileSync(join(deploy, "cluster.yaml"), [
      "apiVersion: switchyard.dev/v1", "kind: Cluster", "metadata: { name: scale }", "spec:", "  image: { repository: 127.0.0.1:5000/scale/app }",
      "  services:", "    web: { port: 8080, expose: { pathPrefix: / }, health: { periodSeconds: 1 } }", "  nodes:", ...nodes,
      `  router: { listen: 127.0.0.1:${ROUTER_PORT}, hosts: { live: [live.test] } }`, "",
    ].join("\n"));
    const writeState = (active: string) => writeFileSync(join(deploy, "state.yaml"), `apiVersion: switchyard.dev/v1\nkind: State\nspec:\n  active: ${active}\n  colors: { blue: { tag: v1 }, green: { tag: v2 } }\n  jobs: { owner: none }\n`);
    writeState("blue");
    reconciler = await startReconciler({ dir: deploy, dataDir: join(dir, "data"), listen: "127.0.0.1:0", logger: makeLogger("scale", { level: "warn" }), dashboardRoot: null });
    const c = reconciler.controller;
    const settle = async (live: string) => {
      const start = Date.now();
      for (;;) {
        const s = c.status();
        if (s.router?.live === live && s.colors?.blue.phase === "Ready" && s.colors.green.phase === "Ready") return;
        if (Date.now() - start > 180_000) throw new Error(`not settled: ${JSON.stringify(s.conditions)}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    };
    await settle("blue");
    await new Promise((r) => setTimeout(r, 2000));

    // A reconcile with nothing to do, called directly: CPU time per pass.
    const cpu: number[] = [];
    for (let i = 0; i < 30; i++) {
      const u = process.cpuUsage();
      await c.reconcile();
      const d = process.cpuUsage(u);
      cpu.push((d.user + d.system) / 1000);
    }

    // Full flips: write → the router reports the new live colour (every router, here one).
    const flips: number[] = [];
    let live = "blue";
    for (let i = 0; i < 10; i++) {
      live = live === "blue" ? "green" : "blue";
      const t = performance.now();
      writeState(live);
      for (;;) {
        const s = c.status();
        if (s.router?.nodes.every((r) => r.live === live)) break;
        await new Promise((r) => setTimeout(r, 2));
      }
      flips.push(performance.now() - t);
      await new Promise((r) => setTimeout(r, 300));
    }
    const rssMb = process.memoryUsage().rss / 1024 / 1024;
    const out = {
      nodesPerColor: PER_COLOR,
      noopReconcileCpuP50Ms: round(percentile(cpu, 50), 2),
      noopReconcileCpuP99Ms: round(percentile(cpu, 99), 2),
      flipP50Ms: round(percentile(flips, 50), 1),
      flipMaxMs: round(Math.max(...flips), 1),
      reconcilerRssMb: round(rssMb, 1),
    };
    console.log(`no-op reconcile over ${PER_COLOR * 2 + 1} agents: CPU p50 ${out.noopReconcileCpuP50Ms} ms, p99 ${out.noopReconcileCpuP99Ms} ms`);
    console.log(`full flip (write → router serves the new colour): p50 ${out.flipP50Ms} ms, max ${out.flipMaxMs} ms; reconciler RSS ${out.reconcilerRssMb} MB`);
    console.log(JSON.stringify(out));
  } finally {
    await reconciler?.close();
    fleet.kill("SIGTERM");
    await new Promise((r) => fleet.once("exit", r));
    rmSync(dir, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(`bench:scale failed: ${(err as Error).stack}`);
    process.exit(1);
  },
);
