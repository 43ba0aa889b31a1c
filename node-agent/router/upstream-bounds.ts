/**
 * agent.yaml's bound on where a router may send traffic (router.allowedUpstreams, a list of CIDRs; by
 * default loopback and the private ranges). Like allowedRepositories for a node agent, it holds whatever a
 * router spec asks: a stolen token cannot point the live route at an address outside it.
 */
import { BlockList, isIP } from "node:net";
import { lookup } from "node:dns/promises";
import { DEFAULT_ALLOWED_UPSTREAMS } from "../../specs/defaults.js";
import { parseCidr } from "../../specs/values.js";
import { agentError } from "../errors.js";

export class UpstreamBounds {
  private readonly allowed = new BlockList();
  private readonly text: string;

  constructor(cidrs: readonly string[] = DEFAULT_ALLOWED_UPSTREAMS) {
    for (const cidr of cidrs) {
      const c = parseCidr(cidr);
      if (c === null) throw new Error(`router.allowedUpstreams: ${JSON.stringify(cidr)} is not a CIDR such as 10.0.0.0/8`);
      this.allowed.addSubnet(c.net, c.prefix, c.family);
    }
    this.text = cidrs.join(", ");
  }

  /** True when the IP address lies in an allowed range (IPv4-mapped IPv6 addresses count as IPv4). */
  allows(ip: string): boolean {
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
    if (mapped !== null) return this.allowed.check(mapped[1]!, "ipv4");
    const family = isIP(ip);
    return family !== 0 && this.allowed.check(ip, family === 4 ? "ipv4" : "ipv6");
  }

  /**
   * Checks every address (an IP, or a host name resolved now: all of its addresses must be allowed) and
   * answers the IP to connect to for each, so a later DNS answer cannot move traffic elsewhere. Throws
   * AGENT_ERR_UPSTREAM_NOT_ALLOWED naming the first address outside the bounds. `unresolvedAsIs` keeps a name
   * that does not resolve right now as it is instead (for a stored table at start-up).
   */
  async pin(addresses: Iterable<string>, o: { unresolvedAsIs?: boolean } = {}): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    for (const address of addresses) {
      const bare = address.startsWith("[") && address.endsWith("]") ? address.slice(1, -1) : address;
      let ips: string[];
      if (isIP(bare) !== 0) ips = [bare];
      else {
        try {
          ips = (await lookup(bare, { all: true, verbatim: true })).map((a) => a.address);
        } catch (err) {
          // A stored table was checked when it was applied: a router that restarts while DNS is down keeps
          // serving it (the name is resolved again at each connect) rather than dropping live traffic.
          if (o.unresolvedAsIs === true) {
            out.set(address, address);
            continue;
          }
          throw agentError("AGENT_ERR_UPSTREAM_NOT_ALLOWED", `upstream ${address} does not resolve (${(err as NodeJS.ErrnoException).code ?? "error"}); the routing table was not changed`);
        }
      }
      const outside = ips.find((ip) => !this.allows(ip));
      if (outside !== undefined || ips.length === 0) {
        throw agentError("AGENT_ERR_UPSTREAM_NOT_ALLOWED",
          `upstream ${address}${outside !== undefined && outside !== bare ? ` (${outside})` : ""} is outside this router's allowed upstreams (agent.yaml router.allowedUpstreams: ${this.text}); the routing table was not changed`);
      }
      out.set(address, ips[0]!);
    }
    return out;
  }
}
