/**
 * A Stryker reporter that records where a run's time goes: each tested mutant is charged the wall-clock time
 * since the mutant tested before it (with several test runners these interleave, so a file's sum is its share
 * of the run, not its runners' CPU time). Written to reports/mutation/timing.json; summary.mjs prints it.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { PluginKind, declareClassPlugin } from "@stryker-mutator/api/plugin";

const FILE = "reports/mutation/timing.json";

class TimingReporter {
  files = {};
  started = Date.now();
  last = Date.now();

  /** Mutants this run tests (not results reused from the incremental record, ignored or uncovered ones). */
  toRun = new Set();

  /** The initial test run is over: mutants start now. */
  onMutationTestingPlanReady({ mutantPlans }) {
    for (const p of mutantPlans) if (p.plan === "Run") this.toRun.add(p.mutant.id);
    this.last = Date.now();
  }

  onMutantTested(result) {
    const now = Date.now();
    if (!this.toRun.has(result.id)) return;
    const f = (this.files[result.fileName] ??= { mutants: 0, ms: 0 });
    f.mutants++;
    f.ms += now - this.last;
    this.last = now;
  }

  wrapUp() {
    mkdirSync(dirname(FILE), { recursive: true });
    writeFileSync(FILE, JSON.stringify({ wallMs: Date.now() - this.started, files: this.files }, null, 2) + "\n");
  }
}

export const strykerPlugins = [declareClassPlugin(PluginKind.Reporter, "file-timing", TimingReporter)];
