/**
 * Differential conformance of the router's data plane (issue 11): every corpus vector goes through the real
 * data plane to a recording upstream, and the invariant is checked by program (see test/conformance/check.ts).
 * A failing vector prints its class, name and bytes. Vectors marked "finding" reproduce a router defect the
 * suite found (the mechanism is in the vector's `finding`); they stay as regression cases.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Rig } from "../conformance/rig.js";
import { h11Available } from "../conformance/h11.js";
import { runRequestVector, runResponseVector } from "../conformance/check.js";
import { REQUEST_CORPUS } from "../conformance/request-corpus.js";
import { RESPONSE_CORPUS } from "../conformance/response-corpus.js";

let rig: Rig;
beforeAll(async () => {
  if (!h11Available()) throw new Error("python3-h11 is missing: apt-get install -y python3-h11 (test/bed/setup.sh installs it)");
  rig = await Rig.start();
});
afterAll(async () => {
  await rig?.close();
});

describe("request corpus", () => {
  it("has at least 200 vectors", () => {
    expect(REQUEST_CORPUS.length).toBeGreaterThanOrEqual(200);
  });
  it.each(REQUEST_CORPUS.map((v, i) => [i, v.cls, v.name + (v.finding ? " (finding)" : "")] as const))("#%i [%s] %s", async (i) => {
    const v = REQUEST_CORPUS[i]!;
    const o = await runRequestVector(rig, v, i);
    expect(o.problems, `[${v.cls}] ${v.name}${v.finding ? `\nFINDING: ${v.finding}` : ""}\nbytes: ${JSON.stringify(v.raw.slice(0, 600))}\nsplits: ${JSON.stringify(v.splits ?? [])}\nstatuses: ${JSON.stringify(o.statuses)}`).toEqual([]);
  });
});

describe("response corpus", () => {
  it("has at least 50 vectors", () => {
    expect(RESPONSE_CORPUS.length).toBeGreaterThanOrEqual(50);
  });
  it.each(RESPONSE_CORPUS.map((v, i) => [i, v.cls, v.name + (v.finding ? " (finding)" : "")] as const))("#%i [%s] %s", async (i) => {
    const v = RESPONSE_CORPUS[i]!;
    const o = await runResponseVector(rig, v, 10_000 + i);
    expect(o.problems, `[${v.cls}] ${v.name}${v.finding ? `\nFINDING: ${v.finding}` : ""}\n${v.method ?? "GET"} answered with bytes: ${JSON.stringify(v.raw.slice(0, 600))}\nclient statuses: ${JSON.stringify(o.statuses)}`).toEqual([]);
  });
});
