/**
 * The `switchyard` command line. Thin: each command lives in its own file and returns an exit code.
 * Exit 0 on success; non-zero with clear lines on stderr on failure.
 */
import { runValidate, validateHelp } from "./validate.js";
import { agentHelp, runAgent } from "./agent.js";
import { reconcilerHelp, runReconciler } from "./reconciler.js";
import { runStatus, statusHelp } from "./status.js";

interface Command {
  summary: string;
  help: string;
  run: (argv: string[]) => Promise<number>;
}

const commands: Record<string, Command> = {
  validate: { summary: "check cluster, state and agent files (every error, with file:line:col)", help: validateHelp, run: runValidate },
  agent: { summary: "run the node agent of this VM (containers or router)", help: agentHelp, run: runAgent },
  reconciler: { summary: "watch the desired state and drive every agent until reality matches", help: reconcilerHelp, run: runReconciler },
  status: { summary: "show the cluster's status (conditions, colours, router, jobs)", help: statusHelp, run: runStatus },
};

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === "--help" || name === "-h" || name === "help") {
    process.stdout.write(usage());
    return name === undefined ? 1 : 0;
  }
  if (name === "--version" || name === "-v") {
    process.stdout.write(`${await version()}\n`);
    return 0;
  }
  const cmd = commands[name];
  if (!cmd) {
    process.stderr.write(`switchyard: unknown command "${name}"; run "switchyard --help" for the list\n`);
    return 2;
  }
  if (rest.includes("--help") || rest.includes("-h")) {
    process.stdout.write(cmd.help);
    return 0;
  }
  return cmd.run(rest);
}

function usage(): string {
  const width = Math.max(...Object.keys(commands).map((c) => c.length));
  const lines = Object.entries(commands).map(([n, c]) => `  ${n.padEnd(width)}  ${c.summary}`);
  return `switchyard: declarative zero-downtime blue-green deployments of Docker apps

Usage: switchyard <command> [options]

Commands:
${lines.join("\n")}

Run "switchyard <command> --help" for a command's options.
`;
}

async function version(): Promise<string> {
  const { readFile } = await import("node:fs/promises");
  const pkg = JSON.parse(await readFile(new URL("../../package.json", import.meta.url), "utf8")) as { version: string };
  return pkg.version;
}
