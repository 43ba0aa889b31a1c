/**
 * A TCP relay in front of one server (an agent's API) that a test controls: open, cut (every connection
 * breaks and new ones are refused), blackhole (connections are accepted and bytes vanish: a silent
 * partition), or slow (every chunk is delayed in both directions: a slow link).
 */
import { connect, createServer, type Server, type Socket } from "node:net";
import { pickPort } from "../../../cli/demo/ports.js";

export type RelayMode = { kind: "open" } | { kind: "cut" } | { kind: "blackhole" } | { kind: "slow"; latencyMs: number };

export class Relay {
  port = 0;
  private server: Server | undefined;
  private sockets = new Set<Socket>();
  private mode: RelayMode = { kind: "open" };

  /** Starts relaying 127.0.0.1:<port> to targetHost:target (the port stays the same across restarts). */
  async start(target: number, targetHost = "127.0.0.1"): Promise<void> {
    if (this.server) return;
    this.port ||= await pickPort("127.0.0.1", 0);
    this.server = createServer((client) => this.accept(client, target, targetHost));
    await new Promise<void>((r) => this.server!.listen(this.port, "127.0.0.1", r));
  }

  /** Every connection breaks and new ones are dropped: the agent keeps running but cannot be reached. */
  cut(): void {
    this.set({ kind: "cut" });
  }

  heal(): void {
    this.set({ kind: "open" });
  }

  /** Changes the mode; connections made under another mode are broken, so none keeps a stale behaviour. */
  set(mode: RelayMode): void {
    this.mode = mode;
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
  }

  async close(): Promise<void> {
    this.cut();
    await new Promise((r) => (this.server ? this.server.close(r) : r(null)));
    this.server = undefined;
  }

  private accept(client: Socket, target: number, targetHost: string): void {
    const mode = this.mode;
    if (mode.kind === "cut") return void client.destroy();
    this.sockets.add(client);
    client.on("error", () => client.destroy()).on("close", () => this.sockets.delete(client));
    if (mode.kind === "blackhole") return void client.resume();
    const upstream = connect(target, targetHost);
    this.sockets.add(upstream);
    const drop = () => {
      client.destroy();
      upstream.destroy();
      this.sockets.delete(client);
      this.sockets.delete(upstream);
    };
    client.on("close", drop);
    upstream.on("error", drop).on("close", drop);
    if (mode.kind === "open") {
      client.pipe(upstream).pipe(client);
      return;
    }
    const delayed = (from: Socket, to: Socket) =>
      from.on("data", (d: Buffer) => void setTimeout(() => to.destroyed || to.write(d), mode.latencyMs)).on("end", () => setTimeout(() => to.end(), mode.latencyMs));
    delayed(client, upstream);
    delayed(upstream, client);
  }
}
