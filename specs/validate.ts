/**
 * Validation against the published schemas. It returns plain, position-free issues keyed by path;
 * `source.ts` turns them into `file:line:col` for YAML files.
 *
 * The validators are ajv's code for these schemas, generated ahead of time by `npm run schemas` into
 * specs/generated/validators.cjs (loads in ~25 ms; loading ajv and compiling the schemas takes ~0.5 s in
 * every process that validates: each CLI command, each test file). The file carries a fingerprint of the
 * schemas, the ajv version and the options; when it does not match (a schema was edited and the file not
 * regenerated), or the file is missing, the schemas are compiled here as before, so a stale file is only
 * slower, never wrong. A unit test fails while the committed file is out of date.
 */
import { createHash } from "node:crypto";
import { createRequire } from "node:module";
import { closeSync, existsSync, openSync, readSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Ajv, ErrorObject, ValidateFunction } from "ajv";
import { closest, distance } from "fastest-levenshtein";
import { clusterSchema } from "./cluster.js";
import { stateSchema } from "./state.js";
import { agentConfigSchema } from "./agent.js";
import { logRecordSchema } from "./logs.js";
import { taskRecordSchema, taskRunRequestSchema } from "./tasks.js";
import { acmeCertificateSchema, acmeChallengesSchema, leaseRequestSchema, nodeSpecSchema, nodeStatusSchema, routerSpecSchema } from "./wire.js";

/** Every schema we publish, by the name used for its JSON file and for `kind` dispatch. */
export const schemas = {
  cluster: clusterSchema,
  state: stateSchema,
  agent: agentConfigSchema,
  "node-spec": nodeSpecSchema,
  "router-spec": routerSpecSchema,
  lease: leaseRequestSchema,
  "acme-challenges": acmeChallengesSchema,
  "acme-certificate": acmeCertificateSchema,
  "node-status": nodeStatusSchema,
  "log-record": logRecordSchema,
  "task-run": taskRunRequestSchema,
  "task-record": taskRecordSchema,
} as const;
export type SchemaName = keyof typeof schemas;

/** A validation problem at a path inside a document. `atKey` points at the key rather than the value. */
export interface PathIssue {
  path: readonly (string | number)[];
  atKey: boolean;
  message: string;
}

export type Validation<T> = { ok: true; value: T } | { ok: false; issues: PathIssue[] };

/**
 * Files people write and the messages an agent receives get schema defaults filled in by the validator,
 * so a receiver never sees a defaulted field as missing (a health check without timeoutSeconds would
 * time out after NaN ms). A node status is complete as sent (and its embedded specs sit under anyOf,
 * where ajv fills no defaults): it is validated by its own instance, without defaults.
 */
const withDefaults: ReadonlySet<SchemaName> = new Set(["cluster", "state", "agent", "node-spec", "router-spec", "lease", "task-run"]);
const schemaNames = Object.keys(schemas) as SchemaName[];

/** The two sets of schemas: those validated with defaults filled in, and the others. */
export const validatorSets = {
  withDefaults: { useDefaults: true, names: schemaNames.filter((n) => withDefaults.has(n)) },
  plain: { useDefaults: false, names: schemaNames.filter((n) => !withDefaults.has(n)) },
} as const;
export type ValidatorSet = keyof typeof validatorSets;

const ajvOptions = { allErrors: true, verbose: true, strict: true, allowUnionTypes: true } as const;
const require = createRequire(import.meta.url);

/**
 * Every schema is added once, by its $id, when the instance is made; `getSchema` compiles it on first
 * use. Compiling by object instead added a schema twice when another one embeds it (node-status holds
 * node-spec): whichever came second failed with "schema … already exists". `source` keeps the generated
 * code (for specs/generated/validators.cjs).
 */
export function makeAjv(set: ValidatorSet, source = false): Ajv {
  const { Ajv: AjvClass } = require("ajv") as typeof import("ajv");
  const a = new AjvClass({ ...ajvOptions, useDefaults: validatorSets[set].useDefaults, code: { source } });
  a.addKeyword({ keyword: "x-hint", schemaType: "string" });
  for (const n of validatorSets[set].names) a.addSchema(schemas[n]);
  return a;
}

/** What the generated validators were made from: the schemas, the ajv version and the options. */
export function validatorsFingerprint(): string {
  const ajvVersion = (require("ajv/package.json") as { version: string }).version;
  return createHash("sha256").update(JSON.stringify({ ajvVersion, ajvOptions, schemas, validatorSets })).digest("hex");
}

/** specs/generated/validators.cjs in the package, whether this runs from source or from dist/. */
export const validatorsFile = join(packageRoot(dirname(fileURLToPath(import.meta.url))), "specs", "generated", "validators.cjs");

export function packageRoot(from: string): string {
  let dir = from;
  while (!existsSync(join(dir, "package.json"))) {
    const up = dirname(dir);
    if (up === dir) throw new Error(`no package.json above ${from}`);
    dir = up;
  }
  return dir;
}

type Validators = Partial<Record<SchemaName, ValidateFunction>>;

/** The generated validators in `file`, when it is there and was made from today's schemas; null otherwise. */
export function loadGeneratedValidators(file: string): Validators | null {
  if (generatedFingerprint(file) !== validatorsFingerprint()) return null;
  const mod = require(file) as Record<ValidatorSet, Validators>;
  return { ...mod.withDefaults, ...mod.plain };
}

/** The fingerprint a generated file was made from (from its first lines, without running it); null without one. */
function generatedFingerprint(file: string): string | null {
  let fd: number;
  try {
    fd = openSync(file, "r");
  } catch {
    return null;
  }
  try {
    const head = Buffer.alloc(512);
    const n = readSync(fd, head, 0, head.length, 0);
    return /^exports\.fingerprint = "([0-9a-f]{64})";$/m.exec(head.subarray(0, n).toString("utf8"))?.[1] ?? null;
  } finally {
    closeSync(fd);
  }
}

/** A validator for every schema: the generated ones in `file` when they are current, else compiled on first use. */
export class SchemaValidators {
  private generated: Validators | null | undefined;
  private readonly ajvs = new Map<ValidatorSet, Ajv>();
  private readonly fns = new Map<SchemaName, ValidateFunction>();

  constructor(private readonly file: string) {}

  /** Whether these come from the generated file (false: the schemas are compiled here). */
  generatedInUse(): boolean {
    if (this.generated === undefined) this.generated = loadGeneratedValidators(this.file);
    return this.generated !== null;
  }

  /** Validates `value` in place (schema defaults are filled in) against the named schema. */
  validate<T>(name: SchemaName, value: unknown): Validation<T> {
    const fn = this.validator(name);
    if (fn(value)) return { ok: true, value: value as T };
    return { ok: false, issues: describeErrors(fn.errors ?? []) };
  }

  private validator(name: SchemaName): ValidateFunction {
    let fn = this.fns.get(name);
    if (fn) return fn;
    fn = this.generatedInUse() ? this.generated![name] : undefined;
    if (!fn) {
      const set: ValidatorSet = withDefaults.has(name) ? "withDefaults" : "plain";
      let a = this.ajvs.get(set);
      if (!a) this.ajvs.set(set, (a = makeAjv(set)));
      fn = a.getSchema(schemas[name].$id)!;
    }
    this.fns.set(name, fn);
    return fn;
  }
}

const validators = new SchemaValidators(validatorsFile);

/** Whether this process validates with the generated validators (false: it compiles the schemas). */
export function usingGeneratedValidators(): boolean {
  return validators.generatedInUse();
}

/** Validates `value` in place (schema defaults are filled in) against the named schema. */
export function validateAgainst<T>(name: SchemaName, value: unknown): Validation<T> {
  return validators.validate<T>(name, value);
}

/** Turns ajv's errors into one readable issue per problem. */
export function describeErrors(errors: readonly ErrorObject[]): PathIssue[] {
  const anyOfPaths = new Set(errors.filter((e) => e.keyword === "anyOf").map((e) => e.schemaPath));
  const out: PathIssue[] = [];
  const seen = new Set<string>();
  for (const e of errors) {
    if (e.keyword === "propertyNames" || e.keyword === "if") continue;
    // Branch failures inside an anyOf are summarised by the anyOf error itself.
    if (e.keyword !== "anyOf" && anyOfPaths.size > 0 && insideAnyOf(e.schemaPath, anyOfPaths)) continue;
    const issue = describe(e);
    const key = issue.path.join("/") + "|" + issue.message;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(issue);
  }
  return dropTypoTwins(out);
}

/** Whether a schema path lies below one of the anyOf paths (checked per prefix: linear in the errors). */
function insideAnyOf(schemaPath: string, anyOfPaths: ReadonlySet<string>): boolean {
  for (let i = schemaPath.indexOf("/"); i >= 0; i = schemaPath.indexOf("/", i + 1)) {
    if (anyOfPaths.has(schemaPath.slice(0, i))) return true;
  }
  return false;
}

/** A misspelt required key shows up twice (unknown "actvie", missing "active"): keep the "did you mean". */
function dropTypoTwins(issues: PathIssue[]): PathIssue[] {
  const meant = new Set<string>();
  for (const i of issues) {
    const m = /did you mean "([^"]+)"/.exec(i.message);
    if (m) meant.add(i.path.slice(0, -1).join("/") + "|" + m[1]);
  }
  return issues.filter((i) => {
    const m = /missing required field "([^"]+)"/.exec(i.message);
    return !(m && meant.has(i.path.join("/") + "|" + m[1]));
  });
}

/** Words longer than this are no typo of a field name: no edit distance is computed for them. */
const MAX_SUGGEST_CHARS = 64;

/** "did you mean" for a misspelt key: the closest known key, when it is close enough to be a typo. */
export function suggest(word: string, known: readonly string[]): string | undefined {
  if (known.length === 0 || word.length > MAX_SUGGEST_CHARS) return undefined;
  const best = closest(word, known as string[]);
  const limit = Math.max(2, Math.floor(best.length / 3));
  return distance(word.toLowerCase(), best.toLowerCase()) <= limit ? best : undefined;
}

export function parsePointer(pointer: string): (string | number)[] {
  if (pointer === "") return [];
  return pointer
    .slice(1)
    .split("/")
    .map((s) => s.replace(/~1/g, "/").replace(/~0/g, "~"))
    .map((s) => (/^(0|[1-9][0-9]*)$/.test(s) ? Number(s) : s));
}

export function dotted(path: readonly (string | number)[]): string {
  let s = "";
  for (const p of path) s += typeof p === "number" ? `[${p}]` : s === "" ? p : `.${p}`;
  return s || "(document)";
}

function describe(e: ErrorObject): PathIssue {
  const path = parsePointer(e.instancePath);
  const schema = (e.parentSchema ?? {}) as Record<string, unknown>;
  const hint = typeof schema["x-hint"] === "string" ? (schema["x-hint"] as string) : undefined;
  const propertyName = (e as ErrorObject & { propertyName?: string }).propertyName;
  if (propertyName !== undefined) {
    return { path: [...path, propertyName], atKey: true, message: `${dotted([...path, propertyName])}: "${propertyName}" is not ${hint ?? "a valid name"}` };
  }
  const at = dotted(path);
  switch (e.keyword) {
    case "additionalProperties": {
      const key = String(e.params.additionalProperty);
      const known = Object.keys((schema.properties as Record<string, unknown>) ?? {});
      const guess = suggest(key, known);
      const tail = guess ? ` (did you mean "${guess}"?)` : known.length ? ` (known fields: ${known.join(", ")})` : "";
      return { path: [...path, key], atKey: true, message: `${dotted([...path, key])}: unknown field "${key}"${tail}` };
    }
    case "required": {
      const missing = String(e.params.missingProperty);
      return { path, atKey: true, message: `${at}: missing required field "${missing}"` };
    }
    case "enum":
      return { path, atKey: false, message: `${at}: must be one of ${(e.params.allowedValues as unknown[]).join(", ")} (got ${show(e.data)})` };
    case "const":
      return { path, atKey: false, message: `${at}: must be ${JSON.stringify(e.params.allowedValue)} (got ${show(e.data)})` };
    case "type":
      return { path, atKey: false, message: `${at}: must be ${typeWords(e.params.type)} (got ${kindOf(e.data)})` };
    case "pattern":
      return { path, atKey: false, message: `${at}: ${show(e.data)} is not ${hint ?? `matching ${e.params.pattern}`}` };
    case "anyOf":
      return { path, atKey: false, message: `${at}: must be ${anyOfWords(schema)} (got ${show(e.data)})` };
    case "minimum":
    case "maximum":
    case "exclusiveMinimum":
    case "exclusiveMaximum":
      return { path, atKey: false, message: `${at}: must be ${e.params.comparison} ${e.params.limit} (got ${show(e.data)})` };
    case "minItems":
      return { path, atKey: false, message: `${at}: needs at least ${e.params.limit} item(s)` };
    case "maxItems":
      return { path, atKey: false, message: `${at}: has more than ${e.params.limit} items` };
    case "minProperties":
      return { path, atKey: false, message: `${at}: needs at least ${e.params.limit} entr${e.params.limit === 1 ? "y" : "ies"}` };
    case "maxProperties":
      return { path, atKey: false, message: `${at}: has more than ${e.params.limit} entries` };
    case "minLength":
      return { path, atKey: false, message: `${at}: must not be empty` };
    case "maxLength":
      return { path, atKey: false, message: `${at}: is longer than ${e.params.limit} characters` };
    default:
      return { path, atKey: false, message: `${at}: ${e.message ?? "is invalid"}` };
  }
}

function show(v: unknown): string {
  const s = JSON.stringify(v);
  if (s === undefined) return String(v);
  return s.length > 60 ? s.slice(0, 57) + "..." : s;
}

function kindOf(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "a list";
  if (typeof v === "object") return "a mapping";
  if (typeof v === "string") return `the text ${show(v)}`;
  return `${typeof v} ${show(v)}`;
}

function typeWords(t: unknown): string {
  const words: Record<string, string> = {
    object: "a mapping", array: "a list", string: "text", integer: "a whole number", number: "a number",
    boolean: "true or false", null: "null",
  };
  const list = Array.isArray(t) ? t : String(t).split(",");
  return list.map((x) => words[String(x)] ?? String(x)).join(" or ");
}

function anyOfWords(schema: Record<string, unknown>): string {
  const branches = (schema.anyOf as Record<string, unknown>[] | undefined) ?? [];
  const parts: string[] = [];
  for (const b of branches) {
    if (Array.isArray(b.enum)) parts.push(...b.enum.map(String));
    else if (b.type) parts.push(typeWords(b.type));
  }
  return parts.length ? `one of ${parts.join(", ")}` : "valid";
}
