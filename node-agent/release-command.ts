/**
 * What the process runtime runs for a release: the release directory of a tag, the program and its
 * arguments, and the environment. A spec comes from the reconciler, so a stolen token must not be able
 * to run anything outside the release directories the operator put on this machine: no shell, no
 * absolute paths, no PATH lookups, no interpreter flags. Which env it gets is decided in process-env.ts.
 */
import { readFile, realpath, stat } from "node:fs/promises";
import { isAbsolute, join, relative, resolve, sep } from "node:path";
import { tagSchema } from "../specs/common.js";
import { RuntimeError } from "./runtime.js";

/** Describes a release's default command when the spec gives none: `{ "command": ["node", "server.js"] }`. */
export const RELEASE_MANIFEST = "release.json";

const TAG = new RegExp(tagSchema.pattern);

export interface ResolvedCommand {
  /** The executable: this agent's own Node binary for `node`, else a file inside the release directory. */
  file: string;
  args: string[];
  /** The release directory (real path): the working directory. */
  cwd: string;
}

/** The release directory of a tag, or a tag-not-found error that names where it was looked for. */
export async function releaseDir(releasesDir: string, tag: string): Promise<string> {
  if (!TAG.test(tag)) throw new RuntimeError(`${JSON.stringify(tag).slice(0, 80)} is not a release name`, "tag-not-found");
  const dir = join(releasesDir, tag);
  const st = await stat(dir).catch(() => undefined);
  if (!st?.isDirectory()) {
    throw new RuntimeError(`AGENT_ERR_TAG_MISSING: release ${tag} does not exist in ${releasesDir}; copy it there first or pick an existing release`, "tag-not-found");
  }
  return realpath(dir);
}

/** The program and arguments for a service: the spec's command, else the release's own default. */
export async function resolveCommand(dir: string, service: string, command: readonly string[] | undefined): Promise<ResolvedCommand> {
  const cmd = command ?? (await defaultCommand(dir, service));
  const [program, ...args] = cmd;
  if (!program) throw new RuntimeError(`the ${service} command is empty`);
  if (program === "node") {
    // Node flags (and anything before the script) are refused: -e, --require, --import run any code.
    const script = args[0];
    if (script === undefined || script.startsWith("-")) {
      throw new RuntimeError(`the ${service} command must name a script inside the release right after node (like [node, server.js]); node flags are refused by the process runtime`);
    }
    await inside(dir, script, service);
    return { file: process.execPath, args, cwd: dir };
  }
  if (isAbsolute(program) || !program.includes("/")) {
    throw new RuntimeError(`the ${service} command ${JSON.stringify(program)} is not a file inside the release; the process runtime runs node <script> or a relative path like ./bin/start, never a program from elsewhere`);
  }
  const file = await inside(dir, program, service);
  return { file, args, cwd: dir };
}

async function defaultCommand(dir: string, service: string): Promise<string[]> {
  const manifest = await readJson(join(dir, RELEASE_MANIFEST));
  const fromManifest = manifest?.command;
  if (Array.isArray(fromManifest) && fromManifest.length > 0 && fromManifest.every((a) => typeof a === "string")) return fromManifest as string[];
  const pkg = await readJson(join(dir, "package.json"));
  if (typeof pkg?.main === "string" && pkg.main) return ["node", pkg.main];
  throw new RuntimeError(`the release in ${dir} names no command for ${service}: set services.${service}.command in cluster.yaml, or add ${RELEASE_MANIFEST} with {"command": ["node", "server.js"]}`);
}

/** A path inside the release directory that exists, with symbolic links resolved. */
async function inside(dir: string, path: string, service: string): Promise<string> {
  let real: string;
  try {
    real = await realpath(resolve(dir, path));
  } catch {
    throw new RuntimeError(`the ${service} command names ${path}, which does not exist in the release`);
  }
  const rel = relative(dir, real);
  if (rel === "" || rel.startsWith(`..${sep}`) || rel === ".." || isAbsolute(rel)) {
    throw new RuntimeError(`the ${service} command names ${path}, which is outside the release; refused`);
  }
  return real;
}

async function readJson(file: string): Promise<Record<string, unknown> | null> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch {
    return null;
  }
  try {
    const v = JSON.parse(text) as unknown;
    return v && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, unknown>) : null;
  } catch {
    throw new RuntimeError(`${file} is not valid JSON`);
  }
}
