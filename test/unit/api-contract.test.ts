import { describe, expect, it } from "vitest";
import Fastify from "fastify";
import { contractCheck } from "../support/api-contract.js";
import { apiRoutes, apiSchemas, routeSchema, type RouteContract } from "../../specs/api/routes.js";
import { readFileSync } from "node:fs";
import { reconError, reconErrors } from "../../reconciler/errors.js";
import { useContractValidation } from "../../reconciler/api/route.js";

/** A fastify app with the contract check and one route declared with the tags contract. */
async function appAnswering(answer: () => unknown) {
  const c = contractCheck();
  const app = Fastify();
  c.setup(app);
  app.setErrorHandler((err: Error, _req, reply) => void reply.code(400).send({ error: { code: "RECON_ERR_BAD_REQUEST", message: err.message } }));
  app.get("/api/v1/tags", { schema: routeSchema("GET /api/v1/tags") }, async () => answer());
  const res = await app.inject({ method: "GET", url: "/api/v1/tags" });
  await app.close();
  return { c, res };
}

describe("the API contract check (it can fail)", () => {
  it("passes an answer that keeps to its schema", async () => {
    const { c, res } = await appAnswering(() => ({ tags: [{ tag: "v1", created: null }] }));
    expect(res.statusCode).toBe(200);
    expect(c.violations).toEqual([]);
    expect(c.seen.get("GET /api/v1/tags")).toEqual(new Set([200]));
  });

  it("sees an extra field that fast-json-stringify would drop on the wire", async () => {
    const { c, res } = await appAnswering(() => ({ tags: [{ tag: "v1", created: null, secret: "x" }] }));
    expect(res.json()).toEqual({ tags: [{ tag: "v1", created: null }] }); // the wire alone would not show it
    expect(c.violations).toHaveLength(1);
    expect(c.violations[0]!.problems.join()).toMatch(/additional properties/);
  });

  it("sees a wrong type and a missing field", async () => {
    const wrong = await appAnswering(() => ({ tags: [{ tag: 2, created: null }] }));
    expect(wrong.c.violations[0]!.problems.join()).toMatch(/must be string/);
    const missing = await appAnswering(() => ({ tags: [{ tag: "v1" }] }));
    expect(missing.c.violations).toHaveLength(1);
  });

  it("checks error answers against the error body", async () => {
    const { c, res } = await appAnswering(() => {
      throw reconError("RECON_ERR_BAD_REQUEST", "no");
    });
    expect(res.statusCode).toBe(400);
    expect(c.violations).toEqual([]);
    const bad = contractCheck();
    const app = Fastify();
    bad.setup(app);
    app.get("/x", { schema: routeSchema("GET /api/v1/tags") }, async (_req, reply) => reply.code(404).send({ error: { code: "NOT_OURS", message: "m" } }));
    await app.inject({ method: "GET", url: "/x" });
    await app.close();
    expect(bad.violations[0]!.problems.join()).toMatch(/pattern/);
  });

  it("checks answers sent as JSON text (the status document)", async () => {
    const c = contractCheck();
    const app = Fastify();
    c.setup(app);
    app.get("/s", { schema: routeSchema("GET /api/v1/status") }, async (_req, reply) => reply.type("application/json; charset=utf-8").send('{"app":null}'));
    await app.inject({ method: "GET", url: "/s" });
    await app.close();
    expect(c.violations[0]!.problems.join()).toMatch(/required/);
  });
});

describe("the API contract table", () => {
  it("names only schemas that exist, and every schema compiles for validation and serialisation", async () => {
    for (const [route, c] of Object.entries(apiRoutes as Record<string, RouteContract>)) {
      for (const name of [c.params, c.querystring, c.body, ...Object.values(c.response)].filter((n) => n)) {
        expect(apiSchemas, route).toHaveProperty(name as string);
      }
    }
    const c = contractCheck();
    const app = Fastify();
    c.setup(app);
    useContractValidation(app);
    for (const route of Object.keys(apiRoutes) as (keyof typeof apiRoutes)[]) {
      const [method, url] = route.split(" ") as [string, string];
      app.route({ method: method as "GET", url, schema: routeSchema(route), handler: async () => ({}) });
    }
    await app.ready();
    await app.close();
  });
});

describe("docs/api.md", () => {
  const doc = readFileSync("docs/api.md", "utf8");

  it("lists every route with its permission and schema names", () => {
    for (const [route, c] of Object.entries(apiRoutes as Record<string, RouteContract>)) {
      const row = doc.split("\n").find((l) => l.startsWith(`| \`${route}\` |`));
      expect(row, route).toBeDefined();
      expect(row!.split("|")[2]!.trim(), route).toBe(c.permission);
      for (const name of [c.params, c.querystring, c.body, ...Object.values(c.response)].filter((n) => n)) expect(row, route).toContain(`\`${name}\``);
    }
  });

  it("lists every error code the reconciler answers with, with its status", () => {
    for (const [code, status] of Object.entries(reconErrors)) expect(doc, code).toMatch(new RegExp(`\\| \`${code}\` \\| ${status} \\|`));
  });
});
