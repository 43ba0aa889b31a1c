/**
 * `switchyard validate` on an agent.yaml with secretsDir: the folder exists, is a directory, and neither it
 * nor its `<name>.env` files are open to group or others (the agent refuses such secret files when it starts
 * a service; this says so before a deploy finds out).
 */
import { lstat, readdir, stat } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import type { LoadedSpec } from "../specs/load.js";
import { locate, type SpecIssue } from "../specs/source.js";

/** Issues with the agent file's secretsDir (none without one), positioned at its secretsDir key. */
export async function secretsDirIssues(agent: LoadedSpec<"Agent">): Promise<SpecIssue[]> {
  const dir = agent.value.secretsDir;
  if (dir === undefined) return [];
  const path = resolve(dirname(resolve(agent.file)), dir);
  const at = (message: string) => locate(agent.source, { path: ["secretsDir"], atKey: false, message: `secretsDir: ${message}` });
  const st = await stat(path).catch((err: NodeJS.ErrnoException) => err);
  if (st instanceof Error) {
    return [at(st.code === "ENOENT"
      ? `folder ${path} does not exist; create it with install -d -m 0700 -o <the agent's user> ${path}`
      : `cannot read folder ${path} (${st.code ?? st.message}); it must be readable by the agent's user`)];
  }
  if (!st.isDirectory()) return [at(`${path} is not a folder; secretsDir names the folder that holds the <name>.env files`)];
  if ((st.mode & 0o077) !== 0) return [at(`folder ${path} has mode ${mode(st.mode)}, open to group or others; chmod 700 ${path}`)];
  const out: SpecIssue[] = [];
  const names = await readdir(path).catch(() => [] as string[]);
  for (const name of names.filter((n) => n.endsWith(".env")).sort()) {
    const f = await lstat(join(path, name)).catch(() => undefined);
    if (f?.isFile() && (f.mode & 0o077) !== 0) out.push(at(`${join(path, name)} has mode ${mode(f.mode)}, open to group or others (the agent refuses it); chmod 600 ${join(path, name)}`));
  }
  return out;
}

function mode(m: number): string {
  return `0${(m & 0o777).toString(8)}`;
}
