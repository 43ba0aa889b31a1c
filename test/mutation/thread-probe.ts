/**
 * A setup file of the mutation runs, in the test thread that persistent-pool.ts keeps from one mutant to the
 * next. Between two runs the pool asks it what the thread still has going, and gives the next mutant a new
 * thread unless the answer is nothing: a timer a mutant left behind (a lease's lapse timer never cleared), a
 * socket or server never closed, a file operation still under way could otherwise act during the next
 * mutant's tests.
 *
 * Node's list of active resources (process.getActiveResourcesInfo) names sockets, servers and file operations,
 * but its timers include vitest's own (it flushes test results on a throttle up to 100 ms after a run), so
 * the timers the tests and the code under test start are counted here instead: the global timer functions
 * are wrapped once per thread. Vitest keeps the originals for itself, and vi.useFakeTimers restores these.
 */
import { inject } from "vitest";
import { parentPort } from "node:worker_threads";

type Timer = ReturnType<typeof setTimeout>;

const state = globalThis as { __strykerThreadProbe?: { live: Set<Timer> } };

if (parentPort && !state.__strykerThreadProbe) {
  const live = new Set<Timer>();
  state.__strykerThreadProbe = { live };
  const original = { setTimeout, clearTimeout, setInterval, clearInterval };

  const setTimeoutTracked = ((callback: (...args: unknown[]) => void, ms?: number, ...args: unknown[]) => {
    if (typeof callback !== "function") return original.setTimeout(callback, ms, ...args);
    const timer: Timer = original.setTimeout(
      (...callArgs: unknown[]) => {
        live.delete(timer);
        callback(...callArgs);
      },
      ms,
      ...args,
    );
    live.add(timer);
    return timer;
  }) as typeof setTimeout;
  // util.promisify(setTimeout) keeps working
  Object.assign(setTimeoutTracked, original.setTimeout);
  const setIntervalTracked = ((callback: (...args: unknown[]) => void, ms?: number, ...args: unknown[]) => {
    const timer = original.setInterval(callback, ms, ...args);
    live.add(timer);
    return timer;
  }) as typeof setInterval;
  const clear = (stop: (timer: Timer | undefined) => void) => (timer: Timer | string | number | undefined) => {
    if (timer !== null && typeof timer === "object") live.delete(timer);
    else for (const each of live) if (Number(each) === Number(timer)) live.delete(each);
    stop(timer as Timer);
  };
  globalThis.setTimeout = setTimeoutTracked;
  globalThis.setInterval = setIntervalTracked;
  globalThis.clearTimeout = clear(original.clearTimeout) as typeof clearTimeout;
  globalThis.clearInterval = clear(original.clearInterval) as typeof clearInterval;

  // Stryker's global for the active mutant (its runner provides the name)
  const namespace = (inject as (key: string) => string | undefined)("globalNamespace") ?? "__stryker__";
  const port = parentPort;
  port.on("message", (message: { __strykerThreadProbe?: unknown }) => {
    if (message?.__strykerThreadProbe !== "ask") return;
    // The last run is over: its mutant is no longer active. Stryker's setup file sets the next one in a
    // beforeAll, after the test files have loaded, so a thread of its own would load them with none active
    // (fixtures built at module level, with the code under test, must be built from the original code).
    const stryker = (globalThis as unknown as Record<string, { activeMutant?: string } | undefined>)[namespace];
    if (stryker) stryker.activeMutant = undefined;
    // What the run scheduled last (a promise settling, a socket's close) gets its turn first
    setImmediate(() => {
      const resources = process.getActiveResourcesInfo().filter((name) => name !== "Timeout" && name !== "Immediate");
      port.postMessage({ __strykerThreadProbe: [...resources, ...Array<string>(live.size).fill("Timer")] });
    });
  });
}
