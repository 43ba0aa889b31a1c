/**
 * Writes the JSON Schema files under specs/schemas/ from the TypeScript schema constants (the single
 * source). Editors use them through the `yaml-language-server: $schema=` comment in example files.
 * Run: npm run schemas. A unit test fails when the committed files are out of date.
 */
import { mkdir, writeFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { schemas } from "./validate.js";

export function renderSchemas(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, schema] of Object.entries(schemas)) {
    const doc = { $schema: "http://json-schema.org/draft-07/schema#", ...schema };
    out[`${name}.schema.json`] = JSON.stringify(doc, null, 2) + "\n";
  }
  return out;
}

export const schemasDir = fileURLToPath(new URL("../../specs/schemas/", import.meta.url));

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  await mkdir(schemasDir, { recursive: true });
  for (const [file, text] of Object.entries(renderSchemas())) await writeFile(schemasDir + file, text);
  process.stdout.write(`wrote ${Object.keys(schemas).length} schemas to ${schemasDir}\n`);
}
