/**
 * Live token rotation (issue 21, item 2): the agent accepts the current and the next token while its file
 * holds both, the reconciler picks up a changed token file by itself, and the documented three steps rotate
 * the job holder's token with no Unreachable, no alert and no job gap. Real engine, agents and reconciler.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { randomBytes } from "node:crypto";
import { readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ClusterBed } from "../support/cluster-bed.js";
import { docker, waitFor } from "../support/agent-bed.js";
import { TOKEN_RECHECK_MS } from "../../reconciler/loop/controller.js";

describe("rotating an agent's token", () => {
  let bed: ClusterBed;
  const agentTokenFile = () => join(bed.dir, "agents", bed.names.blue, "token");
  const reconcilerTokenFile = () => join(bed.deployDir, "secrets", `${bed.names.blue}.token`);
  const write = (file: string, text: string) => {
    writeFileSync(`${file}.tmp`, text);
    renameSync(`${file}.tmp`, file); // as an editor or a config tool saves it
  };
  const agentAnswers = async (token: string) => (await fetch(`${agentUrl()}/v1/status`, { headers: { authorization: `Bearer ${token}` } })).status;
  const agentUrl = () => `http://127.0.0.1:${/listen: 127\.0\.0\.1:(\d+)/.exec(readFileSync(join(bed.dir, "agents", bed.names.blue, "agent.yaml"), "utf8"))![1]}`;
  /** A wrong token is refused: 401, or 429 once this address has failed often (the agent's failure limit). */
  const refused = (status: number) => status === 401 || status === 429;
  const worker = async () => (await docker.listContainers({ filters: { label: [`dev.switchyard.node=${bed.names.blue}`, "dev.switchyard.service=worker"] } }))[0];

  beforeAll(async () => {
    bed = new ClusterBed({ prefix: "tr", withWorker: true, leaseTtlSeconds: 4 });
    await bed.startAgents();
    await bed.startReconciler();
    await waitFor("blue live with the jobs, green ready", async () => {
      const s = await bed.status();
      return s.router?.live === "blue" && s.colors?.green.phase === "Ready" && s.jobs?.holders.length === 1 && s.jobs.holders[0]!.node === bed.names.blue && (await worker())?.State === "running" && s;
    }, 90_000);
  }, 120_000);

  afterAll(async () => {
    await bed?.close();
  }, 60_000);

  it("rotates the job holder's token with no Unreachable, no alert and no job gap", async () => {
    const before = await bed.status();
    const epoch = before.jobs!.epoch;
    const workerId = (await worker())!.Id;
    const old = readFileSync(agentTokenFile(), "utf8").trim();
    const next = randomBytes(24).toString("hex");
    // Watch the whole rotation: every status sample must show blue reachable and holding the same lease.
    const problems: string[] = [];
    let watching = true;
    const watcher = (async () => {
      while (watching) {
        const s = await bed.status();
        const blue = s.colors?.blue.nodes.find((n) => n.name === bed.names.blue);
        if (!blue?.reachable) problems.push(`blue-1 unreachable: ${blue?.error}`);
        if (s.jobs?.holders.map((h) => `${h.node}@${h.epoch}`).join(",") !== `${bed.names.blue}@${epoch}`) problems.push(`holders ${JSON.stringify(s.jobs?.holders)}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    })();

    // 1. The agent's file holds the current and the next token: it accepts both.
    write(agentTokenFile(), `${old}\n${next}\n`);
    await waitFor("the agent accepts the next token", async () => (await agentAnswers(next)) === 200, 10_000);
    expect(await agentAnswers(old)).toBe(200);
    // 2. The reconciler's file gets the next token; it uses it within TOKEN_RECHECK_MS (the guide: wait 2 s).
    write(reconcilerTokenFile(), `${next}\n`);
    await new Promise((r) => setTimeout(r, 2 * TOKEN_RECHECK_MS + 500));
    // 3. The agent's file keeps only the new token: the old one is refused from now on.
    write(agentTokenFile(), `${next}\n`);
    await waitFor("the agent refuses the old token", async () => refused(await agentAnswers(old)), 10_000);
    // Three lease lifetimes more: every renewal must get through with the new token.
    await new Promise((r) => setTimeout(r, 3 * 4_000));
    watching = false;
    await watcher;

    expect(problems).toEqual([]);
    const alerts = await bed.api<{ alerts: { name: string }[] }>("/api/v1/alerts");
    expect(alerts.alerts.map((a) => a.name)).toEqual([]);
    expect((await worker())!.Id).toBe(workerId); // the job never stopped
    const after = await bed.status();
    expect(after.jobs!.epoch).toBe(epoch);
    expect(after.jobs!.holders[0]!.remainingMs).toBeGreaterThan(0);
  }, 90_000);

  it("a token file with three tokens, or a short one, is refused and the tokens in force stay", async () => {
    const current = readFileSync(agentTokenFile(), "utf8").trim();
    write(agentTokenFile(), `${current}\n${"a".repeat(32)}\n${"b".repeat(32)}\n`);
    await new Promise((r) => setTimeout(r, 2 * TOKEN_RECHECK_MS + 500));
    expect(await agentAnswers(current)).toBe(200);
    expect(refused(await agentAnswers("a".repeat(32)))).toBe(true);
    write(agentTokenFile(), "short\n");
    await new Promise((r) => setTimeout(r, 2 * TOKEN_RECHECK_MS + 500));
    expect(await agentAnswers(current)).toBe(200);
    expect(refused(await agentAnswers("short"))).toBe(true);
  }, 30_000);
});
