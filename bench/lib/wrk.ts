/** Runs wrk (Debian's package) and reads its report. */
import { spawn } from "node:child_process";

export interface WrkResult {
  requests: number;
  rps: number;
  p50Ms: number;
  p99Ms: number;
  /** Non-2xx/3xx responses plus socket errors (connect, read, write, timeout). */
  failed: number;
  raw: string;
}

export interface WrkOptions {
  url: string;
  connections: number;
  seconds: number;
  threads?: number;
  /** CPU list for taskset, when pinning. */
  cpus?: string;
  /** Extra request headers ("Connection: close" makes every request a new connection, and over TLS a new handshake). */
  headers?: string[];
}

export function runWrk(o: WrkOptions): { done: Promise<WrkResult> } {
  const args = ["-t", String(o.threads ?? 1), "-c", String(o.connections), "-d", `${o.seconds}s`, "--latency", "--timeout", "2s", ...(o.headers ?? []).flatMap((h) => ["-H", h]), o.url];
  const [cmd, argv] = o.cpus ? ["taskset", ["-c", o.cpus, "wrk", ...args]] : ["wrk", args];
  const child = spawn(cmd, argv as string[], { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  child.stdout.setEncoding("utf8").on("data", (d: string) => { out += d; });
  child.stderr.setEncoding("utf8").on("data", (d: string) => { out += d; });
  const done = new Promise<WrkResult>((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (code) => {
      if (code !== 0) reject(new Error(`wrk exited with ${code}: ${out}`));
      else resolve(parseWrk(out));
    });
  });
  return { done };
}

export function parseWrk(out: string): WrkResult {
  const num = (re: RegExp): number => Number(re.exec(out)?.[1] ?? 0);
  const latency = (pct: string): number => {
    const m = new RegExp(`^\\s*${pct}%\\s+([\\d.]+)(us|ms|s)\\s*$`, "m").exec(out);
    if (!m) return NaN;
    const v = Number(m[1]);
    return m[2] === "us" ? v / 1000 : m[2] === "s" ? v * 1000 : v;
  };
  const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  const socketErrors = sock ? sock.slice(1).reduce((a, b) => a + Number(b), 0) : 0;
  return {
    requests: num(/(\d+) requests in/),
    rps: num(/Requests\/sec:\s+([\d.]+)/),
    p50Ms: latency("50"),
    p99Ms: latency("99"),
    failed: num(/Non-2xx or 3xx responses: (\d+)/) + socketErrors,
    raw: out,
  };
}
