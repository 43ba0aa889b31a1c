/**
 * The analysis after a switch (reconciler/loop/analysis.ts) against fake routers: it judges only what the
 * new live colour answered since the switch, waits for minRequests, survives a reconciler restart during
 * the window (same baseline from analysis.json), counts a restarted router from zero, and a person's abort
 * stops it.
 */
import { describe, expect, it } from "vitest";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import { Analysis, type PassView } from "../../reconciler/loop/analysis.js";
import { AlertManager } from "../../reconciler/notify/alerts.js";
import type { EventLog } from "../../reconciler/notify/events.js";
import type { AgentClient } from "../../reconciler/loop/agent-client.js";

const logger = pino({ level: "silent" });
const CONFIG = { window: 30, maxErrorRatio: 0.05, minRequests: 20 };

/** A router whose counters the test sets: green's answers (all, 5xx); blue's stay at zero. */
function fakeRouter(name: string) {
  const counts = { all: 0, errors: 0 };
  const classes = (all: number, errors: number) => ({ "1xx": 0, "2xx": all - errors, "3xx": 0, "4xx": 0, "5xx": errors });
  const client = { node: name, status: async () => ({ router: { responses: { blue: classes(0, 0), green: classes(counts.all, counts.errors) } } }) } as unknown as AgentClient;
  return { client, counts };
}

function rig(dir: string, router: ReturnType<typeof fakeRouter>) {
  const events: Record<string, unknown>[] = [];
  const switched: { color: string; message: string }[] = [];
  const alerts = new AlertManager({ sinks: [], logger });
  const analysis = new Analysis({
    dataDir: dir, logger, alerts, events: { append: (e: Record<string, unknown>) => void events.push(e) } as unknown as EventLog,
    routers: () => [router.client], onChange: () => undefined,
    switchBack: async (color, message) => void switched.push({ color, message }),
  });
  return { analysis, events, switched, alerts };
}

const view = (routersLive: "blue" | "green", r: ReturnType<typeof fakeRouter>): PassView => ({
  config: CONFIG, active: "green", tags: { blue: "v1", green: "v4" }, routersLive,
  counts: { [r.client.node]: { blue: { all: 0, errors: 0 }, green: { ...r.counts } } },
});

async function until<T>(what: string, fn: () => T | undefined | false): Promise<T> {
  for (let i = 0; i < 200; i++) {
    const v = fn();
    if (v) return v;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe("analysis after a switch", () => {
  it("judges only answers since the switch, waits for minRequests, and survives a restart with its baseline", async () => {
    const dir = mkdtempSync(join(tmpdir(), "sy-analysis-"));
    const router = fakeRouter("r1");
    router.counts.all = 1000; // green's answers before it went live (preview traffic): 50% errors, not judged
    router.counts.errors = 500;
    const a = rig(dir, router);
    await a.analysis.load();
    a.analysis.onPass({ ...view("blue", router), active: "blue" });
    a.analysis.onPass(view("green", router));
    expect(a.analysis.summary()).toMatchObject({ state: "running", color: "green", tag: "v4", from: "blue", fromTag: "v1", requests: 0 });
    router.counts.all += 19; // all 5xx, but fewer than minRequests
    router.counts.errors += 19;
    await until("19 answers judged", () => a.analysis.summary()?.requests === 19);
    expect(a.switched).toEqual([]);
    a.analysis.close();
    await new Promise((r) => setTimeout(r, 100)); // analysis.json written

    // A restart during the window: the same baseline, so the 19 count, and one more is enough.
    const b = rig(dir, router);
    await b.analysis.load();
    expect(b.analysis.summary()).toMatchObject({ state: "running", color: "green" });
    router.counts.all += 1;
    router.counts.errors += 1;
    await until("the rollback", () => b.switched.length > 0);
    expect(b.switched).toEqual([{ color: "blue", message: expect.stringMatching(/^automatic rollback to blue \(v1\): 5xx 100% over \d+ s > 5%$/) }]);
    expect(b.analysis.summary()).toMatchObject({ state: "rolled-back", requests: 20, errors: 20 });
    expect(b.analysis.marked("v4")).toMatchObject({ tag: "v4", color: "green" });
    expect(b.alerts.firing().map((x) => x.name)).toEqual(["AutomaticRollback"]);
    expect(b.events.find((e) => e.analysis === "rolled-back")).toMatchObject({ requests: 20, errors: 20, errorRatio: 1 });
    b.analysis.close();

    // The mark outlives another restart, until a person confirms.
    await new Promise((r) => setTimeout(r, 100));
    const c = rig(dir, router);
    await c.analysis.load();
    expect(c.analysis.marked("v4")).toBeDefined();
    expect(c.alerts.firing().map((x) => x.name)).toEqual(["AutomaticRollback"]);
    c.analysis.unmark("v4");
    expect(c.analysis.marked("v4")).toBeUndefined();
    expect(c.alerts.firing()).toEqual([]);
    c.analysis.close();
  });

  it("stays below the ratio, counts a restarted router from zero, and stops when a person aborts", async () => {
    const dir = mkdtempSync(join(tmpdir(), "sy-analysis-"));
    const router = fakeRouter("r1");
    router.counts.all = 500;
    const a = rig(dir, router);
    await a.analysis.load();
    a.analysis.onPass({ ...view("blue", router), active: "blue" });
    a.analysis.onPass(view("green", router));
    router.counts.all = 100; // the router restarted: 100 answers since, 2 of them 5xx (2% < 5%)
    router.counts.errors = 2;
    await until("100 answers judged", () => a.analysis.summary()?.requests === 100);
    expect(a.switched).toEqual([]);
    expect(a.analysis.abort("alice")).toMatchObject({ color: "green", tag: "v4" });
    expect(a.analysis.summary()).toMatchObject({ state: "aborted", message: expect.stringContaining("aborted by alice") });
    router.counts.errors = 90;
    await new Promise((r) => setTimeout(r, 600));
    expect(a.switched).toEqual([]);
    expect(a.analysis.abort("bob")).toBeNull();
    a.analysis.close();
  });
});
