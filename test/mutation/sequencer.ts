/**
 * The order of test files in a mutant's run. Stryker stops a run at the first failing test (bail), so the
 * files most likely to fail cheaply go first: a file that failed in the last run (the one that killed the
 * mutant before, often the killer of its neighbour too), then the quickest. Vitest's own order is the
 * slowest first, which keeps a cheap unit test that would kill the mutant waiting behind the API tests.
 */
import { relative } from "node:path";
import { BaseSequencer, type TestSpecification } from "vitest/node";

export default class KillersFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const cache = this.ctx.cache;
    const facts = new Map(
      files.map((f) => {
        const key = `${f.project.name}:${relative(this.ctx.config.root, f.moduleId)}`;
        const result = cache.getFileTestResults(key);
        // a file not timed yet goes after the timed ones, the smaller first
        return [f, { failed: result?.failed ?? false, cost: result?.duration ?? 1e9 + (cache.getFileStats(key)?.size ?? 0) }];
      }),
    );
    return [...files].sort((a, b) => {
      const [x, y] = [facts.get(a)!, facts.get(b)!];
      if (x.failed !== y.failed) return x.failed ? -1 : 1;
      return x.cost - y.cost;
    });
  }
}
