import { parseArgs } from "node:util";
import { startAgent } from "../node-agent/main.js";
import { SpecError } from "../specs/load.js";
import { chooseLogFormat, makeCliLogger } from "../common/log.js";

export const agentHelp = `Usage: switchyard agent --config agent.yaml [--log-format json|pretty]

Runs the node agent of this VM: its HTTP API (bearer token from tokenFile), and for role node the
containers of its colour (runtime docker), for role router the routing data plane (on the sockets systemd
passes, LISTEN_FDS named http and https, or bound here; on SIGTERM it finishes the requests in flight first).
Stops gracefully on SIGINT or SIGTERM: job workloads are stopped first (each within the lease TTL,
then killed) and the agent says so; web workloads and the router table keep running.
Logs are readable lines on a terminal and JSON otherwise (systemd); --log-format chooses.
`;

export async function runAgent(argv: string[]): Promise<number> {
  let values;
  let format;
  try {
    ({ values } = parseArgs({ args: argv, options: { config: { type: "string", short: "c" }, "log-format": { type: "string" } } }));
    format = chooseLogFormat(values["log-format"], process.stdout.isTTY === true);
  } catch (err) {
    process.stderr.write(`switchyard agent: ${(err as Error).message}\n`);
    return 2;
  }
  if (!values.config) {
    process.stderr.write("switchyard agent: --config <agent.yaml> is required\n");
    return 2;
  }
  let agent;
  try {
    agent = await startAgent(values.config, { logFormat: format });
  } catch (err) {
    process.stderr.write(err instanceof SpecError ? `${err.message}\n` : `switchyard agent: ${(err as Error).message}\n`);
    return 1;
  }
  process.stdout.write(`agent ${agent.config.name} (${agent.config.role}) listening on ${agent.url}\n`);
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once("SIGINT", stop);
    process.once("SIGTERM", stop);
  });
  await agent.close();
  return 0;
}
