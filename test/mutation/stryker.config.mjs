/**
 * Mutation testing of the safety core (issue 22): `npm run mutate` (outside `npm test`).
 * One file while developing: `npm run mutate -- --mutate node-agent/router/chunked.ts`.
 * Survivors judged equivalent are listed with the reason in test/mutation/equivalent.md.
 * Time (2026-11-30, ~4,160 mutants over the 17 files, two test runners on a quiet 2-core machine): a full run
 * (`-- --force`) takes 7.1-7.3 min, plan.ts alone 1.3-1.4 min; summary.mjs prints the split by file. It took 28.7-33.4 min
 * while vitest started a new worker thread for each mutant: persistent-pool.ts (in vitest.config.ts) keeps one.
 * Under load (other test suites running) it is far slower, and spurious timeouts (each a test-runner restart)
 * both slow it and count as killed: measure scores on a quiet machine.
 * Re-runs are incremental (below): only mutants whose code or covering tests changed are tested again.
 * @type {import('@stryker-mutator/api/core').PartialStrykerOptions}
 */
export default {
  testRunner: "vitest",
  // related: a static mutant (a module-level constant such as a regular expression) runs only the test files that import its file
  vitest: { configFile: "test/mutation/vitest.config.ts", related: true },
  plugins: ["@stryker-mutator/vitest-runner", "./test/mutation/timing-reporter.mjs"],
  coverageAnalysis: "perTest",
  // Static mutants are those a test file reaches while it loads (fixtures built at module level, e.g.
  // desired(cluster1x1()) in most unit tests): every mutant of specs/ and reconciler/loop/desired.ts then
  // ran every related test file, ~5-9 s each (specs/rules.ts alone: 23 min). With ignoreStatic a mutant that
  // tests also cover ("hybrid") runs only the tests that cover it, with its modules reloaded; a purely static
  // one (covered by no test at all) is not run and is counted apart by summary.mjs ("static (not run)").
  ignoreStatic: true,
  // Two test runners: one per core of the 2-core machine the times below were measured on.
  concurrency: 2,
  mutate: [
    "reconciler/loop/plan.ts",
    "reconciler/loop/desired.ts",
    "specs/equality.ts",
    "specs/validate.ts",
    "specs/rules.ts",
    "specs/source.ts",
    "node-agent/router/request-head.ts",
    "node-agent/router/response-head.ts",
    "node-agent/router/chunked.ts",
    "node-agent/router/http-text.ts",
    "node-agent/lease.ts",
    "reconciler/loop/memory.ts",
    "reconciler/loop/drift.ts",
    // signing and verification only (the delivery queue is covered by test/integration/webhooks.test.ts)
    "reconciler/notify/webhook-signing.ts",
    "reconciler/auth/sessions.ts",
    "reconciler/auth/hook.ts",
    "node-agent/auth.ts",
  ],
  ignorePatterns: ["dist", ".bench", "test-results", "reports", "dashboard", "bench", "test/integration", "test/bed", ".stryker-tmp"],
  // Incremental: a run reuses every result whose mutant, source around it and covering tests are unchanged, and
  // carries forward the results of files it did not mutate. One file's run (`--mutate <file>`) thus adds to the
  // same record the full run reads; `npm run mutate -- --force` tests every mutant again.
  incremental: true,
  incrementalFile: "reports/mutation/stryker-incremental.json",
  reporters: ["clear-text", "json", "progress-append-only", "file-timing"],
  jsonReporter: { fileName: "reports/mutation/mutation.json" },
  clearTextReporter: { allowColor: false, logTests: false, reportMutants: true, reportScoreTable: true },
  thresholds: { high: 90, low: 80, break: null },
  // A mutant's timeout is its covering tests' own time × timeoutFactor (1.5) + timeoutMS + the overhead Stryker
  // measured on the initial test run (~7 s: the workers and imports of all the unit test files at once, far more
  // than one mutant's run needs). The unit tests take milliseconds, so that overhead alone is ample and timeoutMS
  // adds 1 s. About 30 mutants loop forever (an emptied `while` body, `i++` → `i--`) and each costs its whole
  // timeout plus a test-runner restart: at 5 s (Stryker's default) that was ~2 of the run's minutes.
  timeoutMS: 1000,
  tempDirName: ".stryker-tmp",
  // vitest does not type-check, so the sandbox needs no `// @ts-nocheck` on top of each file: Stryker's
  // default put one on specs/generated/validators.cjs too, which then differed from what npm run schemas writes.
  disableTypeChecks: false,
  cleanTempDir: "always",
};
