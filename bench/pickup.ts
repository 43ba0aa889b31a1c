/**
 * bench:pickup — how soon a change to state.yaml acts, through the reconciler's own pieces (DesiredSource
 * watching the deploy dir, StateRepo recording hand edits), in a real git repository:
 * - a commit made by hand (`git commit` of an edited state.yaml), timed from the commit's return;
 * - `git pull` of a commit made elsewhere (CI, a colleague), timed from the pull's return;
 * - a save without a commit, which Switchyard records as its own commit after HAND_EDIT_GRACE_MS.
 * Each is timed until the new desired state is in force (DesiredSource's onChange). 20 rounds each.
 * The last line is one JSON object.
 */
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { execFileSync } from "node:child_process";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { DesiredSource } from "../reconciler/loop/desired-source.js";
import { StateRepo } from "../reconciler/history/state-repo.js";
import { percentile, round } from "./lib/stats.js";

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 20);
const here = process.cwd();
const root = mkdtempSync(join(tmpdir(), "sy-pickup-"));
const git = (dir: string, ...args: string[]) => execFileSync("git", ["-C", dir, "-c", "user.name=Bench", "-c", "user.email=bench@example.com", ...args], { stdio: ["ignore", "pipe", "pipe"] });
const origin = join(root, "origin.git");
const work = join(root, "deploy");
const other = join(root, "ci");
execFileSync("git", ["init", "-q", "--bare", "-b", "main", origin]);
cpSync(join(here, "examples/local"), work, { recursive: true });
git(work, "init", "-q", "-b", "main");
git(work, "add", ".");
git(work, "commit", "-q", "-m", "initial state");
git(work, "remote", "add", "origin", origin);
git(work, "push", "-q", "origin", "main");
execFileSync("git", ["clone", "-q", origin, other]);

let waiting: { tag: string; resolve: (at: number) => void } | null = null;
const logger = pino({ level: "silent" });
const repo = new StateRepo({ dir: work, logger });
const source = new DesiredSource({
  dir: work, logger, record: (t) => repo.recordIfUncommitted(t), onInvalid: () => {},
  onChange: (s) => {
    if (waiting && s.desired.state.spec.colors.green.tag === waiting.tag) waiting.resolve(performance.now());
  },
});
await source.start();

const stateFile = (dir: string) => join(dir, "state.yaml");
const withTag = (dir: string, tag: string) => readFileSync(stateFile(dir), "utf8").replace(/green: \{ tag: [^ ,}]+/, `green: { tag: ${tag}`);
const inForce = (tag: string) => new Promise<number>((resolve) => (waiting = { tag, resolve }));

async function measure(name: string, change: (tag: string) => void): Promise<number[]> {
  const ms: number[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    const tag = `${name.replace(/\W/g, "")}${i}`;
    const done = inForce(tag);
    let t0 = 0;
    change(tag);
    t0 = performance.now();
    const at = await Promise.race([done, new Promise<number>((_, rej) => setTimeout(() => rej(new Error(`${name}: not in force after 10 s`)), 10_000))]);
    ms.push(Math.max(0, at - t0));
  }
  console.log(`${name}: in force after p50 ${round(percentile(ms, 50), 1)} ms, p99 ${round(percentile(ms, 99), 1)} ms, max ${round(Math.max(...ms), 1)} ms (${ROUNDS} rounds)`);
  return ms;
}

const commit = await measure("git commit by hand", (tag) => {
  writeFileSync(stateFile(work), withTag(work, tag));
  git(work, "commit", "-q", "-am", `green to ${tag}`);
});
git(work, "push", "-q", "origin", "main");
const pull = await measure("git pull of a commit made elsewhere", (tag) => {
  git(other, "pull", "-q", "--ff-only");
  writeFileSync(stateFile(other), withTag(other, tag));
  git(other, "commit", "-q", "-am", `green to ${tag}`);
  git(other, "push", "-q", "origin", "main");
  git(work, "pull", "-q", "--ff-only", "origin", "main");
});
const save = await measure("a save without a commit", (tag) => writeFileSync(stateFile(work), withTag(work, tag)));
await source.close();
rmSync(root, { recursive: true, force: true });
const sum = (xs: number[]) => ({ p50Ms: round(percentile(xs, 50), 1), p99Ms: round(percentile(xs, 99), 1), maxMs: round(Math.max(...xs), 1) });
console.log(JSON.stringify({ rounds: ROUNDS, commit: sum(commit), pull: sum(pull), saveWithoutCommit: sum(save) }));
process.exit(0);
