import { describe, expect, it } from "vitest";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { renderValidators } from "../../specs/write-schemas.js";
import { loadGeneratedValidators, makeAjv, SchemaValidators, usingGeneratedValidators, validateAgainst, schemas, validatorsFile, validatorsFingerprint, type SchemaName } from "../../specs/validate.js";
import { parse } from "yaml";

describe("the validators generated ahead of time (specs/generated/validators.cjs)", () => {
  it("the committed file is current (run npm run schemas)", () => {
    expect(readFileSync(validatorsFile, "utf8") === renderValidators(), "specs/generated/validators.cjs is out of date: run npm run schemas").toBe(true);
  });

  it("holds a validator for every schema, and they are the ones validation uses", () => {
    const generated = loadGeneratedValidators(validatorsFile);
    expect(generated).not.toBeNull();
    expect(Object.keys(generated!).sort()).toEqual(Object.keys(schemas).sort());
    expect(usingGeneratedValidators()).toBe(true);
  });

  it("answers as validators compiled at run time do: defaults filled in, the same errors", () => {
    const generated = loadGeneratedValidators(validatorsFile)!;
    const compiledCluster = makeAjv("withDefaults").getSchema(schemas.cluster.$id)!;
    const written = () => parse(readFileSync("examples/local/cluster.yaml", "utf8")) as Record<string, unknown>;
    const a = written();
    const b = structuredClone(a);
    expect(generated.cluster!(a)).toBe(true);
    expect(compiledCluster(b)).toBe(true);
    expect(a).toEqual(b);
    expect(a).not.toEqual(written()); // defaults were filled in
    const bad = { apiVersion: "switchyard/v1", kind: "Cluster", metadata: { name: "Bad Name" }, spec: { extra: 1 } };
    expect(generated.cluster!(structuredClone(bad))).toBe(false);
    expect(compiledCluster(structuredClone(bad))).toBe(false);
    expect(generated.cluster!.errors).toEqual(compiledCluster.errors);
  });

  it("a file made from other schemas or another ajv is not used: validation compiles the schemas and answers the same", () => {
    const dir = mkdtempSync(join(tmpdir(), "sy-validators-"));
    const stale = join(dir, "stale.cjs");
    writeFileSync(stale, readFileSync(validatorsFile, "utf8").replace(validatorsFingerprint(), "0".repeat(64)));
    expect(loadGeneratedValidators(stale)).toBeNull();
    expect(loadGeneratedValidators(join(dir, "missing.cjs"))).toBeNull();
    for (const file of [stale, join(dir, "missing.cjs")]) {
      const compiled = new SchemaValidators(file);
      expect(compiled.generatedInUse()).toBe(false);
      const bad = { apiVersion: "switchyard.dev/v1", kind: "Cluster", metadata: { name: "Bad Name" }, spec: { extra: 1 } };
      const issues = (compiled.validate("cluster", structuredClone(bad)) as { issues: unknown[] }).issues;
      expect(issues.length).toBeGreaterThan(1);
      expect(issues).toEqual((validateAgainst("cluster", structuredClone(bad)) as { issues: unknown[] }).issues);
      const written = () => parse(readFileSync("examples/local/cluster.yaml", "utf8")) as unknown;
      const filled = compiled.validate("cluster", written());
      expect(filled.ok).toBe(true);
      expect(filled).toEqual(validateAgainst("cluster", written())); // defaults filled in alike
      expect(filled).not.toEqual({ ok: true, value: written() });
      // a second call uses the validator compiled by the first; a schema of the other set compiles too
      expect(compiled.validate("cluster", structuredClone(bad)).ok).toBe(false);
      expect(compiled.validate("log-record", {}).ok).toBe(false);
    }
  });

  it("the fingerprint changes with any schema", () => {
    const before = validatorsFingerprint();
    const name: SchemaName = "lease";
    const schema = schemas[name] as { description?: string };
    const saved = schema.description;
    try {
      schema.description = `${saved ?? ""} (edited)`;
      expect(validatorsFingerprint()).not.toBe(before);
    } finally {
      if (saved === undefined) delete schema.description;
      else schema.description = saved;
    }
    expect(validatorsFingerprint()).toBe(before);
  });
});
