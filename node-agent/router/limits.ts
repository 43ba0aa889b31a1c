/**
 * The router data plane's timeouts and sizes, as named constants. They are not part of the router spec
 * (operators never needed to tune them in practice); `DataPlaneOptions.timeouts` overrides them for tests.
 */

/** Opening a TCP connection to an upstream node. Loopback or LAN: anything slower means the node is gone. */
export const UPSTREAM_CONNECT_TIMEOUT_MS = 3_000;
/** From the last request byte sent until the upstream's response head has arrived (like nginx's proxy_read_timeout). */
export const UPSTREAM_HEADER_TIMEOUT_MS = 60_000;
/**
 * Longest silence while a response body streams. Long enough for server-sent events with the usual
 * 15–30 s heartbeats; WebSockets have no idle timeout (TCP keep-alive finds dead peers instead).
 */
export const UPSTREAM_IDLE_TIMEOUT_MS = 120_000;
/**
 * An idle pooled upstream connection is closed after this long. Below Node's default server
 * keepAliveTimeout (5 s) so that we, not the upstream, close idle connections: that avoids most races where
 * a request is written to a connection the upstream is closing at that very moment.
 */
export const UPSTREAM_POOL_IDLE_MS = 4_000;
/** Idle upstream connections kept per node; busy ones are not limited. */
export const UPSTREAM_POOL_MAX_IDLE = 512;
/** Largest upstream response head we accept (status line plus headers). */
export const MAX_RESPONSE_HEAD_BYTES = 64 * 1024;
/** TCP keep-alive probes on WebSocket tunnels, so a vanished peer does not hold a tunnel open for ever. */
export const WEBSOCKET_KEEPALIVE_MS = 60_000;
/** After drain or shutdown sent its close frames, a WebSocket peer that keeps its side open is cut after this long. */
export const WEBSOCKET_GOAWAY_LINGER_MS = 2_000;
/** How often timeouts are checked; a timeout fires within this much of its deadline. */
export const SWEEP_INTERVAL_MS = 250;
/** status() changes that come from request counts are reported through onChange at most this often. */
export const COUNTS_CHANGE_THROTTLE_MS = 100;

/** Idle keep-alive connections from clients are closed after this long (Node's default is 5 s). */
export const CLIENT_KEEPALIVE_TIMEOUT_MS = 30_000;
/** A client must send a whole request head within this long (slow-loris guard, like Node's headersTimeout). */
export const CLIENT_HEADERS_TIMEOUT_MS = 60_000;
/** Largest request head we accept (like Node's default maxHeaderSize); more is answered with 431. */
export const MAX_REQUEST_HEAD_BYTES = 16 * 1024;

export interface RouterTimeouts {
  connectMs: number;
  headerMs: number;
  idleMs: number;
  poolIdleMs: number;
}

export const DEFAULT_ROUTER_TIMEOUTS: RouterTimeouts = {
  connectMs: UPSTREAM_CONNECT_TIMEOUT_MS,
  headerMs: UPSTREAM_HEADER_TIMEOUT_MS,
  idleMs: UPSTREAM_IDLE_TIMEOUT_MS,
  poolIdleMs: UPSTREAM_POOL_IDLE_MS,
};
