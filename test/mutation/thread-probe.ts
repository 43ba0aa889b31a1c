/**
 * A setup file of the mutation runs, in the test thread that persistent-pool.ts keeps from one mutant to the
 * next. Between two runs the pool asks it what the thread still has going, and gives the next mutant a new
 * thread unless the answer is nothing: a timer a mutant left behind (a lease's lapse timer never cleared), a
 * socket or server never closed, a file operation still under way could otherwise act during the next
 * mutant's tests.
 *
 * - Node's list of active resources (process.getActiveResourcesInfo) names sockets, servers and file
 *   operations, but only those that keep the thread alive (not the unref'd ones); it never names worker
 *   threads; and its timers include vitest's own (it flushes test results on a throttle up to 100 ms after a
 *   run).
 * - So the timers the tests and the code under test start are counted here instead: the timer functions, the
 *   global ones and node:timers's, are wrapped once per thread, unref'd timers included. Vitest keeps the
 *   originals for itself; vi.useFakeTimers restores these. Not seen: node:timers/promises and
 *   AbortSignal.timeout (no unit test reaches them with the code under mutation).
 * - Worker threads the code under test starts (the password hashers of reconciler/auth/scrypt-gate.ts, one
 *   set for each evaluation of that module) are noted as they start and ended between runs, as the end of a
 *   thread of their own would end them. A hasher still busy then fails its job, in a module instance no test
 *   uses any more; the rejection that escapes reaches the pool before the answer does, and the next mutant
 *   gets a new thread.
 */
import { syncBuiltinESMExports } from "node:module";
import timers from "node:timers";
import { parentPort, type Worker } from "node:worker_threads";
import { inject } from "vitest";

type Timer = ReturnType<typeof setTimeout>;

const state = globalThis as { __strykerThreadProbe?: true };

if (parentPort && !state.__strykerThreadProbe) {
  state.__strykerThreadProbe = true;
  const live = new Set<Timer>();
  const workers = new Set<Worker>();
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
  const tracked = {
    setTimeout: setTimeoutTracked,
    setInterval: setIntervalTracked,
    clearTimeout: clear(original.clearTimeout) as typeof clearTimeout,
    clearInterval: clear(original.clearInterval) as typeof clearInterval,
  };
  Object.assign(globalThis, tracked);
  // `import { setTimeout } from "node:timers"` in a module evaluated from now on gets the tracked one too
  Object.assign(timers, tracked);
  syncBuiltinESMExports();

  process.on("worker", (worker: Worker) => {
    workers.add(worker);
    worker.once("exit", () => workers.delete(worker));
  });

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
    setImmediate(async () => {
      await Promise.all([...workers].map((worker) => worker.terminate()));
      // a rejection that ending a busy worker caused is reported before this answer goes out
      await new Promise((done) => setImmediate(done));
      const resources = process.getActiveResourcesInfo().filter((name) => name !== "Timeout" && name !== "Immediate");
      port.postMessage({ __strykerThreadProbe: [...resources, ...Array<string>(live.size).fill("Timer")] });
    });
  });
}
