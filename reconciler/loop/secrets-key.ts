/**
 * The key of the secrets' fingerprints: 32 random bytes made once and kept in `<dataDir>/secrets-fingerprint.key`
 * (mode 0600). Every colour node gets it in its spec, so equal secret values give equal fingerprints on
 * every node, while dashboard viewers (who see fingerprints) cannot test guesses against them.
 */
import { randomBytes } from "node:crypto";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { writeFileAtomic } from "../../common/atomic-file.js";

export const SECRETS_KEY_FILE = "secrets-fingerprint.key";

/** The data dir's key, made on first use. Throws (with the file) when it exists but is not a key. */
export async function loadSecretsKey(dataDir: string): Promise<string> {
  const file = join(dataDir, SECRETS_KEY_FILE);
  try {
    const text = (await readFile(file, "utf8")).trim();
    if (!/^[0-9a-f]{64}$/.test(text)) throw new Error(`${file} does not hold a fingerprint key (64 hex digits); remove it and a new one is made (fingerprints then change)`);
    return text;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
  }
  const key = randomBytes(32).toString("hex");
  await writeFileAtomic(file, `${key}\n`, 0o600);
  return key;
}
