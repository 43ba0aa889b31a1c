/** Small helpers on values every part uses: listen addresses, CIDRs, clipped text and frozen snapshots. */
import { isIP } from "node:net";

/** "127.0.0.1:8000" → ["127.0.0.1", 8000]; "[::1]:8000" → ["::1", 8000]. */
export function splitListen(listen: string): [string, number] {
  const colon = listen.lastIndexOf(":");
  let host = listen.slice(0, colon);
  if (host.startsWith("[") && host.endsWith("]")) host = host.slice(1, -1);
  return [host, Number(listen.slice(colon + 1))];
}

/** Deep-freezes a snapshot (children first, so a partly frozen value ends up wholly frozen). */
export function deepFreeze<T>(value: T): T {
  if (value && typeof value === "object") {
    for (const x of Object.values(value as Record<string, unknown>)) deepFreeze(x);
    Object.freeze(value);
  }
  return value;
}

/** A CIDR ("10.0.0.0/8", "fc00::/7") split into its network address, prefix length and family; null when it is not one. */
export function parseCidr(cidr: string): { net: string; prefix: number; family: "ipv4" | "ipv6" } | null {
  const slash = cidr.lastIndexOf("/");
  if (slash < 0) return null;
  const net = cidr.slice(0, slash);
  const family = isIP(net);
  const prefixText = cidr.slice(slash + 1);
  const prefix = Number(prefixText);
  if (family === 0 || !/^[0-9]{1,3}$/.test(prefixText) || prefix > (family === 4 ? 32 : 128)) return null;
  return { net, prefix, family: family === 4 ? "ipv4" : "ipv6" };
}

/** `text` cut to at most `max` characters, marking the cut. */
export function clip(text: string, max: number): string {
  return text.length <= max ? text : text.slice(0, Math.max(0, max - 1)) + "…";
}

/** An IP address (or "localhost") on the loopback interface: 127.0.0.0/8, ::1, or IPv4-mapped 127.x. */
export function isLoopbackAddress(host: string): boolean {
  const h = host.startsWith("::ffff:") ? host.slice(7) : host;
  return h === "localhost" || h === "::1" || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);
}
