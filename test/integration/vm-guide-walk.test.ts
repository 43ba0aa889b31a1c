/**
 * Issue 21 item 4: the five-VM guide (examples/vms/README.md) walked as written, one network namespace per VM
 * (test/support/vm-walk.ts), with a public client sending traffic to the router the whole time.
 *
 * From the guide's text: the install lines (symlink, --version, useradd, /etc/switchyard), the openssl block
 * (run as it stands, addresses included), the tls/token/secrets install lines, agent.yaml files, `validate`,
 * the units' ExecStart and User= (run as that user with setpriv, in the VM's namespace; StateDirectory made as
 * systemd makes it), the router's sockets from the .socket unit through a holder that plays systemd, the deploy
 * dir as a git repository of `switchyard`, `user add`, the nftables files, then the CLI for every step.
 * What differs, and why:
 * - App VMs run the process runtime (the guide's "Without Docker"): no Docker engine in a namespace. Their
 *   agent.yaml is agents/<vm>.yaml with runtime: process, process-runtime/agent.yaml's `process` section and no
 *   `registries`; releases v1..v4 are folders in /srv/shop/releases; the agent runs as root (its unit has no User=).
 * - cluster.yaml without image.registry (no registry on this runtime), acme and router.https (no Let's Encrypt
 *   here: test/integration/acme*.test.ts covers it against pebble), alerts.webhooks (external URLs).
 * - Paths are moved under each VM's root dir; `sudo -u U` runs as `runuser -u U --`; `systemctl` is played by
 *   starting and signalling the unit's command; copying files between VMs is a copy on this disk.
 * - The database VM is a namespace with a TCP listener on 5432 and its nftables file.
 */
import { execFileSync, type ChildProcess } from "node:child_process";
import { chmodSync, chownSync, copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseDocument } from "yaml";
import { writeDemoReleases } from "../../cli/demo/releases.js";
import { waitFor } from "../support/agent-bed.js";
import { createNetwork, guide, Lines, Machines, removeNetwork, socketUnit, unitFile, type Vm } from "../support/vm-walk.js";

const VMS_DIR = "examples/vms";
const RESTARTS = 10;
const g = guide();
const mainReadme = guide("README.md");

/** The public client: GET /version on the router, keep-alive and new connections; a JSON line every 250 ms. */
const CLIENT = `
const http = require("node:http");
const c = { ok: 0, failed: 0, errors: [], seen: {} };
let stop = false;
const keep = new http.Agent({ keepAlive: true, maxSockets: 2 });
const one = (agent) => new Promise((resolve) => {
  const req = http.get({ host: "10.0.0.10", port: 80, path: "/version", headers: { host: "shop.example.com" }, agent, timeout: 15000 }, (res) => {
    let body = ""; res.on("data", (d) => body += d);
    res.on("end", () => {
      if (res.statusCode === 200) { c.ok++; const v = JSON.parse(body); const k = v.color + "/" + v.tag; c.seen[k] = (c.seen[k] || 0) + 1; }
      else { c.failed++; c.errors.push(new Date().toISOString() + " status " + res.statusCode); }
      resolve();
    });
  });
  req.on("timeout", () => req.destroy(new Error("timeout")));
  req.on("error", (e) => { c.failed++; c.errors.push(new Date().toISOString() + " " + e.message); resolve(); });
});
const loop = async (agent) => { while (!stop) { await one(agent); await new Promise((r) => setTimeout(r, 20)); } };
const all = Promise.all([loop(keep), loop(keep), loop(undefined), loop(undefined)]);
const print = () => console.log(JSON.stringify({ ...c, errors: c.errors.slice(-10) }));
setInterval(print, 250);
process.on("SIGTERM", async () => { stop = true; await all; print(); process.exit(0); });
`;

/** On the controller: the reconciler's status and alerts every 250 ms, one JSON line each. */
const WATCH = `
const [token] = process.argv.slice(1);
const get = (p) => fetch("http://127.0.0.1:7000" + p, { headers: { authorization: "Bearer " + token } }).then((r) => r.json());
setInterval(async () => {
  try { console.log(JSON.stringify({ status: await get("/api/v1/status"), alerts: (await get("/api/v1/alerts")).alerts })); } catch (e) { console.log(JSON.stringify({ error: e.message })); }
}, 250);
`;

interface Seen { status?: any; alerts?: { fingerprint: string; state: string; startsAt: string }[]; error?: string }

describe("the five-VM guide, walked in network namespaces", () => {
  const root = mkdtempSync(join(tmpdir(), "sy-walk-"));
  const m = new Machines(root);
  const units = new Map<string, ChildProcess>();
  const ca = join(m.dir("controller"), "root", "ca");
  let holder: ChildProcess;
  let holderLines: Lines;
  let routerPid = 0;
  let token = "";
  let latest: Seen = {};
  /** Every alert seen firing during the walk. */
  const fired = new Set<string>();
  const onLine: ((s: Seen) => void)[] = [];
  const cli = (args: string) => m.sh("controller", `SWITCHYARD_TOKEN=${token} switchyard ${args}`);
  const appUnit = unitFile(join(VMS_DIR, "systemd/switchyard-agent-process.service"));
  const routerUnit = unitFile(join(VMS_DIR, "systemd/switchyard-router.service"));
  const reconcilerUnit = unitFile(join(VMS_DIR, "systemd/switchyard-reconciler.service"));
  const uid = (user: string) => Number(execFileSync("id", ["-u", user], { encoding: "utf8" }).trim());

  /** StateDirectory=switchyard, StateDirectoryMode=0700, owned by User= (as systemd makes it at start). */
  const stateDirectory = (vm: Vm, user: string | undefined) => {
    const d = m.path(vm, "/var/lib/switchyard");
    mkdirSync(d, { recursive: true, mode: 0o700 });
    chownSync(d, user ? uid(user) : 0, user ? uid(user) : 0);
    chmodSync(d, 0o700);
  };
  const startUnit = (vm: Vm, unit: ReturnType<typeof unitFile>) => {
    stateDirectory(vm, unit.user);
    const p = m.spawn(vm, unit.execStart, unit.user, `${vm}-unit`);
    units.set(vm, p);
    return p;
  };
  /** systemctl stop: SIGTERM to the main process, wait for its exit. */
  const stopUnit = async (vm: Vm) => {
    const p = units.get(vm)!;
    const exited = new Promise((r) => (p.exitCode !== null ? r(null) : p.once("exit", r)));
    p.kill("SIGTERM");
    await exited;
    return p.exitCode;
  };
  const agentUp = (vm: Vm) => waitFor(`${vm}'s agent API`, async () => {
    try {
      return m.sh("controller", `curl -sf --cacert /srv/deploy/secrets/ca.crt https://${vm === "router" ? "10.0.0.10" : vm === "blue" ? "10.0.0.11" : "10.0.0.12"}:7100/v1/healthz`).includes("true");
    } catch {
      return false;
    }
  }, 60_000, 200);
  /** systemctl restart of the router: SIGTERM, its exit, the next process from the holder with the same sockets. */
  const restartRouter = async () => {
    const exited = holderLines.next(new RegExp(`^exited ${routerPid} `));
    process.kill(routerPid, "SIGTERM");
    const code = Number((await exited)[0].split(" ")[2]);
    routerPid = await startRouter();
    await agentUp("router");
    latest = {};
    // As an operator would before the next one: the reconciler sees the router again (its API was down).
    await until("the reconciler reaches the router again", (s) => s.router.nodes.every((n: any) => n.reachable), 30_000);
    return code;
  };
  const startRouter = async () => {
    const started = holderLines.next(/^started (\d+)$/);
    const as = routerUnit.user ? ["setpriv", `--reuid=${routerUnit.user}`, `--regid=${routerUnit.user}`, "--init-groups", "--"] : [];
    holder.stdin!.write(JSON.stringify([...as, ...routerUnit.execStart.map((a) => m.rewrite("router", a))]) + "\n");
    return Number((await started)[1]);
  };
  const status = () => latest.status;
  /** The watcher's status lines lag up to 250 ms behind a CLI command's --wait: wait for the next that shows it. */
  const until = (what: string, ok: (s: any) => boolean, ms = 15_000) => waitFor(what, async () => latest.status && ok(latest.status), ms, 100);
  const webPid = (node: string) => {
    const found = m.releaseProcesses().filter((pid) => {
      try {
        const env = readFileSync(`/proc/${pid}/environ`, "latin1");
        return env.includes(`SWITCHYARD_NODE=${node}\0`) && env.includes("SWITCHYARD_SERVICE=web\0");
      } catch {
        return false;
      }
    });
    return found;
  };

  beforeAll(async () => {
    chmodSync(root, 0o755);
    createNetwork();
    for (const vm of ["router", "blue", "green", "controller", "database", "client"] as Vm[]) for (const d of ["etc", "usr/local/bin", "var/lib", "srv"]) mkdirSync(join(m.dir(vm), d), { recursive: true });

    // Step 1: install. The checkout is /opt/switchyard (built); the rest of the block as written.
    const install = g.block("1. **Install**").split("\n").filter((l) => l.trim() && !/^(git clone|cd )/.test(l.trim()));
    for (const vm of ["router", "blue", "green", "controller"] as Vm[]) {
      for (const line of install) {
        if (line.startsWith("useradd") && spawnOk("id", "switchyard")) continue; // one host: the user exists after the first VM
        const out = m.sh(vm, line);
        if (line.startsWith("switchyard --version")) expect(out).toMatch(/^\d+\.\d+\.\d+\+[0-9a-f]{7,}/);
      }
      expect(statSync(m.path(vm, "/etc/switchyard")).mode & 0o777).toBe(0o750);
    }
    // Without Docker: the app's user, from the guide's text.
    if (!spawnOk("id", "shop-app")) m.sh("blue", g.inline(/^useradd .* shop-app$/));

    // Step 2: the CA and the agents' certificates, the block as written, in a folder only root reads.
    mkdirSync(ca, { recursive: true, mode: 0o700 });
    m.sh("controller", g.block("2. **TLS between"), { cwd: ca });
    const tlsLine = g.inline(/^install -o root -g switchyard -m 0640 blue-1\.crt \/etc\/switchyard\/tls\.crt$/);
    for (const [vm, name] of [["router", "router-1"], ["blue", "blue-1"], ["green", "green-1"]] as [Vm, string][]) {
      // On a process-runtime VM the agent runs as root: `-g root` (the guide's words).
      const group = vm === "router" ? "switchyard" : "root";
      m.sh(vm, tlsLine.replace("-g switchyard", `-g ${group}`).replaceAll("blue-1", name), { cwd: ca });
      m.sh(vm, tlsLine.replace("-g switchyard", `-g ${group}`).replaceAll("blue-1", name).replaceAll(".crt", ".key"), { cwd: ca });
    }

    // Step 3: tokens (root's on the process-runtime VMs) and app secrets.
    const tokenLine = g.inline(/^\(umask 077; openssl rand -hex 32 > \/etc\/switchyard\/agent\.token\)/);
    const secretsLine = g.inline(/^install -d -o switchyard -g switchyard -m 0700 \/etc\/switchyard\/secrets$/);
    for (const vm of ["router", "blue", "green"] as Vm[]) {
      m.sh(vm, vm === "router" ? tokenLine : tokenLine.replace("chown switchyard:", "chown root:"));
      if (vm === "router") continue;
      m.sh(vm, secretsLine.replaceAll("switchyard -g switchyard", "root -g root"));
      writeFileSync(m.path(vm, "/etc/switchyard/secrets/database.env"), "DATABASE_URL=postgres://shop:walk-password@10.0.0.20/shop\n", { mode: 0o600 });
    }

    // Step 4: agents. The app VMs' agent.yaml: the process-runtime variant (see the head of this file).
    const processSection = parseDocument(readFileSync("examples/process-runtime/agent.yaml", "utf8")).get("process");
    for (const [vm, name] of [["router", "router-1"], ["blue", "blue-1"], ["green", "green-1"]] as [Vm, string][]) {
      const doc = parseDocument(readFileSync(join(VMS_DIR, "agents", `${name}.yaml`), "utf8"));
      if (vm !== "router") {
        doc.set("runtime", "process");
        doc.set("process", processSection);
        doc.delete("registries");
        await writeDemoReleases(m.path(vm, "/srv/shop/releases"));
      }
      writeFileSync(m.path(vm, "/etc/switchyard/agent.yaml"), m.rewrite(vm, doc.toString()));
      m.sh(vm, "switchyard validate /etc/switchyard/agent.yaml");
    }
    for (const vm of ["blue", "green"] as Vm[]) startUnit(vm, appUnit);
    // The router: its sockets held by a holder that plays switchyard-router.socket.
    const sockets = socketUnit(join(VMS_DIR, "systemd/switchyard-router.socket"));
    holder = m.spawn("router", ["python3", join(m.repo, "test/support/socket-holder.py"), ...Object.entries(sockets).map(([n, a]) => `${n}=${a}`)], undefined, "router-socket");
    holderLines = new Lines(holder);
    await holderLines.next(/^ready /);
    stateDirectory("router", routerUnit.user);
    routerPid = await startRouter();

    // Step 5: the controller's deploy dir, a git repository of switchyard, and its secrets.
    const cluster = parseDocument(readFileSync(join(VMS_DIR, "cluster.yaml"), "utf8"));
    for (const p of [["spec", "image", "registry"], ["spec", "acme"], ["spec", "router", "https"], ["spec", "alerts"]]) cluster.deleteIn(p);
    writeFileSync(join(m.dir("controller"), "root", "cluster.yaml"), cluster.toString());
    copyFileSync(join(VMS_DIR, "state.yaml"), join(m.dir("controller"), "root", "state.yaml"));
    m.sh("controller", g.block("5. **Controller.**"));
    const deploy = m.path("controller", "/srv/deploy");
    const secretLine = g.inline(/^install -o switchyard -g switchyard -m 0600 ca\.crt \/srv\/deploy\/secrets\/ca\.crt$/);
    m.sh("controller", secretLine, { cwd: ca });
    for (const vm of ["router", "blue", "green"] as Vm[]) m.sh("controller", secretLine.replace(" ca.crt ", ` ${m.path(vm, "/etc/switchyard/agent.token")} `).replace(/ca\.crt$/, `${vm}-1.token`));
    m.sh("controller", "switchyard validate /srv/deploy");
    startUnit("controller", reconcilerUnit);
    const userAdd = g.inline(/^switchyard user add you --role admin --data \/var\/lib\/switchyard$/);
    await waitFor("the reconciler's API", async () => /refused|ECONN/.test(spawnOut(m, "controller", "curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:7000/api/v1/status")) ? false : true, 60_000, 250);
    m.sh("controller", userAdd, { input: "walk-password-123\n" });
    expect(statSync(m.path("controller", "/var/lib/switchyard/users.json")).uid, "users.json is the reconciler's").toBe(uid("switchyard"));
    token = /([A-Za-z0-9_.-]{20,})\s*$/.exec(m.sh("controller", "switchyard user token you --data /var/lib/switchyard"))![1]!;
    expect(statSync(m.path("controller", "/var/lib/switchyard/users.json")).uid, "still the reconciler's after `user token` as root").toBe(uid("switchyard"));

    // Step 7: each VM's firewall, installed and loaded as written (green: its own address for blue's).
    const nftLine = g.inline(/^install -D -m 0644 nftables\/app\.nft \/etc\/nftables\.d\/switchyard\.nft$/);
    for (const [vm, file] of [["blue", "app"], ["green", "app"], ["router", "router"], ["controller", "controller"], ["database", "database"]] as [Vm, string][]) {
      m.sh(vm, nftLine.replace("app.nft", `${file}.nft`), { cwd: join(m.repo, VMS_DIR) });
      if (vm === "green") m.sh(vm, "sed -i 's/10\\.0\\.0\\.11/10.0.0.12/' /etc/nftables.d/switchyard.nft");
      m.sh(vm, "nft -f /etc/nftables.d/switchyard.nft");
    }
    units.set("database", m.spawn("database", ["python3", "-c", "import socket\ns=socket.socket(); s.bind(('0.0.0.0',5432)); s.listen(16)\nwhile True: s.accept()[0].close()"], undefined, "database"));
    const watch = m.spawn("controller", ["node", "-e", WATCH, token], undefined, "watch");
    units.set("watch", watch);
    new Lines(watch, (l) => {
      latest = JSON.parse(l) as Seen;
      for (const a of latest.alerts ?? []) if (a.state === "firing") fired.add(`${a.fingerprint} at ${a.startsAt}`);
      for (const f of onLine) f(latest);
    });
  }, 240_000);

  afterAll(async () => {
    for (const [, p] of units) p.kill("SIGKILL");
    if (routerPid) try { process.kill(routerPid, "SIGKILL"); } catch { /* gone */ }
    holder?.kill("SIGKILL");
    for (const pid of m.releaseProcesses()) try { process.kill(pid, "SIGKILL"); } catch { /* gone */ }
    await new Promise((r) => setTimeout(r, 300));
    removeNetwork();
    console.log(`vm-guide-walk: logs in ${root}/logs`);
    if (!process.env.KEEP_WALK) rmSync(root, { recursive: true, force: true });
  }, 30_000);

  it("first deploy, v2 to green, promote, rollback, jobs, maintenance, 10 router restarts, a token rotation and an upgrade of each part: 0 failed public requests", async () => {
    const t0 = Date.now();
    // Step 8: the first deploy from state.yaml.
    await waitFor("blue live on v1, green Ready, blue-1 holds the jobs", async () => {
      const s = status();
      return s?.router?.live === "blue" && s.colors.blue.phase === "Ready" && s.colors.green.phase === "Ready" && s.jobs.holders.map((h: any) => h.node).join() === "blue-1";
    }, 120_000, 250);

    const client = m.spawn("client", ["node", "-e", CLIENT], undefined, "client");
    units.set("client", client);
    let counts = { ok: 0, failed: 0, errors: [] as string[], seen: {} as Record<string, number> };
    new Lines(client, (l) => (counts = JSON.parse(l)));
    await waitFor("the public client's first answers", async () => counts.ok > 10, 30_000, 100);

    // The firewall from the public side: only the router's ports.
    const reach = (to: string, port: number) => spawnOut(m, "client", `python3 -c "import socket; s=socket.socket(); s.settimeout(1); print('open' if s.connect_ex(('${to}',${port}))==0 else 'closed')"`).trim();
    expect({ app: reach("10.0.0.11", 8081), agent: reach("10.0.0.11", 7100), routerApi: reach("10.0.0.10", 7100), db: reach("10.0.0.20", 5432), http: reach("10.0.0.10", 80) })
      .toEqual({ app: "closed", agent: "closed", routerApi: "closed", db: "closed", http: "open" });
    expect(spawnOut(m, "blue", `python3 -c "import socket; s=socket.socket(); s.settimeout(1); print('open' if s.connect_ex(('10.0.0.20',5432))==0 else 'closed')"`).trim(), "blue reaches the database").toBe("open");

    cli("deploy v2 --wait");
    await until("green Ready on v2", (s) => s.colors.green.tag === "v2" && s.colors.green.phase === "Ready");
    cli("promote --wait");
    await waitFor("the public sees green v2", async () => (counts.seen["green/v2"] ?? 0) > 5, 30_000, 100);
    cli("rollback --wait");
    await until("blue live again", (s) => s.router.live === "blue");
    cli("jobs green --wait");
    await waitFor("green-1 holds the jobs", async () => status().jobs.holders.map((h: any) => h.node).join() === "green-1", 60_000, 250);
    cli("jobs active --wait");
    await waitFor("blue-1 holds the jobs again", async () => status().jobs.holders.map((h: any) => h.node).join() === "blue-1", 60_000, 250);
    cli("stop green --wait");
    await until("green Stopped", (s) => s.colors.green.phase === "Stopped");
    cli("start green --wait");
    await waitFor("green Ready again", async () => status().colors.green.phase === "Ready", 60_000, 250);

    // Ten router restarts as systemctl restart does them, the sockets held.
    const exits: number[] = [];
    for (let i = 0; i < RESTARTS; i++) exits.push(await restartRouter());
    expect(exits, "every router exited 0 after its SIGTERM").toEqual(Array(RESTARTS).fill(0));

    // Rotate blue-1's token (the job holder) as the main README says, watching every status line meanwhile.
    const problems: string[] = [];
    const watchRotation = (s: Seen) => {
      const blue = s.status?.colors?.blue.nodes.find((n: any) => n.name === "blue-1");
      if (s.status && !blue?.reachable) problems.push(`blue-1 unreachable: ${blue?.error}`);
      for (const a of s.alerts ?? []) if (a.state === "firing") problems.push(`alert ${a.fingerprint}`);
    };
    onLine.push(watchRotation);
    const etc = m.path("blue", "/etc/switchyard");
    const before = statSync(join(etc, "agent.token"));
    m.sh("blue", mainReadme.inline(/^openssl rand -hex 32 >> agent\.token$/), { cwd: etc });
    await waitFor("blue's agent log: accepting the current and the next token", async () => readFileSync(join(root, "logs", "blue-unit.log"), "utf8").includes("accepting the current and the next token"), 10_000, 100);
    const next = readFileSync(join(etc, "agent.token"), "utf8").trim().split("\n").at(-1)!;
    writeFileSync(m.path("controller", "/srv/deploy/secrets/blue-1.token"), `${next}\n`);
    await new Promise((r) => setTimeout(r, 2_500));
    m.sh("blue", mainReadme.inline(/^sed -i 1d agent\.token$/), { cwd: etc });
    await new Promise((r) => setTimeout(r, 12_000)); // more than a lease lifetime (10 s): renewals with the new token
    onLine.splice(onLine.indexOf(watchRotation), 1);
    expect([...new Set(problems)]).toEqual([]);
    const after = statSync(join(etc, "agent.token"));
    expect({ mode: after.mode & 0o777, uid: after.uid }, "the token file keeps its owner and mode").toEqual({ mode: before.mode & 0o777, uid: before.uid });

    // The upgrade: each part restarted in turn as the guide orders it, its version printed.
    for (const vm of ["controller", "blue", "green", "router"] as Vm[]) {
      console.log(`${vm}: ${m.sh(vm, "switchyard --version").trim()}`);
      if (vm === "router") {
        expect(await restartRouter()).toBe(0);
        continue;
      }
      const web = vm === "controller" ? [] : webPid(`${vm}-1`);
      const down = Date.now();
      expect(await stopUnit(vm)).toBe(0);
      const stopped = Date.now();
      if (vm === "blue") expect(readFileSync(join(root, "logs", "blue-unit.log"), "utf8"), "the job holder's agent stops its job first").toMatch(/"stopped":1[,}].*agent stopping: job workloads stopped/);
      latest = {}; // only status lines from after this restart count below
      startUnit(vm, vm === "controller" ? reconcilerUnit : appUnit);
      if (vm !== "controller") {
        await agentUp(vm);
        const apiUp = Date.now() - down;
        await until(`the reconciler reaches ${vm}-1 again`, (s) => s.colors[vm].nodes.every((n: any) => n.reachable), 30_000);
        console.log(`${vm}'s agent restart: stopped in ${stopped - down} ms, API up again after ${apiUp} ms, the reconciler reached it after ${Date.now() - down} ms`);
        expect(webPid(`${vm}-1`), `${vm}'s web release left running across its agent's restart`).toEqual(web);
      }
      await waitFor(`all Ready after ${vm}'s restart`, async () => {
        const s = status();
        return s?.router?.live === "blue" && s.colors.blue.phase === "Ready" && s.colors.green.phase === "Ready" && s.jobs.holders.map((h: any) => h.node).join() === "blue-1" && s.colors.blue.nodes.concat(s.colors.green.nodes).every((n: any) => n.reachable);
      }, 60_000, 250);
    }

    await new Promise((r) => setTimeout(r, 1_000));
    const ended = new Promise((r) => client.once("exit", r));
    client.kill("SIGTERM");
    await ended;
    const s = status();
    const secs = ((Date.now() - t0) / 1000).toFixed(0);
    console.log(`vm-guide-walk: ${counts.ok + counts.failed} public requests, ${counts.failed} failed, answers ${JSON.stringify(counts.seen)}; ${RESTARTS} router restarts, a token rotation, 4 upgrades; walk ${secs} s${counts.errors.length ? `; errors: ${counts.errors.join(" | ")}` : ""}`);
    expect(counts.errors).toEqual([]);
    expect(counts.failed).toBe(0);
    expect(counts.ok).toBeGreaterThan(500);
    expect({ live: s.router.live, blue: [s.colors.blue.tag, s.colors.blue.phase], green: [s.colors.green.tag, s.colors.green.phase], jobs: s.jobs.holders.map((h: any) => h.node) })
      .toEqual({ live: "blue", blue: ["v1", "Ready"], green: ["v2", "Ready"], jobs: ["blue-1"] });
    expect([...fired], "no alert fired during the walk").toEqual([]);
    // Every commit in the deploy dir is switchyard's: none of root's files in .git.
    expect(m.sh("controller", "find .git ! -user switchyard | wc -l", { cwd: m.path("controller", "/srv/deploy") }).trim()).toBe("0");
  }, 360_000);
});

function spawnOk(cmd: string, ...args: string[]): boolean {
  try {
    execFileSync(cmd, args, { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

function spawnOut(m: Machines, vm: Vm, cmd: string): string {
  try {
    return m.sh(vm, cmd);
  } catch (err) {
    return (err as Error).message;
  }
}
