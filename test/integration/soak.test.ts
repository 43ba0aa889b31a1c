/**
 * The chaos soak, short and seeded (issue 18): three minutes of random faults and desired-state changes
 * against a real cluster on this machine (process agents and one Docker agent per colour, two routers, the
 * reconciler, load, the jobs store), then every invariant checked over the recorded history. A failure
 * prints the seed and window; replay it with `npm run soak -- --seed <seed> --minutes 3`. The long version
 * is `npm run soak`. The Docker agents run on an engine of the soak's own (its restarts never touch the test
 * bed's engine, which other tests share) and pull the bed's demo images through a relay the soak can cut.
 */
import { describe, expect, it } from "vitest";
import { runSoak } from "../../bench/lib/soak/run.js";
import { formatViolations } from "../../bench/lib/soak/checker.js";

const SEED = Number(process.env.SOAK_SEED ?? 20261129);
const MINUTES = 3;

describe("chaos soak (seeded, 3 minutes)", () => {
  it(`seed ${SEED}: every invariant holds under random faults and changes`, async () => {
    const lines: string[] = [];
    const r = await runSoak({ seed: SEED, durationMs: MINUTES * 60_000, log: (l) => void lines.push(l) });
    console.log([`soak seed ${SEED}`, ...r.summary].join("\n"));
    expect(r.history.faults.length).toBeGreaterThan(5);
    expect(r.history.changes.length).toBeGreaterThan(5);
    expect(r.history.requests.length).toBeGreaterThan(1000);
    expect(r.history.deliveries.length).toBeGreaterThan(0);
    expect(formatViolations(SEED, r.violations), `the soak's log:\n${lines.join("\n")}`).toBe("");
  }, 15 * 60_000);
});
