// Records the commit a build is made from (dist/build-info.json) so `switchyard --version`, status and
// /metrics say which build runs. Outside a git checkout nothing is recorded and the version stays bare.
import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";

let commit = null;
try {
  commit = execFileSync("git", ["rev-parse", "--short=12", "HEAD"], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
  const dirty = execFileSync("git", ["status", "--porcelain", "--untracked-files=no"], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
  if (dirty) commit += ".dirty";
} catch {
  commit = null;
}
writeFileSync(new URL("../dist/build-info.json", import.meta.url), JSON.stringify(commit ? { commit } : {}) + "\n");
