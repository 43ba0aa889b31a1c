/**
 * The reconciler with real agents, the real Docker engine and registry, and the router.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { ClusterBed, Load } from "../support/cluster-bed.js";
import { docker, waitFor } from "../support/agent-bed.js";
import type { ClusterStatus } from "../../reconciler/loop/status.js";

const ready = (s: ClusterStatus) => s.conditions.find((c) => c.type === "Ready")?.status === "True";

describe("reconciler: deploy, health gate, flip", () => {
  const bed = new ClusterBed({ prefix: "rc1", deployTimeoutSeconds: 8 });
  beforeAll(async () => {
    await bed.startAgents();
    await bed.startReconciler();
    await waitFor("blue v1 live and ready", async () => ready(await bed.status()), 60_000);
  });
  afterAll(() => bed.close());

  it("comes up from nothing: blue v1 live, green v2 ready for preview", async () => {
    const s = await waitFor("both colours ready", async () => {
      const st = await bed.status();
      return st.colors?.green.phase === "Ready" && st;
    }, 30_000);
    expect(s.router?.live).toBe("blue");
    expect(s.colors?.blue).toMatchObject({ phase: "Ready", tag: "v1", live: true });
    expect(s.colors?.green).toMatchObject({ phase: "Ready", tag: "v2", preview: true });
    expect(JSON.parse((await bed.viaRouter()).body).version).toBe("v1");
    expect(JSON.parse((await bed.viaRouter("preview.test")).body).version).toBe("v2");
  });

  it("an edit to state.yaml (active → green) flips with zero failed requests under load", async () => {
    const load = new Load(bed);
    await new Promise((r) => setTimeout(r, 300));
    bed.writeState({ active: "green" });
    await waitFor("green live", async () => (await bed.status()).router?.live === "green", 20_000);
    await new Promise((r) => setTimeout(r, 300));
    await load.stop();
    expect(load.failed).toEqual([]);
    expect(load.ok).toBeGreaterThan(50);
    expect(load.colors[0]).toBe("blue");
    expect(load.colors.at(-1)).toBe("green");
    expect(JSON.parse((await bed.viaRouter()).body).version).toBe("v2");
  });

  it("v3 (unhealthy) on the idle colour → Failed with the reason, live untouched, alert", async () => {
    bed.writeState({ active: "green", blue: "v3" });
    // While it tries: Progressing with how far, live traffic Ready.
    const trying = await waitFor("deploying v3", async () => {
      const st = await bed.status();
      return st.conditions.find((c) => c.type === "Progressing" && c.status === "True" && c.reason === "Deploying") && st;
    }, 10_000);
    expect(trying.conditions.find((c) => c.type === "Progressing")!.message).toMatch(/^deploying v3 to blue, \d+ s of 8 s$/);
    expect(trying.conditions.find((c) => c.type === "Ready")).toMatchObject({ status: "True", reason: "Live" });
    const s = await waitFor("blue Failed", async () => {
      const st = await bed.status();
      return st.colors?.blue.phase === "Failed" && st;
    }, 30_000);
    expect(s.colors!.blue.message).toMatch(/blue did not become ready with v3 within 8s: web on rc1-blue-1 is unhealthy: GET \/healthz answered 500/);
    expect(s.router?.live).toBe("green");
    expect(JSON.parse((await bed.viaRouter()).body).version).toBe("v2");
    const alerts = (await bed.api("/api/v1/alerts")) as { alerts: { name: string; state: string }[] };
    expect(alerts.alerts).toContainEqual(expect.objectContaining({ name: "DeployFailed", state: "firing" }));
    const gaveUp = await bed.status();
    expect(gaveUp.conditions.find((c) => c.type === "Degraded")).toMatchObject({ status: "True", reason: "DeployFailed" });
    expect(gaveUp.conditions.find((c) => c.type === "Progressing")).toMatchObject({ status: "False", reason: "DeployFailed" });
    expect(gaveUp.conditions.find((c) => c.type === "Ready")).toMatchObject({ status: "True", reason: "Live" });
    // Making the failed colour active is refused by the health gate: traffic stays on green.
    bed.writeState({ active: "blue", blue: "v3" });
    await new Promise((r) => setTimeout(r, 1500));
    const after = await bed.status();
    expect(after.router?.live).toBe("green");
    // Ready speaks of live traffic (green serves it, healthy); the refused change is Degraded.
    expect(after.conditions.find((c) => c.type === "Ready")).toMatchObject({ status: "True", reason: "Live" });
    expect(after.conditions.find((c) => c.type === "Degraded")).toMatchObject({ status: "True" });
    bed.writeState({ active: "green", blue: "v1" });
    await waitFor("blue ready on v1", async () => (await bed.status()).colors?.blue.phase === "Ready", 30_000);
  });

  it("a new tag for the live colour is refused with a condition that says why", async () => {
    bed.writeState({ active: "green", green: "v1", blue: "v1" });
    const s = await waitFor("refusal", async () => {
      const st = await bed.status();
      return st.pending.some((p) => p.reason === "WouldReplaceLive") && st;
    }, 10_000);
    // Live traffic is fine (Ready); the change Switchyard will not make is Degraded, and not progressing.
    expect(s.conditions.find((c) => c.type === "Ready")).toMatchObject({ status: "True", reason: "Live" });
    expect(s.conditions.find((c) => c.type === "Degraded")).toMatchObject({ status: "True", reason: "WouldReplaceLive" });
    expect(s.conditions.find((c) => c.type === "Progressing")).toMatchObject({ status: "False", reason: "WouldReplaceLive" });
    expect(JSON.parse((await bed.viaRouter()).body).version).toBe("v2");
    bed.writeState({ active: "green", blue: "v1" });
    // Ready was true all along: wait until the reconciler has read the write (the refusal is gone), so the next
    // test's "before" is the revision of this write.
    await waitFor("ready again, the refusal gone", async () => {
      const st = await bed.status();
      return ready(st) && !st.pending.some((p) => p.reason === "WouldReplaceLive");
    }, 10_000);
  });

  it("invalid YAML → SpecInvalid with file:line:col, nothing changes; fixed → cleared", async () => {
    const before = await bed.status();
    writeFileSync(join(bed.deployDir, "state.yaml"), "apiVersion: switchyard.dev/v1\nkind: State\nspec:\n  active: purple\n  colors: { blue: { tag: v1 }, green: { tag: v2 } }\n");
    const s = await waitFor("SpecInvalid", async () => {
      const st = await bed.status();
      return st.conditions.find((c) => c.type === "SpecInvalid")?.status === "True" && st;
    }, 5_000);
    expect(s.conditions.find((c) => c.type === "SpecInvalid")!.message).toContain("state.yaml:4:11: spec.active: must be one of blue, green");
    expect(s.revision).toBe(before.revision);
    const alerts = (await bed.api("/api/v1/alerts")) as { alerts: { name: string; state: string }[] };
    expect(alerts.alerts).toContainEqual(expect.objectContaining({ name: "SpecInvalid", state: "firing" }));
    expect(JSON.parse((await bed.viaRouter()).body).version).toBe("v2");
    bed.writeState({ active: "green", blue: "v1" });
    await waitFor("SpecInvalid cleared", async () => (await bed.status()).conditions.find((c) => c.type === "SpecInvalid")?.status === "False", 5_000);
  });

  it("docker stop of a live container → alert within 2 s, healed (policy heal)", async () => {
    const s = await bed.status();
    const id = await liveContainer(bed, s);
    const t0 = Date.now();
    await docker.getContainer(id).stop({ t: 1 });
    const stopped = Date.now();
    await waitFor("ContainerDown alert", async () => {
      const a = (await bed.api("/api/v1/alerts")) as { alerts: { name: string; state: string }[] };
      return a.alerts.some((x) => x.name === "ContainerDown" && x.state === "firing");
    }, 5_000, 50);
    expect(Date.now() - stopped).toBeLessThan(2000);
    await waitFor("healed and resolved", async () => {
      const a = (await bed.api("/api/v1/alerts")) as { alerts: { name: string; state: string }[] };
      return a.alerts.some((x) => x.name === "ContainerDown" && x.state === "resolved") && !a.alerts.some((x) => x.name === "ContainerDown" && x.state === "firing");
    }, 20_000);
    expect(Date.now() - t0).toBeLessThan(20_000);
    await waitFor("served again", async () => (await bed.viaRouter()).status === 200, 5_000);
  });

  it("an agent down → node Unreachable, alert; back → recovered", async () => {
    await bed.stopAgent(bed.names.blue);
    const s = await waitFor("unreachable", async () => {
      const st = await bed.status();
      return st.colors?.blue.nodes[0]?.reachable === false && st;
    }, 10_000);
    expect(s.colors!.blue.nodes[0]!.error).toMatch(/refuses connections|broke|closed/);
    const a = (await bed.api("/api/v1/alerts")) as { alerts: { name: string; state: string; labels: Record<string, string> }[] };
    expect(a.alerts).toContainEqual(expect.objectContaining({ name: "NodeUnreachable", state: "firing", labels: expect.objectContaining({ node: bed.names.blue }) }));
    // Live traffic is untouched by the blue agent being down.
    const r = await waitFor("green serves", async () => {
      const x = await bed.viaRouter();
      return x.status === 200 && x;
    }, 5_000);
    expect(r.color).toBe("green");
    await bed.startAgent(bed.names.blue);
    await waitFor("reachable again", async () => (await bed.status()).colors?.blue.phase === "Ready", 20_000);
  });
});

describe("reconciler: drift policy alert", () => {
  const bed = new ClusterBed({ prefix: "rc2", policy: "alert" });
  beforeAll(async () => {
    await bed.startAgents();
    await bed.startReconciler();
    await waitFor("ready", async () => ready(await bed.status()), 60_000);
  });
  afterAll(() => bed.close());

  it("a stopped live container is reported, not healed", async () => {
    const id = await liveContainer(bed, await bed.status());
    await docker.getContainer(id).stop({ t: 1 });
    await waitFor("Drifted", async () => (await bed.status()).conditions.find((c) => c.type === "Drifted")?.status === "True", 5_000);
    await new Promise((r) => setTimeout(r, 2000));
    const s = await bed.status();
    expect(s.colors!.blue.nodes[0]!.services.web!.state).toBe("exited");
    expect((await docker.getContainer(id).inspect()).State.Running).toBe(false);
  });
});

describe("reconciler: killed in the middle of a deploy", () => {
  const bed = new ClusterBed({ prefix: "rc3" });
  beforeAll(async () => {
    await bed.startAgents();
    await bed.spawnReconciler();
    await waitFor("ready", async () => ready(await bed.status()), 60_000);
  });
  afterAll(() => bed.close());

  it("SIGKILL mid-deploy, restart → the deploy completes, one flip, no lost step", async () => {
    await waitFor("green ready", async () => (await bed.status()).colors?.green.phase === "Ready", 30_000);
    const load = new Load(bed);
    bed.writeState({ active: "green", green: "v1", blue: "v1" }); // redeploy green with v1, then switch
    await waitFor("green deploying", async () => (await bed.status()).colors?.green.phase === "Deploying", 10_000, 20);
    bed.child!.kill("SIGKILL");
    await new Promise((r) => bed.child!.once("exit", r));
    await new Promise((r) => setTimeout(r, 500));
    await bed.spawnReconciler();
    await waitFor("green live on v1", async () => {
      const s = await bed.status();
      return s.router?.live === "green" && ready(s) && s;
    }, 30_000);
    await new Promise((r) => setTimeout(r, 300));
    await load.stop();
    expect(load.failed.slice(0, 5)).toEqual([]);
    const events = (await bed.api("/api/v1/events?limit=1000")) as { events: { message: string }[] };
    const switches = events.events.filter((e) => /^switch .*live → green.*: done$/.test(e.message));
    expect(switches).toHaveLength(1);
    expect(JSON.parse((await bed.viaRouter()).body)).toMatchObject({ version: "v1", color: "green" });
  });
});

async function liveContainer(bed: ClusterBed, s: ClusterStatus): Promise<string> {
  const live = s.router!.live!;
  const node = live === "blue" ? bed.names.blue : bed.names.green;
  const list = await docker.listContainers({ filters: { label: [`dev.switchyard.node=${node}`, "dev.switchyard.service=web"] } });
  expect(list).toHaveLength(1);
  return list[0]!.Id;
}
