import { parseArgs } from "node:util";
import { startReconciler } from "../reconciler/main.js";
import { DEFAULT_RECONCILER_LISTEN } from "../specs/defaults.js";
import { chooseLogFormat, makeCliLogger } from "../common/log.js";

export const reconcilerHelp = `Usage: switchyard reconciler --dir <deploy-dir> --data <data-dir> [--listen host:port] [--public] [--public-url <url>] [--git-remote <remote>] [--releases-dir <dir>] [--log-format json|pretty]

Watches cluster.yaml and state.yaml in the deploy dir and drives every agent until reality matches.
Keeps its memory (job-lease epoch, users, event log) in the data dir. Serves the API and the dashboard
on --listen (default ${DEFAULT_RECONCILER_LISTEN}). A non-loopback address needs --public: put a TLS proxy in
front. --public-url names the address people use through that proxy (https://deploy.example.com); with
https the session cookie is always Secure (forwarded headers are not trusted for this). With --git-remote, every state commit made through the API is also pushed there. For agents on
the process runtime, --releases-dir names the folder whose release directories are the tags.
Stops on SIGINT or SIGTERM; live traffic is unaffected.
Logs are readable lines on a terminal and JSON otherwise (systemd); --log-format chooses.
`;

export async function runReconciler(argv: string[]): Promise<number> {
  let values;
  let format;
  try {
    ({ values } = parseArgs({ args: argv, options: { dir: { type: "string" }, data: { type: "string" }, listen: { type: "string" }, public: { type: "boolean" }, "public-url": { type: "string" }, "git-remote": { type: "string" }, "releases-dir": { type: "string" }, "log-format": { type: "string" } } }));
    format = chooseLogFormat(values["log-format"], process.stdout.isTTY === true);
  } catch (err) {
    process.stderr.write(`switchyard reconciler: ${(err as Error).message}\n`);
    return 2;
  }
  if (!values.dir || !values.data) {
    process.stderr.write("switchyard reconciler: --dir <deploy-dir> and --data <data-dir> are required\n");
    return 2;
  }
  let r;
  try {
    r = await startReconciler({
      dir: values.dir,
      dataDir: values.data,
      logger: makeCliLogger("switchyard-reconciler", format),
      ...(values.listen ? { listen: values.listen } : {}),
      ...(values.public ? { allowPublic: true } : {}),
      ...(values["public-url"] ? { publicUrl: values["public-url"] } : {}),
      ...(values["git-remote"] ? { gitRemote: values["git-remote"] } : {}),
      ...(values["releases-dir"] ? { releasesDir: values["releases-dir"] } : {}),
    });
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
