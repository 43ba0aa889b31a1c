/**
 * The routing table on disk: `<dataDir>/router-table.json`, the last applied RouterSpec as JSON. Written
 * atomically (temp file, fsync, rename, fsync of the directory) so a crash leaves the old table or the new
 * one, never half of one; read back at start before the router listens.
 */
import { readFile, rename } from "node:fs/promises";
import { writeFileAtomic } from "../../common/atomic-file.js";
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
 * Writes the table atomically and durably (temp file, fsync, rename, fsync of the directory). Asynchronous:
 * the table is already being served when this runs (see RouterDataPlane.apply), so the fsyncs wait on the
 * thread pool instead of blocking traffic; only the answer to the apply waits for them.
 */
export function persistTable(dataDir: string, spec: RouterSpec): Promise<void> {
  return writeFileAtomic(join(dataDir, TABLE_FILE), JSON.stringify(spec, null, 2) + "\n");
}

/** Moves a stored table that cannot be used aside; answers the error to report, naming where it was kept. */
export async function keepTableAside(dataDir: string, error: string, now: Date = new Date()): Promise<string> {
  return (await keepAside(join(dataDir, TABLE_FILE), error, now)).error;
}

async function keepAside(file: string, error: string, now: Date): Promise<{ spec: null; error: string; keptAs: string }> {
  const keptAs = `${file}.corrupt-${now.toISOString().replace(/[:.]/g, "-")}`;
  try {
    await rename(file, keptAs);
  } catch (err) {
    return { spec: null, error: `${error} (could not move it aside: ${(err as Error).message})`, keptAs: file };
  }
  return { spec: null, error: `${error}; kept as ${keptAs}`, keptAs };
}
