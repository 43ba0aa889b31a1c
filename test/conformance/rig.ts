/**
 * The rig for router conformance runs: a recording upstream, the real router data plane (in-process) routing
 * every host to it, the h11 batch process, and a raw TCP client. No vitest imports: bench/router-fuzz.ts
 * uses it too.
 */
import { connect, type Socket } from "node:net";
import { connect as tlsConnect } from "node:tls";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { pino } from "pino";
import { freePort } from "../support/ports.js";
import { RouterDataPlane } from "../../node-agent/router/data-plane.js";
import type { RouterSpec } from "../../specs/wire.js";
import { RecordingUpstream } from "./recording-upstream.js";
import { H11 } from "./h11.js";
import { LlhttpStream, type HttpMessage, type ParseResult } from "./llhttp.js";

export const LOOPBACK = "127.0.0.1";
/** The live host; unknown hosts go to live too (defaultRoute), so any Host reaches the upstream. */
export const LIVE_HOST = "shop.test";

export class Rig {
  readonly upstream = new RecordingUpstream();
  readonly h11 = new H11();
  plane!: RouterDataPlane;
  /** The port clients connect to: the HTTPS one when the rig runs over TLS. */
  port = 0;
  /** Over TLS: the self-signed certificate clients trust. */
  ca: Buffer | null = null;
  private dataDir = "";

  /** `tls`: clients speak HTTPS to the router's TLS listener (a self-signed certificate for LIVE_HOST). */
  static async start(o: { tls?: boolean } = {}): Promise<Rig> {
    const rig = new Rig();
    await rig.upstream.start();
    rig.dataDir = mkdtempSync(join(tmpdir(), "switchyard-conformance-"));
    const httpPort = await freePort(LOOPBACK);
    const listen = `${LOOPBACK}:${httpPort}`;
    let tls: { listen: string; certificates: Array<{ certFile: string; keyFile: string }> } | undefined;
    if (o.tls === true) {
      const pair = selfSigned(rig.dataDir, LIVE_HOST);
      rig.ca = readFileSync(pair.certFile);
      rig.port = await freePort(LOOPBACK);
      tls = { listen: `${LOOPBACK}:${rig.port}`, certificates: [pair] };
    } else rig.port = httpPort;
    rig.plane = new RouterDataPlane({ dataDir: rig.dataDir, listen, logger: pino({ level: "silent" }), timeouts: { idleMs: 2_000 }, ...(tls ? { tls } : {}) });
    await rig.plane.start();
    await rig.plane.apply(spec(listen, rig.upstream.port));
    return rig;
  }

  /** A client connection to the router (TLS when the rig runs over TLS). */
  client(methods: string[] = []): Client {
    return new Client(this.connect(), methods);
  }

  private connect(): Socket {
    if (this.ca === null) return connect({ host: LOOPBACK, port: this.port, noDelay: true });
    const s = tlsConnect({ host: LOOPBACK, port: this.port, servername: LIVE_HOST, ca: this.ca });
    s.setNoDelay(true);
    return s;
  }

  /** Ends every upstream connection and waits until the router has seen them go, then clears the logs. */
  async resetUpstream(): Promise<void> {
    await this.upstream.endAll(1_000);
    this.upstream.reset();
  }

  async close(): Promise<void> {
    await this.plane.close();
    await this.upstream.close();
    this.h11.close();
    rmSync(this.dataDir, { recursive: true, force: true });
  }
}

/** A self-signed certificate for `host` (openssl), in `dir`. */
function selfSigned(dir: string, host: string): { certFile: string; keyFile: string } {
  const certFile = join(dir, "tls.crt"), keyFile = join(dir, "tls.key");
  execFileSync("openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", keyFile, "-out", certFile,
    "-subj", `/CN=${host}`, "-addext", `subjectAltName=DNS:${host}`, "-days", "2"], { stdio: ["ignore", "ignore", "pipe"] });
  return { certFile, keyFile };
}

function spec(listen: string, port: number): RouterSpec {
  const svc = [{
    service: "web", pathPrefix: "/",
    // Probed every second, so a node marked down by a failed connect (a loaded machine) comes back.
    health: { path: "/healthz", periodSeconds: 1, timeoutSeconds: 2, healthyThreshold: 1, unhealthyThreshold: 3 },
    nodes: [{ node: "n1", address: LOOPBACK, port }],
  }];
  return {
    kind: "RouterSpec", generation: 1, app: "shop", listen, live: "blue", preview: null,
    hosts: { live: [LIVE_HOST], preview: [], blue: ["blue.shop.test"], green: ["green.shop.test"] },
    defaultRoute: "live", drainTimeoutSeconds: 30,
    upstreams: { blue: svc, green: [] },
  } as RouterSpec;
}

/** One client connection to the router that records everything it receives. */
export class Client {
  readonly socket: Socket;
  readonly chunks: Buffer[] = [];
  closed = false;
  /** Connected (and, over TLS, the handshake done). */
  private ready = false;
  private waiter: (() => void) | null = null;
  private stream: LlhttpStream;
  private streamDead = false;

  /** `socket`: a fresh connection to the router, plain or TLS (see Rig.client). */
  constructor(socket: Socket, readonly methods: string[] = []) {
    this.socket = socket;
    socket.once("encrypted" in socket ? "secureConnect" : "connect", () => { this.ready = true; });
    this.stream = new LlhttpStream("response", this.methods);
    this.socket.on("data", (d: Buffer) => {
      this.chunks.push(d);
      if (!this.streamDead) this.streamDead = !this.stream.push(d);
      this.wake();
    });
    this.socket.on("error", () => {});
    this.socket.on("close", () => {
      this.closed = true;
      this.stream.close();
      this.wake();
    });
  }

  connected(): Promise<void> {
    return new Promise((resolve) => {
      if (this.ready) resolve();
      else this.socket.once("encrypted" in this.socket ? "secureConnect" : "connect", () => resolve());
    });
  }

  /** Writes the pieces one by one, letting the router read each before the next. */
  async send(pieces: readonly Buffer[], gapMs = 1): Promise<void> {
    for (let i = 0; i < pieces.length; i++) {
      if (this.closed) return;
      if (i > 0) await sleep(gapMs);
      this.socket.write(pieces[i]!);
    }
  }

  /** Final responses llhttp has parsed so far (1xx not counted). */
  finals(): number {
    return this.answers().length;
  }

  /** The final responses llhttp has parsed so far. */
  answers(): HttpMessage[] {
    return this.stream.result.messages.filter((m) => m.status >= 200 || m.status === 101);
  }

  /** llhttp could not read on (a parse error or an upgrade). */
  get broken(): boolean {
    return this.streamDead;
  }

  /** Waits until `n` final responses arrived, the connection closed, the parse failed, or `ms` passed. */
  async waitFor(n: number, ms: number): Promise<void> {
    const end = Date.now() + ms;
    while (!this.closed && !this.streamDead && this.finals() < n) {
      const left = end - Date.now();
      if (left <= 0) return;
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiter = () => { clearTimeout(t); resolve(); };
      });
      this.waiter = null;
    }
  }

  /** Waits for the router to close the connection (or `ms`). */
  async waitClosed(ms: number): Promise<void> {
    const end = Date.now() + ms;
    while (!this.closed && Date.now() < end) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, end - Date.now());
        this.waiter = () => { clearTimeout(t); resolve(); };
      });
      this.waiter = null;
    }
  }

  bytes(): Buffer {
    return Buffer.concat(this.chunks);
  }

  /** llhttp's reading of what the client received (the stream so far; `eof` if it closed). */
  parsed(): ParseResult {
    const s = new LlhttpStream("response", this.methods);
    if (s.push(this.bytes()) && this.closed) s.end();
    s.close();
    return s.result;
  }

  destroy(): void {
    this.socket.destroy();
  }

  private wake(): void {
    this.waiter?.();
  }
}
