/**
 * The agent's token file, read at start and again whenever it changes, so a token rotates without a
 * restart: the file holds the current token, or two lines (current and next) during a rotation, and the
 * agent accepts each token the file holds. A file that becomes unreadable or invalid keeps the tokens in
 * force (and says why in the log): a half-written file never locks the reconciler out.
 */
import { readFile } from "node:fs/promises";
import { unwatchFile, watchFile, type Stats } from "node:fs";
import type { Logger } from "pino";

/** At most this many tokens in the file: the current one and the next during a rotation. */
export const MAX_TOKENS = 2;
/** How often the file is checked for a change (stat polling: it survives editors that save by rename). */
export const TOKEN_FILE_POLL_MS = 1_000;

/** The tokens in `file`: one per line, one or two, each at least `minLength` characters. */
export async function readTokens(file: string, minLength: number): Promise<string[]> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (err) {
    throw new Error(`cannot read the agent token file ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  const tokens = text.split("\n").map((l) => l.trim()).filter((l) => l !== "");
  if (tokens.length === 0) throw new Error(`the agent token file ${file} is empty; put a long random token in it (e.g. openssl rand -hex 32)`);
  if (tokens.length > MAX_TOKENS) throw new Error(`the agent token file ${file} holds ${tokens.length} tokens; it holds the current one, and the next one on a second line only while a rotation is under way`);
  for (const [i, t] of tokens.entries()) {
    if (t.length < minLength) throw new Error(`token ${i + 1} in ${file} is shorter than ${minLength} characters; use a long random value (e.g. openssl rand -hex 32)`);
  }
  return tokens;
}

/** Calls `apply` with the file's tokens whenever it changes; returns the function that stops watching. */
export function watchTokens(file: string, minLength: number, logger: Logger, apply: (tokens: string[]) => void): () => void {
  let reading = Promise.resolve();
  const onChange = (now: Stats, before: Stats) => {
    if (now.mtimeMs === before.mtimeMs && now.size === before.size && now.ino === before.ino) return;
    reading = reading.then(async () => {
      try {
        const tokens = await readTokens(file, minLength);
        apply(tokens);
        logger.info({ file, tokens: tokens.length }, tokens.length > 1 ? "token file changed: accepting the current and the next token" : "token file changed: accepting its token");
      } catch (err) {
        logger.error({ err: (err as Error).message }, "token file changed but cannot be used; the tokens in force stay");
      }
    });
  };
  watchFile(file, { interval: TOKEN_FILE_POLL_MS, persistent: false }, onChange);
  return () => unwatchFile(file, onChange);
}
