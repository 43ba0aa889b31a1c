/** When two wire specs are the same (specs/equality.ts): generation aside, key order aside, undefined keys aside. */
import { describe, expect, it } from "vitest";
import { canonical, sameSpec } from "../../specs/equality.js";
import type { NodeSpec } from "../../specs/wire.js";

const spec = (o: object) => ({ kind: "NodeSpec", generation: 1, tag: "v1", services: { web: { port: 8080, env: { A: "1" } } }, ...o }) as unknown as NodeSpec;

describe("sameSpec and canonical", () => {
  it("null and missing specs equal only each other", () => {
    expect(sameSpec(null, null)).toBe(true);
    expect(sameSpec(undefined, undefined)).toBe(true);
    expect(sameSpec(null, spec({}))).toBe(false);
    expect(sameSpec(spec({}), null)).toBe(false);
    expect(sameSpec(undefined, null)).toBe(false);
  });

  it("ignores the generation, key order and undefined keys; nothing else", () => {
    expect(sameSpec(spec({ generation: 1 }), spec({ generation: 9 }))).toBe(true);
    expect(sameSpec(spec({ tag: "v1" }), spec({ tag: "v2" }))).toBe(false);
    expect(sameSpec(spec({ x: undefined }), spec({}))).toBe(true);
    expect(sameSpec(spec({ services: { web: { env: { A: "1" }, port: 8080 } } }), spec({}))).toBe(true);
    expect(sameSpec(spec({ services: { web: { port: 8080, env: { A: "2" } } } }), spec({}))).toBe(false);
    expect(sameSpec(spec({ command: ["a", "b"] }), spec({ command: ["b", "a"] }))).toBe(false);
  });

  it("writes sorted JSON", () => {
    expect(canonical({ b: [1, { d: null, c: "x" }], a: true, u: undefined })).toBe('{"a":true,"b":[1,{"c":"x","d":null}]}');
    expect(canonical([])).toBe("[]");
    expect(canonical({})).toBe("{}");
    expect(canonical("s")).toBe('"s"');
    expect(canonical(null)).toBe("null");
    expect(canonical(0)).toBe("0");
  });
});
