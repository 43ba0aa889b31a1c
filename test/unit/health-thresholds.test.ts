import { describe, expect, it } from "vitest";
import { HealthThresholds } from "../../node-agent/health.js";

/** Feeds results (1 = success, 0 = failure, "x" = forced unhealthy) and returns the verdict after each. */
function run(firstResultDecides: boolean, healthyThreshold: number, unhealthyThreshold: number, results: (0 | 1 | "x")[]): string[] {
  const m = new HealthThresholds({ healthyThreshold, unhealthyThreshold, firstResultDecides });
  return results.map((r) => {
    if (r === "x") m.force("unhealthy");
    else m.record(r === 1);
    return m.health;
  });
}

describe("one threshold state machine for node probes and router checks", () => {
  it("node policy: unknown until a threshold is reached, then streaks in a row", () => {
    expect(run(false, 2, 3, [1, 0, 1, 1, 0, 0, 1, 0, 0, 0, 1, 1])).toEqual([
      "unknown", "unknown", "unknown", "healthy", "healthy", "healthy", "healthy", "healthy", "healthy", "unhealthy", "unhealthy", "healthy",
    ]);
  });

  it("router policy: the first result alone decides, then the thresholds apply", () => {
    expect(run(true, 2, 2, [0, 1, 1, 0, 1, 0, 0])).toEqual(["unhealthy", "unhealthy", "healthy", "healthy", "healthy", "healthy", "unhealthy"]);
    expect(run(true, 3, 1, [1, 0, 1, 1, 1])).toEqual(["healthy", "unhealthy", "unhealthy", "unhealthy", "healthy"]);
  });

  it("a forced verdict (a refused connect) starts the counts anew: only a full streak of probes brings it back", () => {
    expect(run(true, 2, 3, [1, 1, 1, "x", 1, 1])).toEqual(["healthy", "healthy", "healthy", "unhealthy", "unhealthy", "healthy"]);
    expect(run(true, 2, 3, ["x", 1, 0, 1, 1])).toEqual(["unhealthy", "unhealthy", "unhealthy", "unhealthy", "healthy"]);
  });
});
