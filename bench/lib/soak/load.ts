/** Continuous load through every router on the live host name, recording every request. */
import { Agent, request } from "undici";
import type { NodeProbe, RequestRecord } from "./history.js";
import { LIVE_HOST } from "./cluster.js";

export class LoadGenerator {
  readonly records: RequestRecord[] = [];
  private stopped = false;
  private readonly done: Promise<void>[] = [];
  private readonly dispatcher = new Agent({ keepAliveTimeout: 2000, connections: 16 });

  /** targets: router name → host:port of its data plane. */
  constructor(targets: Record<string, string>, perRouter = 2, private readonly pauseMs = 20) {
    for (const [router, addr] of Object.entries(targets)) for (let i = 0; i < perRouter; i++) this.done.push(this.worker(router, addr));
  }

  private async worker(router: string, addr: string): Promise<void> {
    while (!this.stopped) {
      const at = Date.now();
      try {
        const res = await request(`http://${addr}/version`, { headers: { host: LIVE_HOST }, headersTimeout: 5000, bodyTimeout: 5000, dispatcher: this.dispatcher });
        const body = await res.body.text();
        let tag: string | null = null;
        try {
          tag = (JSON.parse(body) as { tag?: string }).tag ?? null;
        } catch {
          /* not the app's answer */
        }
        const color = (res.headers["x-switchyard-color"] as string | undefined) ?? null;
        this.records.push({ at, end: Date.now(), router, status: res.statusCode, color, tag, ...(res.statusCode === 200 ? {} : { error: body.slice(0, 120) }) });
      } catch (err) {
        this.records.push({ at, end: Date.now(), router, status: 0, color: null, tag: null, error: (err as Error).message });
      }
      await new Promise((r) => setTimeout(r, this.pauseMs));
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all(this.done);
    await this.dispatcher.close();
  }
}

/** Ground truth of readiness, independent of the reconciler: every node's web service probed directly. */
export class NodeProber {
  readonly probes: NodeProbe[] = [];
  private timer: NodeJS.Timeout | undefined;
  private busy = false;

  constructor(private readonly nodes: { name: string; color: string; addr: string }[], everyMs = 500) {
    this.timer = setInterval(() => void this.round(), everyMs);
  }

  private async round(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    await Promise.all(this.nodes.map(async (n) => {
      const at = Date.now();
      let healthy = false;
      let tag: string | null = null;
      try {
        healthy = (await fetch(`http://${n.addr}/healthz`, { signal: AbortSignal.timeout(2000) })).ok;
        if (healthy) tag = ((await (await fetch(`http://${n.addr}/version`, { signal: AbortSignal.timeout(2000) })).json()) as { tag?: string }).tag ?? null;
      } catch {
        healthy = false;
      }
      this.probes.push({ at, node: n.name, color: n.color, healthy, tag });
    }));
    this.busy = false;
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }
}
