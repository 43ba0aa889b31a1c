import { parseArgs } from "node:util";
import { startReconciler } from "../reconciler/main.js";
import { DEFAULT_RECONCILER_LISTEN } from "../specs/defaults.js";

export const reconcilerHelp = `Usage: switchyard reconciler --dir <deploy-dir> --data <data-dir> [--listen host:port]

Watches cluster.yaml and state.yaml in the deploy dir and drives every agent until reality matches.
Keeps its memory (job-lease epoch, event log) in the data dir. Serves the API on --listen
(default ${DEFAULT_RECONCILER_LISTEN}; loopback only). Stops on SIGINT or SIGTERM; live traffic is unaffected.
`;

export async function runReconciler(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { dir: { type: "string" }, data: { type: "string" }, listen: { type: "string" } } });
  if (!values.dir || !values.data) {
    process.stderr.write("switchyard reconciler: --dir <deploy-dir> and --data <data-dir> are required\n");
    return 2;
  }
  let r;
  try {
    r = await startReconciler({ dir: values.dir, dataDir: values.data, ...(values.listen ? { listen: values.listen } : {}) });
  } catch (err) {
    process.stderr.write(`switchyard reconciler: ${(err as Error).message}\n`);
    return 1;
  }
  process.stdout.write(`reconciler for ${values.dir} listening on ${r.url}\n`);
  await new Promise<void>((resolve) => {
    process.once("SIGINT", () => resolve());
    process.once("SIGTERM", () => resolve());
  });
  await r.close();
  return 0;
}
