/**
 * What version of Switchyard this is: package.json's version, plus the commit it was built from when the
 * build recorded one (dist/build-info.json, written by `npm run build` in a git checkout), e.g. 0.1.0+3f2c1ab.
 * Shown by `--version`, in the reconciler's and each agent's status, and in /metrics (switchyard_build_info).
 */
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

function read(): string {
  // Up from this file (dist/common/ when built, common/ under the test runner) to Switchyard's package.json.
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 4; i++, dir = dirname(dir)) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as { name?: string; version?: string };
      if (pkg.name !== "switchyard" || !pkg.version) continue;
      let commit: string | undefined;
      try {
        commit = (JSON.parse(readFileSync(join(dir, "dist", "build-info.json"), "utf8")) as { commit?: string }).commit;
      } catch {
        // not built from a git checkout (or run from the sources): the version alone
      }
      return commit ? `${pkg.version}+${commit}` : pkg.version;
    } catch {
      // no package.json here: one level up
    }
  }
  return "unknown";
}

export const VERSION = read();
