/**
 * Release directories of the demo app for the process runtime: `<releasesDir>/<tag>/` holds the app's
 * files, a VERSION file (what an image bakes in as APP_VERSION) and release.json naming the default
 * command. Used by `switchyard demo` and by the tests, so both run exactly the same releases.
 */
import { existsSync } from "node:fs";
import { copyFile, mkdir, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { RELEASE_MANIFEST } from "../../node-agent/release-command.js";

/** The demo app's files that a release needs (the same list build.sh puts into an image). */
export const DEMO_APP_FILES = ["server.js", "worker.js", "migrate.js", "store.js", "version.js", "package.json"] as const;
export const DEMO_TAGS = ["v1", "v2", "v3", "v4"] as const;

/** examples/demo-app of this package, found from source (cli/demo) or from the build (dist/cli/demo). */
export function demoAppDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    const candidate = join(dir, "examples", "demo-app");
    if (existsSync(join(candidate, "server.js"))) return candidate;
    dir = dirname(dir);
  }
  throw new Error("cannot find examples/demo-app next to this installation of switchyard");
}

/** Writes one release directory per tag; returns the releases dir. Existing releases are overwritten. */
export async function writeDemoReleases(releasesDir: string, tags: readonly string[] = DEMO_TAGS): Promise<string> {
  const src = demoAppDir();
  for (const tag of tags) {
    const dir = join(releasesDir, tag);
    await mkdir(dir, { recursive: true });
    for (const f of DEMO_APP_FILES) await copyFile(join(src, f), join(dir, f));
    await writeFile(join(dir, "VERSION"), `${tag}\n`);
    await writeFile(join(dir, RELEASE_MANIFEST), JSON.stringify({ command: ["node", "server.js"] }, null, 2) + "\n");
  }
  return releasesDir;
}
