import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 30_000,
    hookTimeout: 120_000,
    // Integration files share one Docker engine, registry and two cores: one file at a time keeps
    // timings (watch within 1 s, flips under load) honest.
    fileParallelism: false,
  },
});
