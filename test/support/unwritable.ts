/**
 * Making a folder unwritable for a while, as root too (tests run as root, where chmod stops nothing):
 * `chattr -R +i` where the file system supports it, else the folder is moved aside and a plain file put
 * in its place. Returns the function that puts everything back.
 */
import { execFileSync } from "node:child_process";
import { renameSync, rmSync, writeFileSync } from "node:fs";

export function makeUnwritable(dir: string): () => void {
  try {
    execFileSync("chattr", ["-R", "+i", dir], { stdio: "ignore" });
    return () => execFileSync("chattr", ["-R", "-i", dir], { stdio: "ignore" });
  } catch {
    try {
      execFileSync("chattr", ["-R", "-i", dir], { stdio: "ignore" });
    } catch {
      /* chattr is missing or unsupported here: nothing was set */
    }
  }
  const aside = `${dir}.aside`;
  renameSync(dir, aside);
  writeFileSync(dir, "not a folder\n");
  return () => {
    rmSync(dir, { force: true });
    renameSync(aside, dir);
  };
}
