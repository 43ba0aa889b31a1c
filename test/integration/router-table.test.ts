/**
 * The router remembers: the table is written atomically on every change, restored before listening,
 * and a missing or corrupt file means 503 until told — never a crash.
 */
import { describe, expect, it } from "vitest";
import { readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { AgentError } from "../../node-agent/errors.js";
import { get, routerSpec, startApp, startRouter, tempDir } from "../support/router-world.js";

describe("router: the stored table", () => {
  it("persists every applied table atomically and restores it on restart, serving within a second", async () => {
    const [blue, green] = await Promise.all([startApp("blue-1"), startApp("green-1")]);
    const ups = { blue: [{ service: "web", pathPrefix: "/", ports: [blue!.port] }], green: [{ service: "web", pathPrefix: "/", ports: [green!.port] }] };
    const first = await startRouter();
    await first.plane.apply(routerSpec(first.listen, { live: "blue", upstreams: ups }));
    const flipped = routerSpec(first.listen, { live: "green", preview: "blue", generation: 2, upstreams: ups });
    await first.plane.apply(flipped);
    await first.plane.apply(flipped); // idempotent
    expect(JSON.parse(await readFile(join(first.dataDir, "router-table.json"), "utf8"))).toEqual(flipped);
    expect(await readdir(first.dataDir)).toEqual(["router-table.json"]); // no temp files left behind
    await first.close();

    const started = Date.now();
    const second = await startRouter({ dataDir: first.dataDir, listen: first.listen });
    const res = await get(second.port, "/", { host: "shop.test" });
    expect(Date.now() - started).toBeLessThan(1_000);
    expect([res.status, res.headers["x-switchyard-color"], res.body]).toEqual([200, "green", "hello from green-1"]);
    expect(second.plane.status().spec).toEqual(flipped);
    expect(second.plane.status().tableError).toBeNull();
  });

  it("a missing table: 503 'no routing table yet', no error", async () => {
    const r = await startRouter();
    const res = await get(r.port, "/", { host: "shop.test" });
    expect([res.status, res.body]).toEqual([503, "no routing table yet\n"]);
    expect(r.plane.status().tableError).toBeNull();
  });

  it.each([
    ["not JSON", "{ this is not json"],
    ["not a router spec", JSON.stringify({ kind: "RouterSpec", generation: 0 })],
  ])("a corrupt table (%s) is kept aside, reported and answered with 503; a new apply recovers", async (_, content) => {
    const dataDir = await tempDir();
    await writeFile(join(dataDir, "router-table.json"), content);
    const r = await startRouter({ dataDir });
    const files = await readdir(dataDir);
    expect(files).toHaveLength(1);
    expect(files[0]).toMatch(/^router-table\.json\.corrupt-\d{4}-\d\d-\d\dT/);
    expect(await readFile(join(dataDir, files[0]!), "utf8")).toBe(content);
    expect(r.plane.status().tableError).toMatch(/router-table\.json/);
    expect(r.plane.status().spec).toBeNull();
    const res = await get(r.port, "/", { host: "shop.test" });
    expect(res.status).toBe(503);
    expect(res.body).toMatch(/kept aside/);

    const app = await startApp("blue-1");
    await r.plane.apply(routerSpec(r.listen, { upstreams: { blue: [{ service: "web", pathPrefix: "/", ports: [app.port] }], green: [] } }));
    expect(r.plane.status().tableError).toBeNull();
    expect((await get(r.port, "/", { host: "shop.test" })).status).toBe(200);
  });

  it("refuses a spec for another listen address and keeps the table it has", async () => {
    const app = await startApp("blue-1");
    const r = await startRouter();
    const good = routerSpec(r.listen, { upstreams: { blue: [{ service: "web", pathPrefix: "/", ports: [app.port] }], green: [] } });
    await r.plane.apply(good);
    const other = { ...good, generation: 2, listen: "0.0.0.0:80", live: null };
    const err = await r.plane.apply(other).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AgentError);
    expect((err as AgentError).code).toBe("AGENT_ERR_LISTEN_NOT_ALLOWED");
    expect((err as AgentError).statusCode).toBe(403);
    expect(r.plane.status().spec).toEqual(good);
    expect(JSON.parse(await readFile(join(r.dataDir, "router-table.json"), "utf8"))).toEqual(good);
    expect((await get(r.port, "/", { host: "shop.test" })).status).toBe(200);
  });
});
