/**
 * The routing table on disk: `<dataDir>/router-table.json`, the last applied RouterSpec as JSON. Written
 * atomically (temp file, fsync, rename, fsync of the directory) so a crash leaves the old table or the new
 * one, never half of one; read back at start before the router listens.
 */
import { readFile, rename } from "node:fs/promises";
import { closeSync, fsyncSync, mkdirSync, openSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { RouterSpec } from "../../specs/wire.js";
import { validateAgainst } from "../../specs/validate.js";

export const TABLE_FILE = "router-table.json";

export type RestoredTable =
  | { readonly spec: RouterSpec; readonly error: null }
  | { readonly spec: null; readonly error: null } // no table yet
  | { readonly spec: null; readonly error: string; readonly keptAs: string };

/** Reads the stored table. A missing file is not an error; an unreadable or invalid one is moved aside. */
export async function restoreTable(dataDir: string, now: Date = new Date()): Promise<RestoredTable> {
  const file = join(dataDir, TABLE_FILE);
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return { spec: null, error: null };
    return keepAside(file, `cannot read ${file}: ${(err as Error).message}`, now);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    return keepAside(file, `${file} is not valid JSON: ${(err as Error).message}`, now);
  }
  const v = validateAgainst<RouterSpec>("router-spec", value);
  if (!v.ok) {
    const first = v.issues[0];
    const where = first && first.path.length > 0 ? `${first.path.join(".")}: ` : "";
    return keepAside(file, `${file} is not a valid router table: ${where}${first?.message ?? "invalid"}`, now);
  }
  return { spec: v.value, error: null };
}

/**
 * Writes the table atomically and durably: temp file, fsync, rename, fsync of the directory.
 *
 * Deliberately synchronous. It costs about a millisecond or two of blocked event loop per flip on this
 * kind of disk, whereas the same eight steps done asynchronously each wait for a turn of an event loop busy
 * with traffic (several ms each under load): measured, that made the flip visible after ~45 ms instead of
 * a few. A table is a few KiB and changes a handful of times a day.
 */
export function persistTable(dataDir: string, spec: RouterSpec): void {
  mkdirSync(dataDir, { recursive: true });
  const file = join(dataDir, TABLE_FILE);
  const tmp = `${file}.tmp-${process.pid}-${Date.now().toString(36)}`;
  const fd = openSync(tmp, "w", 0o600);
  try {
    writeFileSync(fd, JSON.stringify(spec, null, 2) + "\n", "utf8");
    fsyncSync(fd);
  } catch (err) {
    closeSync(fd);
    rmSync(tmp, { force: true });
    throw err;
  }
  closeSync(fd);
  renameSync(tmp, file);
  const dir = openSync(dataDir, "r");
  try {
    fsyncSync(dir);
  } finally {
    closeSync(dir);
  }
}

async function keepAside(file: string, error: string, now: Date): Promise<RestoredTable> {
  const keptAs = `${file}.corrupt-${now.toISOString().replace(/[:.]/g, "-")}`;
  try {
    await rename(file, keptAs);
  } catch (err) {
    return { spec: null, error: `${error} (could not move it aside: ${(err as Error).message})`, keptAs: file };
  }
  return { spec: null, error: `${error}; kept as ${keptAs}`, keptAs };
}
