import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createVitest, type Vitest } from "vitest/node";
import { persistentThreadsPlugin } from "../mutation/persistent-pool.js";

/**
 * The pool npm run mutate runs each mutant's tests in (test/mutation/persistent-pool.ts): one thread serves
 * mutant after mutant, and that is sound only if nothing of one mutant's run reaches the next. Driven here the
 * way Stryker's vitest runner drives it: one vitest, a run per mutant, the mutant's mode in vitest's provide.
 */
const fixtures = resolve("test/mutation/fixtures/pool");
const dir = mkdtempSync(join(tmpdir(), "sy-mutation-pool-"));
const log = join(dir, "runs.jsonl");
let vitest: Vitest;

interface Run {
  name: string;
  threadId: number;
  runs: number;
}

beforeAll(async () => {
  process.env.POOL_FIXTURE_LOG = log;
  vitest = await createVitest(
    "test",
    {
      root: fixtures,
      config: false,
      include: ["*.fixture.ts"],
      setupFiles: [resolve("test/mutation/thread-probe.ts")],
      pool: "threads",
      maxWorkers: 1,
      isolate: false,
      watch: false,
      reporters: [{}],
      onConsoleLog: () => false,
    },
    { plugins: [persistentThreadsPlugin()] },
  );
});

afterAll(async () => {
  await vitest?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Runs one fixture as a mutant's run and returns what its tests recorded. */
async function runs(file: string, mode = "mutant", mutantActivation = "runtime", testNamePattern?: RegExp): Promise<Run[]> {
  vitest.provide("mode" as never, mode as never);
  vitest.provide("mutantActivation" as never, mutantActivation as never);
  for (const project of vitest.projects) project.config.testNamePattern = testNamePattern;
  vitest.state.filesMap.clear();
  const before = existsSync(log) ? readFileSync(log, "utf8").length : 0;
  await vitest.start([join(fixtures, `${file}.fixture.ts`)]);
  const lines = readFileSync(log, "utf8").slice(before).trim().split("\n");
  return lines.map((line) => JSON.parse(line) as Run);
}

async function run(name: string, mode = "mutant", mutantActivation = "runtime"): Promise<Run> {
  const recorded = await runs(name, mode, mutantActivation);
  expect(recorded.map((r) => r.name)).toEqual([name]);
  return recorded[0]!;
}

describe("the mutation runs' persistent test thread", () => {
  it("serves runtime-activated mutants one after another, each with the project's modules evaluated anew", async () => {
    const first = await run("count");
    const second = await run("count");
    const third = await run("count");
    expect([second.threadId, third.threadId]).toEqual([first.threadId, first.threadId]);
    // the module state of state.ts starts over in every run
    expect([first.runs, second.runs, third.runs]).toEqual([1, 1, 1]);
  });

  it("runs the tests each run names, in the same thread", async () => {
    const alpha = await runs("named", "mutant", "runtime", /alpha/);
    const beta = await runs("named", "mutant", "runtime", /beta/);
    const both = await runs("named");
    expect([alpha, beta, both].map((recorded) => recorded.map((r) => r.name))).toEqual([["alpha"], ["beta"], ["alpha", "beta"]]);
    expect(new Set([...alpha, ...beta, ...both].map((r) => r.threadId)).size).toBe(1);
  });

  // Two runs of a fixture in one thread: what the second saw at its start
  it.each([
    ["activates", "loads the next run's test files with no mutant active, as a thread of their own would", "at load: none"],
    ["worker", "ends the idle worker threads a run started", "alive before: 0"],
  ])("%s: %s, in the same thread", async (fixture, _what, seen) => {
    const [first] = await runs(fixture);
    const [second] = await runs(fixture);
    expect([first!.name, second!.name]).toEqual([`${fixture} (${seen})`, `${fixture} (${seen})`]);
    expect(second!.threadId).toBe(first!.threadId);
  });

  it("keeps the thread after a failing run that left nothing running, and after timers the tests cleared", async () => {
    const before = await run("count");
    await run("fail");
    const cleared = await run("cleared");
    const after = await run("count");
    expect([cleared.threadId, after.threadId]).toEqual([before.threadId, before.threadId]);
  });

  it.each([
    ["leak", "a timer left running"],
    ["socket", "a server left open"],
    ["timers-import", "a timer left running, started through node:timers"],
  ])("gives the next mutant a new thread after a run that left something running (%s: %s)", async (fixture) => {
    const leaky = await run(fixture);
    const after = await run("count");
    expect(after.threadId).not.toBe(leaky.threadId);
  });

  it("keeps what a run's leftovers report after it ended from the next run, and gives that run a new thread", async () => {
    const late = await run("late");
    await new Promise((done) => setTimeout(done, 1500));
    const after = await run("count");
    expect(vitest.state.errorsSet.size).toBe(0);
    expect(after.threadId).not.toBe(late.threadId);
  });

  it("gives the next mutant a new thread after a run an error escaped from", async () => {
    const escaped = await run("escaped");
    expect(vitest.state.errorsSet.size).toBeGreaterThan(0);
    const after = await run("count");
    expect(after.threadId).not.toBe(escaped.threadId);
  });

  it("gives a run in another test environment a thread set up for it", async () => {
    const node = await run("count");
    for (const project of vitest.projects) project.config.environment = "./custom-env.ts";
    const [other] = await runs("environment").finally(() => {
      for (const project of vitest.projects) project.config.environment = "node";
    });
    expect(other!.name).toBe("environment pool-fixture");
    expect(other!.threadId).not.toBe(node.threadId);
  });

  it("hands over to a new thread after 200 runs", async () => {
    await run("count", "mutant", "static"); // the next run starts a thread of its own
    const threads: number[] = [];
    for (let i = 0; i < 201; i++) threads.push((await run("count")).threadId);
    expect(new Set(threads.slice(0, 200)).size).toBe(1);
    expect(threads[200]).not.toBe(threads[0]);
  });

  it("gives a static mutant (active while modules load) and the dry run a thread of their own", async () => {
    const runtime = await run("count");
    const staticMutant = await run("count", "mutant", "static");
    const next = await run("count");
    const dryRun = await run("count", "dry-run");
    expect(new Set([runtime.threadId, staticMutant.threadId, next.threadId, dryRun.threadId]).size).toBe(4);
  });
});
