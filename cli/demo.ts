import { tmpdir, userInfo } from "node:os";
import { dirname, join, resolve } from "node:path";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { DEFAULT_DEMO_DASHBOARD_PORT, DEFAULT_DEMO_ROUTER_PORT, startDemo, type DemoInfo } from "./demo/cluster.js";
import { DEFAULT_DEMO_REGISTRY, type RuntimeWish } from "./demo/engine.js";
import { chooseLogFormat } from "../common/log.js";

export const demoHelp = `Usage: switchyard demo [--runtime auto|docker|process] [--dir <folder>] [--dashboard-port N] [--router-port N] [--registry URL] [--log-format json|pretty]

Brings up a whole blue-green cluster on this machine: the reconciler with the dashboard, a blue and a
green agent, a router and the demo app (v1 live; v2, v3 and v4 ready to deploy; a background worker on the
live colour; a migrate task before each promotion; automatic rollback; a few visitors a second on the live
address). Prints the dashboard address with a login, the live and the preview address, and a line for each
deploy notification (the demo's own webhook receiver).

  --runtime         auto (default): Docker when an engine answers and a registry is at hand, else processes
  --dir             where the demo keeps its files (default ${join(tmpdir(), "switchyard-demo-<user>")}); rewritten on every run
  --dashboard-port  default ${DEFAULT_DEMO_DASHBOARD_PORT}; another free port when taken
  --router-port     default ${DEFAULT_DEMO_ROUTER_PORT}; another free port when taken
  --registry        Docker only: the registry for the demo images (default $SWITCHYARD_DEMO_REGISTRY or
                    ${DEFAULT_DEMO_REGISTRY}; when that does not answer, a private docker-registry if installed)
  --log-format      how the log file is written: pretty (readable lines; the default in a terminal) or json

Ctrl-C stops everything: no containers, no processes, no ports are left behind.
`;

export async function runDemo(argv: string[]): Promise<number> {
  let values;
  let logFormat;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        runtime: { type: "string", default: "auto" },
        dir: { type: "string" },
        "dashboard-port": { type: "string" },
        "router-port": { type: "string" },
        registry: { type: "string" },
        "log-format": { type: "string" },
      },
    }));
    logFormat = chooseLogFormat(values["log-format"], process.stdout.isTTY === true);
  } catch (err) {
    process.stderr.write(`switchyard demo: ${(err as Error).message}\n`);
    return 2;
  }
  const want = values.runtime as RuntimeWish;
  if (!["auto", "docker", "process"].includes(want)) {
    process.stderr.write(`switchyard demo: --runtime must be auto, docker or process\n`);
    return 2;
  }
  const dashboardPort = port(values["dashboard-port"], DEFAULT_DEMO_DASHBOARD_PORT);
  const routerPort = port(values["router-port"], DEFAULT_DEMO_ROUTER_PORT);
  if (dashboardPort === null || routerPort === null) {
    process.stderr.write("switchyard demo: a port is a number from 1024 to 65535 (or 0 for any)\n");
    return 2;
  }
  const root = resolve(values.dir ?? join(tmpdir(), `switchyard-demo-${safeUser()}`));
  const say = (line: string) => process.stdout.write(`${line}\n`);

  // Ctrl-C during startup must stop what already started: remember it and stop once startDemo returns.
  let interrupted = false;
  const early = () => {
    interrupted = true;
  };
  process.on("SIGINT", early);
  process.on("SIGTERM", early);
  say(`switchyard demo: starting in ${root}`);
  let demo;
  try {
    demo = await startDemo({ root, want, dashboardPort, routerPort, say, logFormat, ...(values.registry ? { registry: values.registry } : {}) });
  } catch (err) {
    process.off("SIGINT", early);
    process.off("SIGTERM", early);
    process.stderr.write(`switchyard demo: ${(err as Error).message}\n`);
    return 1;
  }
  process.off("SIGINT", early);
  process.off("SIGTERM", early);
  if (!interrupted) {
    say(banner(demo.info));
    await new Promise<void>((res) => {
      process.once("SIGINT", () => res());
      process.once("SIGTERM", () => res());
    });
  }
  say("\nswitchyard demo: stopping …");
  const onAgain = () => say("still stopping; workloads get a few seconds to finish");
  process.on("SIGINT", onAgain);
  process.on("SIGTERM", onAgain);
  await demo.stop();
  process.off("SIGINT", onAgain);
  process.off("SIGTERM", onAgain);
  say(`switchyard demo: stopped; no ${demo.info.runtime === "docker" ? "containers" : "processes"} and no ports left behind (files stay in ${root})`);
  return 0;
}

function banner(i: DemoInfo): string {
  const secs = (i.startupMs / 1000).toFixed(1);
  return `
switchyard demo is up in ${secs} s — ${i.runtime} runtime (${i.reason})

  dashboard  ${i.dashboard}   user ${i.user}, password ${i.password}
  live       ${i.live}   blue, v1
  preview    ${i.preview}   green, v1

  Deploy v2 to green, look at it on the preview address, promote it, roll back, move the jobs:
  in the dashboard, or with the CLI (paste these lines into a shell):
    switchyard() { "${process.execPath}" "${cliPath()}" "$@"; }
    export SWITCHYARD_SERVER=${i.dashboard.replace(/\/$/, "")} SWITCHYARD_TOKEN=$(cat ${i.apiTokenFile})
    switchyard deploy v2 --wait      # green pulls v2, runs its migrate task and turns ready: see the preview address
    switchyard promote --wait
  The desired state is ${i.deployDir}/state.yaml (a git repository): edit it by hand and watch.
  v4 answers 500s behind a passing health check: deploy and promote it, and Switchyard rolls back on its
  own within seconds (cluster.yaml rollback). Each deploy, promotion and rollback prints a
  "notification:" line here, as a webhook would tell your chat.
  Logs: ${i.logFile}

Press Ctrl-C to stop everything.`;
}

function port(v: string | undefined, dflt: number): number | null {
  if (v === undefined) return dflt;
  const n = Number(v);
  return Number.isInteger(n) && (n === 0 || (n >= 1024 && n <= 65535)) ? n : null;
}

function safeUser(): string {
  try {
    return userInfo().username.replace(/[^A-Za-z0-9_.-]/g, "") || "user";
  } catch {
    return "user";
  }
}

/** bin/switchyard.js of this package (from dist/cli or from cli/), for the CLI lines the banner prints. */
function cliPath(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 4; i++) {
    const candidate = join(dir, "bin", "switchyard.js");
    if (existsSync(candidate)) return candidate;
    dir = dirname(dir);
  }
  return process.argv[1] ?? "switchyard";
}
