/**
 * A vitest pool for Stryker's mutant runs: one worker thread that serves mutant after mutant.
 *
 * Stryker's vitest runner calls vitest once per mutant, and vitest's "threads" pool starts a new worker thread
 * for each call: a new thread, vitest's runtime, the node_modules the tests import (ajv, yaml, undici) and then
 * the project's modules, ~250-400 ms before the first test runs, most of a mutant's time. Here the thread
 * stays, and only the project's own modules (the code under test, its fixtures, the test files) are evaluated
 * again for each mutant: every one of them is invalidated before the run, so no module state of one mutant's
 * run reaches the next. What the thread keeps is what a mutant cannot change: vitest's runtime and the
 * node_modules packages.
 *
 * The next mutant reuses the thread only when all of these hold; otherwise it gets a new thread, as vitest
 * would have given it:
 * - it is a mutant Stryker switches on at run time (the instrumented code reads the active mutant's id from a
 *   global each time it runs). A "static" mutant, active while modules load, and the dry run that records
 *   coverage get a new thread;
 * - the run before it was such a mutant's too, and ended without an error outside the tests (an unhandled
 *   rejection, a worker error), and nothing the run left behind spoke up after it ended (such a message is
 *   kept from vitest, which would count it against the next mutant);
 * - the thread is idle: thread-probe.ts, asked between the runs, lists nothing running in it but its message
 *   port. A timer or socket a mutant left behind (a lease's lapse timer never cleared) could otherwise fire
 *   during the next mutant's tests. Worker threads a run started (the password hashers) are ended then;
 * - it was set up for the same test environment, and has served fewer than MAX_RUNS runs.
 * Asked, thread-probe.ts also switches the last run's mutant off, so the next run's test files load with none
 * active, as in a new thread (a fixture built at module level must come from the original code), and each run
 * carries the config of its own start (the test-name filter that picks a mutant's covering tests).
 * Stryker itself restarts its whole test-runner process after a timeout, and that takes the thread along.
 *
 * test/unit/mutation-pool.test.ts checks each rule above. A full run with this pool and one with a new thread
 * for each mutant gave every mutant the same status but 5, each made slower, not endless: 4 that time out in
 * the cold run fail an assertion in the warm one, and 1 equivalent (in equivalent.md) that timed out survives.
 */
import { EventEmitter } from "node:events";
import { appendFileSync } from "node:fs";
import { resolve } from "node:path";
import { Worker } from "node:worker_threads";
import type { Plugin } from "vite";
import type { PoolOptions, PoolRunnerInitializer, PoolWorker, WorkerRequest, WorkerResponse } from "vitest/node";

const NAME = "stryker-persistent-threads";
const PROBE_TIMEOUT_MS = 2000;
/** As long as vitest gives a new thread to start. */
const START_TIMEOUT_MS = 60_000;
/**
 * Runs a thread serves before a new one takes over: what vitest's runtime and Node keep a little of from each
 * run (vitest's cancel callbacks, a listener on process exit that the code under test adds) stays bounded.
 */
const MAX_RUNS = 200;

/** The one thread of this process (each of Stryker's test runners is a process of its own). */
interface Thread {
  worker: Worker;
  /** It answered a start message: its environment is set up. */
  started: boolean;
  /** The runs it served (after the first, its modules are evaluated). */
  runs: number;
  /** The test environment it was set up for (node). */
  environment: string | undefined;
  /** Its run is over: any message from it now comes from something the run left behind. */
  finished: boolean;
  /** Its last run was a runtime-activated mutant's and nothing escaped the tests. */
  reusable: boolean;
  /** The pool worker the thread's messages go to: the one vitest runs the tests through now. */
  owner: PersistentThreadWorker | undefined;
  /** Waits for the thread's answer to a start message or a probe. */
  waiting: ((message: any) => boolean) | undefined;
}

let thread: Thread | undefined;
const counts = { runs: 0, newThreads: 0 };

/**
 * Puts the pool in place of the one vitest was asked for (Stryker's runner asks for "threads"), for every
 * project; the thread ends when vitest closes. With STRYKER_THREAD_LOG set, the counts of runs and of new
 * threads are appended to that file then.
 */
export function persistentThreadsPlugin(): Plugin {
  return {
    name: NAME,
    configureVitest({ project, vitest }) {
      project.config.pool = NAME;
      project.config.poolRunner = persistentThreads;
      vitest.onClose(stopPersistentThread);
    },
  };
}

async function stopPersistentThread(): Promise<void> {
  const log = process.env.STRYKER_THREAD_LOG;
  if (log) appendFileSync(log, `${JSON.stringify({ pid: process.pid, ...counts })}\n`);
  const current = thread;
  thread = undefined;
  await current?.worker.terminate();
}

const persistentThreads: PoolRunnerInitializer = {
  name: NAME,
  createPoolWorker: (options) => new PersistentThreadWorker(options),
};

class PersistentThreadWorker implements PoolWorker {
  readonly name = NAME;
  readonly events = new EventEmitter();
  private startMessage: WorkerRequest | undefined;

  constructor(private readonly options: PoolOptions) {}

  on(event: string, callback: (arg: any) => void): void {
    this.events.on(event, callback);
  }

  off(event: string, callback: (arg: any) => void): void {
    this.events.off(event, callback);
  }

  deserialize(data: unknown): unknown {
    return data;
  }

  async start(): Promise<void> {
    thread ??= newThread(this.options);
    thread.owner = this;
  }

  /** Vitest stops its runner after each run: the thread stays for the next one. */
  async stop(): Promise<void> {
    if (thread?.owner === this) thread.owner = undefined;
  }

  send(message: WorkerRequest): void {
    const current = thread!;
    if (message.type === "start") {
      this.startMessage = message;
      if (current.started) {
        // A thread set up for another test environment serves no run of this one
        if (message.context.environment.name !== current.environment) current.reusable = false;
        this.answer({ type: "started", __vitest_worker_response__: true });
      } else {
        current.environment = message.context.environment.name;
        current.worker.postMessage(message);
      }
    } else if (message.type === "stop") {
      this.answer({ type: "stopped", __vitest_worker_response__: true });
    } else if (message.type === "run") {
      this.run(message).catch((error: unknown) => this.events.emit("error", error));
    } else {
      current.worker.postMessage(message);
    }
  }

  private async run(message: Extract<WorkerRequest, { type: "run" }>): Promise<void> {
    const provided = message.context.providedContext as Record<string, unknown>;
    const runtimeRun = provided.mode === "mutant" && provided.mutantActivation === "runtime";
    let current = thread!;
    counts.runs++;
    // idle() first: something the last run left behind may still speak up while the thread answers
    const reuse = current.runs > 0 && runtimeRun && current.runs < MAX_RUNS && (await this.idle(current)) && current.reusable;
    if (current.runs > 0 && !reuse) {
      current.owner = undefined;
      current.worker.removeAllListeners();
      await current.worker.terminate();
      current = thread = newThread(this.options);
      current.owner = this;
    }
    if (!current.started) {
      const start = this.startMessage as Extract<WorkerRequest, { type: "start" }>;
      await this.ask(current, start, (m) => m?.__vitest_worker_response__ && m.type === "started", START_TIMEOUT_MS);
      Object.assign(current, { started: true, environment: start.context.environment.name });
    }
    // The worker took its config (the test name pattern Stryker sets for each mutant among it) from the first
    // start message it answered; the run's context, spread over that, carries this run's own
    const { config } = (this.startMessage as Extract<WorkerRequest, { type: "start" }>).context;
    message.context = { ...message.context, config } as typeof message.context;
    if (current.runs > 0) {
      // Every project module is evaluated again: what one mutant's run left in them stays with it
      message.context.invalidates = [...(message.context.invalidates ?? []), ...this.projectModules()];
    } else {
      counts.newThreads++;
    }
    Object.assign(current, { runs: current.runs + 1, reusable: runtimeRun, finished: false });
    current.worker.postMessage(message);
  }

  /** Whether the thread has nothing left running (thread-probe.ts answers). */
  private async idle(current: Thread): Promise<boolean> {
    try {
      const answer = await this.ask(current, { __strykerThreadProbe: "ask" }, (m) => Array.isArray(m?.__strykerThreadProbe), PROBE_TIMEOUT_MS);
      const running = answer.__strykerThreadProbe as string[];
      // An idle thread has one thing running: the port it talks to vitest through
      return running.length === 0 || (running.length === 1 && running[0] === "MessagePort");
    } catch {
      return false;
    }
  }

  private ask(current: Thread, question: unknown, isAnswer: (message: any) => boolean, timeoutMs: number): Promise<any> {
    return new Promise((done, fail) => {
      const timer = setTimeout(() => {
        current.waiting = undefined;
        fail(new Error(`${NAME}: the test thread did not answer`));
      }, timeoutMs);
      current.waiting = (message) => {
        if (!isAnswer(message)) return false;
        clearTimeout(timer);
        current.waiting = undefined;
        if (message.error) fail(new Error(`${NAME}: a new test thread failed to start`));
        else done(message);
        return true;
      };
      current.worker.postMessage(question);
    });
  }

  /** The files of every module vitest served the thread from the project (not from node_modules). */
  private projectModules(): string[] {
    const files = new Set<string>();
    for (const environment of Object.values(this.options.project.vite.environments)) {
      for (const file of environment.moduleGraph.fileToModulesMap.keys()) {
        if (!file.includes("/node_modules/")) files.add(file);
      }
    }
    return [...files];
  }

  private answer(response: WorkerResponse): void {
    queueMicrotask(() => this.events.emit("message", response));
  }
}

/** A message from the thread, on its way to vitest's runner unless this pool asked for it. */
function receive(current: Thread, message: any): void {
  if (current.waiting?.(message)) return;
  if (message?.__vitest_worker_response__ && message.type === "started") current.started = true;
  // A call once the run is over comes from something the run left behind (a callback logging, an error
  // escaping): vitest's runner would count it against the next mutant's run, so it is not passed on; the
  // thread, which may wait for an answer, is not used again
  if (message?.t === "q" && current.finished) {
    current.reusable = false;
    return;
  }
  // birpc's call from the thread when an error escaped the tests
  if (message?.t === "q" && message.m === "onUnhandledError") current.reusable = false;
  if (message?.__vitest_worker_response__ && message.type === "testfileFinished") {
    current.reusable &&= !message.error;
    current.finished = true;
  }
  current.owner?.events.emit("message", message);
}

function newThread(options: PoolOptions): Thread {
  const worker = new Worker(resolve(options.distPath, "workers/threads.js"), {
    env: options.env,
    execArgv: options.execArgv,
    stdout: true,
    stderr: true,
  });
  // Between runs the thread is idle: it must not keep the process alive once vitest is done
  worker.unref();
  const logger = options.project.vitest.logger;
  worker.stdout.pipe(logger.outputStream);
  worker.stderr.pipe(logger.errorStream);
  const created: Thread = {
    worker, started: false, runs: 0, environment: undefined, finished: false, reusable: false,
    owner: undefined, waiting: undefined,
  };
  // Also between two runs, when no runner owns the thread: a message then still makes it unfit for reuse
  worker.on("message", (message) => receive(created, message));
  worker.on("error", (error) => created.owner?.events.emit("error", error));
  worker.on("exit", (code) => {
    if (thread === created) thread = undefined;
    created.owner?.events.emit("exit", code);
  });
  return created;
}
