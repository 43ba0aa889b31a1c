/**
 * Network namespaces for the soak's routers: every router agent is its own "machine" with its own
 * loopback, so two routers can listen on the same router.listen (as they would on two VMs). Each
 * namespace is joined to this host by a veth pair on its own /24: host side .1, namespace side .2.
 * The app's nodes publish on the first pair's host address, which every namespace reaches.
 */
import { execFileSync } from "node:child_process";

export interface Netns {
  name: string;
  /** This host's address on the pair. */
  hostIp: string;
  /** The namespace's address: its router and agent listen here. */
  nsIp: string;
  hostIf: string;
}

const ip = (...args: string[]) => execFileSync("ip", args, { stdio: ["ignore", "pipe", "pipe"] }).toString();

/** A free <prefix>.x.0/24 block of `count` consecutive subnets (none of them on any interface yet): x. */
export function freeBase(count: number, prefix = "10.87"): number {
  const used = ip("-4", "-o", "addr");
  for (let b = 10 + Math.floor(Math.random() * 200); ; b = 10 + ((b + count) % 230)) {
    if (Array.from({ length: count }, (_, i) => `${prefix}.${b + i}.`).every((p) => !used.includes(p))) return b;
  }
}

export function createNetns(tag: string, count: number): Netns[] {
  const base = freeBase(count);
  const out: Netns[] = [];
  try {
    for (let i = 0; i < count; i++) {
      const n = { name: `sy-${tag}-r${i + 1}`, hostIf: `sy${tag.slice(-6)}h${i + 1}`, hostIp: `10.87.${base + i}.1`, nsIp: `10.87.${base + i}.2` };
      const nsIf = `sy${tag.slice(-6)}n${i + 1}`;
      ip("netns", "add", n.name);
      out.push(n);
      ip("link", "add", n.hostIf, "type", "veth", "peer", "name", nsIf);
      ip("link", "set", nsIf, "netns", n.name);
      ip("addr", "add", `${n.hostIp}/24`, "dev", n.hostIf);
      ip("link", "set", n.hostIf, "up");
      ip("-n", n.name, "addr", "add", `${n.nsIp}/24`, "dev", nsIf);
      ip("-n", n.name, "link", "set", nsIf, "up");
      ip("-n", n.name, "link", "set", "lo", "up");
      ip("-n", n.name, "route", "add", "default", "via", n.hostIp);
    }
  } catch (err) {
    removeNetns(out);
    throw err;
  }
  return out;
}

/** Deletes the namespaces and their pairs (run after every process in them has exited). */
export function removeNetns(list: readonly Netns[]): void {
  for (const n of list) {
    try {
      ip("link", "del", n.hostIf);
    } catch {
      /* gone with its namespace */
    }
    try {
      ip("netns", "del", n.name);
    } catch {
      /* already gone */
    }
  }
}

/**
 * The command line that runs argv inside the namespace. It joins the network namespace only: `ip netns exec`
 * also makes a new mount namespace, a copy of every mount of the moment (on a host whose / is not shared, as
 * here), and a copy of a container's overlay mount keeps Docker from removing that container for as long as
 * the router runs ("device or resource busy").
 */
export function inNetns(n: Netns, argv: readonly string[]): string[] {
  return ["nsenter", `--net=/run/netns/${n.name}`, "--", ...argv];
}

/** Namespaces and interfaces of this tag that still exist (for the leftovers check). */
export function leftoverNetns(tag: string): string[] {
  const names = ip("netns", "list").split("\n").filter((l) => l.startsWith(`sy-${tag}-`));
  const links = ip("-o", "link").split("\n").filter((l) => l.includes(`sy${tag.slice(-6)}`));
  return [...names, ...links.map((l) => l.split(":")[1]!.trim())];
}
