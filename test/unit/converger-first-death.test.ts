/**
 * A web service's first death is drift, the reconciler's to decide (its drift policy: heal or alert). Before,
 * any convergence pass started it again: a pass for another service's due restart, a revive after the
 * engine came back, not only a spec from the reconciler. With `drift.policy: alert` and two web services,
 * one crash-looping service's backoff restarts also restarted the other one, which nobody had decided.
 * A pass now knows why it runs: only a spec (a heal is a new generation) starts a service whose first death
 * waits for the reconciler; an engine-back revive starts only what the engine's own stop took down.
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import { convergerRig, MemoryEngine } from "../support/converger-rig.js";
import { demoSpec, waitFor } from "../support/agent-bed.js";

/** Two web services, web and api, on one node. */
function bed() {
  const base = demoSpec({ node: "n1", tag: "v1", generation: 1, hostPort: 18080 });
  return convergerRig(new MemoryEngine(), { ...base, services: { ...base.services, api: { ...base.services.web!, hostPort: 18081 } } });
}

afterEach(() => {
  vi.useRealTimers();
});

describe("a web service's first death waits for the reconciler", () => {
  it("another service's due restart and a revive do not start it; the reconciler's heal does", async () => {
    const { engine, c, heal, observe, quiet } = bed();
    try {
      c.kick();
      await quiet();
      // api dies once and is healed: its next death is the agent's own to restart, on its backoff.
      engine.kill("api");
      await observe();
      heal();
      await quiet();
      expect(engine.startsOf("api")).toHaveLength(2);
      // web dies once: drift, left down for the reconciler (its policy may be alert).
      engine.kill("web");
      await observe();
      expect(c.restarts.status("web")?.count).toBe(1);
      // api dies again: the agent starts it after its backoff, by itself. That pass must leave web alone.
      engine.kill("api");
      await observe();
      expect(c.restarts.status("api")?.count).toBe(2);
      await waitFor("api started again after its backoff", async () => engine.startsOf("api").length === 3 && engine.runs("api"), 5000, 10);
      await quiet();
      expect(engine.startsOf("web"), "the pass of api's due restart started web, whose first death is the reconciler's").toHaveLength(1);
      expect(engine.runs("web")).toBe(false);
      // A revive without an engine that went away (the agent's start) does not take the reconciler's decision either.
      await c.reviveStopped();
      await quiet();
      expect(engine.startsOf("web")).toHaveLength(1);
      // The reconciler heals (policy heal): a new generation starts web.
      heal();
      await quiet();
      expect(engine.startsOf("web")).toHaveLength(2);
      expect(engine.runs("web")).toBe(true);
      expect(engine.startsOf("api")).toHaveLength(3);
    } finally {
      await c.close();
    }
  }, 20_000);

  it("the engine coming back starts what its stop took down, not a service that was down before it went away", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    const t0 = Date.now();
    const { engine, c, observe, quiet } = bed();
    try {
      c.kick();
      await quiet();
      engine.kill("web"); // web dies by itself: drift, waiting for the reconciler
      await observe();
      expect(c.restarts.status("web")?.count).toBe(1);
      vi.setSystemTime(t0 + 10 * 60_000);
      // Ten minutes later the engine restarts: it stops api (a first death, seen before the engine is gone).
      engine.kill("api");
      await observe();
      expect(c.restarts.status("api")?.count).toBe(1);
      await c.reviveStopped(Date.now());
      await quiet();
      expect(engine.runs("api"), "the engine's stop is nobody's decision: api runs again").toBe(true);
      expect(engine.startsOf("api")).toHaveLength(2);
      expect(engine.startsOf("web"), "web was down before the engine went away: still the reconciler's").toHaveLength(1);
    } finally {
      await c.close();
    }
  }, 20_000);

  it("the engine coming back starts what its stop took down even when only the revive's own pass sees the death", async () => {
    const { engine, c, quiet } = bed();
    try {
      c.kick();
      await quiet();
      // The engine went away before any listing showed its stop: the revive's pass counts the first deaths.
      const lostAt = Date.now();
      engine.kill("web");
      engine.kill("api");
      await c.reviveStopped(lostAt);
      await quiet();
      expect(c.restarts.status("web")?.count).toBe(1);
      expect(engine.runs("web") && engine.runs("api")).toBe(true);
      expect([engine.startsOf("web").length, engine.startsOf("api").length]).toEqual([2, 2]);
    } finally {
      await c.close();
    }
  }, 20_000);
});
