/**
 * specs/validate.ts's words, driven directly with ajv-shaped errors (mutation testing, issue 22): one message
 * per keyword, the anyOf summary, duplicates and typo twins dropped, pointers and paths, "did you mean".
 */
import { describe, expect, it } from "vitest";
import type { ErrorObject } from "ajv";
import { describeErrors, dotted, parsePointer, suggest } from "../../specs/validate.js";

type E = Partial<ErrorObject> & { propertyName?: string };
const err = (keyword: string, instancePath: string, params: Record<string, unknown>, more: E = {}): ErrorObject =>
  ({ keyword, instancePath, schemaPath: `#/x/${keyword}`, params, ...more }) as ErrorObject;
const one = (e: ErrorObject) => describeErrors([e]);
const msg = (e: ErrorObject) => one(e).map((i) => i.message);

describe("describeErrors: one message per keyword", () => {
  it("unknown fields: the closest known one, else the known ones, else nothing", () => {
    const schema = { properties: { active: {}, jobs: {} } };
    expect(one(err("additionalProperties", "/spec", { additionalProperty: "actve" }, { parentSchema: schema }))).toEqual([
      { path: ["spec", "actve"], atKey: true, message: 'spec.actve: unknown field "actve" (did you mean "active"?)' },
    ]);
    expect(msg(err("additionalProperties", "/spec", { additionalProperty: "zzzzzzzz" }, { parentSchema: schema }))).toEqual([
      'spec.zzzzzzzz: unknown field "zzzzzzzz" (known fields: active, jobs)',
    ]);
    expect(msg(err("additionalProperties", "", { additionalProperty: "q" }, { parentSchema: {} }))).toEqual(['q: unknown field "q"']);
    expect(msg(err("additionalProperties", "", { additionalProperty: "q" }))).toEqual(['q: unknown field "q"']);
  });

  it("required, enum, const", () => {
    expect(one(err("required", "/spec", { missingProperty: "active" }))).toEqual([{ path: ["spec"], atKey: true, message: 'spec: missing required field "active"' }]);
    expect(one(err("enum", "/spec/active", { allowedValues: ["blue", "green"] }, { data: "purple" }))).toEqual([
      { path: ["spec", "active"], atKey: false, message: 'spec.active: must be one of blue, green (got "purple")' },
    ]);
    expect(msg(err("const", "/kind", { allowedValue: "State" }, { data: "Stat" }))).toEqual(['kind: must be "State" (got "Stat")']);
  });

  it("types in words, and what was given instead", () => {
    const t = (type: unknown, data: unknown) => msg(err("type", "/a", { type }, { data }))[0];
    expect(t("integer", "eighty")).toBe('a: must be a whole number (got the text "eighty")');
    expect(t(["string", "null"], 5)).toBe("a: must be text or null (got number 5)");
    expect(t("object,array", true)).toBe("a: must be a mapping or a list (got boolean true)");
    expect(t("number", null)).toBe("a: must be a number (got null)");
    expect(t("boolean", [])).toBe("a: must be true or false (got a list)");
    expect(t("array", {})).toBe("a: must be a list (got a mapping)");
    expect(t("null", undefined)).toBe("a: must be null (got undefined undefined)");
    expect(t("weird", 1)).toBe("a: must be weird (got number 1)");
  });

  it("patterns: the schema's hint when it has one, else the pattern", () => {
    expect(msg(err("pattern", "/ip", { pattern: "^[0-9.]+$" }, { data: "x", parentSchema: { "x-hint": "an IP address" } }))).toEqual(['ip: "x" is not an IP address']);
    expect(msg(err("pattern", "/ip", { pattern: "^[0-9.]+$" }, { data: "x", parentSchema: { "x-hint": 7 } }))).toEqual(['ip: "x" is not matching ^[0-9.]+$']);
    expect(msg(err("pattern", "/ip", { pattern: "^a$" }, { data: "x" }))).toEqual(['ip: "x" is not matching ^a$']);
  });

  it("a bad key name: the key itself, with the hint", () => {
    expect(one(err("pattern", "/spec/services", {}, { propertyName: "Bad Name", parentSchema: { "x-hint": "a service name" } }))).toEqual([
      { path: ["spec", "services", "Bad Name"], atKey: true, message: 'spec.services.Bad Name: "Bad Name" is not a service name' },
    ]);
    expect(msg(err("pattern", "", {}, { propertyName: "x" }))).toEqual(['x: "x" is not a valid name']);
  });

  it("anyOf: its branches in words, and none of the branch failures", () => {
    const anyOf = { anyOf: [{ enum: ["a", 1] }, { type: "integer" }, { minimum: 2 }] };
    const errors = [
      err("enum", "/v", {}, { schemaPath: "#/properties/v/anyOf/0/enum", data: true }),
      err("type", "/v", {}, { schemaPath: "#/properties/v/anyOf/1/type", data: true }),
      err("anyOf", "/v", {}, { schemaPath: "#/properties/v/anyOf", data: true, parentSchema: anyOf }),
      err("type", "/w", { type: "string" }, { schemaPath: "#/properties/w/type", data: 1 }),
      err("type", "/vv", { type: "string" }, { schemaPath: "#/properties/vv/type", data: 1 }),
    ];
    expect(describeErrors(errors).map((i) => i.message)).toEqual(["v: must be one of a, 1, a whole number (got true)", "w: must be text (got number 1)", "vv: must be text (got number 1)"]);
    expect(msg(err("anyOf", "/v", {}, { data: 1, parentSchema: { anyOf: [{ minimum: 3 }] } }))).toEqual(["v: must be valid (got 1)"]);
    expect(msg(err("anyOf", "/v", {}, { data: 1, parentSchema: {} }))).toEqual(["v: must be valid (got 1)"]);
  });

  it("limits", () => {
    for (const k of ["minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"]) {
      expect(msg(err(k, "/n", { comparison: ">=", limit: 1 }, { data: 0 })), k).toEqual(["n: must be >= 1 (got 0)"]);
    }
    expect(msg(err("minItems", "/l", { limit: 1 }))).toEqual(["l: needs at least 1 item(s)"]);
    expect(msg(err("maxItems", "/l", { limit: 3 }))).toEqual(["l: has more than 3 items"]);
    expect(msg(err("minProperties", "/m", { limit: 1 }))).toEqual(["m: needs at least 1 entry"]);
    expect(msg(err("minProperties", "/m", { limit: 2 }))).toEqual(["m: needs at least 2 entries"]);
    expect(msg(err("maxProperties", "/m", { limit: 5 }))).toEqual(["m: has more than 5 entries"]);
    expect(msg(err("minLength", "/s", { limit: 1 }))).toEqual(["s: must not be empty"]);
    expect(msg(err("maxLength", "/s", { limit: 64 }))).toEqual(["s: is longer than 64 characters"]);
  });

  it("any other keyword: ajv's own words, or 'is invalid'", () => {
    expect(msg(err("format", "/u", {}, { message: 'must match format "uri"' }))).toEqual(['u: must match format "uri"']);
    expect(msg(err("format", "/u", {}))).toEqual(["u: is invalid"]);
  });

  it("long values are cut to 60 characters", () => {
    const at = (data: unknown) => msg(err("const", "", { allowedValue: 1 }, { data }))[0];
    expect(at("x".repeat(58))).toBe(`(document): must be 1 (got "${"x".repeat(58)}")`);
    expect(at("x".repeat(59))).toBe(`(document): must be 1 (got "${"x".repeat(56)}...)`);
  });
});

describe("describeErrors: what it leaves out", () => {
  it("propertyNames and if (their own errors say it), duplicates, and a missing field that a typo explains", () => {
    const errors = [
      err("propertyNames", "/a", {}),
      err("if", "/a", {}),
      err("required", "/a", { missingProperty: "x" }),
      err("required", "/a", { missingProperty: "x" }),
    ];
    expect(describeErrors(errors).map((i) => i.message)).toEqual(['a: missing required field "x"']);
    const typo = [
      err("additionalProperties", "/spec", { additionalProperty: "actve" }, { parentSchema: { properties: { active: {} } } }),
      err("required", "/spec", { missingProperty: "active" }),
      err("required", "/other", { missingProperty: "active" }),
      err("required", "/spec", { missingProperty: "jobs" }),
    ];
    expect(describeErrors(typo).map((i) => i.message)).toEqual([
      'spec.actve: unknown field "actve" (did you mean "active"?)',
      'other: missing required field "active"',
      'spec: missing required field "jobs"',
    ]);
  });
});

describe("paths and suggestions", () => {
  it("JSON pointers to paths, and paths to words", () => {
    expect(parsePointer("")).toEqual([]);
    expect(parsePointer("/a~1b/~0c/0/01/12/~01")).toEqual(["a/b", "~c", 0, "01", 12, "~1"]);
    expect(dotted([])).toBe("(document)");
    expect(dotted(["a", 0, "b"])).toBe("a[0].b");
    expect(dotted([0, "a"])).toBe("[0].a");
  });

  it("suggest: the closest known word within a third of its length (at least 2 edits), case aside", () => {
    expect(suggest("actve", [])).toBeUndefined();
    expect(suggest("ACTIVE", ["active", "jobs"])).toBe("active");
    expect(suggest("zz", ["ab"])).toBe("ab");
    expect(suggest("zzz", ["ab"])).toBeUndefined();
    expect(suggest("abcxyzghi", ["abcdefghi"])).toBe("abcdefghi");
    expect(suggest("abcxyzgh", ["abcdefghi"])).toBeUndefined();
    expect(suggest("a".repeat(64), ["a".repeat(63)])).toBe("a".repeat(63));
    expect(suggest("a".repeat(65), ["a".repeat(65)])).toBeUndefined();
  });
});
