/**
 * A login burst must neither get past the limiter nor starve the job lease: attempts in flight count
 * before any password is hashed, and scrypt work is capped so the reconciler's lease and spec writes
 * never wait behind it on libuv's thread pool. The reconciler runs as its own process (its own pool).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { ClusterBed } from "../support/cluster-bed.js";
import { ProcessTimeline } from "../support/process-jobs.js";
import { processKit } from "../support/runtime-kit.js";
import { waitFor } from "../support/agent-bed.js";
import { LOGIN_MAX_FAILURES } from "../../reconciler/auth/sessions.js";

const TTL_S = 3;
const PREFIX = "lgb";

/**
 * Fires `users.length` concurrent logins in a process of its own (the attacker does not share the test's
 * event loop, where the agents run) and returns the answers' status codes. `address(i)` is the local
 * address of request i (any 127.x address is local on Linux), `users[i]` its user name.
 */
function burst(base: string, users: string[], addresses: string[], password = "wrong-password-1"): Promise<number[]> {
  const script = `
    const http = require("node:http");
    const [base, users, addresses, password] = JSON.parse(process.argv[1]);
    const u = new URL("/api/v1/auth/login", base);
    const one = (username, localAddress) => new Promise((resolve) => {
      const body = JSON.stringify({ username, password });
      const req = http.request({ host: u.hostname, port: u.port, path: u.pathname, method: "POST", localAddress, agent: false, headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body) } }, (res) => { res.resume(); res.on("end", () => resolve(res.statusCode)); });
      req.on("error", () => resolve(0));
      req.end(body);
    });
    Promise.all(users.map((n, i) => one(n, addresses[i]))).then((codes) => process.stdout.write(JSON.stringify(codes)));
  `;
  return new Promise((resolve, reject) => {
    execFile(process.execPath, ["-e", script, JSON.stringify([base, users, addresses, password])], { maxBuffer: 1 << 20 }, (err, stdout) => (err ? reject(err) : resolve(JSON.parse(stdout) as number[])));
  });
}

function tally(codes: number[]): Record<number, number> {
  const t: Record<number, number> = {};
  for (const c of codes) t[c] = (t[c] ?? 0) + 1;
  return t;
}

describe("logins: a burst is limited and never starves the job lease", () => {
  const timeline = new ProcessTimeline();
  let bed: ClusterBed;
  let agentUrl = "";
  let agentToken = "";

  beforeAll(async () => {
    const kit = await processKit();
    await timeline.start(PREFIX);
    bed = new ClusterBed({ prefix: PREFIX, kit, withWorker: true, leaseTtlSeconds: TTL_S, state: { owner: "blue" } });
    await bed.startAgents();
    await bed.spawnReconciler();
    const blue = bed.agents.get(bed.names.blue)!;
    agentUrl = blue.url;
    agentToken = readFileSync(join(bed.dir, "agents", bed.names.blue, "token"), "utf8").trim();
    await waitFor("blue holds the lease and runs its worker", async () => (await lease()).state === "held" && timeline.running("blue").length === 1, 60_000, 50);
  }, 90_000);
  afterAll(async () => {
    timeline.close();
    await bed?.close();
  });

  async function lease(): Promise<{ state: string; remainingMs: number }> {
    const res = await fetch(agentUrl + "/v1/status", { headers: { authorization: `Bearer ${agentToken}` } });
    return ((await res.json()) as { lease: { state: string; remainingMs: number } }).lease;
  }

  it("40 concurrent wrong passwords for one user: at most the limit are verified, the rest 429", async () => {
    const codes = await burst(bed.reconcilerUrl, Array(40).fill("tester"), Array(40).fill("127.0.0.2"));
    const t = tally(codes);
    console.log(`login burst of 40 (one user, one address): ${t[401] ?? 0} verified (401), ${t[429] ?? 0} refused (429)`);
    expect((t[401] ?? 0) + (t[429] ?? 0)).toBe(40);
    expect(t[401] ?? 0).toBeLessThanOrEqual(LOGIN_MAX_FAILURES);
  });

  it("250 concurrent logins from one fresh address (many user names): at most the limit are verified", async () => {
    const codes = await burst(bed.reconcilerUrl, Array.from({ length: 250 }, (_, i) => `guess${i}`), Array(250).fill("127.0.0.3"));
    const t = tally(codes);
    console.log(`login burst of 250 (one fresh address): ${t[401] ?? 0} verified (401), ${t[429] ?? 0} refused (429), others ${JSON.stringify(t)}`);
    expect(t[401] ?? 0).toBeLessThanOrEqual(LOGIN_MAX_FAILURES);
  }, 180_000);

  it(`500 logins from 250 addresses during a ${TTL_S} s lease: the lease never lapses, the worker never restarts`, async () => {
    const workerBefore = timeline.running("blue").map((x) => x.id);
    const samples: number[] = [];
    const started = Date.now();
    let lowest = { ms: Infinity, atMs: 0 };
    const states = new Set<string>();
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        const l = await lease();
        samples.push(l.remainingMs);
        if (l.remainingMs < lowest.ms) lowest = { ms: l.remainingMs, atMs: Date.now() - started };
        states.add(l.state);
        await new Promise((r) => setTimeout(r, 50));
      }
    })();
    const codes = await burst(bed.reconcilerUrl, Array.from({ length: 500 }, (_, i) => `burst${i}`), Array.from({ length: 500 }, (_, i) => `127.0.10.${(i % 250) + 1}`));
    const burstMs = Date.now() - started;
    // Keep watching one more TTL: a starved renewal shows up as a lapse shortly after the burst too.
    await new Promise((r) => setTimeout(r, TTL_S * 1000));
    sampling = false;
    await sampler;
    const t = tally(codes);
    const min = Math.min(...samples);
    // How long each renewal took, from the reconciler's own event log (write-ahead + PUT + refresh).
    const events = await bed.api<{ events: { seq: number; type: string; action?: string; ms?: number; at?: string; ts?: string }[] }>("/api/v1/events?limit=1000");
    const renewals = events.events.filter((e) => e.type === "result" && e.action === "renewLease" && typeof e.ms === "number").map((e) => e.ms!);
    console.log(`login burst of 500 from 250 addresses: ${burstMs} ms, answers ${JSON.stringify(t)}; lease remaining during it: min ${min} ms (${lowest.atMs} ms into the burst) over ${samples.length} samples (TTL ${TTL_S * 1000} ms), states ${[...states].join(",")}; renewals (last ${renewals.length}) took at most ${Math.max(...renewals)} ms`);
    expect([...states]).toEqual(["held"]);
    expect(min).toBeGreaterThan(0);
    expect(timeline.running("blue").map((x) => x.id)).toEqual(workerBefore);
    expect(timeline.intervals.filter((x) => x.color === "blue")).toHaveLength(1);
  }, 180_000);
});
