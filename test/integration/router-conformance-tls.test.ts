/**
 * The router conformance suite (see router-conformance.test.ts) over HTTPS: the same corpus and the same
 * invariant, with clients speaking TLS to the router's HTTPS listener (issue 15: everything the plain-HTTP
 * router guarantees holds over TLS too).
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
  rig = await Rig.start({ tls: true });
});
afterAll(async () => {
  await rig?.close();
});

describe("request corpus over TLS", () => {
  it.each(REQUEST_CORPUS.map((v, i) => [i, v.cls, v.name] as const))("#%i [%s] %s", async (i) => {
    const v = REQUEST_CORPUS[i]!;
    const o = await runRequestVector(rig, v, i);
    expect(o.problems, `[${v.cls}] ${v.name}\nbytes: ${JSON.stringify(v.raw.slice(0, 600))}\nstatuses: ${JSON.stringify(o.statuses)}`).toEqual([]);
  });
});

describe("response corpus over TLS", () => {
  it.each(RESPONSE_CORPUS.map((v, i) => [i, v.cls, v.name] as const))("#%i [%s] %s", async (i) => {
    const v = RESPONSE_CORPUS[i]!;
    const o = await runResponseVector(rig, v, 10_000 + i);
    expect(o.problems, `[${v.cls}] ${v.name}\n${v.method ?? "GET"} answered with bytes: ${JSON.stringify(v.raw.slice(0, 600))}\nstatuses: ${JSON.stringify(o.statuses)}`).toEqual([]);
  });
});
