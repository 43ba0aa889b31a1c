/**
 * The flip: an atomic table swap under load with zero failed requests; WebSockets and server-sent events
 * that outlive it; and the drain timeout that finally closes connections left on a replaced route.
 */
import { describe, expect, it } from "vitest";
import { Agent, request } from "node:http";
import { blueGreen, cleanup, get, openSocket, routerSpec, startApp, startRouter, until, LOOPBACK, type App } from "../support/router-world.js";
import type { Color } from "../../specs/types.js";

/** Opens an SSE stream through the router; resolves once the first event arrived. */
function openStream(port: number, host: string): Promise<{ color: string; first: string; events: string[]; ended: Promise<"end" | "cut"> }> {
  return new Promise((resolve, reject) => {
    const events: string[] = [];
    const req = request({ host: LOOPBACK, port, path: "/sse", headers: { host, accept: "text/event-stream" }, agent: false }, (res) => {
      let ended!: (v: "end" | "cut") => void;
      const done = new Promise<"end" | "cut">((r) => { ended = r; });
      res.on("end", () => ended("end"));
      res.on("error", () => ended("cut"));
      res.on("aborted", () => ended("cut"));
      res.on("close", () => ended(res.complete ? "end" : "cut"));
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => {
        events.push(chunk);
        if (events.length === 1) resolve({ color: res.headers["x-switchyard-color"] as string, first: chunk, events, ended: done });
      });
    });
    req.on("error", reject);
    cleanup(() => req.destroy());
    req.end();
  });
}

describe("router: the flip", () => {
  it("flips under concurrent keep-alive load with zero failed requests; new requests land on the new colour", async () => {
    const { blue, green, ups } = await blueGreen();
    const r = await startRouter();
    await r.plane.apply(routerSpec(r.listen, { live: "blue", preview: "green", upstreams: ups }));
    const CLIENTS = 16, PER_CLIENT = 120, FLIP_AT = 700;
    const agent = new Agent({ keepAlive: true, maxSockets: CLIENTS });
    cleanup(() => agent.destroy());
    let completed = 0;
    let flip: Promise<void> | null = null;
    let flipDone = false;
    const failures: string[] = [];
    const served: Record<Color, number> = { blue: 0, green: 0 };
    const afterFlip: string[] = [];
    const slow: Array<Promise<{ status: number; color: string | undefined }>> = [];
    const client = async (): Promise<void> => {
      for (let i = 0; i < PER_CLIENT; i++) {
        const startedAfterFlip = flipDone;
        try {
          const res = await get(r.port, "/", { host: "shop.test", agent });
          const color = res.headers["x-switchyard-color"] as Color;
          if (res.status !== 200) failures.push(`${res.status} ${res.body}`);
          else served[color]++;
          if (startedAfterFlip) afterFlip.push(color);
        } catch (err) {
          failures.push((err as Error).message);
        }
        if (++completed === FLIP_AT) {
          // Requests in flight across the flip, on their own connections, finish where they started.
          for (let k = 0; k < 4; k++) {
            slow.push(get(r.port, "/slow?ms=300", { host: "shop.test" }).then((x) => ({ status: x.status, color: x.headers["x-switchyard-color"] as string })));
          }
          await until(() => blue.hits.get("/slow") === 4, 2_000, "slow requests at the blue upstream");
          flip = r.plane.apply(routerSpec(r.listen, { live: "green", preview: "blue", generation: 2, upstreams: ups })).then(() => { flipDone = true; });
        }
      }
    };
    await Promise.all(Array.from({ length: CLIENTS }, client));
    await flip;
    expect(failures).toEqual([]);
    expect(completed).toBe(CLIENTS * PER_CLIENT);
    expect(served.blue).toBeGreaterThanOrEqual(FLIP_AT);
    expect(served.green).toBeGreaterThan(0);
    expect(afterFlip.length).toBeGreaterThan(0);
    expect(new Set(afterFlip)).toEqual(new Set(["green"]));
    expect(await Promise.all(slow)).toEqual(Array(4).fill({ status: 200, color: "blue" }));
    expect(blue.hits.get("/slow")).toBe(4);
    expect(green.hits.get("/")).toBe(served.green);
  });

  it("a WebSocket opened before the flip keeps working after it; new ones go to the new colour", async () => {
    const { ups } = await blueGreen();
    const r = await startRouter();
    await r.plane.apply(routerSpec(r.listen, { live: "blue", upstreams: ups }));
    const before = await openSocket(r.port, "shop.test");
    expect(before.color).toBe("blue");
    expect(await before.ask("one")).toBe("blue-1:one");
    await until(() => r.plane.status().websockets.blue === 1, 1_000, "counted");
    await r.plane.apply(routerSpec(r.listen, { live: "green", preview: "blue", generation: 2, upstreams: ups }));
    expect(await before.ask("two")).toBe("blue-1:two");
    const after = await openSocket(r.port, "shop.test");
    expect(after.color).toBe("green");
    expect(await after.ask("three")).toBe("green-1:three");
    expect(r.plane.status().websockets).toEqual({ blue: 1, green: 1 });
    before.ws.close();
    await before.closed;
    await until(() => r.plane.status().websockets.blue === 0, 1_000, "blue socket counted out");
  });

  it("streams server-sent events unbuffered: the first event arrives while the upstream is still sending", async () => {
    const { blue, ups } = await blueGreen();
    const r = await startRouter();
    await r.plane.apply(routerSpec(r.listen, { upstreams: ups }));
    const s = await openStream(r.port, "shop.test");
    expect(s.color).toBe("blue");
    expect(s.first).toBe("data: first from blue-1\n\n");
    expect(blue.streams.size).toBe(1); // the upstream has not finished
    expect(r.plane.status().inFlight.blue).toBe(1);
    for (const res of blue.streams) res.write("data: second\n\n");
    await until(() => s.events.join("").includes("data: second"), 2_000, "second event");
    for (const res of blue.streams) res.end("data: last\n\n");
    expect(await s.ended).toBe("end");
    expect(s.events.join("")).toBe("data: first from blue-1\n\ndata: second\n\ndata: last\n\n");
    await until(() => r.plane.status().inFlight.blue === 0, 1_000, "stream counted out");
  });
});

describe("router: drain", () => {
  it("after the drain timeout, closes long-lived connections whose route now leads elsewhere, and only those", async () => {
    const { blue, ups } = await blueGreen();
    const r = await startRouter();
    await r.plane.apply(routerSpec(r.listen, { live: "blue", preview: "green", drainTimeoutSeconds: 1, upstreams: ups }));
    const viaLive = await openSocket(r.port, "shop.test");
    const viaBlueHost = await openSocket(r.port, "blue.shop.test");
    const viaPreview = await openSocket(r.port, "preview.shop.test");
    const stream = await openStream(r.port, "shop.test");
    expect([viaLive.color, viaBlueHost.color, viaPreview.color, stream.color]).toEqual(["blue", "blue", "green", "blue"]);
    expect(r.plane.status().websockets).toEqual({ blue: 2, green: 1 });

    const flippedAt = Date.now();
    await r.plane.apply(routerSpec(r.listen, { live: "green", preview: "blue", generation: 2, drainTimeoutSeconds: 1, upstreams: ups }));
    // Inside the drain window everything still works.
    await new Promise((res) => setTimeout(res, 400));
    expect(await viaLive.ask("still")).toBe("blue-1:still");
    for (const res of blue.streams) res.write("data: during drain\n\n");
    await until(() => stream.events.join("").includes("during drain"), 1_000, "event during drain");

    await Promise.all([viaLive.closed, viaPreview.closed, stream.ended]);
    expect(Date.now() - flippedAt).toBeGreaterThanOrEqual(950);
    expect(await stream.ended).toBe("cut");
    // Asked for blue by name: still blue, still open.
    expect(await viaBlueHost.ask("kept")).toBe("blue-1:kept");
    await until(() => r.plane.status().websockets.blue === 1 && r.plane.status().websockets.green === 0, 1_000, "counts after drain");
    expect(r.plane.status().inFlight).toEqual({ blue: 0, green: 0 });
  });

  it("closes connections to a colour that is neither live nor preview any more; a flip back in time keeps them", async () => {
    const { ups } = await blueGreen();
    const r = await startRouter();
    await r.plane.apply(routerSpec(r.listen, { live: "blue", preview: "green", drainTimeoutSeconds: 1, upstreams: ups }));
    const preview = await openSocket(r.port, "preview.shop.test");
    const live = await openSocket(r.port, "shop.test");
    await r.plane.apply(routerSpec(r.listen, { live: "green", preview: null, generation: 2, drainTimeoutSeconds: 1, upstreams: ups }));
    // Both are stranded now (live moved to green; preview is gone). Flip live back before the deadline.
    await new Promise((res) => setTimeout(res, 300));
    await r.plane.apply(routerSpec(r.listen, { live: "blue", preview: null, generation: 3, drainTimeoutSeconds: 1, upstreams: ups }));
    await preview.closed;
    await new Promise((res) => setTimeout(res, 900));
    expect(await live.ask("still here")).toBe("blue-1:still here");
    expect(r.plane.status().websockets).toEqual({ blue: 1, green: 0 });
  });
});
