/** `switchyard task retry <name> --color blue|green`: run a pre-promotion task again (POST /api/v1/actions/retry-task). */
import { parseArgs } from "node:util";
import { call, serverUrl, ApiError } from "./client.js";

export const taskHelp = `Usage:
  switchyard task retry <name> --color blue|green   run a pre-promotion task (cluster.yaml tasks) again for a
                                                    colour that is not live, after its failure was fixed; the
                                                    colour takes live traffic once every task succeeded

Options: --server URL (or $SWITCHYARD_SERVER), --json.
Authentication: $SWITCHYARD_TOKEN (a user with the deploy role).
`;

export async function runTask(argv: string[]): Promise<number> {
  try {
    const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: { server: { type: "string" }, json: { type: "boolean" }, color: { type: "string" } } });
    const [sub, name, ...extra] = positionals;
    if (sub !== "retry" || name === undefined || extra.length > 0) throw new ApiError("usage: switchyard task retry <name> --color blue|green");
    if (values.color !== "blue" && values.color !== "green") throw new ApiError("name the colour: --color blue|green");
    const r = await call<{ message: string }>(serverUrl(values.server), "POST", "/api/v1/actions/retry-task", { color: values.color, task: name });
    process.stdout.write(values.json ? JSON.stringify(r, null, 2) + "\n" : `${r.message}; run "switchyard status" to follow it\n`);
    return 0;
  } catch (err) {
    process.stderr.write(`switchyard task: ${(err as Error).message}\n`);
    return 1;
  }
}
