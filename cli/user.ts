/** switchyard user add|remove|role|token|list — dashboard users and API tokens, in <data-dir>/users.json. */
import { parseArgs } from "node:util";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { ROLES, Users, type Role } from "../reconciler/auth/users.js";

export const userHelp = `Usage:
  switchyard user add <name> --role viewer|deployer|admin --data <data-dir> [--replace]
      the password is read from the terminal (hidden) or from standard input; never an argument
  switchyard user remove <name> --data <data-dir>     remove the user and revoke all their API tokens
  switchyard user role <name> viewer|deployer|admin --data <data-dir>
  switchyard user token <name> --data <data-dir>      create an API token (shown once) for the CLI
  switchyard user token revoke <name> [<token-id>] --data <data-dir>
      revoke one token of the user, or all of them without an id
  switchyard user list --data <data-dir>

Viewers read; deployers also deploy, promote, roll back and move jobs; admins also manage users.
A token acts with its user's current role. A running reconciler sees every change at the next request:
a removed user's sessions and tokens stop at once, a new role applies at once.
`;

export async function runUser(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, allowPositionals: true, options: { role: { type: "string" }, data: { type: "string" }, replace: { type: "boolean" } } });
  } catch (err) {
    process.stderr.write(`switchyard user: ${(err as Error).message}\n`);
    return 2;
  }
  const { values, positionals } = parsed;
  const [sub, name] = positionals;
  if (!values.data) {
    process.stderr.write("switchyard user: --data <data-dir> is required (the reconciler's data dir)\n");
    return 2;
  }
  const users = new Users({ file: join(values.data, "users.json") });
  try {
    await users.load();
    if (sub === "list") {
      const l = users.list();
      for (const u of l.users) process.stdout.write(`${u.name.padEnd(20)} ${u.role.padEnd(9)} since ${u.createdAt}\n`);
      for (const t of l.tokens) process.stdout.write(`token ${t.id} for ${t.name}, created ${t.createdAt}${t.lastUsedAt ? `, last used ${t.lastUsedAt}` : ""}\n`);
      return 0;
    }
    if (sub === "token" && name === "revoke" && positionals.length >= 3) {
      const [, , who, id] = positionals;
      if (!users.current(who!)) throw new Error(`no user ${who}`);
      const revoked = await users.revokeTokens(who!, id);
      if (id !== undefined && revoked.length === 0) throw new Error(`user ${who} has no token ${id}; see switchyard user list`);
      process.stdout.write(revoked.length === 0 ? `user ${who} had no tokens\n` : `revoked ${revoked.map((x) => `token ${x}`).join(", ")} of ${who}\n`);
      return 0;
    }
    if (!name) throw new Error(`name the user: switchyard user ${sub ?? "add"} <name>`);
    if (sub === "remove") {
      const removed = await users.removeUser(name);
      if (!removed) throw new Error(`no user ${name}`);
      process.stdout.write(`user ${name} removed, ${removed.tokens} API token(s) revoked; their sessions end at their next request\n`);
      return 0;
    }
    if (sub === "role") {
      const role = positionals[2] as Role;
      if (!ROLES.includes(role)) throw new Error(`name the role: switchyard user role ${name} ${ROLES.join("|")}`);
      await users.setRole(name, role);
      process.stdout.write(`user ${name} is now ${role}; their sessions and tokens act with it from their next request\n`);
      return 0;
    }
    if (sub === "add") {
      const role = values.role as Role;
      if (!ROLES.includes(role)) throw new Error(`--role must be one of ${ROLES.join(", ")}`);
      const password = await readPassword(`password for ${name}: `);
      await users.addUser(name, role, password, { replace: values.replace ?? false });
      await users.flush();
      process.stdout.write(`user ${name} (${role}) saved\n`);
      return 0;
    }
    if (sub === "token") {
      const u = users.list().users.find((x) => x.name === name);
      if (!u) throw new Error(`no user ${name}; add it first with switchyard user add`);
      const token = await users.createToken(name);
      await users.flush();
      process.stdout.write(`${token}\n`);
      process.stderr.write(`API token for ${name} (acts with their current role, now ${u.role}); it is shown once. Use it as SWITCHYARD_TOKEN.\n`);
      return 0;
    }
    throw new Error(`unknown subcommand "${sub ?? ""}"; see switchyard user --help`);
  } catch (err) {
    process.stderr.write(`switchyard user: ${(err as Error).message}\n`);
    return 1;
  }
}

/** From a terminal: prompt without echo. Otherwise: the first line of standard input. */
async function readPassword(prompt: string): Promise<string> {
  const stdin = process.stdin;
  if (!stdin.isTTY) {
    let data = "";
    for await (const chunk of stdin) data += chunk;
    return data.split(/\r?\n/)[0] ?? "";
  }
  const rl = createInterface({ input: stdin, output: process.stderr, terminal: true });
  const out = rl as unknown as { _writeToOutput: (s: string) => void; output: NodeJS.WritableStream };
  process.stderr.write(prompt);
  out._writeToOutput = () => undefined; // no echo
  const answer = await new Promise<string>((resolve) => rl.question("", resolve));
  rl.close();
  process.stderr.write("\n");
  return answer;
}
