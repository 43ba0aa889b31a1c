/**
 * A tag no node has (issue 21 item 5), put into state.yaml by hand where nothing checks it first: the nodes
 * say the tag does not exist (AGENT_ERR_TAG_MISSING), and the reconciler fails the deploy at once as
 * TagMissing, naming the nodes, instead of waiting out the deploy timeout. Live traffic is not touched, and a
 * good tag clears it.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ClusterBed } from "../support/cluster-bed.js";
import { waitFor } from "../support/agent-bed.js";

describe("a tag no node has", () => {
  let bed: ClusterBed;

  beforeAll(async () => {
    // A deploy timeout far longer than the waits below: TagMissing must not come from it.
    bed = new ClusterBed({ prefix: "tm", deployTimeoutSeconds: 600 });
    await bed.startAgents();
    await bed.startReconciler();
    await waitFor("blue live, green ready", async () => {
      const s = await bed.status();
      return s.router?.live === "blue" && s.colors?.green.phase === "Ready" && s;
    }, 90_000);
  }, 120_000);

  afterAll(async () => {
    await bed?.close();
  }, 60_000);

  it("fails the deploy as TagMissing with the nodes that lack it, well before the deploy timeout; live untouched", async () => {
    const t0 = Date.now();
    bed.writeState({ green: "v9" });
    const s = await waitFor("green Failed with TagMissing", async () => {
      const x = await bed.status();
      return x.colors?.green.phase === "Failed" && x.conditions.some((c) => c.type === "Progressing" && c.reason === "TagMissing") && x;
    }, 60_000, 250);
    const tookMs = Date.now() - t0;
    expect(s.colors!.green.message).toMatch(/^v9 is missing on tm-green-1 \(tag v9 does not exist in .*\)\. Live traffic was not touched/);
    expect(s.router?.live).toBe("blue");
    expect(s.colors!.blue.phase).toBe("Ready");
    console.log(`TagMissing ${tookMs} ms after the edit (deploy timeout 600 s)`);
    bed.writeState({ green: "v2" });
    // Green still runs v2 (the v9 deploy never replaced it): the error of the failed pull goes with the spec.
    const back = await waitFor("green Ready with v2 again", async () => {
      const x = await bed.status();
      return x.colors?.green.phase === "Ready" && x.colors.green.tag === "v2" && !x.conditions.some((c) => c.reason === "TagMissing") && x;
    }, 60_000, 250);
    expect(back.colors!.green.nodes[0]!.services.web!.error).toBeNull();
  }, 180_000);
});
