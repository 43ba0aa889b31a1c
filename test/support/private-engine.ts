/**
 * A Docker engine of the test's own (its own socket, data root, containerd and bridge), so a test can stop and
 * start the engine under a running agent without touching the test bed's engine, which other test files use.
 * Leftovers of an earlier run (its pid file, bridge, mounts) are removed before it starts.
 */
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import Docker from "dockerode";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return !readFileSync(`/proc/${pid}/stat`, "utf8").includes(") Z ");
  } catch {
    return false;
  }
};

export class PrivateEngine {
  readonly socket: string;
  readonly docker: Docker;
  private readonly pidFile: string;

  /** `dir` holds everything of the engine; `bridge` (at most 15 characters) and `subnet` (a /24's first three octets) must be unused. */
  constructor(readonly dir: string, private readonly bridge: string, private readonly subnet: string) {
    this.socket = join(dir, "docker.sock");
    this.pidFile = join(dir, "docker.pid");
    this.docker = new Docker({ socketPath: this.socket });
  }

  /** Starts the engine (cleaning up what an earlier run left) and waits until it answers. */
  async start(): Promise<void> {
    await this.stop();
    mkdirSync(this.dir, { recursive: true });
    if (spawnSync("ip", ["link", "show", this.bridge]).status !== 0) {
      run("ip", ["link", "add", this.bridge, "type", "bridge"]);
      run("ip", ["addr", "add", `${this.subnet}.1/24`, "dev", this.bridge]);
    }
    run("ip", ["link", "set", this.bridge, "up"]);
    const child = spawn("dockerd", [
      "--host", `unix://${this.socket}`, "--data-root", join(this.dir, "data"), "--exec-root", join(this.dir, "exec"),
      "--pidfile", this.pidFile, "--bridge", this.bridge, "--iptables=false", "--ip-masq=false", "--shutdown-timeout", "5",
    ], { detached: true, stdio: ["ignore", "ignore", "ignore"] });
    child.unref();
    const deadline = Date.now() + 30_000;
    for (;;) {
      if (await this.docker.ping().then(() => true, () => false)) return;
      if (Date.now() > deadline) throw new Error(`the private dockerd in ${this.dir} did not answer within 30 s`);
      await sleep(200);
    }
  }

  /** Stops the engine as a package upgrade or `systemctl restart docker` does (SIGTERM: it stops its containers). */
  async stop(): Promise<void> {
    const pid = existsSync(this.pidFile) ? Number(readFileSync(this.pidFile, "utf8")) : 0;
    if (pid > 0 && alive(pid)) {
      process.kill(pid, "SIGTERM");
      const deadline = Date.now() + 30_000;
      while (alive(pid) && Date.now() < deadline) await sleep(100);
      if (alive(pid)) process.kill(pid, "SIGKILL");
    }
    rmSync(this.pidFile, { force: true });
  }

  /** Stops the engine and removes all of it (containers, images, the bridge). */
  async remove(): Promise<void> {
    await this.stop();
    // A containerd shim outlives dockerd when containerd could not stop its container in time (seen after an
    // engine restart under load): kill it and its container, as a reboot of the VM would.
    for (const pid of this.processes()) killTree(pid);
    // What dockerd mounted under its roots and did not unmount (a SIGKILL) would stop rm.
    const mounts = readFileSync("/proc/mounts", "utf8").split("\n").map((l) => l.split(" ")[1]).filter((m): m is string => !!m && m.startsWith(this.dir + "/"));
    for (const m of mounts.reverse()) spawnSync("umount", ["-l", m]);
    rmSync(this.dir, { recursive: true, force: true });
    spawnSync("ip", ["link", "del", this.bridge]);
  }

  /** Processes whose command line names this engine's dir (dockerd, containerd, shims). */
  processes(): number[] {
    const out: number[] = [];
    for (const d of readdirSync("/proc")) {
      if (!/^\d+$/.test(d) || Number(d) === process.pid) continue;
      try {
        if (readFileSync(`/proc/${d}/cmdline`, "utf8").replace(/\0/g, " ").includes(this.dir)) out.push(Number(d));
      } catch {
        // gone meanwhile
      }
    }
    return out;
  }
}

/** SIGKILLs `pid` and every process below it. */
function killTree(pid: number): void {
  const children = new Map<number, number[]>();
  for (const d of readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(d)]);
    } catch {
      // gone meanwhile
    }
  }
  const all: number[] = [];
  const walk = (p: number) => { all.push(p); for (const c of children.get(p) ?? []) walk(c); };
  walk(pid);
  for (const p of all) {
    try {
      process.kill(p, "SIGKILL");
    } catch {
      // gone meanwhile
    }
  }
}

function run(cmd: string, args: string[]): void {
  const r = spawnSync(cmd, args, { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} failed: ${r.stderr.trim()}`);
}
