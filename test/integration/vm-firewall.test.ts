/**
 * The five-VM guide's firewall files (examples/vms/nftables/), loaded with the real nft into a network
 * namespace that plays the VM, with a second namespace playing the network (the router 10.0.0.10, the
 * controller 10.0.0.30 and a stranger 10.0.0.99). Issue 21: the app port and the agent API were reachable from
 * the public client, bypassing the router. A published Docker port is forwarded (DNAT) before an input chain
 * sees it; the VM namespace gets a DNAT like Docker's so the test shows the rules hold for that path too.
 */
import { execFileSync, spawn, spawnSync, type ChildProcess } from "node:child_process";
import { resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const VM = "sy-fw-vm";
const NET = "sy-fw-net";
const run = (...args: string[]) => execFileSync(args[0]!, args.slice(1), { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
/** Runs in the namespace's network only (no mount namespace of its own, which would hold copies of other tests' container mounts). */
const nsArgv = (ns: string, args: readonly string[]) => ["nsenter", `--net=/run/netns/${ns}`, "--", ...args];
const inNs = (ns: string, ...args: string[]) => run(...nsArgv(ns, args));
const children: ChildProcess[] = [];

function cleanup(): void {
  for (const c of children.splice(0)) c.kill("SIGKILL");
  for (const ns of [VM, NET]) spawnSync("ip", ["netns", "del", ns]);
}

/** True when a TCP connection from `from` to `to:port` is accepted within a second. */
function connects(from: string, to: string, port: number, ns = NET): boolean {
  const py = `import socket,sys
s=socket.socket(); s.settimeout(1.0); s.bind((sys.argv[1],0))
try:
  s.connect((sys.argv[2],int(sys.argv[3]))); print("open")
except Exception as e:
  print("closed", e)`;
  return inNs(ns, "python3", "-c", py, from, to, String(port)).startsWith("open");
}

/** The VM namespace with `address`, listeners on `ports`, the guide's file loaded, and Docker-like DNAT 8081 → 18081. */
function vm(address: string, file: string, ports: number[]): void {
  cleanup();
  run("ip", "netns", "add", VM);
  run("ip", "netns", "add", NET);
  run("ip", "link", "add", "sy-fw-a", "netns", VM, "type", "veth", "peer", "name", "sy-fw-b", "netns", NET);
  inNs(VM, "ip", "addr", "add", `${address}/24`, "dev", "sy-fw-a");
  inNs(VM, "ip", "link", "set", "sy-fw-a", "up");
  inNs(VM, "ip", "link", "set", "lo", "up");
  for (const a of ["10.0.0.10", "10.0.0.30", "10.0.0.99"]) if (a !== address) inNs(NET, "ip", "addr", "add", `${a}/24`, "dev", "sy-fw-b");
  inNs(NET, "ip", "link", "set", "sy-fw-b", "up");
  for (const p of ports) {
    const c = spawn("nsenter", nsArgv(VM, ["python3", "-c", `import socket,time
s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(("0.0.0.0",${p})); s.listen(64)
while True:
  c,_=s.accept(); c.close()`]).slice(1), { stdio: "ignore" });
    children.push(c);
  }
  // Docker publishes a container port with DNAT in its own nat table (dstnat priority).
  inNs(VM, "nft", "add table ip dockerlike; add chain ip dockerlike pre { type nat hook prerouting priority dstnat; }; add rule ip dockerlike pre tcp dport 8081 dnat to " + address + ":18081");
  inNs(VM, "nft", "-f", resolve("examples/vms/nftables", file));
  // Listeners up (accept loop bound) before the first probe.
  for (let i = 0; i < 50; i++) {
    if (ports.every((p) => inNs(VM, "ss", "-ltnH", `sport = :${p}`).trim() !== "")) return;
    spawnSync("sleep", ["0.1"]);
  }
}

describe("the five-VM guide's firewall rules", { timeout: 60_000 }, () => {
  beforeAll(() => cleanup());
  afterAll(() => cleanup());

  it("an app VM: the app port from the router only (also when Docker forwards it), the agent API from the controller only", () => {
    vm("10.0.0.11", "app.nft", [7100, 18081, 22, 9999]);
    expect({
      appFromRouter: connects("10.0.0.10", "10.0.0.11", 8081),
      appFromStranger: connects("10.0.0.99", "10.0.0.11", 8081),
      appFromController: connects("10.0.0.30", "10.0.0.11", 8081),
      agentFromController: connects("10.0.0.30", "10.0.0.11", 7100),
      agentFromRouter: connects("10.0.0.10", "10.0.0.11", 7100),
      agentFromStranger: connects("10.0.0.99", "10.0.0.11", 7100),
      ssh: connects("10.0.0.99", "10.0.0.11", 22),
      otherPort: connects("10.0.0.10", "10.0.0.11", 9999),
      // The agent's health probe of a process-runtime release: from the VM to its own address (through lo).
      appFromItself: connects("10.0.0.11", "10.0.0.11", 18081, VM),
    }).toEqual({
      appFromRouter: true, appFromStranger: false, appFromController: false, appFromItself: true,
      agentFromController: true, agentFromRouter: false, agentFromStranger: false,
      ssh: true, otherPort: false,
    });
  });

  it("the router VM: 80 and 443 from anyone, the agent API from the controller only", () => {
    vm("10.0.0.10", "router.nft", [80, 443, 7100, 9999]);
    expect({
      http: connects("10.0.0.99", "10.0.0.10", 80),
      https: connects("10.0.0.99", "10.0.0.10", 443),
      agentFromController: connects("10.0.0.30", "10.0.0.10", 7100),
      agentFromStranger: connects("10.0.0.99", "10.0.0.10", 7100),
      otherPort: connects("10.0.0.99", "10.0.0.10", 9999),
    }).toEqual({ http: true, https: true, agentFromController: true, agentFromStranger: false, otherPort: false });
  });
});
