/**
 * A state.yaml that is a symbolic link (config management often links it into place): a change made
 * through the API goes to the file the link points at and the link stays; with git history on, where a
 * commit would record the link and not the content, the change is refused and nothing is written.
 */
import { execFileSync } from "node:child_process";
import { cpSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, renameSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { StateRepo } from "../../reconciler/history/state-repo.js";
import { revisionOf as hash } from "../../specs/revision.js";
import { ReconError } from "../../reconciler/errors.js";
import { makeLogger } from "../../common/log.js";

const temps: string[] = [];
afterAll(() => {
  for (const d of temps.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** A deploy dir whose state.yaml links to ../shared/state.yaml. */
function linkedDeployDir(): { deploy: string; target: string } {
  const root = mkdtempSync(join(tmpdir(), "sy-symlink-"));
  temps.push(root);
  const deploy = join(root, "deploy");
  cpSync("examples/local", deploy, { recursive: true });
  mkdirSync(join(root, "shared"));
  const target = join(root, "shared", "state.yaml");
  renameSync(join(deploy, "state.yaml"), target);
  symlinkSync("../shared/state.yaml", join(deploy, "state.yaml"));
  return { deploy, target };
}

const author = { name: "Alice", email: "alice@example.com" };

describe("a state.yaml that is a symbolic link", () => {
  it("without history: the change goes through the link to its target, and the link stays a link", async () => {
    const { deploy, target } = linkedDeployDir();
    const before = readFileSync(target, "utf8");
    const repo = new StateRepo({ dir: deploy, logger: makeLogger("symlink-test") });
    const next = before.replace("owner: active", "owner: none");
    const r = await repo.commitState({ text: next, author, message: "stop jobs", expectedRevision: hash(before) });
    expect(r.commit).toBeNull();
    expect(lstatSync(join(deploy, "state.yaml")).isSymbolicLink()).toBe(true);
    expect(readlinkSync(join(deploy, "state.yaml"))).toBe("../shared/state.yaml");
    expect(readFileSync(target, "utf8")).toBe(next);
  });

  it("with history: refused clearly, nothing written, the link untouched", async () => {
    const { deploy, target } = linkedDeployDir();
    const env = { ...process.env, GIT_CONFIG_NOSYSTEM: "1", GIT_CEILING_DIRECTORIES: tmpdir() };
    const git = (...args: string[]) => execFileSync("git", ["-C", deploy, ...args], { env, encoding: "utf8" });
    git("init", "-q");
    git("-c", "user.name=ops", "-c", "user.email=ops@example.com", "add", ".");
    git("-c", "user.name=ops", "-c", "user.email=ops@example.com", "commit", "-qm", "initial");
    const before = readFileSync(target, "utf8");
    const repo = new StateRepo({ dir: deploy, logger: makeLogger("symlink-test") });
    const err = await repo.commitState({ text: before.replace("owner: active", "owner: none"), author, message: "stop jobs", expectedRevision: hash(before) }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ReconError);
    expect((err as ReconError).code).toBe("RECON_ERR_UNAVAILABLE");
    expect((err as ReconError).message).toMatch(/state\.yaml is a symbolic link .*nothing was written/);
    expect(lstatSync(join(deploy, "state.yaml")).isSymbolicLink()).toBe(true);
    expect(readFileSync(target, "utf8")).toBe(before);
    expect(git("log", "--oneline").trim().split("\n")).toHaveLength(1);
  });
});
