import { defineConfig } from "vitest/config";

/** The tests Stryker runs against each mutant: pure unit tests only (no Docker, git, registry or browser). */
export default defineConfig({
  test: {
    include: ["test/unit/**/*.test.ts"],
    // cli-validate spawns bin/switchyard.js, which runs dist/ (not the mutated sources); version reads
    // dist/build-info.json, which Stryker's sandbox (no dist/) does not have
    exclude: ["test/unit/cli-validate.test.ts", "test/unit/version.test.ts"],
    testTimeout: 30_000,
    fileParallelism: false,
    maxWorkers: 1,
  },
});
