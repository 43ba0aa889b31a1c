/**
 * Loading spec files: read (size-capped), parse with positions, dispatch on `kind`, validate against the
 * schema, apply the cross-field rules, and check that referenced files exist. All errors, never only the first.
 */
import { open, readdir, stat } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { existsSync } from "node:fs";
import type { Cluster } from "./cluster.js";
import type { State } from "./state.js";
import type { AgentConfig } from "./agent.js";
import { MAX_YAML_BYTES } from "./defaults.js";
import { capIssues, formatIssue, locate, parseYaml, type SpecIssue, type YamlSource } from "./source.js";
import { agentClusterRules, agentRules, clusterRules, crossFileRules, referencedFiles, stateRules } from "./rules.js";
import { dotted, suggest, validateAgainst, type PathIssue, type SchemaName } from "./validate.js";

export type SpecKind = "Cluster" | "State" | "Agent";
export const SPEC_KINDS: readonly SpecKind[] = ["Cluster", "State", "Agent"];
const schemaOfKind: Record<SpecKind, SchemaName> = { Cluster: "cluster", State: "state", Agent: "agent" };

export type SpecValue<K extends SpecKind> = K extends "Cluster" ? Cluster : K extends "State" ? State : AgentConfig;

export interface LoadedSpec<K extends SpecKind = SpecKind> {
  kind: K;
  file: string;
  value: SpecValue<K>;
  source: YamlSource;
  /** The exact text that was validated (what a revision hash is computed over). */
  text: string;
}

export type LoadResult<K extends SpecKind = SpecKind> = { ok: true; spec: LoadedSpec<K> } | { ok: false; issues: SpecIssue[] };

export class SpecError extends Error {
  constructor(readonly issues: SpecIssue[]) {
    super(issues.map(formatIssue).join("\n"));
    this.name = "SpecError";
  }
}

export interface LoadOptions {
  /** Check that tokenFile, passwordFile, ... exist (relative to the spec's folder). Default true. */
  checkFiles?: boolean;
  /** Refuse a file whose kind is not this one. */
  expectKind?: SpecKind;
}

/** Parses and validates spec text that claims to come from `file`. */
export function parseSpec(file: string, bytes: Uint8Array | string, opts: LoadOptions = {}): LoadResult {
  const parsed = parseYaml(file, bytes);
  if (!parsed.ok) return parsed;
  const src = parsed.source;
  const raw = src.value as Record<string, unknown>;
  const kind = raw.kind;
  if (typeof kind !== "string" || !SPEC_KINDS.includes(kind as SpecKind)) {
    const guess = typeof kind === "string" ? suggest(kind, SPEC_KINDS) : undefined;
    const message =
      kind === undefined
        ? `missing field "kind": expected one of ${SPEC_KINDS.join(", ")}`
        : `kind: unknown kind ${JSON.stringify(kind)}${guess ? ` (did you mean "${guess}"?)` : `; expected one of ${SPEC_KINDS.join(", ")}`}`;
    return { ok: false, issues: [locate(src, { path: kind === undefined ? [] : ["kind"], atKey: false, message })] };
  }
  const k = kind as SpecKind;
  if (opts.expectKind && opts.expectKind !== k) {
    return { ok: false, issues: [locate(src, { path: ["kind"], atKey: false, message: `kind: expected ${opts.expectKind} here, got ${k}` })] };
  }
  const v = validateAgainst<SpecValue<typeof k>>(schemaOfKind[k], raw);
  if (!v.ok) return { ok: false, issues: capIssues(v.issues.map((i) => locate(src, i))) };
  const ruleIssues: PathIssue[] =
    k === "Cluster" ? clusterRules(v.value as Cluster) : k === "State" ? stateRules(v.value as State) : agentRules(v.value as AgentConfig);
  const issues = ruleIssues.map((i) => locate(src, i));
  if (opts.checkFiles ?? true) {
    const base = dirname(resolve(file));
    for (const ref of referencedFiles(k, v.value)) {
      if (!existsSync(resolve(base, ref.file))) {
        issues.push(locate(src, { path: ref.path, atKey: false, message: `${dotted(ref.path)}: file ${ref.file} does not exist (paths are relative to ${dirname(file)})` }));
      }
    }
  }
  if (issues.length > 0) return { ok: false, issues: capIssues(issues) };
  const text = typeof bytes === "string" ? bytes : Buffer.from(bytes).toString("utf8");
  return { ok: true, spec: { kind: k, file, value: v.value, source: src, text } };
}

/** Reads a spec file from disk, refusing oversized files before reading them whole. */
export async function loadSpecFile(file: string, opts: LoadOptions = {}): Promise<LoadResult> {
  return parseRead(await readSpecBytes(file), opts);
}

/**
 * A spec file's bytes as read once, or why they could not be read (with a stamp that changes when the
 * file does: an oversized file is refused unread).
 */
export type SpecRead = { file: string; ok: true; bytes: Buffer } | { file: string; ok: false; message: string; stamp: string };

/** Reads a spec file (size-capped) without parsing it. */
export async function readSpecBytes(file: string): Promise<SpecRead> {
  try {
    return { file, ok: true, bytes: await readCapped(file) };
  } catch (err) {
    const e = err as Error & { stamp?: string };
    return { file, ok: false, message: e.message, stamp: e.stamp ?? e.message };
  }
}

function parseRead(r: SpecRead, opts: LoadOptions): LoadResult {
  if (!r.ok) return { ok: false, issues: [{ file: r.file, line: 1, col: 1, message: r.message }] };
  return parseSpec(r.file, r.bytes, opts);
}

export interface DeployDir {
  cluster: LoadedSpec<"Cluster">;
  state: LoadedSpec<"State">;
}

/** The two files of a deploy dir as read once (see readDeployFiles). */
export interface DeployFiles {
  cluster: SpecRead;
  state: SpecRead;
}

/** Loads cluster.yaml and state.yaml from a deploy dir, with the rules between them. */
export async function loadDeployDir(dir: string, opts: LoadOptions = {}): Promise<{ ok: true; dir: DeployDir } | { ok: false; issues: SpecIssue[] }> {
  return parseDeployFiles(await readDeployFiles(dir), opts);
}

/** Reads both files of a deploy dir, unparsed: what a watcher hashes is then exactly what it parses. */
export async function readDeployFiles(dir: string): Promise<DeployFiles> {
  const [cluster, state] = await Promise.all([readSpecBytes(join(dir, "cluster.yaml")), readSpecBytes(join(dir, "state.yaml"))]);
  return { cluster, state };
}

/** Parses and checks a deploy dir's files as read by readDeployFiles. */
export function parseDeployFiles(f: DeployFiles, opts: LoadOptions = {}): { ok: true; dir: DeployDir } | { ok: false; issues: SpecIssue[] } {
  const c = parseRead(f.cluster, { ...opts, expectKind: "Cluster" });
  const s = parseRead(f.state, { ...opts, expectKind: "State" });
  const issues = [...(c.ok ? [] : c.issues), ...(s.ok ? [] : s.issues)];
  if (!c.ok || !s.ok) return { ok: false, issues };
  const cross = crossFiles(c.spec as LoadedSpec<"Cluster">, s.spec as LoadedSpec<"State">);
  if (cross.length > 0) return { ok: false, issues: cross };
  return { ok: true, dir: { cluster: c.spec as LoadedSpec<"Cluster">, state: s.spec as LoadedSpec<"State"> } };
}

/** Issues between a cluster and a state file, positioned in the state file. */
export function crossFiles(cluster: LoadedSpec<"Cluster">, state: LoadedSpec<"State">): SpecIssue[] {
  return capIssues(crossFileRules(cluster.value, state.value).map((i) => locate(state.source, i)));
}

/** Issues between a cluster file and the agent.yaml of one of its colour nodes, positioned in the agent file. */
export function agentCrossFiles(cluster: LoadedSpec<"Cluster">, agent: LoadedSpec<"Agent">): SpecIssue[] {
  return capIssues(agentClusterRules(cluster.value, agent.value).map((i) => locate(agent.source, i)));
}

/** Lists the YAML files of a folder (not recursive), sorted. */
export async function yamlFilesIn(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true });
  return entries
    .filter((e) => e.isFile() && /\.ya?ml$/i.test(e.name))
    .map((e) => join(dir, e.name))
    .sort();
}

async function readCapped(file: string): Promise<Buffer> {
  const st = await stat(file).catch((err: NodeJS.ErrnoException) => {
    throw new Error(err.code === "ENOENT" ? "file does not exist" : `cannot read file: ${err.message}`);
  });
  if (!st.isFile()) throw new Error("not a regular file");
  if (st.size > MAX_YAML_BYTES) {
    throw Object.assign(new Error(`file is ${st.size} bytes; the limit is ${MAX_YAML_BYTES} bytes. Is this the right file?`), { stamp: `${st.size}:${st.mtimeMs}:${st.ino}` });
  }
  const fh = await open(file, "r");
  try {
    const buf = Buffer.alloc(MAX_YAML_BYTES + 1);
    const { bytesRead } = await fh.read(buf, 0, buf.length, 0);
    return buf.subarray(0, bytesRead);
  } finally {
    await fh.close();
  }
}
