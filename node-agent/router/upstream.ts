/**
 * One upstream node of one service (address:port): its keep-alive connection pool and its health.
 *
 * Health semantics. A node starts "unknown", which counts as healthy: the reconciler only flips to a colour
 * whose every node it has seen healthy, and both colours' nodes are probed all the time, so a flip never
 * waits for a probe; and after a router restart the restored table serves at once instead of answering 503
 * until the first probes come back. The first probe is sent as soon as the node appears, and its result
 * alone decides (unknown → healthy or unhealthy); after that the thresholds apply (healthyThreshold
 * successes in a row to come back, unhealthyThreshold failures in a row to go). Passive marking: a refused
 * or timed-out connect marks the node unhealthy at once — the request itself is retried on another node —
 * and only probes bring it back. Timeouts and errors on established connections say nothing about the
 * node's health (a slow page is not a dead node) and do not mark it.
 *
 * Pooling. Keep-alive connections per node, reused last-in-first-out so that the least recently used ones
 * reach the pool idle timeout (4 s, below Node's default 5 s server keep-alive, so we close idle
 * connections before the upstream does) and go; no cap on busy connections, at most 512 idle ones kept.
 * Pools and health survive table swaps for every node that stays in the table (keyed by address, port and
 * health settings); a node that leaves is retired: idle connections close at once, busy ones after their
 * exchange.
 */
import type { Logger } from "pino";
import type { Color } from "../../specs/types.js";
import type { Health } from "../../specs/wire.js";
import type { HealthProbe } from "../health.js";
import type { RouterTimeouts } from "./limits.js";
import { UPSTREAM_POOL_MAX_IDLE } from "./limits.js";
import { UpstreamConn } from "./upstream-conn.js";
import type { Traffic } from "./traffic.js";

/** What upstreams and their connections share with the data plane that owns them. */
export interface RouterContext {
  readonly timeouts: RouterTimeouts;
  readonly log: Logger;
  /** Requests being proxied, per colour (reported in status()). */
  readonly inFlight: Record<Color, number>;
  /** Open WebSocket tunnels, per colour. */
  readonly websockets: Record<Color, number>;
  /** Responses and latencies per colour (the router's traffic figures). */
  readonly traffic: Traffic;
  /** Call after changing the counters above; cheap, throttled by the data plane. */
  countsChanged(): void;
  /** Resolves a node address that is a name, keeping only addresses inside agent.yaml's bounds. */
  readonly lookup: import("node:net").LookupFunction;
  /** Call after an upstream's health changed. */
  healthChanged(up: Upstream): void;
}

export class Upstream {
  /** Used by the load balancer: true while unknown or healthy. */
  healthy = true;
  health: Health = "unknown";
  /** The node's health check, which holds the verdict (set by the check itself). */
  check: HealthProbe | null = null;
  /** Set once the node left the routing table: no new requests, connections close when their request ends. */
  retired = false;
  /** Every open connection, idle or busy. */
  readonly conns = new Set<UpstreamConn>();
  /** Idle connections, most recently used last (reused first, so the oldest ones time out). */
  readonly idle: UpstreamConn[] = [];

  constructor(
    readonly ctx: RouterContext,
    readonly key: string,
    readonly node: string,
    readonly address: string,
    readonly port: number,
  ) {}

  /** An idle pooled connection, or a new one (connecting). */
  acquire(): UpstreamConn {
    const idle = this.idle;
    while (idle.length > 0) {
      const c = idle.pop()!;
      if (!c.socket.destroyed && c.socket.writable) return c;
    }
    const c = new UpstreamConn(this);
    this.conns.add(c);
    return c;
  }

  /** A new connection, never a pooled one (the retry after a pooled connection turned out stale). */
  open(): UpstreamConn {
    const c = new UpstreamConn(this);
    this.conns.add(c);
    return c;
  }

  /** Back to the pool after a complete exchange. */
  release(c: UpstreamConn, now: number): void {
    if (this.retired || this.idle.length >= UPSTREAM_POOL_MAX_IDLE) {
      c.socket.destroy();
      return;
    }
    c.idleSince = now;
    this.idle.push(c);
  }

  /** Called by a connection when its socket closed. */
  forget(c: UpstreamConn): void {
    this.conns.delete(c);
    const i = this.idle.indexOf(c);
    if (i >= 0) this.idle.splice(i, 1);
  }

  /** A connect to this node failed: take it out of rotation until probes bring it back. */
  markDownPassive(reason: string): void {
    if (this.check) this.check.markDown(reason);
    else this.healthChanged("unhealthy", reason);
  }

  /** The health check's verdict (or a passive mark-down) changed. */
  healthChanged(h: Health, reason: string): void {
    const before = this.health;
    this.health = h;
    this.healthy = h !== "unhealthy";
    if (before !== h) {
      const fields = { node: this.node, address: this.address, port: this.port, from: before, to: h, reason };
      if (h === "unhealthy") this.ctx.log.warn(fields, "upstream unhealthy");
      else this.ctx.log.info(fields, "upstream health");
      this.ctx.healthChanged(this);
    }
  }

  /** Enforces timeouts on every connection of this node; `now` is Date.now(). */
  sweep(now: number): void {
    for (const c of this.conns) c.sweep(now);
  }

  /** Closes idle connections now; busy ones close when their request ends (or at drain). */
  retire(): void {
    this.retired = true;
    for (const c of this.idle.splice(0)) c.socket.destroy();
  }

  /** Ends every connection, busy or not. */
  destroyAll(): void {
    this.retired = true;
    for (const c of [...this.conns]) c.abandon();
  }
}
