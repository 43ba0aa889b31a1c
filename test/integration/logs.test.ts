/**
 * Logs end to end: the reconciler's GET /api/v1/logs over real agents on Docker, and `switchyard logs`.
 * The demo app logs every request (LOG_LEVEL=debug), so a request is how a test makes it print a line;
 * the worker prints a line with ANSI colour codes and HTML in it.
 */
import { spawn } from "node:child_process";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ClusterBed } from "../support/cluster-bed.js";
import { waitFor } from "../support/agent-bed.js";
import { NdjsonReader } from "../support/ndjson-reader.js";
import { Users } from "../../reconciler/auth/users.js";
import type { ApiLogRecord } from "../../specs/logs.js";
import { noisyWorker } from "../support/noisy-worker.js";


describe("logs through the reconciler and the CLI", () => {
  const bed = new ClusterBed({ prefix: "lg", webEnv: { LOG_LEVEL: "debug" }, withWorker: true, workerCommand: noisyWorker, state: { active: "blue", blue: "v1", green: "v1" } });
  let viewerToken = "";
  beforeAll(async () => {
    await bed.startAgents();
    await bed.startReconciler();
    const users = new Users({ file: join(bed.dataDir, "users.json"), scrypt: { N: 1024, r: 8, p: 1 } });
    await users.load();
    await users.addUser("watcher", "viewer", "watcher-password-1", { replace: true });
    viewerToken = await users.createToken("watcher");
    await users.flush();
    await waitFor("both colours ready", async () => {
      const s = await bed.status();
      return s.colors?.blue.phase === "Ready" && s.colors.green.phase === "Ready";
    }, 60_000);
  }, 90_000);
  afterAll(() => bed.close());

  const logs = (query: string, token = bed.token) => fetch(`${bed.reconcilerUrl}/api/v1/logs?${query}`, { headers: { authorization: `Bearer ${token}` } });
  const records = async (query: string) => (await (await logs(query)).text()).trim().split("\n").map((l) => JSON.parse(l) as ApiLogRecord);
  const hit = (port: number, marker: string) => fetch(`http://127.0.0.1:${port}/version?m=${marker}`).then((r) => r.text());

  it("viewers get 403, no token 401, a service or node not in cluster.yaml 404, no colour or node 400", async () => {
    const viewer = await waitFor("the viewer known", async () => {
      const r = await logs("service=web&color=live", viewerToken);
      return r.status !== 401 && r;
    });
    expect(viewer.status).toBe(403);
    expect(await viewer.json()).toMatchObject({ error: { code: "RECON_ERR_FORBIDDEN" } });
    expect((await fetch(`${bed.reconcilerUrl}/api/v1/logs?service=web&color=live`)).status).toBe(401);
    expect((await logs("service=nope&color=live")).status).toBe(404);
    expect((await logs("service=web&node=nope")).status).toBe(404);
    expect((await logs("service=web")).status).toBe(400);
    expect((await logs("service=web&color=purple")).status).toBe(400);
  });

  it("a colour's history: lines tagged with node and colour, oldest first, then each node's end", async () => {
    await hit(bed.ports.green, "history-green");
    const rs = await waitFor("the line in green's history", async () => {
      const x = await records("service=web&color=preview&tail=50");
      return x.some((r) => r.type === "line" && r.line.includes("m=history-green")) && x;
    });
    const lines = rs.filter((r) => r.type === "line");
    expect(new Set(lines.map((l) => `${l.node}/${l.color}/${l.service}`))).toEqual(new Set([`${bed.names.green}/green/web`]));
    const times = lines.map((l) => l.t ?? "");
    expect([...times].sort()).toEqual(times);
    expect(rs.at(-1)).toEqual({ type: "node", node: bed.names.green, color: "green", state: "ended", reason: "done" });
  });

  it("`switchyard logs web --color preview -f --tail 200` shows a line the app printed after it started following", async () => {
    const cli = spawn(process.execPath, ["bin/switchyard.js", "logs", "web", "--color", "preview", "-f", "--tail", "200", "--server", bed.reconcilerUrl], {
      env: { ...process.env, SWITCHYARD_TOKEN: bed.token },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    let err = "";
    cli.stdout.on("data", (d: Buffer) => (out += d));
    cli.stderr.on("data", (d: Buffer) => (err += d));
    try {
      await waitFor(`the history printed (${err})`, async () => out.includes("GET /"), 15_000);
      const marker = `followed-${Date.now()}`;
      await hit(bed.ports.green, marker);
      await waitFor(`the followed line (${err})`, async () => out.includes(`m=${marker}`), 15_000);
      const line = out.split("\n").find((l) => l.includes(`m=${marker}`))!;
      expect(line).toMatch(new RegExp(`^${bed.names.green} \\| .*GET /version\\?m=${marker}$`));
      expect(cli.exitCode).toBeNull(); // still following
    } finally {
      cli.kill("SIGTERM");
    }
  });

  it("a line with ANSI codes and <script>: --json passes it as written, human output shows it without the codes", async () => {
    const rs = await waitFor("the worker's line", async () => {
      const x = await records("service=worker&color=live&tail=5");
      return x.some((r) => r.type === "line" && r.line.includes("red alert")) && x;
    });
    const line = rs.find((r) => r.type === "line")!;
    expect(line.type === "line" && line.line).toBe("\u001b[31mred alert\u001b[0m <script>window.pwned=1</script> & <b>bold</b>");
    const cli = spawn(process.execPath, ["bin/switchyard.js", "logs", "worker", "--tail", "3", "--server", bed.reconcilerUrl], { env: { ...process.env, SWITCHYARD_TOKEN: bed.token } });
    let out = "";
    cli.stdout.on("data", (d: Buffer) => (out += d));
    const code = await new Promise((r) => cli.on("exit", r));
    expect(code).toBe(0);
    expect(out).toContain("red alert <script>window.pwned=1</script> & <b>bold</b>");
    expect(out).not.toContain("\u001b");
  });

  it("a node that cannot be reached is a record in the stream, not the end of it", async () => {
    const f = new NdjsonReader<ApiLogRecord>(`${bed.reconcilerUrl}/api/v1/logs?service=web&node=${bed.names.blue}&tail=0&follow=true`, { authorization: `Bearer ${bed.token}` });
    try {
      await f.waitFor("blue caught up", (r) => r.type === "node" && r.state === "caught-up");
    } finally {
      f.close();
    }
    await bed.stopAgent(bed.names.green);
    try {
      const res = await logs("service=web&color=green&tail=5");
      expect(res.status).toBe(200);
      const rs = (await res.text()).trim().split("\n").map((l) => JSON.parse(l) as ApiLogRecord);
      expect(rs).toEqual([expect.objectContaining({ type: "node", node: bed.names.green, color: "green", state: "unreachable" })]);
      expect(rs[0]!.type === "node" && rs[0]!.message).toMatch(/refuses connections/);
    } finally {
      await bed.startAgent(bed.names.green);
    }
  });
});
