import { describe, expect, it } from "vitest";
import { JobRestarts, restartDelayMs } from "../../node-agent/node/job-restarts.js";
import type { Workload } from "../../node-agent/runtime.js";
import { JOB_RESTART_BACKOFF_INITIAL_MS, JOB_RESTART_BACKOFF_MAX_MS, JOB_RESTART_RESET_MS } from "../../specs/defaults.js";

const T0 = Date.parse("2026-01-01T00:00:00Z");
const worker = (running: boolean, epoch = 3, since = T0): Workload => ({
  id: "c1", name: "w", service: "worker", tag: "v1", kind: "job", specHash: "h", epoch, running, stateText: running ? "running" : "exited (137)", since: new Date(since).toISOString(),
});

describe("job restarts under a held lease", () => {
  it("backoff: at once, then doubling from the initial delay, capped", () => {
    expect([1, 2, 3, 4].map(restartDelayMs)).toEqual([0, JOB_RESTART_BACKOFF_INITIAL_MS, 2 * JOB_RESTART_BACKOFF_INITIAL_MS, 4 * JOB_RESTART_BACKOFF_INITIAL_MS]);
    expect(restartDelayMs(40)).toBe(JOB_RESTART_BACKOFF_MAX_MS);
  });

  it("a started job seen dead is one death with its exit; a start on its way is not another", () => {
    const r = new JobRestarts();
    r.started(3, "worker");
    expect(r.observe([worker(true)], ["worker"], 3, T0)).toEqual([]);
    expect(r.observe([worker(false)], ["worker"], 3, T0 + 10)).toEqual(["worker"]);
    expect(r.status("worker")).toEqual({ count: 1, lastExit: "exited (137)", lastExitAt: new Date(T0 + 10).toISOString(), nextRestartAt: new Date(T0 + 10).toISOString() });
    expect(r.due(T0 + 10)).toBe(true);
    expect(r.observe([worker(false)], ["worker"], 3, T0 + 20)).toEqual([]); // starting: the old container is still listed
    r.started(3, "worker");
    expect(r.status("worker")).toMatchObject({ count: 1, nextRestartAt: null });
    expect(r.observe([], ["worker"], 3, T0 + 30)).toEqual(["worker"]);
    expect(r.status("worker")).toMatchObject({ count: 2, lastExit: "missing", nextRestartAt: new Date(T0 + 30 + JOB_RESTART_BACKOFF_INITIAL_MS).toISOString() });
    expect(r.waiting("worker", T0 + 31)).toBe(true);
    expect(r.nextWait(T0 + 30)).toBe(JOB_RESTART_BACKOFF_INITIAL_MS);
  });

  it("the count starts over after a long enough run; a new epoch or no jobs forget everything", () => {
    const r = new JobRestarts();
    r.started(3, "worker");
    r.observe([worker(false)], ["worker"], 3, T0);
    r.due(T0);
    r.started(3, "worker");
    r.observe([worker(true, 3, T0)], ["worker"], 3, T0 + JOB_RESTART_RESET_MS - 1);
    expect(r.status("worker")?.count).toBe(1);
    r.observe([worker(true, 3, T0)], ["worker"], 3, T0 + JOB_RESTART_RESET_MS);
    expect(r.status("worker")).toBeUndefined();
    r.observe([worker(false)], ["worker"], 3, T0 + JOB_RESTART_RESET_MS + 1);
    expect(r.status("worker")?.count).toBe(1);
    expect(r.observe([worker(false, 4)], ["worker"], 4, T0 + JOB_RESTART_RESET_MS + 2)).toEqual([]);
    expect(r.status("worker")).toBeUndefined();
    r.started(4, "worker");
    expect(r.observe([], [], 4, T0 + JOB_RESTART_RESET_MS + 3)).toEqual([]);
    expect(r.status("worker")).toBeUndefined();
  });
});
