/**
 * Malformed and hostile bodies against a real agent: only 4xx answers, the agent keeps running and
 * accepts nothing. Seeded, so a failure can be replayed.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { demoSpec, startTestAgent, stopTestAgent, type AgentHandle } from "../support/agent-bed.js";

function rng(seed: number) {
  let s = seed >>> 0;
  return () => ((s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32);
}

const junkValues: unknown[] = [null, true, -1, 0, 1.5, 2 ** 53, "", "x".repeat(5000), [], {}, [1, 2], { a: 1 }, "../../etc/passwd", "\u0000", "v1;rm -rf /", -0, 1e308];

/** Mutates one random path of a valid spec into junk. */
function mutate(base: any, r: () => number): any {
  const spec = structuredClone(base);
  const paths: string[][] = [];
  const walk = (o: any, p: string[]) => {
    if (o && typeof o === "object") for (const k of Object.keys(o)) { paths.push([...p, k]); walk(o[k], [...p, k]); }
  };
  walk(spec, []);
  const path = paths[Math.floor(r() * paths.length)]!;
  let o = spec;
  for (const k of path.slice(0, -1)) o = o[k];
  const last = path.at(-1)!;
  const choice = r();
  if (choice < 0.15) delete o[last];
  else if (choice < 0.25) o[last + "_x"] = 1;
  else o[last] = junkValues[Math.floor(r() * junkValues.length)];
  return spec;
}

describe("agent fuzz: 250 malformed specs", () => {
  let h: AgentHandle;
  beforeAll(async () => {
    h = await startTestAgent({ name: "t-agent-fuzz" });
  });
  afterAll(() => stopTestAgent(h));

  it("answers each with a 4xx and a coded error, changes nothing, keeps running", async () => {
    const r = rng(20261126);
    const base = demoSpec({ node: "t-agent-fuzz", tag: "v1", generation: 1, hostPort: 19141, withWorker: true });
    const bodies: { body: string; contentType?: string }[] = [
      { body: "" }, { body: "{" }, { body: "[]" }, { body: "null" }, { body: '"spec"' }, { body: "1" },
      { body: '{"__proto__":{"polluted":1},"kind":"NodeSpec"}' }, { body: '{"constructor":{"prototype":{"x":1}}}' },
      { body: JSON.stringify(base), contentType: "text/plain" }, { body: JSON.stringify(base), contentType: "application/x-www-form-urlencoded" },
      { body: "{" + '"a":'.repeat(1) + '"' + "x".repeat(300_000) + '"}' },
      { body: JSON.stringify({ ...base, kind: "RouterSpec" }) }, { body: JSON.stringify({ ...base, generation: 0 }) },
    ];
    while (bodies.length < 250) {
      let m = mutate(base, r);
      if (r() < 0.3) m = mutate(m, r);
      bodies.push({ body: JSON.stringify(m) });
    }
    const statuses = new Map<number, number>();
    let accepted = 0;
    for (const b of bodies) {
      const res = await fetch(h.agent.url + "/v1/spec", {
        method: "PUT",
        headers: { authorization: `Bearer ${h.token}`, "content-type": b.contentType ?? "application/json" },
        body: b.body,
      });
      const json = (await res.json()) as { error?: { code: string } };
      if (res.status < 300) {
        accepted++;
        continue; // a mutation that happened to stay valid (e.g. a different env value) is fine
      }
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
      expect(res.status, b.body.slice(0, 200)).toBeGreaterThanOrEqual(400);
      expect(res.status, b.body.slice(0, 200)).toBeLessThan(500);
      expect(json.error?.code, b.body.slice(0, 200)).toMatch(/^AGENT_ERR_/);
    }
    expect(accepted).toBeLessThan(25);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect((await fetch(h.agent.url + "/v1/healthz")).status).toBe(200);
    // Lease bodies too.
    for (const body of ["{}", '{"epoch":-1,"ttlMs":1000}', '{"epoch":1,"ttlMs":10}', '{"epoch":"1","ttlMs":5000}', '{"epoch":1,"ttlMs":5000,"x":1}', "[]"]) {
      const res = await fetch(h.agent.url + "/v1/lease", { method: "PUT", headers: { authorization: `Bearer ${h.token}`, "content-type": "application/json" }, body });
      expect(res.status, body).toBe(400);
    }
  });
});
