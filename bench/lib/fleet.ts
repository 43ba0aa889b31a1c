/**
 * A fleet of real agents (real API, real converge loop, real router data plane) in one process, using
 * the memory runtime. Run as a child of bench:scale: `node dist/bench/lib/fleet.js <dir> <perColor>`.
 * Writes <dir>/fleet.json with every agent's URL and token, then serves until killed.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { startAgent, type RunningAgent } from "../../node-agent/main.js";
import { makeLogger } from "../../common/log.js";
import { MemoryRuntime } from "./memory-runtime.js";

const [dirArg, perColorArg, routerPortArg, basePortArg] = process.argv.slice(2);
const dir = dirArg ?? ".";
const perColor = Number(perColorArg);
const routerPort = Number(routerPortArg);
const basePort = Number(basePortArg);
const runtime = new MemoryRuntime();
const logger = makeLogger("fleet", { level: "warn" });
const agents: RunningAgent[] = [];
const out: { name: string; color?: string; role: string; url: string; token: string; webPort?: number }[] = [];

async function start(name: string, role: "node" | "router", color?: string, webPort?: number): Promise<void> {
  const adir = join(dir, "agents", name);
  mkdirSync(adir, { recursive: true });
  const token = randomBytes(24).toString("hex");
  writeFileSync(join(adir, "token"), token);
  writeFileSync(join(adir, "agent.yaml"), [
    "apiVersion: switchyard.dev/v1", "kind: Agent", `name: ${name}`, "listen: 127.0.0.1:0", "tokenFile: token", `role: ${role}`,
    "allowedRepositories: [127.0.0.1:5000/scale/app]", "dataDir: data", role === "router" ? `router: { listen: 127.0.0.1:${routerPort} }` : "",
  ].join("\n"));
  const a = await startAgent(join(adir, "agent.yaml"), { runtime, logger });
  agents.push(a);
  out.push({ name, role, url: a.url, token, ...(color ? { color } : {}), ...(webPort ? { webPort } : {}) });
}

for (const color of ["blue", "green"]) {
  for (let i = 0; i < perColor; i++) await start(`${color}-${i + 1}`, "node", color, basePort + (color === "blue" ? 0 : perColor) + i);
}
await start("router-1", "router");
writeFileSync(join(dir, "fleet.json"), JSON.stringify(out));
process.on("SIGTERM", async () => {
  for (const a of agents) await a.close().catch(() => undefined);
  process.exit(0);
});
