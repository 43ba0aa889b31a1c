import { describe, expect, it } from "vitest";
import { renderStatus } from "../../cli/status.js";
import { startingStatus } from "../../reconciler/loop/status.js";
import type { ClusterStatus } from "../../specs/api/status.js";

type ColorStatus = NonNullable<ClusterStatus["colors"]>["blue"];

const color = (name: string, services: ColorStatus["nodes"][number]["services"]): ColorStatus => ({
  phase: "Degraded", tag: "v2", stopped: false, live: false, preview: true, message: "", url: "http://green.test",
  nodes: [{ name, reachable: true, error: null, generation: 3, converging: false, tag: "v2", ready: false, services, lease: null }],
});

describe("switchyard status", () => {
  it("a crash-looping service shows its restarts, last exit, next attempt and last log lines", () => {
    const s: ClusterStatus = {
      ...startingStatus(),
      colors: {
        blue: color("blue-1", { web: { state: "running", health: "healthy", tag: "v1", error: null, since: "2026-01-01T00:00:00Z" } }),
        green: color("green-1", {
          web: {
            state: "crashLooping", health: "unknown", tag: null, error: "crash looping", since: "2026-01-01T00:00:00Z",
            restarts: { count: 5, lastExit: "exited (3)", exitCode: 3, lastExitAt: "2026-01-01T00:00:00Z", nextRestartAt: "2026-01-01T00:00:08Z", logTail: ["a", "b", "c", "fatal: DATABASE_URL is not set"] },
          },
        }),
      },
    } as ClusterStatus;
    const out = renderStatus(s);
    expect(out).toContain("green-1:web=crashLooping");
    expect(out).toContain("web on green-1 is crash looping: 5 restarts, last exited (3) (exit code 3); next attempt 2026-01-01T00:00:08Z");
    expect(out).toContain("| fatal: DATABASE_URL is not set");
    expect(out).not.toContain("| a\n");
    expect(out).not.toContain("blue-1 is crash looping");
  });
});
