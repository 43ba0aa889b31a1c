/**
 * Ports for servers a test starts later (an agent, a router, a published container port). pickPort finds a
 * port nothing listens on, but test files run side by side in several processes, and two of them can pick
 * the same free port before either binds it (CI saw a router fail with EADDRINUSE). Each pick is therefore
 * reserved for every process on this machine with a file created exclusively; a reservation lapses after
 * RESERVED_MS, longer than any test file keeps a bed.
 */
import { mkdirSync, openSync, closeSync, statSync, unlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pickPort } from "../../cli/demo/ports.js";

const DIR = join(tmpdir(), "switchyard-test-ports");
const RESERVED_MS = 45 * 60_000;

/** A port free on `host` now and handed to no other test within RESERVED_MS. */
export async function freePort(host = "127.0.0.1"): Promise<number> {
  mkdirSync(DIR, { recursive: true });
  for (let attempt = 0; attempt < 100; attempt++) {
    const port = await pickPort(host, 0);
    if (reserve(port)) return port;
  }
  throw new Error(`no port left to reserve in ${DIR}; remove the directory`);
}

function reserve(port: number): boolean {
  const file = join(DIR, String(port));
  try {
    closeSync(openSync(file, "wx"));
    return true;
  } catch {
    // Taken: by another test now, or long ago (then the reservation is renewed for this one).
  }
  try {
    if (Date.now() - statSync(file).mtimeMs < RESERVED_MS) return false;
    unlinkSync(file);
    closeSync(openSync(file, "wx"));
    return true;
  } catch {
    return false; // another process renewed it first
  }
}
