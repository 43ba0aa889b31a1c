import type { ServerResponse } from "node:http";

/** Starts a newline-delimited JSON answer on a hijacked response (log streams), headers sent at once. */
export function startNdjson(res: ServerResponse): void {
  res.writeHead(200, { "content-type": "application/x-ndjson; charset=utf-8", "cache-control": "no-store", "x-accel-buffering": "no" });
  res.flushHeaders();
}

/**
 * Writes one record (`text`: its JSON and a newline) and resolves once the response can take more (it drained, closed, or `signal`
 * aborted): the writer waits for a slow client instead of buffering for it.
 */
export function writeNdjson(res: ServerResponse, text: string, signal: AbortSignal): Promise<void> {
  if (signal.aborted || res.destroyed) return Promise.resolve();
  // Records written in one go (a chunk of a node's output) leave in one packet, not one write each.
  if (res.writableCorked === 0) {
    res.cork();
    process.nextTick(() => res.uncork());
  }
  if (res.write(text)) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      res.off("drain", done);
      res.off("close", done);
      signal.removeEventListener("abort", done);
      resolve();
    };
    res.once("drain", done);
    res.once("close", done);
    signal.addEventListener("abort", done, { once: true });
  });
}

/** The longest line ndjsonLines accepts by default: a log record's line is cut at 16 KiB before it is sent. */
export const NDJSON_MAX_LINE_CHARS = 256 * 1024;

/**
 * The lines of a newline-delimited JSON body as they arrive (empty lines skipped; a last unterminated line
 * dropped). A line longer than `maxLineChars` throws: a peer that sends no newline cannot fill our memory.
 */
export async function* ndjsonLines(body: AsyncIterable<Uint8Array>, maxLineChars = NDJSON_MAX_LINE_CHARS): AsyncGenerator<string> {
  const decoder = new TextDecoder();
  let buf = "";
  for await (const chunk of body) {
    const from = buf.length; // the newline search starts where the last one stopped
    buf += decoder.decode(chunk, { stream: true });
    let start = 0;
    let i = buf.indexOf("\n", from);
    while (i >= 0) {
      const line = buf.slice(start, i);
      start = i + 1;
      if (line) yield line;
      i = buf.indexOf("\n", start);
    }
    buf = buf.slice(start);
    if (buf.length > maxLineChars) throw new Error(`a record longer than ${maxLineChars} characters arrived without its newline`);
  }
}
