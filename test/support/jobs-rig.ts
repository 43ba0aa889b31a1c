/**
 * Ground truth for job tests: the demo notification store (in a container, published on loopback)
 * and a recorder of every job container's start and stop from Docker's event stream.
 */
import { docker, REPO } from "./agent-bed.js";
import { freePort } from "./cluster-bed.js";

export interface StoreRecords {
  highestEpoch: number;
  delivered: { id: number; epoch: number; color: string; node: string; host: string; at: number }[];
  attempts: { kind: string; ok: boolean; epoch: number; color: string; at: number }[];
  fenced: number;
  duplicates: number;
}

/** The store runs as a container of the demo image; workers reach it on the Docker network. */
export class Store {
  url = "";
  /** What workers use: the store container's address on the Docker bridge. */
  workerUrl = "";
  private id = "";

  async start(prefix: string): Promise<void> {
    const port = await freePort();
    const name = `sy-${prefix}-store`;
    await docker.getContainer(name).remove({ force: true }).catch(() => undefined);
    const c = await docker.createContainer({
      name,
      Image: `${REPO}:v1`,
      Cmd: ["node", "store.js"],
      Env: ["HOST=0.0.0.0", "PORT=9300", "CLAIM_TIMEOUT_MS=3000"],
      Labels: { "dev.switchyard.app": `${prefix}-store` },
      ExposedPorts: { "9300/tcp": {} },
      HostConfig: { PortBindings: { "9300/tcp": [{ HostIp: "127.0.0.1", HostPort: String(port) }] } },
    });
    await c.start();
    this.id = c.id;
    const info = await c.inspect();
    this.workerUrl = `http://${info.NetworkSettings.Networks.bridge!.IPAddress}:9300`;
    this.url = `http://127.0.0.1:${port}`;
    for (let i = 0; i < 100; i++) {
      if (await fetch(this.url + "/healthz").then((r) => r.ok, () => false)) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error("the store did not start");
  }

  async records(): Promise<StoreRecords> {
    return (await (await fetch(this.url + "/records")).json()) as StoreRecords;
  }

  async close(): Promise<void> {
    if (this.id) await docker.getContainer(this.id).remove({ force: true }).catch(() => undefined);
  }
}

export interface Interval {
  node: string;
  color: string;
  id: string;
  start: number;
  end: number | null;
}

/** Job container lifetimes (start → die), from Docker events: when workers of each colour really ran. */
export class JobTimeline {
  readonly intervals: Interval[] = [];
  private stream: NodeJS.ReadableStream | undefined;

  async start(prefix: string): Promise<void> {
    this.stream = (await docker.getEvents({ filters: { type: ["container"], label: ["dev.switchyard.kind=job", `dev.switchyard.app=${prefix}`], event: ["start", "die"] } })) as NodeJS.ReadableStream;
    let buf = "";
    this.stream.on("data", (d: Buffer) => {
      buf += d.toString();
      let i: number;
      while ((i = buf.indexOf("\n")) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        if (!line.trim()) continue;
        const e = JSON.parse(line) as { status: string; id: string; timeNano: number; Actor: { Attributes: Record<string, string> } };
        const at = e.timeNano / 1e6;
        if (e.status === "start") {
          this.intervals.push({ node: e.Actor.Attributes["dev.switchyard.node"]!, color: e.Actor.Attributes["dev.switchyard.color"]!, id: e.id, start: at, end: null });
        } else {
          const open = this.intervals.find((x) => x.id === e.id && x.end === null);
          if (open) open.end = at;
        }
      }
    });
  }

  /** Milliseconds during which job containers of both colours ran at once (0 is the promise). */
  overlapMs(now = Date.now()): number {
    const blue = this.intervals.filter((x) => x.color === "blue");
    const green = this.intervals.filter((x) => x.color === "green");
    let total = 0;
    for (const b of blue) for (const g of green) total += Math.max(0, Math.min(b.end ?? now, g.end ?? now) - Math.max(b.start, g.start));
    return total;
  }

  /** For each change of colour: first start of the new colour − last stop of the old one (ms). */
  handoffGaps(): number[] {
    const sorted = [...this.intervals].sort((a, b) => a.start - b.start);
    const gaps: number[] = [];
    for (let i = 1; i < sorted.length; i++) {
      const cur = sorted[i]!;
      if (sorted[i - 1]!.color === cur.color) continue;
      const before = sorted.slice(0, i).filter((x) => x.color !== cur.color);
      gaps.push(cur.start - Math.max(...before.map((x) => x.end ?? Infinity)));
    }
    return gaps;
  }

  running(color?: string): Interval[] {
    return this.intervals.filter((x) => x.end === null && (!color || x.color === color));
  }

  close(): void {
    (this.stream as unknown as { destroy?: () => void })?.destroy?.();
  }
}

export function percentile(xs: number[], p: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!;
}
