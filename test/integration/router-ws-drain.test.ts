/**
 * Drain and shutdown close WebSockets with a close frame (1001, going away) to both ends, not by cutting
 * the connection (which both ends see as 1006).
 */
import { describe, expect, it } from "vitest";
import type { WebSocket } from "ws";
import { openSocket, routerSpec, startApp, startRouter, until, type App } from "../support/router-world.js";

/** The close code a ws endpoint sees. */
function closeCode(ws: WebSocket): Promise<number> {
  return new Promise((resolve) => ws.once("close", (code: number) => resolve(code)));
}

async function upstreamSocket(app: App): Promise<WebSocket> {
  await until(() => app.sockets.size === 1, 2_000, "the upstream side of the socket");
  return [...app.sockets][0]!;
}

describe("router: WebSocket drain", () => {
  it("after the drain timeout of a flip, both ends get close code 1001", async () => {
    const [blue, green] = await Promise.all([startApp("blue-1"), startApp("green-1")]);
    const ups = { blue: [{ service: "web", pathPrefix: "/", ports: [blue.port] }], green: [{ service: "web", pathPrefix: "/", ports: [green.port] }] };
    const r = await startRouter();
    await r.plane.apply(routerSpec(r.listen, { live: "blue", preview: null, drainTimeoutSeconds: 1, upstreams: ups }));
    const client = await openSocket(r.port, "shop.test");
    const server = await upstreamSocket(blue);
    const [clientCode, serverCode] = [closeCode(client.ws), closeCode(server)];
    expect(await client.ask("before")).toBe("blue-1:before");
    await r.plane.apply(routerSpec(r.listen, { live: "green", preview: null, generation: 2, drainTimeoutSeconds: 1, upstreams: ups }));
    expect(await clientCode).toBe(1001);
    expect(await serverCode).toBe(1001);
    await until(() => r.plane.status().websockets.blue === 0, 5_000, "the tunnel counted out");
  });

  it("on router shutdown, both ends get close code 1001", async () => {
    const blue = await startApp("blue-1");
    const r = await startRouter();
    await r.plane.apply(routerSpec(r.listen, { live: "blue", preview: null, upstreams: { blue: [{ service: "web", pathPrefix: "/", ports: [blue.port] }], green: [] } }));
    const client = await openSocket(r.port, "shop.test");
    const server = await upstreamSocket(blue);
    const [clientCode, serverCode] = [closeCode(client.ws), closeCode(server)];
    // A big message is in flight both ways as the router goes away: were a close frame put inside its frame,
    // the peer would read garbage and close with 1002 (protocol error) instead.
    client.ws.send("x".repeat(4 * 1024 * 1024));
    const closing = r.close();
    expect(await clientCode).toBe(1001);
    expect(await serverCode).toBe(1001);
    await closing;
  });
});
