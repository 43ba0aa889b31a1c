/**
 * tags, deploy, redeploy, promote, rollback, jobs: the dashboard's one-click actions from a shell. Each is a
 * change to state.yaml made by the reconciler API (committed to git as the token's user).
 */
import { parseArgs } from "node:util";
import { createInterface } from "node:readline/promises";
import { call, serverUrl, ApiError } from "./client.js";
import { waitFor, type Goal } from "./wait.js";
import type { Color } from "../specs/types.js";

/** --wait gives up (exit 3, the change goes on) after this long unless --timeout says. */
export const DEFAULT_WAIT_SECONDS = 600;

export const actionsHelp = `Usage:
  switchyard tags                               tags in the registry, newest first
  switchyard deploy <tag> [--to blue|green]     put a tag on the idle colour (or --to)
  switchyard redeploy <blue|green>              roll out what the colour's tag points at now (after
                                                it was pushed again; never the live colour)
  switchyard promote [--yes]                    send live traffic to the idle colour (--yes: even a tag
                                                Switchyard rolled back automatically; else it asks)
  switchyard rollback [--yes]                   send live traffic back to the other colour
  switchyard abort-analysis                     stop watching the new live colour after a switch: no
                                                automatic rollback for it (no commit)
  switchyard jobs <active|blue|green|none>      choose which colour runs the background jobs
  switchyard stop <blue|green>                  stop a colour for maintenance (never the live one)
  switchyard start <blue|green>                 start a stopped colour again with its last tag
  switchyard restart <blue|green>               re-create a colour's containers so they read their
                                                secret files again (never the live colour; no commit)

Options: --server URL (or $SWITCHYARD_SERVER), --json, --dry-run (show the state.yaml diff only),
  --wait (follow the change until it took effect, printing progress; exit 1 if it failed or was refused,
  3 if still in progress after --timeout seconds, default 600).
Authentication: $SWITCHYARD_TOKEN (create one with: switchyard user token <name> --data <data-dir>).
`;

export type Verb = "tags" | "deploy" | "redeploy" | "promote" | "rollback" | "jobs" | "stop" | "start" | "restart" | "abort-analysis";

export function runAction(verb: Verb): (argv: string[]) => Promise<number> {
  return async (argv) => {
    let parsed;
    try {
      parsed = parseArgs({ args: argv, allowPositionals: true, options: { server: { type: "string" }, json: { type: "boolean" }, to: { type: "string" }, "dry-run": { type: "boolean" }, wait: { type: "boolean" }, timeout: { type: "string" }, yes: { type: "boolean", short: "y" } } });
    } catch (err) {
      process.stderr.write(`switchyard ${verb}: ${(err as Error).message}\n`);
      return 2;
    }
    const { values, positionals } = parsed;
    const server = serverUrl(values.server);
    try {
      if (verb === "tags") {
        const r = await call<{ tags: { tag: string; created: string | null }[] }>(server, "GET", "/api/v1/tags");
        process.stdout.write(values.json ? JSON.stringify(r, null, 2) + "\n" : r.tags.map((t) => `${t.tag.padEnd(20)} ${t.created ?? ""}`).join("\n") + "\n");
        return 0;
      }
      if (verb === "restart") {
        if (positionals.length !== 1 || (positionals[0] !== "blue" && positionals[0] !== "green")) throw new ApiError("name the colour: switchyard restart blue|green");
        const r = await call<{ message: string }>(server, "POST", "/api/v1/actions/restart", { color: positionals[0] });
        process.stdout.write(values.json ? JSON.stringify(r, null, 2) + "\n" : `${r.message}; run "switchyard status" to follow it\n`);
        return 0;
      }
      if (verb === "abort-analysis") {
        const r = await call<{ message: string }>(server, "POST", "/api/v1/actions/abort-analysis");
        process.stdout.write(values.json ? JSON.stringify(r, null, 2) + "\n" : `${r.message}\n`);
        return 0;
      }
      const body: Record<string, unknown> = {};
      if ((verb === "promote" || verb === "rollback") && values.yes) body.confirm = true;
      if (verb === "deploy") {
        if (positionals.length !== 1) throw new ApiError("name the tag to deploy, e.g. switchyard deploy v2");
        body.tag = positionals[0];
        if (values.to) body.color = values.to;
      }
      if (verb === "stop" || verb === "start" || verb === "redeploy") {
        if (positionals.length !== 1 || (positionals[0] !== "blue" && positionals[0] !== "green")) throw new ApiError(`name the colour: switchyard ${verb} blue|green`);
        body.color = positionals[0];
      }
      if (verb === "jobs") {
        if (positionals.length !== 1) throw new ApiError("name the owner: active, blue, green or none");
        body.owner = positionals[0];
      }
      const state = await call<{ revision: string; state: { spec: { colors: Record<Color, { tag?: string }> } } }>(server, "GET", "/api/v1/state");
      const path = `/api/v1/actions/${verb}`;
      const goalBody = verb === "redeploy" ? { ...body, tag: state.state.spec.colors[body.color as Color]?.tag } : body;
      if (values["dry-run"]) {
        const r = await call<{ message: string; diff: string }>(server, "POST", path, { ...body, dryRun: true });
        process.stdout.write(values.json ? JSON.stringify(r, null, 2) + "\n" : `${r.message}\n${r.diff}`);
        return 0;
      }
      type Done = { message: string; revision: string; commit: string | null };
      const r = await call<Done>(server, "POST", path, { ...body, dryRun: false }, { "if-match": state.revision }).catch(async (err: unknown) => {
        // A tag Switchyard rolled back automatically: ask a person at a terminal; elsewhere --yes says it.
        if (!(err instanceof ApiError) || err.code !== "RECON_ERR_CONFIRM_REQUIRED") throw err;
        if (!process.stdin.isTTY || !(await confirm(`${err.message}\nSwitch to it anyway? [y/N] `))) throw new ApiError(`${err.message.replace(/; to make it live.*$/, "")}; not switched (pass --yes to switch anyway)`);
        return call<Done>(server, "POST", path, { ...body, confirm: true, dryRun: false }, { "if-match": state.revision });
      });
      if (!values.wait) {
        process.stdout.write(values.json ? JSON.stringify(r, null, 2) + "\n" : `${r.message}: committed ${r.commit?.slice(0, 12) ?? "(no git)"}, revision ${r.revision}; run "switchyard status" to follow it\n`);
        return 0;
      }
      process.stdout.write(`${r.message}: committed ${r.commit?.slice(0, 12) ?? "(no git)"}, revision ${r.revision}\n`);
      const timeoutS = values.timeout === undefined ? DEFAULT_WAIT_SECONDS : Number(values.timeout);
      if (!Number.isFinite(timeoutS) || timeoutS <= 0) throw new ApiError(`--timeout ${values.timeout}: give a number of seconds`);
      return await waitFor(server, r.revision, goalOf(verb, goalBody), timeoutS * 1000, (line) => process.stdout.write(line + "\n"));
    } catch (err) {
      process.stderr.write(`switchyard ${verb}: ${(err as Error).message}\n`);
      return 1;
    }
  };
}

async function confirm(question: string): Promise<boolean> {
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return /^y(es)?$/i.test((await rl.question(question)).trim());
  } finally {
    rl.close();
  }
}

function goalOf(verb: Exclude<Verb, "tags" | "restart" | "abort-analysis">, body: Record<string, unknown>): Goal {
  switch (verb) {
    case "deploy":
      return { kind: "deploy", color: (body.color as Color | undefined) ?? null, tag: String(body.tag) };
    case "redeploy":
      // Ready again means every node runs the pinned content (its spec carries the digest).
      return { kind: "deploy", color: body.color as Color, tag: String(body.tag) };
    case "promote":
    case "rollback":
      return { kind: "live", color: null };
    case "jobs":
      return { kind: "jobs", owner: String(body.owner) };
    case "stop":
    case "start":
      return { kind: "stopped", color: body.color as Color, stopped: verb === "stop" };
  }
}
