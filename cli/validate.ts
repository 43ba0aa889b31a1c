import { parseArgs } from "node:util";
import { stat } from "node:fs/promises";
import { basename, join } from "node:path";
import { agentCrossFiles, crossFiles, loadSpecFile, yamlFilesIn, type LoadedSpec, type SpecKind } from "../specs/load.js";
import { formatIssue, type SpecIssue } from "../specs/source.js";
import { secretsDirIssues } from "./validate-secrets.js";

export const validateHelp = `Usage: switchyard validate <file-or-dir>... [--json]

Validates each YAML file by its kind (Cluster, State, Agent). For a directory, every YAML file in it,
plus the rules between its cluster.yaml and state.yaml, and between cluster.yaml and the agent files of
its colour nodes (matched by name: allowedRepositories cover every image the services run).

Prints one "ok" line per valid file and exits 0. Otherwise prints every error as file:line:col: message
on stderr and exits 1.

Options:
  --json     print a JSON report on stdout instead
  --no-files do not check that referenced files (tokens, secrets) exist, nor an agent's secretsDir
             (a folder, not open to group or others, nor its .env files)
`;

interface FileReport {
  file: string;
  kind?: SpecKind;
  ok: boolean;
  errors: SpecIssue[];
}

export async function runValidate(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, allowPositionals: true, options: { json: { type: "boolean" }, "no-files": { type: "boolean" } } });
  } catch (err) {
    process.stderr.write(`switchyard validate: ${(err as Error).message}\n`);
    return 2;
  }
  const targets = parsed.positionals;
  if (targets.length === 0) {
    process.stderr.write("switchyard validate: name at least one file or directory, e.g. switchyard validate deploy/\n");
    return 2;
  }
  const checkFiles = !parsed.values["no-files"];
  const reports: FileReport[] = [];
  for (const target of targets) {
    const st = await stat(target).catch(() => undefined);
    if (!st) {
      reports.push({ file: target, ok: false, errors: [{ file: target, line: 1, col: 1, message: "no such file or directory" }] });
      continue;
    }
    const files = st.isDirectory() ? await yamlFilesIn(target) : [target];
    if (st.isDirectory() && files.length === 0) {
      reports.push({ file: target, ok: false, errors: [{ file: target, line: 1, col: 1, message: "directory has no .yaml or .yml files" }] });
      continue;
    }
    const loaded: LoadedSpec[] = [];
    for (const file of files) {
      const r = await loadSpecFile(file, { checkFiles });
      if (r.ok) loaded.push(r.spec);
      const dirIssues = r.ok && checkFiles && r.spec.kind === "Agent" ? await secretsDirIssues(r.spec as LoadedSpec<"Agent">) : [];
      if (dirIssues.length > 0) reports.push({ file, kind: "Agent", ok: false, errors: dirIssues });
      else reports.push(r.ok ? { file, kind: r.spec.kind, ok: true, errors: [] } : { file, ok: false, errors: r.issues });
    }
    if (st.isDirectory()) reports.push(...crossReports(target, loaded));
  }
  const ok = reports.every((r) => r.ok);
  if (parsed.values.json) {
    process.stdout.write(JSON.stringify({ ok, files: reports }, null, 2) + "\n");
  } else {
    for (const r of reports) {
      if (r.ok) process.stdout.write(`ok ${r.file}${r.kind ? ` (${r.kind})` : ""}\n`);
      else for (const e of r.errors) process.stderr.write(formatIssue(e) + "\n");
    }
  }
  return ok ? 0 : 1;
}

/** Cross-file rules for a directory holding cluster.yaml and state.yaml. */
function crossReports(dir: string, loaded: LoadedSpec[]): FileReport[] {
  const byName = (n: string) => loaded.find((l) => basename(l.file) === n || l.file === join(dir, n));
  const cluster = byName("cluster.yaml") ?? byName("cluster.yml");
  const state = byName("state.yaml") ?? byName("state.yml");
  if (!cluster || cluster.kind !== "Cluster") return [];
  const out: FileReport[] = [];
  // Agent files of the cluster's colour nodes (matched by name): their allowedRepositories and runtime.
  for (const agent of loaded.filter((l) => l.kind === "Agent")) {
    const errors = agentCrossFiles(cluster as LoadedSpec<"Cluster">, agent as LoadedSpec<"Agent">);
    if (errors.length > 0) out.push({ file: agent.file, kind: "Agent", ok: false, errors });
  }
  if (!state || state.kind !== "State") return out;
  const issues = crossFiles(cluster as LoadedSpec<"Cluster">, state as LoadedSpec<"State">);
  if (issues.length > 0) out.push({ file: state.file, kind: "State", ok: false, errors: issues });
  return out;
}
