/**
 * A container's logs through Docker's log API (dockerode's modem, always as a stream, so a large history
 * is never held whole). A follow is two requests: the history (tail/since), then a follow from the last
 * line's time on, skipping what was already sent; the `caught-up` record sits between them.
 */
import type Docker from "dockerode";
import { LOG_LINE_MAX_BYTES } from "../specs/defaults.js";
import type { LogLine } from "../specs/logs.js";
import { dockerLogLines, isoNano } from "./log-lines.js";
import { RuntimeError, type LogOptions } from "./runtime.js";

export async function* dockerLogs(docker: Docker, id: string, opts: LogOptions, signal: AbortSignal): AsyncGenerator<LogLine | { type: "caught-up" }> {
  const startedAt = new Date();
  let last: string | null = null;
  if (opts.tail > 0) {
    const history = await open(docker, id, { follow: false, tail: opts.tail, ...(opts.since ? { since: unixTime(opts.since) } : {}) }, signal);
    for await (const line of dockerLogLines(history, LOG_LINE_MAX_BYTES)) {
      if (line.t !== null) last = line.t;
      yield line;
    }
  }
  if (!opts.follow) return;
  yield { type: "caught-up" };
  // From the last line sent (Docker's `since` includes that instant), else from before the history was asked for.
  const from = last ?? isoNano(opts.since && opts.since > startedAt ? opts.since : startedAt);
  const live = await open(docker, id, { follow: true, since: unixTime(from) }, signal);
  for await (const line of dockerLogLines(live, LOG_LINE_MAX_BYTES)) {
    if (last !== null && line.t !== null && line.t <= last) continue;
    yield line;
  }
}

async function open(docker: Docker, id: string, query: Record<string, unknown>, signal: AbortSignal): Promise<AsyncIterable<Buffer>> {
  try {
    const stream = await new Promise<NodeJS.ReadableStream>((resolve, reject) => {
      docker.modem.dial(
        {
          path: `/containers/${id}/logs?`,
          method: "GET",
          isStream: true,
          abortSignal: signal,
          statusCodes: { 200: true, 404: "no such container", 500: "server error" },
          options: { stdout: true, stderr: true, timestamps: true, ...query },
        },
        (err: Error | null, data?: unknown) => (err ? reject(err) : resolve(data as NodeJS.ReadableStream)),
      );
    });
    signal.addEventListener("abort", () => (stream as unknown as { destroy(): void }).destroy(), { once: true });
    return stream as unknown as AsyncIterable<Buffer>;
  } catch (err) {
    if (signal.aborted) return (async function* () {})();
    throw new RuntimeError(`cannot read the logs of container ${id.slice(0, 12)}: ${(err as Error).message}`);
  }
}

/** Docker's `since`: seconds.nanoseconds since the epoch. */
function unixTime(t: Date | string): string {
  if (t instanceof Date) return (t.getTime() / 1000).toFixed(3);
  const m = /^(.*T\d\d:\d\d:\d\d)\.(\d{9})Z$/.exec(t);
  if (!m) return (new Date(t).getTime() / 1000).toFixed(3);
  return `${Math.floor(new Date(`${m[1]}Z`).getTime() / 1000)}.${m[2]}`;
}
