/**
 * For StateRepo tests against real git: repositories in temp dirs with no global git configuration (and
 * no repository above them found by accident), a deploy dir inside each, and small helpers.
 */
import { execFileSync } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, expect } from "vitest";
import { StateRepo, type Author, type StateRepoOptions } from "../../reconciler/history/state-repo.js";
import { ReconError } from "../../reconciler/errors.js";
import { makeLogger } from "../../common/log.js";

export const alice: Author = { name: "Alice Example", email: "alice@example.com" };
export const bob: Author = { name: "Bob", email: "bob@example.com" };

export const temps: string[] = [];
const repos: StateRepo[] = [];
const savedEnv: Record<string, string | undefined> = {};

/** Registers the sandbox (no git config, no repository above the temp dir) and cleanup for this test file. */
export function useGitSandbox(): void {
  beforeAll(() => {
    // No user.name / user.email anywhere: commits must carry their identity themselves.
    const home = mkdtempSync(join(tmpdir(), "sy-git-home-"));
    temps.push(home);
    writeFileSync(join(home, "empty-gitconfig"), "");
    // And no repository above the temp dir is ever found by accident.
    for (const [k, v] of Object.entries({ GIT_CONFIG_GLOBAL: join(home, "empty-gitconfig"), GIT_CONFIG_NOSYSTEM: "1", HOME: home, GIT_CEILING_DIRECTORIES: tmpdir() })) {
      savedEnv[k] = process.env[k];
      process.env[k] = v;
    }
  });

  afterAll(() => {
    for (const [k, v] of Object.entries(savedEnv)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
    for (const d of temps.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  afterEach(async () => {
    for (const r of repos.splice(0)) await r.idle();
  });
}

export function stateText(o: { active?: "blue" | "green"; blue?: string; green?: string; owner?: string; extra?: string } = {}): string {
  return [
    "apiVersion: switchyard.dev/v1",
    "kind: State",
    "spec:",
    `  active: ${o.active ?? "blue"}`,
    "  colors:",
    `    blue: { tag: ${o.blue ?? "v1"} }`,
    `    green: { tag: ${o.green ?? "v2"} }`,
    `  jobs: { owner: ${o.owner ?? "active"} }`,
    ...(o.extra ? [o.extra] : []),
    "",
  ].join("\n");
}

/** Runs git in `cwd` as a test fixture would (explicit identity, no global config). */
export function sh(cwd: string, ...args: string[]): string {
  return execFileSync("git", args, {
    cwd,
    encoding: "utf8",
    env: { ...process.env, GIT_AUTHOR_NAME: "Fixture", GIT_AUTHOR_EMAIL: "fixture@example.com", GIT_COMMITTER_NAME: "Fixture", GIT_COMMITTER_EMAIL: "fixture@example.com" },
  });
}

export interface Bed {
  root: string;
  /** The deploy dir: a subfolder of the repository, so paths inside git carry a prefix. */
  dir: string;
  repo: StateRepo;
  logs: string[];
}

export function bed(o: { git?: boolean; initialCommit?: boolean; remote?: string; repo?: Partial<StateRepoOptions> } = {}): Bed {
  const root = mkdtempSync(join(tmpdir(), "sy-git-"));
  temps.push(root);
  const dir = join(root, "deploy");
  mkdirSync(dir);
  copyFileSync("examples/local/cluster.yaml", join(dir, "cluster.yaml"));
  writeFileSync(join(dir, "state.yaml"), stateText());
  writeFileSync(join(root, "README"), "ops repo\n");
  if (o.git ?? true) {
    sh(root, "init", "--quiet", "--initial-branch=main");
    if (o.initialCommit ?? true) {
      sh(root, "add", ".");
      sh(root, "commit", "--quiet", "-m", "initial state");
    }
  }
  const logs: string[] = [];
  const logger = makeLogger("git-test", { level: "debug" }, { write: (s: string) => void logs.push(s) });
  const repo = new StateRepo({ dir, logger, ...(o.remote ? { remote: o.remote } : {}), ...o.repo });
  repos.push(repo);
  return { root, dir, repo, logs };
}

export function count(root: string): number {
  return Number(sh(root, "rev-list", "--count", "HEAD").trim());
}

export async function refused(p: Promise<unknown>, what = ""): Promise<ReconError> {
  const err = await p.then(
    (r) => new Error(`accepted ${what}: ${JSON.stringify(r)}`),
    (e: unknown) => e,
  );
  expect(err, what).toBeInstanceOf(ReconError);
  return err as ReconError;
}

