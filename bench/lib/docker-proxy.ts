/**
 * A counting proxy for the Docker API: listens on a unix socket, forwards every request to the real
 * engine socket and records each one (method, normalised path, start, time to response headers).
 * It works at the HTTP level rather than on raw bytes, so requests on kept-alive connections and
 * request bodies without a trailing newline are counted exactly. Hijacked connections (attach, exec)
 * are not supported: the agent uses none.
 */
import { createServer, request, Agent, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { rmSync } from "node:fs";
import { performance } from "node:perf_hooks";

export interface DockerCall {
  /** performance.now() when the request arrived. */
  at: number;
  /** Milliseconds until the engine's response headers; undefined while waiting (or when it failed). */
  ms?: number;
  /** Milliseconds until the response ended; undefined while streaming (events) or on failure. */
  totalMs?: number;
  method: string;
  /** e.g. "GET /containers/json", "POST /containers/:id/stop". */
  key: string;
  /** GET /events: one long-lived stream, not a poll. */
  longLived: boolean;
}

export class CountingDockerProxy {
  readonly calls: DockerCall[] = [];
  /** Status lines of pull progress streams ("Already exists", "Pull complete", …) with their counts. */
  readonly pullStatus = new Map<string, number>();
  private readonly upstreamAgent = new Agent({ keepAlive: true });

  private constructor(private readonly server: Server, readonly socketPath: string, private readonly upstream: string) {}

  static async start(socketPath: string, upstream: string): Promise<CountingDockerProxy> {
    rmSync(socketPath, { force: true });
    let proxy!: CountingDockerProxy;
    const server = createServer((req, res) => proxy.forward(req, res));
    // The engine answers slowly on purpose for some calls (stop waits for the app); never time them out here.
    server.requestTimeout = 0;
    server.headersTimeout = 0;
    server.keepAliveTimeout = 60_000;
    proxy = new CountingDockerProxy(server, socketPath, upstream);
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(socketPath, () => resolve());
    });
    return proxy;
  }

  /** Calls that started in [from, to) (performance.now() times). */
  between(from: number, to: number): DockerCall[] {
    return this.calls.filter((c) => c.at >= from && c.at < to);
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.upstreamAgent.destroy();
    rmSync(this.socketPath, { force: true });
  }

  private forward(req: IncomingMessage, res: ServerResponse): void {
    const url = req.url ?? "/";
    const key = `${req.method} ${normalisePath(url)}`;
    const call: DockerCall = { at: performance.now(), method: req.method ?? "?", key, longLived: key === "GET /events" };
    this.calls.push(call);
    const up = request(
      { socketPath: this.upstream, method: req.method, path: url, headers: req.headers, agent: this.upstreamAgent },
      (upRes) => {
        call.ms = performance.now() - call.at;
        res.writeHead(upRes.statusCode ?? 502, upRes.statusMessage, upRes.rawHeaders);
        if (key === "POST /images/create") this.tapPullProgress(upRes);
        upRes.pipe(res);
        upRes.on("end", () => {
          call.totalMs = performance.now() - call.at;
        });
      },
    );
    up.on("error", (err) => {
      if (!res.headersSent) res.writeHead(502, { "content-type": "application/json" });
      res.end(JSON.stringify({ message: `bench docker proxy: ${err.message}` }));
    });
    res.on("close", () => up.destroy());
    req.pipe(up);
  }

  private tapPullProgress(upRes: IncomingMessage): void {
    let tail = "";
    upRes.on("data", (chunk: Buffer) => {
      const lines = (tail + chunk.toString("utf8")).split("\n");
      tail = lines.pop() ?? "";
      for (const line of lines) {
        try {
          const ev = JSON.parse(line) as { status?: string; id?: string };
          // Per-layer statuses only (they carry a layer id); progress ticks are too many to be useful.
          if (ev.id && ev.status && !/^(Downloading|Extracting|Waiting)$/.test(ev.status)) {
            this.pullStatus.set(ev.status, (this.pullStatus.get(ev.status) ?? 0) + 1);
          }
        } catch {
          /* not a JSON line */
        }
      }
    });
  }
}

/** "/v1.41/containers/3f…/stop?t=5" → "/containers/:id/stop"; image names become ":ref". */
export function normalisePath(url: string): string {
  const path = (url.split("?")[0] ?? "/").replace(/^\/v\d+\.\d+(?=\/)/, "");
  const parts = path.split("/");
  if (parts[1] === "containers" && parts[2] && parts[2] !== "json" && parts[2] !== "create") parts[2] = ":id";
  if (parts[1] === "images" && parts[2] && parts[2] !== "json" && parts[2] !== "create") {
    // Image references contain slashes: everything between /images/ and the last action is the name.
    const last = parts[parts.length - 1];
    return last === "json" || last === "history" || last === "tag" || last === "push" ? `/images/:ref/${last}` : "/images/:ref";
  }
  return parts.join("/");
}
