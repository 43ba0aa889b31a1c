import { describe, expect, it } from "vitest";
import { validateAgainst, schemas, type SchemaName } from "../../specs/validate.js";

describe("one schema registry", () => {
  it("validating node-status first (it embeds the spec schemas) leaves every other schema usable", () => {
    // This file gets its own module instance: node-status is the first schema this registry compiles.
    expect(validateAgainst("node-status", {}).ok).toBe(false);
    for (const name of Object.keys(schemas) as SchemaName[]) {
      expect(() => validateAgainst(name, {}), name).not.toThrow();
    }
  });
});
