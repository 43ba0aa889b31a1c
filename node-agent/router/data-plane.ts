/**
 * The router data plane: listens on `router.listen`, routes every request by the current routing table,
 * and flips by swapping that table (one reference assignment); an apply resolves once the table is on disk.
 *
 * Drain semantics ("a colour that is being replaced"). A RouterSpec does not say which colour is about to
 * get new containers, only where each host name and path leads. So the data plane judges every open
 * exchange and tunnel by the route it came through: when the current table would no longer send that
 * Host and path to the same colour and upstream node — the live host after a flip, the preview host after
 * preview moved, a colour that is now neither live nor preview (stopped), a node removed from its colour —
 * the connection is *stranded*. Stranded connections are left alone for `drainTimeoutSeconds` (ordinary
 * requests finish long before), then closed, so that their clients reconnect and land on the colour the
 * table now names. Traffic that asked for a colour by its own host name (blue.example.com) is never
 * stranded by a flip: it still goes where it asked to. A flip back before the deadline un-strands. The
 * counts in status() include stranded connections until they end, so the reconciler can see a colour drain.
 *
 * Why one file past 300 lines: the table swap, the upstream pools it keeps or retires, the drain judgement
 * over open connections and the durable apply are one transaction on the same state; the parsing, routing,
 * bounds and storage it uses live apart (table.ts, upstream-bounds.ts, table-store.ts).
 */
import { createServer, type Server } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import type { Logger } from "pino";
import type { Health, RouterSpec, RouterStatus, UpstreamService } from "../../specs/wire.js";
import type { Color } from "../../specs/types.js";
import { agentError } from "../errors.js";
import { deepFreeze, splitListen } from "../../common/values.js";
import { RoutingTable } from "./table.js";
import { Upstream, type RouterContext } from "./upstream.js";
import { HealthCheck, healthSettings } from "./health-check.js";
import { ClientConn, type PlaneState } from "./client-conn.js";
import type { Tunnel } from "./websocket.js";
import { keepTableAside, persistTable, restoreTable } from "./table-store.js";
import { UpstreamBounds } from "./upstream-bounds.js";
import { HttpsSide } from "./https.js";
import { Traffic } from "./traffic.js";
import {
  CLIENT_HEADERS_TIMEOUT_MS, CLIENT_KEEPALIVE_TIMEOUT_MS, COUNTS_CHANGE_THROTTLE_MS, DEFAULT_ROUTER_TIMEOUTS, SWEEP_INTERVAL_MS, type RouterTimeouts,
} from "./limits.js";
import { listenOn } from "./socket-activation.js";
import { ROUTER_STOP_DRAIN_MS, ROUTER_STOP_IDLE_MS as DRAIN_IDLE_MS } from "../../specs/defaults.js";

export interface DataPlaneOptions {
  /** The table lives at <dataDir>/router-table.json. */
  dataDir: string;
  /** host:port from agent.yaml router.listen; the data plane always listens here. */
  listen: string;
  logger: Logger;
  /**
   * Called whenever status() (or health()) would change: table swapped, in-flight/websocket counts changed
   * (at most every 100 ms), upstream health flipped. Must be cheap.
   */
  onChange?: () => void;
  /** agent.yaml router.allowedUpstreams: CIDRs every upstream address must lie in (default: loopback and private ranges). */
  allowedUpstreams?: readonly string[];
  /** Overrides for connect/header/idle/pool timeouts (tests use short ones). */
  timeouts?: Partial<RouterTimeouts>;
  /** agent.yaml router.tls: HTTPS on a second address, certificates from files. */
  tls?: { listen: string; certificates: readonly { certFile: string; keyFile: string }[]; redirectPort?: number; listenFd?: number };
  /** A listening socket passed by systemd for `listen` (socket-activation.ts); absent: bind it here. */
  listenFd?: number;
  /** How long a stopping router lets requests in flight finish (default ROUTER_STOP_DRAIN_MS). */
  stopDrainMs?: number;
}

/** One upstream node as the router sees it (not part of RouterStatus: for logs, the dashboard and tests). */
export interface UpstreamHealth {
  color: Color;
  service: string;
  node: string;
  address: string;
  port: number;
  health: Health;
}

const NO_TABLE_BODY = "no routing table yet\n";
/** How often a routing table that could not be written is written again. */
const PERSIST_RETRY_MS = 1_000;
/** How often a stopping router looks whether its connections are done. */
const DRAIN_POLL_MS = 25;
const CORRUPT_TABLE_BODY = "no usable routing table: the stored one was unreadable and is kept aside; waiting for a new one\n";

export class RouterDataPlane implements PlaneState {
  /** The current routing table; replaced (never mutated) by apply(). */
  table: RoutingTable | null = null;
  noTableBody = NO_TABLE_BODY;
  /** When the current table was swapped in or restored (ms since the epoch; 0: none yet). */
  tableSince = 0;
  private spec: RouterSpec | null = null;
  private tableError: string | null = null;
  readonly ctx: RouterContext;
  readonly tunnels = new Set<Tunnel>();
  readonly clients = new Set<ClientConn>();
  readonly clientTimeouts = { keepAliveMs: CLIENT_KEEPALIVE_TIMEOUT_MS, headersMs: CLIENT_HEADERS_TIMEOUT_MS };
  private readonly log: Logger;
  private readonly host: string;
  private readonly port: number;
  private readonly server: Server;
  /** The HTTPS listener and its certificates (agent.yaml router.tls); null: plain HTTP only. */
  readonly https: HttpsSide | null = null;
  private readonly upstreams = new Map<string, { up: Upstream; check: HealthCheck }>();
  private readonly bounds: UpstreamBounds;
  /** Upstreams no longer in the table whose busy connections have not finished yet. */
  private readonly retired = new Set<Upstream>();
  private applying: Promise<void> = Promise.resolve();
  private persisting: Promise<void> = Promise.resolve();
  private rewriteTimer: NodeJS.Timeout | null = null;
  private sweeper: NodeJS.Timeout | null = null;
  private drainTimer: NodeJS.Timeout | null = null;
  /** Stopping: no new connections; every connection closes after its current answer. */
  draining = false;
  private countsTimer: NodeJS.Timeout | null = null;
  private reported = "";
  private closed = false;

  constructor(private readonly opts: DataPlaneOptions) {
    this.log = opts.logger;
    [this.host, this.port] = splitListen(opts.listen);
    const inFlight = { blue: 0, green: 0 };
    const websockets = { blue: 0, green: 0 };
    const self = this;
    this.bounds = new UpstreamBounds(opts.allowedUpstreams);
    this.ctx = {
      timeouts: { ...DEFAULT_ROUTER_TIMEOUTS, ...opts.timeouts },
      lookup: this.bounds.lookup,
      log: opts.logger,
      inFlight,
      websockets,
      traffic: new Traffic(),
      countsChanged(): void {
        if (self.countsTimer === null && self.opts.onChange !== undefined) self.scheduleCounts();
      },
      healthChanged(): void {
        self.changed();
      },
    };
    this.server = createServer({ allowHalfOpen: true, noDelay: true }, (socket) => {
      if (this.closed) socket.destroy();
      else new ClientConn(this, socket);
    });
    if (opts.tls !== undefined) {
      this.https = new HttpsSide({
        ...opts.tls, dataDir: opts.dataDir, logger: opts.logger, onChange: () => this.changed(),
        onConnection: (socket) => {
          if (this.closed) socket.destroy();
          else new ClientConn(this, socket, true);
        },
      });
    }
  }

  /** HTTP-01 answers by token (PUT /v1/acme/challenges); replaced whole, never mutated. */
  challenges: ReadonlyMap<string, string> = new Map();

  setChallenges(list: ReadonlyArray<{ token: string; keyAuthorization: string }>): void {
    this.challenges = new Map(list.map((c) => [c.token, c.keyAuthorization]));
    this.log.info({ challenges: list.length }, "ACME challenges set");
  }

  /** The port HTTP to HTTPS redirects name; undefined without HTTPS (then nothing is redirected). */
  get redirectPort(): number | null | undefined {
    return this.https === null ? undefined : this.https.redirectPort;
  }

  /** Restores the stored table (never fails on a bad one), then listens. */
  async start(): Promise<void> {
    const restored = await restoreTable(this.opts.dataDir);
    let error = restored.error;
    if (restored.spec !== null) {
      try {
        this.install(restored.spec, await this.checkBounds(restored.spec, true));
        this.log.info({ generation: restored.spec.generation, live: restored.spec.live, preview: restored.spec.preview }, "routing table restored");
      } catch (err) {
        error = await keepTableAside(this.opts.dataDir, `the stored routing table cannot be installed: ${(err as Error).message}`);
      }
    }
    if (error !== null) {
      this.tableError = error;
      this.noTableBody = CORRUPT_TABLE_BODY;
      this.log.error({ error }, "stored routing table unusable; serving 503 until a new one is applied");
    } else if (restored.spec === null) {
      this.log.info({ dataDir: this.opts.dataDir }, "no stored routing table; serving 503 until one is applied");
    }
    await listenOn(this.server, this.host, this.port, this.opts.listenFd, `on ${this.opts.listen}`);
    this.server.on("error", (err) => this.log.error({ err: err.message }, "router server error"));
    if (this.https !== null) {
      try {
        await this.https.start();
      } catch (err) {
        await new Promise<void>((resolve) => this.server.close(() => resolve()));
        throw err;
      }
    }
    this.sweeper = setInterval(() => this.sweep(), Math.min(SWEEP_INTERVAL_MS, this.ctx.timeouts.connectMs / 4));
    this.sweeper.unref();
    this.log.info({ listen: this.opts.listen, socket: this.opts.listenFd !== undefined ? `fd ${this.opts.listenFd} from systemd` : "bound here" }, "router listening");
  }

  /**
   * Checks the spec against agent.yaml's bounds, swaps in its table, then writes it to disk; resolves only
   * once the table is durable. The swap comes first so that the flip is not delayed by the fsync (nor by a
   * slow write of the table before it); a crash before the write completes leaves the previous table on
   * disk, whose colour still runs, until the reconciler (which counts the switch as done only on our answer)
   * sends the table again. Swaps happen in call order; writes too, so the disk ends with the last table.
   * Idempotent: the same table again resolves (false) once it is durable; true when the table changed.
   */
  async apply(spec: RouterSpec): Promise<boolean> {
    if (spec.listen !== this.opts.listen) {
      throw agentError("AGENT_ERR_LISTEN_NOT_ALLOWED",
        `this router listens on ${this.opts.listen} (agent.yaml router.listen); the spec asks for ${spec.listen}; nothing was changed`);
    }
    const swap = this.applying.then(() => this.swap(spec));
    this.applying = swap.then(() => {}, () => {});
    const swapped = await swap;
    const write = this.persisting.then(() => (swapped === null ? this.durable() : this.persist(swapped)));
    this.persisting = write.catch(() => {});
    await write;
    return swapped !== null;
  }

  status(): RouterStatus {
    return {
      spec: this.spec,
      inFlight: { blue: this.ctx.inFlight.blue, green: this.ctx.inFlight.green },
      websockets: { blue: this.ctx.websockets.blue, green: this.ctx.websockets.green },
      tableError: this.tableError,
      responses: { blue: this.ctx.traffic.byStatusClass("blue"), green: this.ctx.traffic.byStatusClass("green") },
      ...(this.https !== null ? { tls: this.https.status() } : {}),
    };
  }

  /** The upstream nodes (with their pools) a colour's routes use in the current table. */
  pools(color: Color): Set<Upstream> {
    const out = new Set<Upstream>();
    for (const r of this.table?.routes(color) ?? []) for (const u of r.nodes) out.add(u);
    return out;
  }

  /** Health of every upstream node in the current table. */
  health(): UpstreamHealth[] {
    const out: UpstreamHealth[] = [];
    const t = this.table;
    if (t === null) return out;
    for (const color of ["blue", "green"] as const) {
      for (const r of t.routes(color)) {
        for (const u of r.nodes) out.push({ color, service: r.service, node: u.node, address: u.address, port: u.port, health: u.health });
      }
    }
    return out;
  }

  /**
   * Stops listening, lets the requests in flight finish (each connection is closed after its answer, an idle
   * one after DRAIN_IDLE_MS), at most `stopDrainMs`; then ends every tunnel and upstream connection that is
   * left and waits for the server to close. With a socket from systemd, connections that arrive meanwhile
   * wait in its queue for the next router process.
   */
  async close(): Promise<void> {
    if (this.closed || this.draining) return;
    await this.drainForStop();
    this.closed = true;
    for (const t of [this.sweeper, this.drainTimer, this.countsTimer, this.rewriteTimer]) if (t !== null) clearTimeout(t);
    await this.applying;
    await this.persisting;
    const closed = Promise.all([
      new Promise<void>((resolve) => this.server.close(() => resolve())),
      this.https?.close(),
    ]);
    for (const t of [...this.tunnels]) t.goAway();
    for (const { up, check } of this.upstreams.values()) {
      check.stop();
      up.destroyAll();
    }
    for (const up of this.retired) up.destroyAll();
    this.upstreams.clear();
    this.retired.clear();
    for (const c of [...this.clients]) c.socket.destroy();
    await Promise.race([closed, sleep(2_000, undefined, { ref: false })]);
    this.log.info({ listen: this.opts.listen }, "router closed");
  }

  private async drainForStop(): Promise<void> {
    this.draining = true;
    const t0 = Date.now();
    this.server.close();
    void this.https?.stopListening();
    const inFlight = () => this.ctx.inFlight.blue + this.ctx.inFlight.green;
    this.log.info({ connections: this.clients.size, inFlight: inFlight() }, "router stopping: no new connections; finishing requests in flight");
    const bound = this.opts.stopDrainMs ?? ROUTER_STOP_DRAIN_MS;
    // Tunnels (WebSockets) have no answer to wait for: they are ended with the rest after the drain.
    while ([...this.clients].some((c) => !c.tunnel) && Date.now() - t0 < bound) {
      const now = Date.now();
      for (const c of [...this.clients]) c.closeIfIdle(now, DRAIN_IDLE_MS);
      await sleep(DRAIN_POLL_MS, undefined, { ref: false });
    }
    this.log.info({ ms: Date.now() - t0, left: this.clients.size, inFlight: inFlight() }, "router stopping: drained");
  }

  /** Checks and installs the spec's table; null when it is the table already served. */
  private async swap(spec: RouterSpec): Promise<RouterSpec | null> {
    if (this.closed) throw agentError("AGENT_ERR_RUNTIME", "the router is shutting down; the routing table was not changed");
    const copy = deepFreeze(structuredClone(spec));
    if (this.spec !== null && JSON.stringify(this.spec) === JSON.stringify(copy)) return null;
    // Checked here, in the order applies run, so a slower older table can never land after a newer one.
    if (this.spec !== null && copy.generation < this.spec.generation) {
      throw agentError("AGENT_ERR_STALE_GENERATION", `generation ${copy.generation} is older than the table's generation ${this.spec.generation}; nothing was changed`);
    }
    const pinned = await this.checkBounds(copy);
    const before = this.spec;
    this.install(copy, pinned);
    if (before !== null && before.live !== copy.live) this.ctx.traffic.flips++;
    this.log.info({ generation: copy.generation, live: copy.live, preview: copy.preview, wasLive: before?.live ?? null }, "routing table applied");
    this.changed();
    return copy;
  }

  /** Writes a swapped-in table to disk (atomically, durably); a failure is reported in status and thrown. */
  private async persist(spec: RouterSpec): Promise<void> {
    const t0 = performance.now();
    try {
      await persistTable(this.opts.dataDir, spec);
    } catch (err) {
      this.tableError = `the routing table is served but could not be written to disk (retrying every ${PERSIST_RETRY_MS / 1000} s): ${(err as Error).message}`;
      this.changed();
      this.scheduleRewrite();
      throw agentError("AGENT_ERR_RUNTIME", `${this.tableError}; a restart would bring back the previous table`);
    }
    const persistMs = performance.now() - t0;
    if (persistMs > 100) this.log.warn({ persistMs: Math.round(persistMs) }, "writing the routing table was slow");
    if (this.tableError !== null || this.noTableBody !== NO_TABLE_BODY) {
      this.tableError = null;
      this.noTableBody = NO_TABLE_BODY;
      this.changed();
    }
  }

  /** Writes the served table again until a write succeeds: the disk must not keep an older colour for long. */
  private scheduleRewrite(): void {
    if (this.rewriteTimer !== null || this.closed) return;
    this.rewriteTimer = setTimeout(() => {
      this.rewriteTimer = null;
      const write = this.persisting.then(() => this.durable());
      this.persisting = write.catch(() => {});
    }, PERSIST_RETRY_MS);
    this.rewriteTimer.unref();
  }

  /** The table served is the one asked for again: fine once it is on disk (its own write may have failed). */
  private async durable(): Promise<void> {
    if (this.tableError !== null && this.spec !== null) await this.persist(this.spec);
  }

  /** Every upstream address of the spec, checked against agent.yaml's bounds; see UpstreamBounds. */
  private checkBounds(spec: RouterSpec, unresolvedAsIs = false): Promise<ReadonlyMap<string, string>> {
    const names = new Set<string>();
    for (const color of ["blue", "green"] as const) for (const svc of spec.upstreams[color]) for (const n of svc.nodes) names.add(n.address);
    return this.bounds.pin(names, { unresolvedAsIs });
  }

  /** Builds the table for `spec` (reusing pools and health of nodes that stay), swaps it in, retires the rest. */
  private install(spec: RouterSpec, pinned: ReadonlyMap<string, string>): void {
    const keep = new Set<string>();
    const fresh = new Map<string, { up: Upstream; check: HealthCheck }>();
    // Building the table touches nothing shared: if it throws, the current table stays as it was.
    const table = new RoutingTable(spec, (_color: Color, svc: UpstreamService, node) => {
      const h = healthSettings(svc.health);
      const address = pinned.get(node.address) ?? node.address;
      const key = `${address}|${node.port}|${h.path}|${h.periodSeconds}|${h.timeoutSeconds}|${h.healthyThreshold}|${h.unhealthyThreshold}`;
      keep.add(key);
      let e = this.upstreams.get(key) ?? fresh.get(key);
      if (e === undefined) {
        const up = new Upstream(this.ctx, key, node.node, address, node.port);
        e = { up, check: new HealthCheck(up, h) };
        fresh.set(key, e);
      }
      return e.up;
    });
    for (const [key, e] of fresh) this.upstreams.set(key, e);
    this.table = table; // the flip: one reference assignment
    this.spec = spec;
    this.tableSince = Date.now();
    for (const e of fresh.values()) e.check.start();
    for (const [key, e] of this.upstreams) {
      if (keep.has(key)) continue;
      e.check.stop();
      e.up.retire();
      this.upstreams.delete(key);
      if (e.up.conns.size > 0) this.retired.add(e.up);
    }
    this.markStranded();
  }

  /** Re-judges every open exchange and tunnel against the current table; see the drain note at the top. */
  private markStranded(): void {
    const table = this.table;
    if (table === null) return;
    const now = Date.now();
    const strandedNow = (host: string | undefined, path: string, color: Color, up: Upstream): boolean => {
      const r = table.resolve(host, path.charCodeAt(0) === 47 ? path : "/");
      return !r.ok || r.color !== color || !r.route.nodes.includes(up);
    };
    for (const c of this.clients) {
      if (!c.active || c.up === null) continue;
      if (strandedNow(c.rq.host, c.rq.path, c.color, c.up.upstream)) { if (c.strandedAt === 0) c.strandedAt = now; } else c.strandedAt = 0;
    }
    for (const t of this.tunnels) {
      if (strandedNow(t.host, t.path, t.color, t.upstream)) { if (t.strandedAt === 0) t.strandedAt = now; } else t.strandedAt = 0;
    }
    this.scheduleDrain();
  }

  private scheduleDrain(): void {
    if (this.drainTimer !== null) clearTimeout(this.drainTimer);
    this.drainTimer = null;
    if (this.closed || this.spec === null) return;
    const drainMs = this.spec.drainTimeoutSeconds * 1000;
    let first = Infinity;
    for (const c of this.clients) if (c.active && c.strandedAt > 0) first = Math.min(first, c.strandedAt);
    for (const t of this.tunnels) if (t.strandedAt > 0) first = Math.min(first, t.strandedAt);
    if (first === Infinity) return;
    this.drainTimer = setTimeout(() => this.drain(), Math.max(0, first + drainMs - Date.now()));
    this.drainTimer.unref();
  }

  /** Closes what has been stranded for longer than the drain timeout. */
  private drain(): void {
    this.drainTimer = null;
    if (this.spec === null) return;
    const drainMs = this.spec.drainTimeoutSeconds * 1000;
    const now = Date.now();
    const closed = { blue: 0, green: 0 };
    for (const c of [...this.clients]) {
      if (!c.active || c.strandedAt === 0 || now - c.strandedAt < drainMs) continue;
      closed[c.color]++;
      this.ctx.traffic.drainCloses[c.color]++;
      c.abort("this colour no longer serves this route; please retry\n");
    }
    for (const t of [...this.tunnels]) {
      if (t.strandedAt === 0 || now - t.strandedAt < drainMs) continue;
      closed[t.color]++;
      this.ctx.traffic.drainCloses[t.color]++;
      t.goAway();
    }
    if (closed.blue + closed.green > 0) this.log.info({ closed, drainTimeoutSeconds: this.spec.drainTimeoutSeconds }, "drain timeout: closed connections to a replaced route");
    this.scheduleDrain();
  }

  private sweep(): void {
    const now = Date.now();
    for (const e of this.upstreams.values()) e.up.sweep(now);
    for (const up of this.retired) {
      up.sweep(now);
      if (up.conns.size === 0) this.retired.delete(up);
    }
    for (const c of this.clients) c.sweep(now, this.ctx.timeouts.idleMs);
  }

  private scheduleCounts(): void {
    this.countsTimer = setTimeout(() => {
      this.countsTimer = null;
      const { inFlight: f, websockets: w } = this.ctx;
      const now = `${f.blue},${f.green},${w.blue},${w.green}`;
      if (now === this.reported) return;
      this.reported = now;
      this.notify();
    }, COUNTS_CHANGE_THROTTLE_MS);
    this.countsTimer.unref();
  }

  private changed(): void {
    this.notify();
  }

  private notify(): void {
    const cb = this.opts.onChange;
    if (cb === undefined) return;
    try {
      cb();
    } catch (err) {
      this.log.error({ err: (err as Error).message }, "router onChange callback failed");
    }
  }
}

