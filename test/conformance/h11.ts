/**
 * Python's h11 as a second, independent HTTP/1.1 parser: one long-lived /usr/bin/python3 process (Debian's
 * python3-h11) that parses byte streams sent to it as JSON lines, so thousands of parses cost one process.
 */
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from "node:child_process";
import { createInterface } from "node:readline";
import type { HttpMessage, ParseResult } from "./llhttp.js";

export const PYTHON = "/usr/bin/python3";

const SCRIPT = String.raw`
import sys, json, h11
def hx(items): return [[k.decode("latin1"), v.decode("latin1")] for k, v in items]
def parse(kind, data, methods, eof, switch_at):
    role = h11.SERVER if kind == "request" else h11.CLIENT
    conn = h11.Connection(role, max_incomplete_event_size=1 << 20)
    msgs, err, cur, body, upgrade_at, mi = [], "", None, [], -1, 0
    if kind == "response":
        methods = methods or ["GET"]
        conn.send(h11.Request(method=methods[0], target="/", headers=[("host", "x")]))
        conn.send(h11.EndOfMessage())
    try:
        conn.receive_data(data)
        if eof: conn.receive_data(b"")
        while True:
            ev = conn.next_event()
            if ev is h11.NEED_DATA or isinstance(ev, h11.ConnectionClosed): break
            if ev is h11.PAUSED:
                if kind == "request" and conn.their_state is h11.MIGHT_SWITCH_PROTOCOL and len(msgs) - 1 != switch_at:
                    conn.send(h11.Response(status_code=200, headers=[("content-length", "0")])); conn.send(h11.EndOfMessage())
                    conn.start_next_cycle(); continue
                upgrade_at = len(data) - len(conn.trailing_data[0]); break
            if isinstance(ev, h11.Request):
                cur = {"method": ev.method.decode("latin1"), "target": ev.target.decode("latin1"), "status": 0,
                       "version": ev.http_version.decode("latin1"), "headers": hx(ev.headers.raw_items())}; body = []
            elif isinstance(ev, h11.InformationalResponse):
                msgs.append({"method": "", "target": "", "status": ev.status_code, "version": ev.http_version.decode("latin1"),
                             "headers": hx(ev.headers.raw_items()), "body": ""})
                if ev.status_code == 101: upgrade_at = len(data) - len(conn.trailing_data[0]); break
            elif isinstance(ev, h11.Response):
                cur = {"method": "", "target": "", "status": ev.status_code, "version": ev.http_version.decode("latin1"),
                       "headers": hx(ev.headers.raw_items())}; body = []
            elif isinstance(ev, h11.Data): body.append(ev.data)
            elif isinstance(ev, h11.EndOfMessage):
                cur["body"] = b"".join(body).decode("latin1"); msgs.append(cur); cur = None
                if kind == "request":
                    if conn.their_state is h11.MIGHT_SWITCH_PROTOCOL: continue
                    conn.send(h11.Response(status_code=200, headers=[("content-length", "0")])); conn.send(h11.EndOfMessage())
                if conn.our_state is h11.DONE and conn.their_state is h11.DONE:
                    conn.start_next_cycle()
                    if kind == "response":
                        mi += 1
                        if mi >= len(methods): break
                        conn.send(h11.Request(method=methods[mi], target="/", headers=[("host", "x")])); conn.send(h11.EndOfMessage())
                else: break
    except (h11.RemoteProtocolError, h11.LocalProtocolError) as e:
        err = type(e).__name__ + ": " + str(e)
    incomplete = cur is not None
    if incomplete and eof and err.startswith("RemoteProtocolError: peer closed"): err = ""
    return {"messages": msgs, "error": err, "incomplete": incomplete, "upgradeAt": upgrade_at}
for line in sys.stdin:
    q = json.loads(line)
    try:
        r = parse(q["kind"], q["data"].encode("latin1"), q.get("methods") or [], q.get("eof", True), q.get("switchAt", -1))
    except Exception as e:
        r = {"messages": [], "error": "h11 driver: " + type(e).__name__ + ": " + str(e), "incomplete": False, "upgradeAt": -1}
    r["id"] = q["id"]
    sys.stdout.write(json.dumps(r) + "\n"); sys.stdout.flush()
`;

interface Wire {
  id: number;
  messages: Array<Omit<HttpMessage, "body" | "upgrade"> & { body: string }>;
  error: string;
  incomplete: boolean;
  upgradeAt: number;
}

/** The h11 batch process. `parse` may be called many times at once; answers come back in order. */
export class H11 {
  private readonly proc: ChildProcessWithoutNullStreams;
  private readonly waiting = new Map<number, (r: ParseResult) => void>();
  private next = 1;
  private stderr = "";

  constructor() {
    this.proc = spawn(PYTHON, ["-u", "-c", SCRIPT], { stdio: ["pipe", "pipe", "pipe"] });
    this.proc.stderr.on("data", (d: Buffer) => { this.stderr += d.toString(); });
    this.proc.on("exit", (code) => {
      for (const [, done] of this.waiting) done({ messages: [], error: `h11 process exited (${code}): ${this.stderr.slice(-500)}`, incomplete: false, upgradeAt: -1 });
      this.waiting.clear();
    });
    createInterface({ input: this.proc.stdout }).on("line", (line) => {
      const w = JSON.parse(line) as Wire;
      const done = this.waiting.get(w.id);
      this.waiting.delete(w.id);
      done?.({
        messages: w.messages.map((m) => ({ ...m, body: Buffer.from(m.body, "latin1"), upgrade: false })),
        error: w.error, incomplete: w.incomplete, upgradeAt: w.upgradeAt,
      });
    });
  }

  /**
   * Parses a byte stream as requests (h11 as a server) or responses (as a client that sent `methods`).
   * `switchAt`: the index of the upgrade request the server accepted (the rest is another protocol).
   */
  parse(kind: "request" | "response", bytes: Buffer, methods: readonly string[] = [], eof = true, switchAt = -1): Promise<ParseResult> {
    const id = this.next++;
    return new Promise((resolve) => {
      this.waiting.set(id, resolve);
      this.proc.stdin.write(JSON.stringify({ id, kind, data: bytes.toString("latin1"), methods, eof, switchAt }) + "\n");
    });
  }

  close(): void {
    this.proc.stdin.end();
    this.proc.kill();
  }
}

/** Whether /usr/bin/python3 has h11 (python3-h11). */
export function h11Available(): boolean {
  return spawnSync(PYTHON, ["-c", "import h11"]).status === 0;
}
