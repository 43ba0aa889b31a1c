/**
 * Running the git binary on Switchyard's terms: never through a shell, with a clean environment (no
 * GIT_DIR or GIT_INDEX_FILE inherited from a hook or a caller), no hooks (core.hooksPath=/dev/null), no
 * fsmonitor program, no terminal prompts, literal pathspecs, an output cap, and a timeout that kills
 * git's whole process group: a hook or helper that forks and keeps the pipes open cannot hold a call.
 */
import { spawn } from "node:child_process";
import { outsideCalls } from "../../common/op-stats.js";

export const GIT_TIMEOUT_MS = 30_000;
/** More than any state.yaml history we show; a repository that prints more is cut off, not buffered. */
export const MAX_GIT_OUTPUT_BYTES = 64 * 1024 * 1024;
/** After git exits, how long a child that inherited its pipes may keep them open before it is killed. */
export const GIT_EXIT_DRAIN_MS = 1_000;
/** Configuration every call gets: hooks and fsmonitor run programs of the repository's choosing. */
const SAFE_CONFIG = ["-c", "core.hooksPath=/dev/null", "-c", "core.fsmonitor=false"] as const;

let running = 0;
/** How many git processes of ours run now (a stale index.lock is only removed when none does). */
export function gitProcessesRunning(): number {
  return running;
}

export interface GitRun {
  /** Exit code; null when git was killed (timeout, output cap). */
  code: number | null;
  stdout: Buffer;
  stderr: string;
}

export interface GitRunOptions {
  cwd: string;
  /** Written to git's standard input (otherwise stdin is closed). */
  input?: string;
  env?: Record<string, string>;
  timeoutMs?: number;
}

/** Environment variables from the caller that still make sense for git here (ssh, askpass, config files). */
const KEEP_GIT_ENV = /^GIT_(SSH|SSH_COMMAND|SSH_VARIANT|ASKPASS|CONFIG_GLOBAL|CONFIG_SYSTEM|CONFIG_NOSYSTEM|EXEC_PATH|CEILING_DIRECTORIES|DISCOVERY_ACROSS_FILESYSTEM|TRACE\w*)$/;

export class GitError extends Error {
  constructor(readonly args: readonly string[], readonly result: GitRun | null, message: string) {
    super(message);
    this.name = "GitError";
  }

  /** True when the git binary itself is missing. */
  get notInstalled(): boolean {
    return this.result === null && /ENOENT/.test(this.message);
  }
}

/** Runs git with `args` (passed as argv, never parsed by a shell). Resolves whatever the exit code. */
export async function runGit(args: readonly string[], o: GitRunOptions): Promise<GitRun> {
  const t0 = performance.now();
  try {
    const r = await runGitOnce(args, o);
    outsideCalls.record("git", r.code === 0, (performance.now() - t0) / 1000);
    return r;
  } catch (err) {
    outsideCalls.record("git", false, (performance.now() - t0) / 1000);
    throw err;
  }
}

function runGitOnce(args: readonly string[], o: GitRunOptions): Promise<GitRun> {
  return new Promise((resolve, reject) => {
    const timeoutMs = o.timeoutMs ?? GIT_TIMEOUT_MS;
    // Its own process group, so that a timeout kills git and everything it started (hooks, helpers).
    const child = spawn("git", [...SAFE_CONFIG, ...args], {
      cwd: o.cwd,
      env: gitEnv(o.env),
      stdio: [o.input === undefined ? "ignore" : "pipe", "pipe", "pipe"],
      detached: true,
      windowsHide: true,
    });
    running++;
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let outBytes = 0;
    let capped = false;
    let killedBy: "timeout" | null = null;
    let settled = false;
    const killGroup = () => {
      try {
        if (child.pid !== undefined) process.kill(-child.pid, "SIGKILL");
      } catch {
        child.kill("SIGKILL"); // the group is gone already; make sure git is
      }
    };
    const timer = setTimeout(() => {
      killedBy = "timeout";
      killGroup();
    }, timeoutMs);
    let drain: NodeJS.Timeout | undefined;
    const finish = (code: number | null, signal: NodeJS.Signals | null) => {
      if (settled) return;
      settled = true;
      running--;
      clearTimeout(timer);
      if (drain) clearTimeout(drain);
      child.stdout!.destroy();
      child.stderr!.destroy();
      let stderr = Buffer.concat(err).toString("utf8");
      if (capped) stderr = `git printed more than ${MAX_GIT_OUTPUT_BYTES} bytes; output cut off\n${stderr}`;
      else if (killedBy) stderr = `git did not finish within ${timeoutMs} ms and was stopped with everything it started\n${stderr}`;
      else if (signal) stderr = `git was stopped by ${signal}\n${stderr}`;
      resolve({ code: capped || killedBy || signal ? null : code, stdout: Buffer.concat(out), stderr });
    };
    child.stdout!.on("data", (c: Buffer) => {
      outBytes += c.length;
      if (outBytes > MAX_GIT_OUTPUT_BYTES) {
        capped = true;
        killGroup();
        return;
      }
      out.push(c);
    });
    child.stderr!.on("data", (c: Buffer) => {
      if (err.length < 64) err.push(c);
    });
    child.on("error", (e) => {
      if (settled) return;
      settled = true;
      running--;
      clearTimeout(timer);
      reject(new GitError(args, null, `cannot run git: ${e.message}`));
    });
    if (o.input !== undefined) {
      child.stdin!.on("error", () => undefined); // git may exit before reading everything
      child.stdin!.end(o.input);
    }
    child.on("close", finish);
    // git is done; whatever it left behind (a hook's background child holding the pipes) gets a moment, then goes.
    child.on("exit", (code, signal) => {
      if (settled) return;
      drain = setTimeout(() => {
        killGroup();
        finish(code, signal);
      }, killedBy ? 0 : GIT_EXIT_DRAIN_MS);
    });
  });
}

/** Runs git and returns its standard output; a non-zero exit throws a GitError with git's own message. */
export async function git(args: readonly string[], o: GitRunOptions): Promise<string> {
  const r = await runGit(args, o);
  if (r.code !== 0) throw new GitError(args, r, `git ${args.find((a) => !a.startsWith("-")) ?? ""} failed: ${firstLines(r.stderr) || `exit code ${r.code}`}`);
  return r.stdout.toString("utf8");
}

/** The meaningful part of git's stderr, on one line, with credentials in URLs masked. */
export function firstLines(stderr: string, max = 3): string {
  return redactUrls(
    stderr
      .split("\n")
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith("hint:"))
      .slice(0, max)
      .join(" "),
  );
}

/** Masks `user:password@` in URLs (a push remote may carry a token). */
export function redactUrls(s: string): string {
  return s.replace(/([a-z][a-z0-9+.-]*:\/\/)[^/\s@]+@/gi, "$1[redacted]@");
}

function gitEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith("GIT_") || KEEP_GIT_ENV.test(k)) env[k] = v;
  return { ...env, GIT_TERMINAL_PROMPT: "0", GIT_LITERAL_PATHSPECS: "1", GIT_OPTIONAL_LOCKS: "0", GCM_INTERACTIVE: "never", ...extra };
}
