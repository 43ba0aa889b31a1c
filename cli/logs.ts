/**
 * `switchyard logs <service>`: a service's logs from every node of a colour (or one node), through the
 * reconciler's GET /api/v1/logs. Human lines by default (`node  line`, control characters and ANSI codes
 * taken out, so an app's output cannot drive the terminal); --json prints the NDJSON records as they come.
 */
import { parseArgs } from "node:util";
import { serverUrl } from "./client.js";
import { ndjsonLines } from "../common/ndjson.js";
import { LOG_TAIL_DEFAULT, LOG_TAIL_MAX } from "../specs/defaults.js";
import type { ApiLogRecord } from "../specs/logs.js";

export const logsHelp = `Usage: switchyard logs <service> [--color blue|green|live|preview | --node NAME] [-f] [--tail N] [--since T] [--json]

Shows a service's logs from every node of a colour (default: live), merged in time order and tagged with
the node. -f / --follow keeps printing new lines until Ctrl-C (or until the workloads are replaced).
  --tail N     the last N lines of each node first (default ${LOG_TAIL_DEFAULT}, at most ${LOG_TAIL_MAX})
  --since T    only lines since T: an ISO 8601 time or an age like 30s, 10m, 2h
  --json       one JSON record per line (lines, and node records: caught-up, ended, unreachable, refused)
  --server URL (or $SWITCHYARD_SERVER); authentication: $SWITCHYARD_TOKEN of a deployer or admin.
Exit 0; 1 when no node could be read; 2 for wrong options.
`;

export async function runLogs(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: { server: { type: "string" }, json: { type: "boolean" }, color: { type: "string" }, node: { type: "string" }, follow: { type: "boolean", short: "f" }, tail: { type: "string" }, since: { type: "string" } },
    });
  } catch (err) {
    process.stderr.write(`switchyard logs: ${(err as Error).message}\n`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (positionals.length !== 1) {
    process.stderr.write("switchyard logs: name one service, e.g. switchyard logs web --color preview\n");
    return 2;
  }
  const q = new URLSearchParams({ service: positionals[0]! });
  if (values.node) q.set("node", values.node);
  if (values.color || !values.node) q.set("color", values.color ?? "live");
  if (values.tail !== undefined) q.set("tail", values.tail);
  if (values.since !== undefined) q.set("since", values.since);
  if (values.follow) q.set("follow", "true");
  const server = serverUrl(values.server);
  const token = process.env.SWITCHYARD_TOKEN;
  let res: Response;
  try {
    res = await fetch(`${server}/api/v1/logs?${q}`, { headers: token ? { authorization: `Bearer ${token}` } : {}, ...(values.follow ? {} : { signal: AbortSignal.timeout(60_000) }) });
  } catch (err) {
    const e = err as Error & { cause?: { code?: string } };
    process.stderr.write(`switchyard logs: cannot reach ${server}: ${e.cause?.code ?? e.message}\n`);
    return 1;
  }
  if (!res.ok || !res.body) {
    const text = await res.text();
    let msg = text.slice(0, 300);
    try {
      msg = (JSON.parse(text) as { error: { message: string } }).error.message;
    } catch {
      /* keep the text */
    }
    process.stderr.write(`switchyard logs: ${msg}${res.status === 401 && !token ? " (set SWITCHYARD_TOKEN to an API token)" : ""}\n`);
    return 1;
  }
  const nodes = new Map<string, boolean>();
  const width = { n: 0 };
  for await (const text of ndjsonLines(res.body as unknown as AsyncIterable<Uint8Array>)) {
    const r = JSON.parse(text) as ApiLogRecord;
    if (r.type === "line" || r.state === "caught-up" || r.state === "ended") nodes.set(r.node, true);
    else if (!nodes.has(r.node)) nodes.set(r.node, false);
    if (values.json) process.stdout.write(text + "\n");
    else human(r, width);
  }
  return [...nodes.values()].some(Boolean) ? 0 : 1;
}

function human(r: ApiLogRecord, width: { n: number }): void {
  if (r.type === "line") {
    width.n = Math.max(width.n, r.node.length);
    process.stdout.write(`${r.node.padEnd(width.n)} ${r.stream === "stderr" ? "! " : "| "}${plainText(r.line)}${r.truncated ? " [cut]" : ""}\n`);
    return;
  }
  // A node's messages are text from another machine too: the same cleaning as its lines.
  if (r.state === "unreachable" || r.state === "refused") process.stderr.write(`switchyard logs: ${r.node}: ${plainText(r.message ?? r.state)}\n`);
  else if (r.state === "ended" && r.reason !== "done") process.stderr.write(`switchyard logs: ${r.node}: ${endText(r.reason)}${r.message ? `: ${plainText(r.message)}` : ""}\n`);
}

function endText(reason: string | undefined): string {
  if (reason === "stopped") return "the workload stopped or was replaced; its log ends here";
  if (reason === "byte-limit") return "the history reached the answer's size limit; ask for less with --tail or --since";
  return `the log stream ended (${reason ?? "?"})`;
}

/**
 * The line without ANSI escape sequences and control characters (tabs kept): C0, DEL, the 8-bit C1 controls
 * (CSI, OSC, DCS... that some terminals obey) and the bidirectional overrides that reorder what is shown.
 */
export function plainText(s: string): string {
  // eslint-disable-next-line no-control-regex
  return s.replace(/\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-_]/g, "").replace(/[\x00-\x08\x0a-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]/g, "");
}
