/**
 * The routing table: a RouterSpec compiled into what the hot path needs. A table never changes once built
 * (only its host cache and round-robin cursors move); the data plane swaps the whole table with one
 * reference assignment, so a request sees either the old table or the new one, never a mix.
 */
import type { RouterSpec, UpstreamService } from "../../specs/wire.js";
import type { Color } from "../../specs/types.js";
import type { Upstream } from "./upstream.js";

/** How a request picked its colour: through a live, preview or colour host name (or the default route). */
export type RouteClass = "live" | "preview" | "blue" | "green";

/**
 * How a request's Host header chose its route, as the router's metrics count it: a live host, a preview host,
 * a colour's own host (blue.example.com), or no listed host (the default route). Indexes HOST_KINDS.
 */
export const HOST_KINDS = ["live", "preview", "color", "default"] as const;
const DEFAULT_KIND = 3;

/** One exposed service of one colour: its path prefix and its upstream nodes, balanced round robin. */
export class ServiceRoute {
  /** Round-robin cursor; the only mutable field, touched by the hot path only. */
  rr = 0;
  /** The answers `resolve` gives for this route, one per host kind, built once so that resolving allocates nothing. */
  readonly resolutions: readonly Resolution[];
  constructor(readonly color: Color, readonly service: string, readonly pathPrefix: string, readonly nodes: readonly Upstream[]) {
    this.resolutions = HOST_KINDS.map((_, hostKind) => ({ ok: true, color, route: this, hostKind }) as const);
  }
}

/** Either a colour and its service route, or why there is none (status code and a short body); `hostKind` indexes HOST_KINDS. */
export type Resolution =
  | { readonly ok: true; readonly color: Color; readonly route: ServiceRoute; readonly hostKind: number }
  | { readonly ok: false; readonly status: number; readonly body: string; readonly color: Color | null; readonly hostKind: number };

/** A Host header's route class and host kind, cached per header value (constant objects: no allocation). */
interface HostHit {
  readonly cls: RouteClass | null;
  readonly kind: number;
}
const HITS: Record<RouteClass, HostHit> = { live: { cls: "live", kind: 0 }, preview: { cls: "preview", kind: 1 }, blue: { cls: "blue", kind: 2 }, green: { cls: "green", kind: 2 } };
const DEFAULT_HITS: Record<RouteClass | "none", HostHit> = {
  live: { cls: "live", kind: DEFAULT_KIND }, preview: { cls: "preview", kind: DEFAULT_KIND }, blue: { cls: "blue", kind: DEFAULT_KIND }, green: { cls: "green", kind: DEFAULT_KIND }, none: { cls: null, kind: DEFAULT_KIND },
};

const NO_ROUTE_FOR_HOST = { ok: false, status: 404, body: "no app is served on this host name\n", color: null, hostKind: DEFAULT_KIND } as const;
const NO_LIVE = { ok: false, status: 503, body: "no colour is live yet\n", color: null, hostKind: 0 } as const;
const NO_PREVIEW = { ok: false, status: 503, body: "no colour is in preview\n", color: null, hostKind: 1 } as const;
const MAX_HOST_CACHE = 1024;

export class RoutingTable {
  /** Exact host names (lowercase, without port) to their route class. */
  private readonly hosts = new Map<string, RouteClass>();
  /** `*.example.com` names as [".example.com", class], longest suffix first. */
  private readonly wildcards: Array<[string, RouteClass]> = [];
  /** Raw Host header values seen so far, so the common case is one map lookup. */
  private readonly hostCache = new Map<string, HostHit>();
  private readonly byColor: Record<Color, readonly ServiceRoute[]>;
  /** Route classes whose plain-HTTP requests are redirected to HTTPS (on a router that has HTTPS). */
  private readonly redirectClasses: ReadonlySet<RouteClass>;
  /** The Strict-Transport-Security header line for HTTPS answers ("" without HSTS). */
  readonly hstsLine: string;
  private readonly noUpstream: Record<Color, readonly Resolution[]>;

  /** `upstreamFor` returns the shared Upstream object for one node of one service (pools and health persist). */
  constructor(readonly spec: RouterSpec, upstreamFor: (color: Color, svc: UpstreamService, node: UpstreamService["nodes"][number]) => Upstream) {
    for (const cls of ["live", "preview", "blue", "green"] as const) {
      for (const h of spec.hosts[cls]) {
        const name = stripPort(h.toLowerCase());
        if (name.startsWith("*.")) this.wildcards.push([name.slice(1), cls]);
        else if (!this.hosts.has(name)) this.hosts.set(name, cls);
      }
    }
    this.wildcards.sort((a, b) => b[0].length - a[0].length);
    this.redirectClasses = new Set(spec.https?.redirect ?? []);
    const hsts = spec.https?.hsts;
    this.hstsLine = hsts === undefined ? "" : `strict-transport-security: max-age=${hsts.maxAgeSeconds}${hsts.includeSubDomains ? "; includeSubDomains" : ""}\r\n`;
    const routesOf = (color: Color): ServiceRoute[] =>
      spec.upstreams[color]
        .map((svc) => new ServiceRoute(color, svc.service, svc.pathPrefix, svc.nodes.map((n) => upstreamFor(color, svc, n))))
        // Longest prefix first: the first match is the longest match. Stable, so equal prefixes keep spec order.
        .sort((a, b) => b.pathPrefix.length - a.pathPrefix.length);
    this.byColor = { blue: routesOf("blue"), green: routesOf("green") };
    const noUpstream = (color: Color): Resolution[] =>
      HOST_KINDS.map((_, hostKind) => ({ ok: false, status: 503, body: `no upstream on ${color} serves this path\n`, color, hostKind }) as const);
    this.noUpstream = { blue: noUpstream("blue"), green: noUpstream("green") };
  }

  /** The route class a Host header value selects, or null when the default route is "none". */
  routeClass(hostHeader: string | undefined): RouteClass | null {
    return this.hostHit(hostHeader).cls;
  }

  /** A plain-HTTP request for this Host is redirected to HTTPS (when the router has HTTPS). */
  redirects(hostHeader: string | undefined): boolean {
    if (this.redirectClasses.size === 0 || hostHeader === undefined) return false;
    const cls = this.routeClass(hostHeader);
    return cls !== null && this.redirectClasses.has(cls);
  }

  /** The colour a route class leads to right now (null: none is live / in preview). */
  colorOf(cls: RouteClass): Color | null {
    if (cls === "live") return this.spec.live;
    if (cls === "preview") return this.spec.preview;
    return cls;
  }

  /** Host header and request path → colour and service route, or the error answer. */
  resolve(hostHeader: string | undefined, path: string): Resolution {
    const hit = this.hostHit(hostHeader);
    const cls = hit.cls;
    if (cls === null) return NO_ROUTE_FOR_HOST;
    const color = this.colorOf(cls);
    if (color === null) return cls === "live" ? NO_LIVE : NO_PREVIEW;
    const route = matchPrefix(this.byColor[color], path);
    return route === null ? this.noUpstream[color][hit.kind]! : route.resolutions[hit.kind]!;
  }

  /** Every service route of a colour, longest prefix first. */
  routes(color: Color): readonly ServiceRoute[] {
    return this.byColor[color];
  }

  private hostHit(hostHeader: string | undefined): HostHit {
    if (hostHeader === undefined) return DEFAULT_HITS[this.spec.defaultRoute];
    const hit = this.hostCache.get(hostHeader);
    if (hit !== undefined) return hit;
    const name = stripPort(hostHeader.toLowerCase());
    let cls: RouteClass | undefined = this.hosts.get(name);
    if (cls === undefined) {
      for (const [suffix, c] of this.wildcards) {
        if (name.length > suffix.length && name.endsWith(suffix)) { cls = c; break; }
      }
    }
    const found = cls === undefined ? DEFAULT_HITS[this.spec.defaultRoute] : HITS[cls];
    if (this.hostCache.size >= MAX_HOST_CACHE) this.hostCache.clear();
    this.hostCache.set(hostHeader, found);
    return found;
  }
}

/**
 * Path prefixes match on segment boundaries: "/api" matches "/api", "/api/x" and "/api?q" but not
 * "/apix"; a prefix ending in "/" matches anything below it.
 */
export function prefixMatches(prefix: string, path: string): boolean {
  if (!path.startsWith(prefix)) return false;
  if (path.length === prefix.length || prefix.charCodeAt(prefix.length - 1) === 47 /* / */) return true;
  const c = path.charCodeAt(prefix.length);
  return c === 47 /* / */ || c === 63 /* ? */ || c === 35 /* # */;
}

/** "Host:port" → "host"; "[::1]:80" → "[::1]". */
export function stripPort(host: string): string {
  const colon = host.lastIndexOf(":");
  if (colon < 0) return host;
  if (host.charCodeAt(0) === 91 /* [ */) {
    const close = host.indexOf("]");
    return close > 0 ? host.slice(0, close + 1) : host;
  }
  // A bare IPv6 address without brackets has several colons and no port we could strip safely.
  return host.indexOf(":") === colon ? host.slice(0, colon) : host;
}

function matchPrefix(routes: readonly ServiceRoute[], path: string): ServiceRoute | null {
  for (let i = 0; i < routes.length; i++) {
    const r = routes[i]!;
    if (prefixMatches(r.pathPrefix, path)) return r;
  }
  return null;
}
