import { parseArgs } from "node:util";
import { startAgent } from "../node-agent/main.js";
import { SpecError } from "../specs/load.js";

export const agentHelp = `Usage: switchyard agent --config agent.yaml

Runs the node agent of this VM: its HTTP API (bearer token from tokenFile), and for role node the
containers of its colour (runtime docker), for role router the routing data plane.
Stops gracefully on SIGINT or SIGTERM; running containers keep running.
`;

export async function runAgent(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { config: { type: "string", short: "c" } } });
  if (!values.config) {
    process.stderr.write("switchyard agent: --config <agent.yaml> is required\n");
    return 2;
  }
  let agent;
  try {
    agent = await startAgent(values.config);
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
