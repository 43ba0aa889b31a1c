/**
 * Writes the JSON Schema files under specs/schemas/ from the TypeScript schema constants (the single
 * source). Editors use them through the `yaml-language-server: $schema=` comment in example files.
 * The API's request and answer schemas go to specs/schemas/api/ (for users' scripts; docs/api.md lists them).
 * Run: npm run schemas. A unit test fails when the committed files are out of date.
 */
import { mkdir, writeFile } from "node:fs/promises";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { schemas } from "./validate.js";
import { apiSchemas } from "./api/routes.js";

export function renderSchemas(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, schema] of Object.entries(schemas)) {
    const doc = { $schema: "http://json-schema.org/draft-07/schema#", ...schema };
    out[`${name}.schema.json`] = JSON.stringify(doc, null, 2) + "\n";
  }
  for (const [name, schema] of Object.entries(apiSchemas)) {
    const doc = { $schema: "http://json-schema.org/draft-07/schema#", $id: `https://switchyard.dev/schemas/api/${name}.schema.json`, ...schema };
    out[`api/${name}.schema.json`] = JSON.stringify(doc, null, 2) + "\n";
  }
  return out;
}

/** specs/schemas/ in the package, whether this runs from source or from dist/. */
export const schemasDir = join(packageRoot(dirname(fileURLToPath(import.meta.url))), "specs", "schemas") + "/";

function packageRoot(from: string): string {
  let dir = from;
  while (!existsSync(join(dir, "package.json"))) {
    const up = dirname(dir);
    if (up === dir) throw new Error(`no package.json above ${from}`);
    dir = up;
  }
  return dir;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const files = Object.entries(renderSchemas());
  for (const [file, text] of files) {
    await mkdir(dirname(schemasDir + file), { recursive: true });
    await writeFile(schemasDir + file, text);
  }
  process.stdout.write(`wrote ${files.length} schemas to ${schemasDir}\n`);
}
