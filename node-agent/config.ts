/** Loading agent.yaml: validated like every spec file; paths resolved against the file's folder. */
import { readFile } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import type { AgentConfig } from "../specs/agent.js";
import { loadSpecFile, SpecError } from "../specs/load.js";

/** Tokens shorter than this are refused: they can be guessed. */
export const MIN_TOKEN_LENGTH = 16;

export interface ResolvedAgentConfig extends AgentConfig {
  /** The file this came from; relative paths below are already resolved. */
  file: string;
}

export async function loadAgentConfig(file: string): Promise<ResolvedAgentConfig> {
  const r = await loadSpecFile(file, { expectKind: "Agent" });
  if (!r.ok) throw new SpecError(r.issues);
  const c = r.spec.value as AgentConfig;
  const base = dirname(resolve(file));
  const abs = (p: string) => resolve(base, p);
  return {
    ...c,
    file,
    tokenFile: abs(c.tokenFile),
    ...(c.metricsTokenFile ? { metricsTokenFile: abs(c.metricsTokenFile) } : {}),
    dataDir: abs(c.dataDir),
    ...(c.secretsDir !== undefined ? { secretsDir: abs(c.secretsDir) } : {}),
    ...(c.tls ? { tls: { certFile: abs(c.tls.certFile), keyFile: abs(c.tls.keyFile) } } : {}),
    router: {
      ...c.router,
      ...(c.router.tls
        ? { tls: { ...c.router.tls, certificates: c.router.tls.certificates.map((p) => ({ certFile: abs(p.certFile), keyFile: abs(p.keyFile) })) } }
        : {}),
    },
    registries: c.registries.map((r) => ({ ...r, passwordFile: abs(r.passwordFile) })),
    ...(c.process ? { process: { ...c.process, ...(c.process.releasesDir ? { releasesDir: abs(c.process.releasesDir) } : {}) } } : {}),
  };
}

/** Reads a secret file (token, password): trimmed, never logged. */
export async function readSecret(file: string, what: string, minLength = 1): Promise<string> {
  let text: string;
  try {
    text = (await readFile(file, "utf8")).trim();
  } catch (err) {
    throw new Error(`cannot read the ${what} file ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  if (text.length < minLength) throw new Error(`the ${what} in ${file} is shorter than ${minLength} characters; use a long random value (e.g. openssl rand -hex 32)`);
  return text;
}
