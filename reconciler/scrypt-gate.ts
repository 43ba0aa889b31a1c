/**
 * scrypt, gated. Node runs it on libuv's thread pool, the same few threads that serve every file write:
 * unbounded, a login burst queues hundreds of hashes ahead of the job-lease write-ahead and the lease
 * lapses. Here at most SCRYPT_MAX_CONCURRENT hashes run at once and at most LOGIN_MAX_WAITING logins
 * wait (hashing a new password always waits its turn).
 */
import { scrypt } from "node:crypto";
import { LOGIN_MAX_WAITING, SCRYPT_MAX_CONCURRENT } from "../specs/defaults.js";
import { reconError } from "./errors.js";

export interface ScryptParams {
  N: number;
  r: number;
  p: number;
}

let running = 0;
const waiting: (() => void)[] = [];

/**
 * The scrypt key of `password`. `bounded`: refused with RECON_ERR_UNAVAILABLE when the queue is full
 * (logins); otherwise it always waits (adding a user).
 */
export async function scryptKey(password: string, salt: Buffer, keylen: number, o: ScryptParams, bounded = false): Promise<Buffer> {
  if (running >= SCRYPT_MAX_CONCURRENT) {
    if (bounded && waiting.length >= LOGIN_MAX_WAITING) throw reconError("RECON_ERR_UNAVAILABLE", "too many logins at once; try again in a few seconds");
    await new Promise<void>((resolve) => waiting.push(resolve));
  } else running++;
  try {
    return await new Promise<Buffer>((resolve, reject) => {
      scrypt(password.normalize("NFC"), salt, keylen, { ...o, maxmem: 256 * o.N * o.r + 1024 * 1024 }, (err, key) => (err ? reject(err) : resolve(key)));
    });
  } finally {
    // Hand the slot straight to the next in line (running stays the same), or free it.
    const next = waiting.shift();
    if (next) next();
    else running--;
  }
}

/** Hashes running and waiting now (for tests and metrics). */
export function scryptLoad(): { running: number; waiting: number } {
  return { running, waiting: waiting.length };
}
