import { describe, expect, it } from "vitest";
import { Restarts, clipLog, exitCodeOf, restartDelayMs, type ServiceLook } from "../../node-agent/node/restarts.js";
import {
  RESTART_BACKOFF_FACTOR, RESTART_BACKOFF_INITIAL_MS, RESTART_BACKOFF_MAX_MS, RESTART_BACKOFF_RESET_MS, RESTART_LOG_LINE_CHARS, RESTART_LOG_LINES,
} from "../../specs/defaults.js";

const T0 = Date.parse("2026-01-01T00:00:00Z");
const at = (ms: number) => new Date(ms).toISOString();
const job = (running: boolean, epoch = 3, since = T0): ServiceLook => ({
  service: "worker", kind: "job", key: `epoch:${epoch}`, runningSince: running ? at(since) : null, dead: running ? null : { id: "c1", stateText: "exited (137)" },
});
const web = (running: boolean, key = "h1", since = T0, stateText = "exited (3)"): ServiceLook => ({
  service: "web", kind: "web", key, runningSince: running ? at(since) : null, dead: running ? null : { id: "c2", stateText },
});

describe("restart backoff schedule", () => {
  it("at once, then the initial delay, growing by the factor, capped", () => {
    expect([1, 2, 3, 4].map(restartDelayMs)).toEqual([0, RESTART_BACKOFF_INITIAL_MS, RESTART_BACKOFF_FACTOR * RESTART_BACKOFF_INITIAL_MS, RESTART_BACKOFF_FACTOR ** 2 * RESTART_BACKOFF_INITIAL_MS]);
    expect(restartDelayMs(40)).toBe(RESTART_BACKOFF_MAX_MS);
    expect(restartDelayMs(10_000)).toBe(RESTART_BACKOFF_MAX_MS);
    // The documented values: 1 s, doubling, 5 minutes, reset after 10 minutes up.
    expect([RESTART_BACKOFF_INITIAL_MS, RESTART_BACKOFF_FACTOR, RESTART_BACKOFF_MAX_MS, RESTART_BACKOFF_RESET_MS]).toEqual([1000, 2, 300_000, 600_000]);
    // From the first death to the cap: 1+2+4+…+256 s ≈ 8.5 minutes, then every 5 minutes: about 20 in the first hour.
    let t = 0;
    let n = 0;
    for (let c = 2; t < 3_600_000; c++, n++) t += restartDelayMs(c);
    expect(n).toBeLessThanOrEqual(20);
  });
});

describe("restart book: jobs under the held lease", () => {
  it("a started job seen dead is one death with its exit; a start on its way is not another", () => {
    const r = new Restarts();
    r.started("worker", "job", "epoch:3");
    expect(r.look(job(true), T0)).toBe(false);
    expect(r.look(job(false), T0 + 10)).toBe(true);
    expect(r.status("worker")).toMatchObject({ count: 1, lastExit: "exited (137)", exitCode: 137, lastExitAt: at(T0 + 10), nextRestartAt: at(T0 + 10) });
    expect(r.due(T0 + 10)).toEqual(new Set(["job"]));
    expect(r.look(job(false), T0 + 20)).toBe(false); // starting: the old container is still listed
    r.started("worker", "job", "epoch:3");
    expect(r.status("worker")).toMatchObject({ count: 1, nextRestartAt: null });
    expect(r.look({ ...job(false), dead: null }, T0 + 30)).toBe(true);
    expect(r.status("worker")).toMatchObject({ count: 2, lastExit: "missing", exitCode: null, nextRestartAt: at(T0 + 30 + RESTART_BACKOFF_INITIAL_MS) });
    expect(r.waiting("worker", T0 + 31)).toBe(true);
    expect(r.crashLooping("worker")).toBe(true);
    expect(r.nextWait(T0 + 30)).toBe(RESTART_BACKOFF_INITIAL_MS);
  });

  it("the count starts over after a long enough run; a new epoch or no jobs forget everything", () => {
    const r = new Restarts();
    r.started("worker", "job", "epoch:3");
    r.look(job(false), T0);
    r.due(T0);
    r.started("worker", "job", "epoch:3");
    r.look(job(true, 3, T0), T0 + RESTART_BACKOFF_RESET_MS - 1);
    expect(r.status("worker")?.count).toBe(1);
    r.look(job(true, 3, T0), T0 + RESTART_BACKOFF_RESET_MS);
    expect(r.status("worker")).toBeUndefined();
    r.look(job(false), T0 + RESTART_BACKOFF_RESET_MS + 1);
    expect(r.status("worker")?.count).toBe(1);
    expect(r.look(job(false, 4), T0 + RESTART_BACKOFF_RESET_MS + 2)).toBe(false);
    expect(r.status("worker")).toBeUndefined();
    r.started("worker", "job", "epoch:4");
    r.keepOnly("job", new Set());
    expect(r.look(job(false, 4), T0 + RESTART_BACKOFF_RESET_MS + 3)).toBe(false);
    expect(r.status("worker")).toBeUndefined();
  });
});

describe("restart book: web services", () => {
  it("the first death waits for a spec (drift, the reconciler decides); the next ones back off in the agent", () => {
    const r = new Restarts();
    r.started("web", "web", "h1");
    expect(r.look(web(false), T0)).toBe(true);
    expect(r.status("web")).toMatchObject({ count: 1, exitCode: 3, nextRestartAt: null });
    expect(r.crashLooping("web")).toBe(false);
    expect(r.nextWait(T0)).toBeNull();
    expect(r.look(web(false), T0 + 5)).toBe(false); // still the same death
    r.started("web", "web", "h1"); // the reconciler's heal
    expect(r.look(web(false), T0 + 100)).toBe(true);
    expect(r.status("web")).toMatchObject({ count: 2, nextRestartAt: at(T0 + 100 + RESTART_BACKOFF_INITIAL_MS) });
    expect(r.crashLooping("web")).toBe(true);
    expect(r.waiting("web", T0 + 100 + RESTART_BACKOFF_INITIAL_MS - 1)).toBe(true);
    expect(r.due(T0 + 100 + RESTART_BACKOFF_INITIAL_MS)).toEqual(new Set(["web"]));
    expect(r.crashLooping("web")).toBe(true); // starting
    // A start that fails counts as a death and waits the next, longer backoff.
    expect(r.failed("web", "web", "h1", "cannot start: host port 1 is already in use", T0 + 2000)).toBe(2 * RESTART_BACKOFF_INITIAL_MS);
    expect(r.status("web")).toMatchObject({ count: 3, lastExit: "cannot start: host port 1 is already in use", exitCode: null });
  });

  it("a new spec hash is a new workload with a new count; a web service never started by convergence is not counted", () => {
    const r = new Restarts();
    expect(r.look(web(false), T0)).toBe(false);
    r.started("web", "web", "h1");
    r.look(web(false), T0);
    r.started("web", "web", "h1");
    r.look(web(false), T0 + 1);
    expect(r.status("web")?.count).toBe(2);
    expect(r.look(web(false, "h2"), T0 + 2)).toBe(false);
    expect(r.status("web")).toBeUndefined();
  });

  it("the last log lines are bounded, cleaned and keep no secret values", () => {
    const r = new Restarts();
    r.started("web", "web", "h1");
    r.look(web(false), T0);
    const lines = Array.from({ length: 30 }, (_, i) => `line ${i}`).concat(["x".repeat(5000), "token=s3cr3t-value \u001b[31mred", ""]);
    r.setLogTail("web", T0, lines, ["s3cr3t-value"]);
    const tail = r.status("web")!.logTail!;
    expect(tail).toHaveLength(RESTART_LOG_LINES);
    expect(tail.at(-1)).toBe("token=[redacted] [31mred");
    expect(tail.at(-2)!.length).toBe(RESTART_LOG_LINE_CHARS);
    r.setLogTail("web", T0 - 1, ["stale"], []); // a tail fetched for an older death is dropped
    expect(r.status("web")!.logTail).toEqual(tail);
    expect(clipLog(["a", "", "b"])).toEqual(["a", "b"]);
    expect([exitCodeOf("exited (1)"), exitCodeOf("exited (?)"), exitCodeOf("missing")]).toEqual([1, null, null]);
  });
});
