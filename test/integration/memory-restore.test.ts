/**
 * An older memory.json restored from a backup (issue 21): it names blue as the live colour Switchyard last
 * set, while the routers serve green as state.yaml says. That is no router elsewhere: the reconciler
 * records what the routers serve and RouterElsewhere never fires (before: critical, forever).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { copyFileSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { ClusterBed } from "../support/cluster-bed.js";
import { waitFor } from "../support/agent-bed.js";

describe("restoring an older memory.json", () => {
  let bed: ClusterBed;

  beforeAll(async () => {
    bed = new ClusterBed({ prefix: "mr" });
    await bed.startAgents();
    await bed.startReconciler();
  }, 120_000);

  afterAll(async () => {
    await bed?.close();
  }, 60_000);

  it("adopts the routers' live colour when it is the desired one, and raises no RouterElsewhere", async () => {
    const memoryFile = join(bed.dataDir, "memory.json");
    const routerLive = () => (JSON.parse(readFileSync(memoryFile, "utf8")) as { routerLive: string | null }).routerLive;
    await waitFor("blue live, green ready", async () => {
      const s = await bed.status();
      return s.router?.live === "blue" && s.colors?.green.phase === "Ready" && routerLive() === "blue" && s;
    }, 90_000);
    copyFileSync(memoryFile, join(bed.dir, "memory-backup.json"));
    bed.writeState({ active: "green" });
    await waitFor("green live", async () => (await bed.viaRouter()).color === "green" && routerLive() === "green", 60_000);

    await bed.reconciler!.close();
    copyFileSync(join(bed.dir, "memory-backup.json"), memoryFile);
    expect(routerLive()).toBe("blue");
    await bed.startReconciler();
    await waitFor("memory.json records the routers' green", async () => routerLive() === "green", 30_000);
    const s = await bed.status();
    expect(s.router?.live).toBe("green");
    const alerts = await bed.api<{ alerts: { name: string }[] }>("/api/v1/alerts");
    expect(alerts.alerts.filter((a) => a.name === "RouterElsewhere")).toEqual([]);
    expect(bed.condition(s, "Degraded")?.status).toBe("False");
  }, 150_000);
});
