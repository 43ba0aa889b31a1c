/**
 * Routine work is quiet: deploys, promotes, rollbacks and job moves under load, with a webhook receiver
 * attached and the product's default alert grace period, deliver no alert and change no condition but
 * Progressing. (A flip or a job handoff passes through states that look wrong for a moment: a job
 * being stopped under revocation, routers switching one after the other.)
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { ClusterBed, Load } from "../support/cluster-bed.js";
import { waitFor } from "../support/agent-bed.js";
import type { ClusterStatus, ConditionType } from "../../reconciler/loop/status.js";
import { DEFAULT_ALERT_GRACE_SECONDS } from "../../specs/defaults.js";

const ROUNDS = 5;

describe("routine deploys are quiet", () => {
  const delivered: string[] = [];
  const receiver: Server = createServer((req, res) => {
    let body = "";
    req.on("data", (c: Buffer) => (body += c.toString()));
    req.on("end", () => {
      delivered.push(body);
      res.end();
    });
  });
  let bed: ClusterBed;
  const changes: string[] = [];

  beforeAll(async () => {
    await new Promise<void>((r) => receiver.listen(0, "127.0.0.1", r));
    const url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
    bed = new ClusterBed({ prefix: "qd", withWorker: true, alertGraceSeconds: DEFAULT_ALERT_GRACE_SECONDS, webhooks: [url] });
    await bed.startAgents();
    await bed.startReconciler();
    await waitFor("blue live and green ready, jobs on blue", async () => {
      const s = await bed.status();
      return s.router?.live === "blue" && s.colors?.green.phase === "Ready" && holder(s) === "blue" && isCalm(s) && s;
    }, 90_000);
    // Every later status: a change of any condition but Progressing is recorded.
    let last = snapshot(bed.reconciler!.controller.status());
    bed.reconciler!.controller.onStatus((s) => {
      const now = snapshot(s);
      if (now !== last) changes.push(`${last} → ${now}`);
      last = now;
    });
  }, 120_000);
  afterAll(async () => {
    await bed?.close();
    await new Promise((r) => receiver.close(r));
  });

  it(`${ROUNDS} deploys, promotes, rollbacks and job moves under load: no alert delivered, only Progressing changes`, async () => {
    const load = new Load(bed);
    const reach = async (what: string, state: Parameters<ClusterBed["writeState"]>[0], live: string, jobs: string) => {
      bed.writeState(state);
      await waitFor(what, async () => {
        const s = await bed.status();
        return s.router?.live === live && holder(s) === jobs && !s.conditions.some((c) => c.type === "Progressing" && c.status === "True");
      }, 60_000);
    };
    for (let i = 0; i < ROUNDS; i++) {
      const green = i % 2 === 0 ? "v1" : "v2"; // a new tag for the idle colour each round
      await reach(`deploy ${green} to green ${i}`, { active: "blue", green }, "blue", "blue");
      await waitFor(`green ready on ${green}`, async () => {
        const s = await bed.status();
        return s.colors?.green.phase === "Ready" && s.colors.green.tag === green;
      }, 60_000);
      await reach(`promote ${i}`, { active: "green", green }, "green", "green");
      await reach(`roll back ${i}`, { active: "blue", green }, "blue", "blue");
      await reach(`jobs to green ${i}`, { active: "blue", green, owner: "green" }, "blue", "green");
      await reach(`jobs back ${i}`, { active: "blue", green, owner: "active" }, "blue", "blue");
    }
    // Anything pending when the last change settled has had its grace period to fire.
    await new Promise((r) => setTimeout(r, (DEFAULT_ALERT_GRACE_SECONDS + 2) * 1000));
    await load.stop();

    expect(load.failed).toEqual([]);
    expect(load.colors.length).toBeGreaterThanOrEqual(2 * ROUNDS);
    expect(bed.reconciler!.alerts.recent()).toEqual([]);
    expect(delivered).toEqual([]);
    expect(changes).toEqual([]);
    // The feed shows what people and Switchyard did, not routine renewals (those are counted in /metrics).
    expect(bed.reconciler!.events.recent({ type: "alert" })).toEqual([]);
    const feed = bed.reconciler!.events.recent({ limit: 1000 });
    expect(feed.filter((e) => (e as { action?: string }).action === "renewLease")).toEqual([]);
    expect(feed.filter((e) => (e as { action?: string }).action === "grantLease").length).toBeGreaterThanOrEqual(2 * ROUNDS);
  }, 600_000);
});

function holder(s: ClusterStatus): string | null {
  const h = s.jobs?.holders ?? [];
  return h.length === 1 ? h[0]!.color : null;
}

const WATCHED: ConditionType[] = ["Ready", "Degraded", "Drifted", "SpecInvalid"];
function snapshot(s: ClusterStatus): string {
  return WATCHED.map((t) => `${t}=${s.conditions.find((c) => c.type === t)?.status ?? "?"}`).join(" ");
}
function isCalm(s: ClusterStatus): boolean {
  return snapshot(s) === "Ready=True Degraded=False Drifted=False SpecInvalid=False";
}
