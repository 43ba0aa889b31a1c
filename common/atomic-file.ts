/** Crash-safe file writes: temp file, fsync, rename, fsync of the folder. A reader sees old or new, never half. */
import { chown, mkdir, open, rename, rm, stat } from "node:fs/promises";
import { basename, dirname, join } from "node:path";

/**
 * `ownerOfDir`: when root writes, the file gets the folder's owner and group (a CLI run as root writing into the
 * data dir of a service that runs as its own user must leave a file that service can read).
 */
export async function writeFileAtomic(file: string, data: string | Uint8Array, mode = 0o600, o: { ownerOfDir?: boolean } = {}): Promise<void> {
  const dir = dirname(file);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const tmp = join(dir, `.${basename(file)}.${process.pid}.${Date.now()}.tmp`);
  const fh = await open(tmp, "w", mode);
  try {
    if (o.ownerOfDir && process.getuid?.() === 0) {
      const d = await stat(dir);
      if (d.uid !== 0) await chown(tmp, d.uid, d.gid);
    }
    await fh.writeFile(data);
    await fh.sync();
  } catch (err) {
    await fh.close().catch(() => undefined);
    await rm(tmp, { force: true });
    throw err;
  }
  await fh.close();
  await rename(tmp, file);
  const dh = await open(dir, "r");
  try {
    await dh.sync();
  } finally {
    await dh.close();
  }
}
