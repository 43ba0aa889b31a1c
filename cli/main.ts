/**
 * The `switchyard` command line. Thin: each command lives in its own file and returns an exit code.
 * Exit 0 on success; non-zero with clear lines on stderr on failure.
 */
interface Command {
  summary: string;
  /** Loaded only when the command runs, so each command pays only for what it uses. */
  load: () => Promise<{ help: string; run: (argv: string[]) => Promise<number> }>;
}

const commands: Record<string, Command> = {
  validate: { summary: "check cluster, state and agent files (every error, with file:line:col)", load: async () => { const m = await import("./validate.js"); return { help: m.validateHelp, run: m.runValidate }; } },
  agent: { summary: "run the node agent of this VM (containers or router)", load: async () => { const m = await import("./agent.js"); return { help: m.agentHelp, run: m.runAgent }; } },
  reconciler: { summary: "watch the desired state and drive every agent until reality matches", load: async () => { const m = await import("./reconciler.js"); return { help: m.reconcilerHelp, run: m.runReconciler }; } },
  status: { summary: "show the cluster's status (conditions, colours, router, jobs)", load: async () => { const m = await import("./status.js"); return { help: m.statusHelp, run: m.runStatus }; } },
  tags: action("tags", "list the image tags in the registry, newest first"),
  deploy: action("deploy", "put a tag on the idle colour (a commit to state.yaml)"),
  promote: action("promote", "send live traffic to the idle colour once it is ready"),
  rollback: action("rollback", "send live traffic back to the other colour"),
  "abort-analysis": action("abort-analysis", "stop watching the new live colour after a switch (no automatic rollback)"),
  jobs: action("jobs", "choose which colour runs the background jobs"),
  redeploy: action("redeploy", "roll out what a colour's tag points at now, after it was pushed again"),
  stop: action("stop", "stop a colour that is not live, for maintenance"),
  start: action("start", "start a stopped colour again with its last tag"),
  restart: action("restart", "re-create the idle colour's containers so they read their secrets again"),
  task: { summary: "run a pre-promotion task again after a failure (task retry <name> --color <colour>)", load: async () => { const m = await import("./task.js"); return { help: m.taskHelp, run: m.runTask }; } },
  logs: { summary: "show a service's logs from a colour's nodes (-f follows)", load: async () => { const m = await import("./logs.js"); return { help: m.logsHelp, run: m.runLogs }; } },
  user: { summary: "manage dashboard users and API tokens", load: async () => { const m = await import("./user.js"); return { help: m.userHelp, run: m.runUser }; } },
  "prometheus-config": { summary: "print a Prometheus configuration that scrapes the reconciler and every agent", load: async () => { const m = await import("./prometheus-config.js"); return { help: m.prometheusConfigHelp, run: m.runPrometheusConfig }; } },
  demo: { summary: "bring up a whole local blue-green cluster with the demo app (Ctrl-C stops it)", load: async () => { const m = await import("./demo.js"); return { help: m.demoHelp, run: m.runDemo }; } },
};

function action(verb: import("./actions.js").Verb, summary: string): Command {
  return { summary, load: async () => { const m = await import("./actions.js"); return { help: m.actionsHelp, run: m.runAction(verb) }; } };
}

/** Exit code after an error nothing handled (EX_SOFTWARE): a bug, reported as such. */
export const EXIT_INTERNAL_ERROR = 70;

/**
 * The last resort: an error no code handled is a bug. Say so in one block on stderr and exit non-zero at
 * once (exit handlers still release the reconciler's locks), rather than run on in an unknown state.
 */
export function installLastResortHandlers(): void {
  const fatal = (what: string) => (err: unknown) => {
    const detail = err instanceof Error ? (err.stack ?? err.message) : String(err);
    process.stderr.write(`switchyard: internal error (${what}), exiting: ${detail}\n`);
    process.exit(EXIT_INTERNAL_ERROR);
  };
  process.on("unhandledRejection", fatal("unhandled promise rejection"));
  process.on("uncaughtException", fatal("uncaught exception"));
}

export async function main(argv: string[]): Promise<number> {
  installLastResortHandlers();
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
  const loaded = await cmd.load();
  if (rest.includes("--help") || rest.includes("-h")) {
    process.stdout.write(loaded.help);
    return 0;
  }
  return loaded.run(rest);
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
  return (await import("../common/version.js")).VERSION;
}
