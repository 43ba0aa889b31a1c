/** Pins: which content a colour's tag stands for, from the nodes first, else the registry; TagMoved when the tag moves. */
import { describe, expect, it } from "vitest";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import { Pins, RESOLVE_RETRY_MS, type DigestOf } from "../../reconciler/loop/pins.js";
import { Memory } from "../../reconciler/loop/memory.js";
import { NOW, cluster1x1, desired, node, router, world } from "../support/world.js";

const D1 = `sha256:${"1".repeat(64)}`;
const D2 = `sha256:${"2".repeat(64)}`;
const d = desired(cluster1x1()); // blue v1 (live), green v2

async function rig(digestOf: DigestOf | null) {
  const memory = new Memory(mkdtempSync(join(tmpdir(), "sy-pins-")));
  await memory.load();
  let changes = 0;
  const pins = new Pins({ memory, logger: pino({ level: "silent" }), digestOf: () => digestOf, onChange: () => changes++ });
  return { memory, pins, changes: () => changes };
}
const settle = () => new Promise((r) => setTimeout(r, 20));

describe("Pins", () => {
  it("pins what the colour's nodes already run, never the registry's newer content", async () => {
    const { pins, memory } = await rig(async () => D2);
    const blue = node(d, "blue-1", { tag: "v1" });
    if (blue.reachable) blue.status.services.web!.digest = D1;
    const o = world({ "blue-1": blue, "green-1": node(d, "green-1"), "router-1": router(d, "router-1", { live: "blue" }) });
    const p = pins.forPass(d, o, NOW);
    expect(p.blue).toMatchObject({ tag: "v1", digest: D1, source: "observed" });
    await settle();
    expect(memory.get().pins.blue?.digest).toBe(D1); // the registry's answer (a recheck) does not replace it
    // green runs nothing yet: its deploy waits for the registry's answer, then is pinned to it.
    expect(memory.get().pins.green).toMatchObject({ tag: "v2", digest: D2, source: "registry" });
    expect(pins.pending("green")).toBe(false);
  });

  it("a registry that fails is asked again only after RESOLVE_RETRY_MS; the deploy does not wait meanwhile", async () => {
    let calls = 0;
    const { pins } = await rig(async () => {
      calls++;
      throw new Error("connection refused");
    });
    const o = world({ "blue-1": node(d, "blue-1"), "green-1": node(d, "green-1"), "router-1": router(d, "router-1", { live: null }) });
    pins.forPass(d, o, Date.now());
    expect(pins.pending("green")).toBe(true);
    await settle();
    const before = calls;
    for (let i = 0; i < 50; i++) pins.forPass(d, o, Date.now());
    await settle();
    expect(pins.pending("green")).toBe(false);
    expect(calls).toBe(before); // no hot loop against a registry that is down
    pins.forPass(d, o, Date.now() + RESOLVE_RETRY_MS + 1);
    expect(pins.pending("green")).toBe(true);
  });

  it("raises TagMoved only when the registry's content differs from what the colour is pinned to", async () => {
    let now = D1;
    const { pins } = await rig(async () => now);
    const o = world({ "blue-1": node(d, "blue-1"), "green-1": node(d, "green-1"), "router-1": router(d, "router-1", { live: "blue" }) });
    pins.forPass(d, o, NOW);
    await settle();
    const pinned = { ...d, pins: pins.forPass(d, o, NOW) };
    expect(pins.alerts(pinned)).toEqual([]);
    now = D2;
    pins.forPass(d, o, NOW + 61_000); // the recheck is due
    await settle();
    const alerts = pins.alerts(pinned);
    expect(alerts.map((a) => a.fingerprint).sort()).toEqual(["TagMoved/blue", "TagMoved/green"]);
    expect(alerts[0]!.summary).toMatch(/switchyard redeploy/);
    // state.yaml's digest (a redeploy) pins the new content: no alert for that colour.
    const st = structuredClone(d.state);
    st.spec.colors.green.digest = D2;
    expect(pins.alerts({ ...pinned, state: st }).map((a) => a.fingerprint)).toEqual(["TagMoved/blue"]);
  });
});
