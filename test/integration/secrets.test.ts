/**
 * Secrets live on the nodes and never leave them (issue 16, item 1). Real engine, real agents and reconciler
 * as child processes (their logs captured): a unique secret value reaches the container's env and is found
 * nowhere else — not in git (every object), the reconciler's or agents' data dirs, the event log, any API
 * answer (the reconciler's and the agents' own), or any log — while status shows a keyed fingerprint. Then a
 * rotation on the idle colour and a promote under load (no failed request, fingerprints change), and the
 * failures: a group-readable file and a missing file keep the colour from Ready with coded errors.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { ClusterBed, Load } from "../support/cluster-bed.js";
import { docker, waitFor } from "../support/agent-bed.js";
import { SECRETS_KEY_FILE } from "../../reconciler/loop/secrets-key.js";
import type { ClusterStatus } from "../../reconciler/loop/status.js";

type Color = "blue" | "green";

describe("secrets on the nodes", () => {
  let bed: ClusterBed;
  const first = `pw-${randomBytes(12).toString("hex")}`;
  const rotated = `pw-${randomBytes(12).toString("hex")}`;
  const url = (pw: string) => `postgres://shop:${pw}@db.internal:5432/shop`;

  const web = (s: ClusterStatus, c: Color) => s.colors?.[c].nodes[0]?.services.web;
  const fingerprintOf = (s: ClusterStatus, c: Color) => web(s, c)?.secrets?.find((x) => x.name === "database")?.fingerprint;
  const containerEnv = async (c: Color) => {
    const [info] = await docker.listContainers({ filters: { label: [`dev.switchyard.node=${bed.names[c]}`, "dev.switchyard.service=web"] } });
    return info ? ((await docker.getContainer(info.Id).inspect()).Config.Env ?? []) : [];
  };
  const agentStatus = async (name: string) => {
    const a = bed.agentApi(name);
    return (await fetch(`${a.url}/v1/status`, { headers: { authorization: `Bearer ${a.token}` } })).text();
  };
  /** Every text the test can reach: API answers, agents' answers, logs, the files of every data dir, git. */
  const everything = async (): Promise<Record<string, string>> => {
    const out: Record<string, string> = {};
    for (const path of ["/api/v1/status", "/api/v1/events", "/api/v1/history", "/api/v1/alerts", "/api/v1/state", "/api/v1/tags", "/api/v1/users", "/api/v1/auth/me", "/metrics"]) {
      const res = await fetch(bed.reconcilerUrl + path, { headers: { authorization: `Bearer ${bed.token}` } });
      out[`GET ${path}`] = await res.text();
    }
    for (const name of Object.values(bed.names)) out[`agent ${name} /v1/status`] = await agentStatus(name);
    for (const [name, log] of bed.childLogs) out[`log of ${name}`] = log;
    for (const f of files(bed.dataDir)) out[f] = readFileSync(f, "latin1");
    for (const name of Object.values(bed.names)) for (const f of files(join(bed.dir, "agents", name, "data"))) out[f] = readFileSync(f, "latin1");
    out["git objects"] = execFileSync("git", ["-C", bed.deployDir, "cat-file", "--batch-all-objects", "--batch"], { maxBuffer: 64 << 20 }).toString("latin1");
    for (const f of files(bed.deployDir).filter((f) => !f.includes("/.git/"))) out[f] = readFileSync(f, "latin1");
    return out;
  };
  const whereIs = (texts: Record<string, string>, needle: string) => Object.entries(texts).filter(([, t]) => t.includes(needle)).map(([k]) => k);

  beforeAll(async () => {
    // The child processes log everything (under vitest they would be silent), so the logs can be searched.
    process.env.SWITCHYARD_LOG_LEVEL = "debug";
    bed = new ClusterBed({ prefix: "sec", git: true, webSecrets: ["database"], childAgents: ["sec-blue-1", "sec-green-1", "sec-router-1"] });
    await bed.startAgents();
    bed.writeSecret("blue", "database", `# the shop's database\nDATABASE_URL=${url(first)}\n`);
    bed.writeSecret("green", "database", `DATABASE_URL="${url(first)}"\n`);
    await bed.spawnReconciler();
    await waitFor("blue live and green ready, both with their secret", async () => {
      const s = await bed.status();
      return s.router?.live === "blue" && s.colors?.blue.phase === "Ready" && s.colors.green.phase === "Ready" && fingerprintOf(s, "blue") && fingerprintOf(s, "green") && s;
    }, 90_000);
  }, 120_000);

  afterAll(async () => {
    delete process.env.SWITCHYARD_LOG_LEVEL;
    await bed?.close();
  }, 60_000);

  it("the value reaches the container and nothing else; status shows one fingerprint, equal for equal values on two nodes", async () => {
    expect(await containerEnv("blue")).toContain(`DATABASE_URL=${url(first)}`);
    expect(await containerEnv("green")).toContain(`DATABASE_URL=${url(first)}`);
    const s = await bed.status();
    const fp = fingerprintOf(s, "blue")!;
    expect(fp).toMatch(/^[0-9a-f]{12}$/);
    expect(fingerprintOf(s, "green")).toBe(fp);

    const texts = await everything();
    expect(Object.keys(texts).length).toBeGreaterThan(20);
    // The searched logs are real: each child logged its work.
    expect(texts[`log of ${bed.names.blue}`]).toContain("spec accepted");
    expect(texts["log of reconciler"]).toContain("node spec sent");
    expect(whereIs(texts, first)).toEqual([]);
    // The fingerprint key: in the reconciler's key file and the agents' accepted spec, in no answer, event or log.
    const key = readFileSync(join(bed.dataDir, SECRETS_KEY_FILE), "utf8").trim();
    expect((statSync(join(bed.dataDir, SECRETS_KEY_FILE)).mode & 0o777).toString(8)).toBe("600");
    expect(whereIs(texts, key).filter((k) => !k.endsWith(SECRETS_KEY_FILE) && !k.endsWith("/data/spec.json"))).toEqual([]);
    expect(texts["GET /api/v1/status"]).toContain(fp);
  });

  it("rotating the idle colour's secret, then promoting it under load: no failed request, its fingerprint changes", async () => {
    const before = fingerprintOf(await bed.status(), "green")!;
    const load = new Load(bed);
    try {
      bed.writeSecret("green", "database", `DATABASE_URL=${url(rotated)}\n`);
      // The live colour is never restarted under traffic.
      const refused = await fetch(`${bed.reconcilerUrl}/api/v1/actions/restart`, { method: "POST", headers: { authorization: `Bearer ${bed.token}`, "content-type": "application/json" }, body: JSON.stringify({ color: "blue" }) });
      expect(refused.status).toBeGreaterThanOrEqual(400);
      expect(await refused.text()).toMatch(/RECON_ERR_INVALID_STATE.*blue is live/);
      const out = execFileSync(process.execPath, ["bin/switchyard.js", "restart", "green", "--server", bed.reconcilerUrl], { env: { ...process.env, SWITCHYARD_TOKEN: bed.token } }).toString();
      expect(out).toMatch(/restart green/);
      const after = await waitFor("green ready with the rotated secret", async () => {
        const s = await bed.status();
        const fp = fingerprintOf(s, "green");
        return s.colors?.green.phase === "Ready" && fp !== undefined && fp !== before && fp;
      }, 60_000);
      expect(await containerEnv("green")).toContain(`DATABASE_URL=${url(rotated)}`);
      expect(fingerprintOf(await bed.status(), "blue")).toBe(before); // blue still runs the old value
      const state = await bed.api<{ revision: string }>("/api/v1/state");
      await bed.api("/api/v1/actions/promote", { method: "POST", body: JSON.stringify({}), headers: { "if-match": state.revision } });
      await waitFor("green live", async () => (await bed.status()).router?.live === "green", 60_000);
      // A while of live traffic on the rotated colour.
      await new Promise((r) => setTimeout(r, 2_000));
      expect(fingerprintOf(await bed.status(), "green")).toBe(after);
    } finally {
      await load.stop();
    }
    expect(load.failed).toEqual([]);
    expect(load.colors).toContain("green");
    expect(whereIs(await everything(), rotated)).toEqual([]);
  });

  it("a group-readable or missing secret file: a coded error on that node and the colour never Ready", async () => {
    const restart = (c: Color) => bed.api("/api/v1/actions/restart", { method: "POST", body: JSON.stringify({ color: c }) });
    // blue is idle now.
    const file = bed.writeSecret("blue", "database", `DATABASE_URL=${url(first)}\n`, 0o640);
    await restart("blue");
    const insecure = await waitFor("blue refuses its group-readable secret", async () => {
      const s = await bed.status();
      return web(s, "blue")?.error?.includes("AGENT_ERR_SECRET_INSECURE") && s;
    }, 60_000);
    expect(web(insecure, "blue")!.error).toContain(`chmod 600 ${file}`);
    expect(insecure.colors!.blue.phase).not.toBe("Ready");
    // The secret is read before anything is stopped: the workload that ran keeps running.
    expect(web(insecure, "blue")!.state).toBe("running");
    rmSync(file);
    await restart("blue");
    const missing = await waitFor("blue reports its missing secret", async () => {
      const s = await bed.status();
      return web(s, "blue")?.error?.includes("AGENT_ERR_SECRET_MISSING") && s;
    }, 60_000);
    expect(web(missing, "blue")!.error).toContain(file);
    // It stays so: never Ready while the file is missing.
    for (let i = 0; i < 10; i++) {
      expect((await bed.status()).colors!.blue.phase).not.toBe("Ready");
      await new Promise((r) => setTimeout(r, 300));
    }
    bed.writeSecret("blue", "database", `DATABASE_URL=${url(first)}\n`);
    await restart("blue");
    await waitFor("blue ready again once the file is back", async () => (await bed.status()).colors?.blue.phase === "Ready", 60_000);
    expect(whereIs(await everything(), first)).toEqual([]);
  });
});

function files(dir: string): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  return names.flatMap((n) => {
    const p = join(dir, n);
    const st = statSync(p, { throwIfNoEntry: false });
    if (!st) return [];
    return st.isDirectory() ? files(p) : st.isFile() ? [p] : [];
  });
}
