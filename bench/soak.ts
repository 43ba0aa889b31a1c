/**
 * npm run soak -- [--minutes N] [--seed S]: the chaos soak (bench/lib/soak): a real cluster on this
 * machine under random faults and desired-state changes, checked against invariants. Prints the seed
 * first (the same seed replays the same schedule), then counts by fault, the invariants checked and the
 * worst recovery time; every violation with its seed and time window. Exits 1 on a violation.
 */
import { parseArgs } from "node:util";
import { runSoak } from "./lib/soak/run.js";
import { formatViolations, INVARIANTS } from "./lib/soak/checker.js";
import { randomSeed } from "./lib/soak/prng.js";

process.env.SWITCHYARD_LOG_LEVEL ??= "warn";

async function main(): Promise<number> {
  const { values } = parseArgs({ args: process.argv.slice(2), options: { minutes: { type: "string", default: "30" }, seed: { type: "string" }, quiet: { type: "boolean", default: false } } });
  const seed = values.seed !== undefined ? Number(values.seed) : randomSeed();
  const minutes = Number(values.minutes);
  if (!Number.isInteger(seed) || !(minutes > 0)) throw new Error("--seed must be an integer and --minutes a positive number");
  console.log(`soak: seed ${seed}, ${minutes} min (replay: npm run soak -- --seed ${seed} --minutes ${minutes})`);
  const t0 = Date.now();
  const r = await runSoak({ seed, durationMs: minutes * 60_000, log: values.quiet ? () => undefined : (l) => console.log(`${((Date.now() - t0) / 1000).toFixed(1).padStart(7)}s ${l}`) });
  for (const line of r.summary) console.log(line);
  for (const [k, v] of Object.entries(INVARIANTS)) console.log(`  ${r.violations.some((x) => x.invariant === k) ? "FAIL" : "ok  "} ${k}: ${v}`);
  if (r.violations.length) console.log(formatViolations(seed, r.violations));
  return r.violations.length ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (err) => {
    console.error(`soak failed: ${(err as Error).stack}`);
    process.exit(1);
  },
);
