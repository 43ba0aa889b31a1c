/**
 * The five-VM guide (examples/vms/README.md) on one machine: every VM is a network namespace with the guide's
 * own address (10.0.0.10 router, .11 blue, .12 green, .20 database, .30 controller, and a public client .99),
 * all joined by a bridge in a namespace of its own (the host's network is not involved, so the addresses need no
 * rewriting). Every VM has a root dir of its own; the guide's absolute paths (/etc/switchyard, /var/lib/switchyard,
 * /srv/deploy, /srv/shop, /usr/local/bin, /etc/nftables.d, /root/) are rewritten into it, and /opt/switchyard is this
 * checkout (already built: the guide's clone, npm ci and build). Processes run in a namespace with
 * `nsenter --net` (not `ip netns exec`, whose mount namespace would copy other tests' container mounts).
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { createWriteStream, mkdirSync, readdirSync, readFileSync, readlinkSync } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";

export const ADDRESSES = { router: "10.0.0.10", blue: "10.0.0.11", green: "10.0.0.12", database: "10.0.0.20", controller: "10.0.0.30", client: "10.0.0.99" } as const;
export type Vm = keyof typeof ADDRESSES;
const SWITCH = "sy-walk-sw";
export const nsName = (vm: Vm) => `sy-walk-${vm}`;
const nsenter = (vm: Vm) => ["nsenter", `--net=/run/netns/${nsName(vm)}`, "--"];
const run = (argv: string[], input?: string) => execFileSync(argv[0]!, argv.slice(1), { encoding: "utf8", stdio: ["pipe", "pipe", "pipe"], ...(input !== undefined ? { input } : {}) });

export function removeNetwork(): void {
  for (const n of [...Object.keys(ADDRESSES).map((v) => nsName(v as Vm)), SWITCH]) {
    try {
      run(["ip", "netns", "del", n]);
    } catch {
      /* not there */
    }
  }
}

/** The VMs' namespaces on one bridge, each with its guide address on a /24. */
export function createNetwork(): void {
  removeNetwork();
  run(["ip", "netns", "add", SWITCH]);
  run(["ip", "-n", SWITCH, "link", "add", "br0", "type", "bridge"]);
  run(["ip", "-n", SWITCH, "link", "set", "br0", "up"]);
  for (const [vm, address] of Object.entries(ADDRESSES) as [Vm, string][]) {
    run(["ip", "netns", "add", nsName(vm)]);
    run(["ip", "link", "add", `e-${vm}`, "netns", nsName(vm), "type", "veth", "peer", "name", `p-${vm}`, "netns", SWITCH]);
    run(["ip", "-n", SWITCH, "link", "set", `p-${vm}`, "master", "br0", "up"]);
    run(["ip", "-n", nsName(vm), "addr", "add", `${address}/24`, "dev", `e-${vm}`]);
    run(["ip", "-n", nsName(vm), "link", "set", `e-${vm}`, "up"]);
    run(["ip", "-n", nsName(vm), "link", "set", "lo", "up"]);
  }
}

export class Machines {
  readonly repo = process.cwd();
  constructor(readonly root: string) {}

  dir(vm: Vm): string {
    return join(this.root, `vm-${vm}`);
  }

  /** A guide path on a VM: /etc/switchyard/x → <root>/vm-blue/etc/switchyard/x. */
  path(vm: Vm, p: string): string {
    return this.rewrite(vm, p);
  }

  /** The guide's absolute paths in a command or file, moved into the VM's root dir. */
  rewrite(vm: Vm, text: string): string {
    return text
      .replace(/(?<![\w./-])\/opt\/switchyard/g, this.repo)
      .replace(/(?<![\w./-])\/(etc\/switchyard|etc\/nftables\.d|var\/lib\/switchyard|srv\/deploy|srv\/shop|usr\/local\/bin|root(?=\/))/g, `${this.dir(vm)}/$1`);
  }

  env(vm: Vm): NodeJS.ProcessEnv {
    return { PATH: `${this.dir(vm)}/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin`, LANG: "C.UTF-8", HOME: "/root" };
  }

  /** Runs a guide command with sh on the VM (paths rewritten; `sudo -u U` is `runuser -u U --`: no sudo here). */
  sh(vm: Vm, cmd: string, o: { cwd?: string; input?: string } = {}): string {
    const line = this.rewrite(vm, cmd).replace(/\bsudo -u (\S+)/g, "runuser -u $1 --");
    try {
      return execFileSync(nsenter(vm)[0]!, [...nsenter(vm).slice(1), "sh", "-ec", line], { encoding: "utf8", env: this.env(vm), cwd: o.cwd ?? this.dir(vm), stdio: ["pipe", "pipe", "pipe"], input: o.input ?? "" });
    } catch (err) {
      const e = err as { stderr?: string; stdout?: string; message: string };
      throw new Error(`on ${vm}: ${line}\n${e.stdout ?? ""}${e.stderr ?? e.message}`);
    }
  }

  /** Starts a long-running process on the VM as `user` (setpriv keeps the pid, as systemd's exec does). */
  spawn(vm: Vm, argv: string[], user: string | undefined, logName: string): ChildProcess {
    mkdirSync(join(this.root, "logs"), { recursive: true });
    const as = user ? ["setpriv", `--reuid=${user}`, `--regid=${user}`, "--init-groups", "--"] : [];
    const p = spawn(nsenter(vm)[0]!, [...nsenter(vm).slice(1), ...as, ...argv.map((a) => this.rewrite(vm, a))], { env: { ...this.env(vm), HOME: user ? "/nonexistent" : "/root" }, cwd: "/", stdio: ["pipe", "pipe", "pipe"] });
    const log = createWriteStream(join(this.root, "logs", `${logName}.log`), { flags: "a" });
    p.stdout!.pipe(log, { end: false });
    p.stderr!.pipe(log, { end: false });
    return p;
  }

  /** Processes whose working directory is inside these VMs (the releases), for cleanup. */
  releaseProcesses(): number[] {
    const out: number[] = [];
    for (const d of readdirSync("/proc")) {
      if (!/^\d+$/.test(d)) continue;
      try {
        if (readlinkSync(`/proc/${d}/cwd`).startsWith(this.root + "/")) out.push(Number(d));
      } catch {
        /* gone or not ours */
      }
    }
    return out;
  }
}

/** A systemd unit's ExecStart (split on blanks: the guide's units quote nothing) and User= (root without one). */
export function unitFile(file: string): { execStart: string[]; user: string | undefined; text: string } {
  const text = readFileSync(file, "utf8");
  const get = (k: string) => new RegExp(`^${k}=(.*)$`, "m").exec(text)?.[1]?.trim();
  return { execStart: get("ExecStart")!.split(/\s+/), user: get("User"), text };
}

/** The `name=address` pairs of a .socket unit (ListenStream= with the FileDescriptorName= after it). */
export function socketUnit(file: string): Record<string, string> {
  const out: Record<string, string> = {};
  let listen = "";
  for (const line of readFileSync(file, "utf8").split("\n")) {
    const m = /^(ListenStream|FileDescriptorName)=(.*)$/.exec(line.trim());
    if (m?.[1] === "ListenStream") listen = m[2]!;
    else if (m) out[m[2]!] = listen;
  }
  return out;
}

/** The guide's fenced code blocks and inline `code`, to run its commands as written. */
export function guide(file = "examples/vms/README.md"): { block(after: string): string; inline(re: RegExp): string } {
  const text = readFileSync(file, "utf8");
  return {
    block(after) {
      const at = text.indexOf(after);
      const m = /```sh\n([\s\S]*?)```/.exec(text.slice(at));
      if (at < 0 || !m) throw new Error(`no code block after "${after}" in ${file}`);
      return m[1]!.replace(/^ {3}/gm, "");
    },
    inline(re) {
      const flat = text.replace(/```[\s\S]*?```/g, "").replace(/\n\s*/g, " ");
      for (const m of flat.matchAll(/`([^`]+)`/g)) if (re.test(m[1]!)) return m[1]!;
      throw new Error(`no command matching ${re} in ${file}`);
    },
  };
}

/** Lines of a child's stdout as they come; `next(re)` resolves with the first later line that matches. */
export class Lines {
  private readonly waiters: { re: RegExp; resolve: (m: RegExpExecArray) => void }[] = [];
  last = "";
  constructor(p: ChildProcess, onLine?: (line: string) => void) {
    createInterface({ input: p.stdout! }).on("line", (line) => {
      this.last = line;
      onLine?.(line);
      for (let i = 0; i < this.waiters.length; i++) {
        const m = this.waiters[i]!.re.exec(line);
        if (m) {
          this.waiters[i]!.resolve(m);
          this.waiters.splice(i--, 1);
        }
      }
    });
  }

  next(re: RegExp): Promise<RegExpExecArray> {
    return new Promise((resolve) => this.waiters.push({ re, resolve }));
  }
}
