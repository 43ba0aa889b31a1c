/** HTTPS load on a router's live host for the ACME tests: the answers' colours and certificate serials are recorded. */
import { Agent } from "node:https";
import { httpsGet } from "./tls-world.js";

/** HTTPS load on the live host: half on keep-alive connections, half on new ones (new handshakes). */
export class HttpsLoad {
  ok = 0;
  failed: string[] = [];
  colors: string[] = [];
  serials = new Set<string>();
  private stopped = false;
  private readonly done: Promise<void>[] = [];
  private readonly agent = new Agent({ keepAlive: true, maxSockets: 4 });

  constructor(private readonly port: number, private readonly ca: string) {
    for (let i = 0; i < 6; i++) this.done.push(this.worker(i % 2 === 0));
  }

  private async worker(keepAlive: boolean): Promise<void> {
    while (!this.stopped) {
      try {
        const r = await httpsGet(this.port, "/version", { host: "live.test", ca: Buffer.from(this.ca), ...(keepAlive ? { agent: this.agent } : {}) });
        if (r.status === 200) {
          this.ok++;
          const color = r.headers["x-switchyard-color"] as string;
          if (this.colors.at(-1) !== color) this.colors.push(color);
          this.serials.add(r.cert.serialNumber);
        } else this.failed.push(`${r.status} ${r.body.slice(0, 80)}`);
      } catch (err) {
        this.failed.push((err as Error).message);
      }
      await new Promise((r) => setTimeout(r, 5));
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all(this.done);
    this.agent.destroy();
  }
}
