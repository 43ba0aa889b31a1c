/**
 * scrypt, kept away from the work that must never wait. Node's own async scrypt runs on libuv's thread
 * pool, the same few threads that serve every file write, and at normal CPU priority: unbounded, a login
 * burst queued hundreds of hashes ahead of the job-lease write-ahead and the lease lapsed. Here hashes run
 * in SCRYPT_MAX_CONCURRENT worker threads of their own, niced to SCRYPT_NICE (the lease, spec writes and
 * the agents on the same machine get the CPU first), and at most LOGIN_MAX_WAITING logins wait their turn
 * (hashing a new password always waits).
 */
import { Worker } from "node:worker_threads";
import { LOGIN_MAX_WAITING, SCRYPT_MAX_CONCURRENT, SCRYPT_NICE } from "../../specs/defaults.js";
import { reconError } from "../errors.js";

export interface ScryptParams {
  N: number;
  r: number;
  p: number;
}

interface Job {
  password: string;
  salt: Buffer;
  keylen: number;
  params: ScryptParams;
  resolve: (key: Buffer) => void;
  reject: (err: Error) => void;
}

// CommonJS, evaluated in the worker: lowers its own thread's priority (Linux: a thread's id is a pid for
// setpriority), then hashes one password at a time.
const WORKER_SOURCE = `
const { parentPort, workerData } = require("node:worker_threads");
const { scryptSync } = require("node:crypto");
try {
  const tid = Number(require("node:fs").readlinkSync("/proc/thread-self").split("/").pop());
  require("node:os").setPriority(tid, workerData.nice);
} catch {}
parentPort.on("message", (m) => {
  try {
    const key = scryptSync(m.password, Buffer.from(m.salt), m.keylen, m.params);
    parentPort.postMessage({ key });
  } catch (err) {
    parentPort.postMessage({ error: String(err && err.message) });
  }
});
`;

class Hasher {
  private worker: Worker | null = null;
  job: Job | null = null;

  run(job: Job): void {
    this.job = job;
    const w = (this.worker ??= this.start());
    w.ref();
    w.postMessage({ password: job.password.normalize("NFC"), salt: job.salt, keylen: job.keylen, params: { ...job.params, maxmem: 256 * job.params.N * job.params.r + 1024 * 1024 } });
  }

  private start(): Worker {
    const w = new Worker(WORKER_SOURCE, { eval: true, workerData: { nice: SCRYPT_NICE } });
    w.unref(); // an idle hasher never keeps the process alive
    w.on("message", (m: { key?: Uint8Array; error?: string }) => this.finish(m.key ? Buffer.from(m.key) : new Error(m.error ?? "scrypt failed")));
    w.on("error", (err) => this.finish(err));
    w.on("exit", () => {
      this.worker = null;
      if (this.job) this.finish(new Error("the password hasher stopped"));
    });
    return w;
  }

  private finish(result: Buffer | Error): void {
    const job = this.job;
    this.job = null;
    this.worker?.unref();
    if (job) {
      if (result instanceof Error) job.reject(result);
      else job.resolve(result);
    }
    next(this);
  }
}

const hashers: Hasher[] = Array.from({ length: SCRYPT_MAX_CONCURRENT }, () => new Hasher());
const waiting: Job[] = [];

/**
 * The scrypt key of `password`. `bounded`: refused with RECON_ERR_UNAVAILABLE when the queue is full
 * (logins); otherwise it always waits (adding a user).
 */
export function scryptKey(password: string, salt: Buffer, keylen: number, params: ScryptParams, bounded = false): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const job: Job = { password, salt, keylen, params, resolve, reject };
    const idle = hashers.find((h) => h.job === null);
    if (idle) return idle.run(job);
    if (bounded && waiting.length >= LOGIN_MAX_WAITING) return reject(reconError("RECON_ERR_UNAVAILABLE", "too many logins at once; try again in a few seconds"));
    waiting.push(job);
  });
}

/** Hashes running and waiting now (for tests and metrics). */
export function scryptLoad(): { running: number; waiting: number } {
  return { running: hashers.filter((h) => h.job !== null).length, waiting: waiting.length };
}

function next(h: Hasher): void {
  const job = waiting.shift();
  if (job) h.run(job);
}
