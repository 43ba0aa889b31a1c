import { defineConfig } from "vitest/config";
import { persistentThreadsPlugin } from "./persistent-pool.js";
import KillersFirst from "./sequencer.js";

/** The tests Stryker runs against each mutant: pure unit tests only (no Docker, git, registry or browser). */
export default defineConfig({
  test: {
    include: ["test/unit/**/*.test.ts"],
    // cli-validate spawns bin/switchyard.js, which runs dist/ (not the mutated sources); version reads
    // dist/build-info.json, purity reads dashboard/src and soak-checker imports bench/: Stryker's sandbox
    // (ignorePatterns below) has none of them, and none of them tests the safety core
    exclude: ["test/unit/cli-validate.test.ts", "test/unit/version.test.ts", "test/unit/purity.test.ts", "test/unit/soak-checker.test.ts", "test/unit/mutation-pool.test.ts"],
    testTimeout: 30_000,
    fileParallelism: false,
    maxWorkers: 1,
    // The test files of one mutant's run share their modules (each file's beforeAll still sets the mutant):
    // a run then loads the fixtures and the modules under test once, not once per file. The next mutant's
    // run evaluates them all again (persistent-pool.ts), so one mutant's module state never reaches another's.
    // No unit test may rely on vi.mock or module state of its own (npm run mutate's dry run checks it).
    isolate: false,
    // A mutant's run stops at its first failing test: the files likeliest to fail cheaply go first.
    sequence: { sequencer: KillersFirst },
    // Answers the pool's question between two runs (what the last run left running) and switches its mutant off
    setupFiles: ["test/mutation/thread-probe.ts"],
  },
  // Stryker's runner asks vitest for its "threads" pool: this one keeps its thread from mutant to mutant
  // (persistent-pool.ts says when a mutant gets a new thread all the same)
  plugins: [persistentThreadsPlugin()],
  // Each of Stryker's test runners keeps its own timings (they order its files), not one file both write.
  cacheDir: `node_modules/.vite-mutation-${process.env.STRYKER_MUTATOR_WORKER ?? "0"}`,
});
