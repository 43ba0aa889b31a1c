/**
 * Running the git binary: never through a shell, with a clean environment (no GIT_DIR or GIT_INDEX_FILE
 * inherited from a hook or a caller), no terminal prompts, literal pathspecs, a timeout and an output cap.
 */
import { spawn } from "node:child_process";

export const GIT_TIMEOUT_MS = 30_000;
/** More than any state.yaml history we show; a repository that prints more is cut off, not buffered. */
export const MAX_GIT_OUTPUT_BYTES = 64 * 1024 * 1024;

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
export function runGit(args: readonly string[], o: GitRunOptions): Promise<GitRun> {
  return new Promise((resolve, reject) => {
    const child = spawn("git", args as string[], {
      cwd: o.cwd,
      env: gitEnv(o.env),
      stdio: [o.input === undefined ? "ignore" : "pipe", "pipe", "pipe"],
      timeout: o.timeoutMs ?? GIT_TIMEOUT_MS,
      killSignal: "SIGKILL",
      windowsHide: true,
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let outBytes = 0;
    let capped = false;
    child.stdout!.on("data", (c: Buffer) => {
      outBytes += c.length;
      if (outBytes > MAX_GIT_OUTPUT_BYTES) {
        capped = true;
        child.kill("SIGKILL");
        return;
      }
      out.push(c);
    });
    child.stderr!.on("data", (c: Buffer) => {
      if (err.length < 64) err.push(c);
    });
    child.on("error", (e) => reject(new GitError(args, null, `cannot run git: ${e.message}`)));
    if (o.input !== undefined) {
      child.stdin!.on("error", () => undefined); // git may exit before reading everything
      child.stdin!.end(o.input);
    }
    child.on("close", (code, signal) => {
      let stderr = Buffer.concat(err).toString("utf8");
      if (capped) stderr = `git printed more than ${MAX_GIT_OUTPUT_BYTES} bytes; output cut off\n${stderr}`;
      else if (signal) stderr = `git was stopped by ${signal} (timeout after ${o.timeoutMs ?? GIT_TIMEOUT_MS} ms?)\n${stderr}`;
      resolve({ code: capped || signal ? null : code, stdout: Buffer.concat(out), stderr });
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
