/**
 * A service's secrets as the agent starts it: `<secretsDir>/<name>.env` read and checked (a regular file,
 * not readable or writable by group or others, owned by the agent's user or root, valid dotenv, no name the
 * agent sets itself), its variables for the workload's env and a keyed fingerprint of each for status.
 * Every error is coded and names the file and what to do, never a value.
 */
import { createHmac } from "node:crypto";
import { open } from "node:fs/promises";
import { constants } from "node:fs";
import { join } from "node:path";
import { canonical } from "../../specs/equality.js";
import { DotenvError, parseDotenv } from "../dotenv.js";

/** A secret file bigger than this is refused (it is env, not a data file). */
const MAX_SECRET_FILE_BYTES = 64 * 1024;
/** Names the agent sets itself; a secret may not set them. */
const RESERVED = /^(SWITCHYARD_|PORT$|HOST$)/;

export interface SecretFingerprint {
  name: string;
  /** First 12 hex of HMAC-SHA256(key, the parsed variables); absent without a key. */
  fingerprint?: string;
}

export interface LoadedSecrets {
  /** The variables of every secret, for the workload's env. */
  env: Record<string, string>;
  fingerprints: SecretFingerprint[];
  /** Every value, so that what the workload prints can be redacted in status. Kept in memory only. */
  values: string[];
}

/** A secret that cannot be used; its message starts with its code (AGENT_ERR_SECRET_MISSING, _INSECURE or _INVALID). */
export class SecretError extends Error {
  constructor(readonly code: "AGENT_ERR_SECRET_MISSING" | "AGENT_ERR_SECRET_INSECURE" | "AGENT_ERR_SECRET_INVALID", message: string) {
    super(`${code}: ${message}`);
    this.name = "SecretError";
  }
}

/** Reads the secrets `names` of `service` from `dir` (agent.yaml secretsDir); throws SecretError for the first bad one. */
export async function loadSecrets(dir: string | undefined, service: string, names: readonly string[], key: string | undefined): Promise<LoadedSecrets> {
  const out: LoadedSecrets = { env: {}, fingerprints: [], values: [] };
  if (names.length === 0) return out;
  if (dir === undefined) {
    throw new SecretError("AGENT_ERR_SECRET_MISSING", `${service} needs the secret ${names[0]} but this agent's agent.yaml has no secretsDir; add secretsDir (a folder, mode 0700) and put ${names[0]}.env in it; ${service} was not started`);
  }
  const from = new Map<string, string>();
  for (const name of names) {
    const file = join(dir, `${name}.env`);
    const vars = await readSecretFile(file, service);
    for (const [k, v] of Object.entries(vars)) {
      if (RESERVED.test(k)) throw new SecretError("AGENT_ERR_SECRET_INVALID", `${file} sets ${k}, which the agent sets itself; remove it from the file; ${service} was not started`);
      const other = from.get(k);
      if (other !== undefined) throw new SecretError("AGENT_ERR_SECRET_INVALID", `${k} is set by both secrets ${other} and ${name}; keep it in one of them; ${service} was not started`);
      from.set(k, name);
      out.env[k] = v;
      out.values.push(v);
    }
    out.fingerprints.push({ name, ...(key !== undefined ? { fingerprint: fingerprint(key, vars) } : {}) });
  }
  return out;
}

/** The keyed fingerprint of a secret's variables: equal values give equal fingerprints under one key. */
export function fingerprint(key: string, vars: Readonly<Record<string, string>>): string {
  return createHmac("sha256", Buffer.from(key, "hex")).update(canonical(vars)).digest("hex").slice(0, 12);
}

/** The label form of fingerprints: `name=fingerprint,…` (`name=` without a key). */
export function fingerprintLabel(fps: readonly SecretFingerprint[]): string {
  return fps.map((f) => `${f.name}=${f.fingerprint ?? ""}`).join(",");
}

/** Fingerprints back from their label; entries that do not parse are left out. */
export function parseFingerprintLabel(label: string | undefined): SecretFingerprint[] {
  if (!label) return [];
  return label.split(",").flatMap((part) => {
    const m = /^([a-z0-9][a-z0-9_-]{0,62})=([0-9a-f]{12})?$/.exec(part);
    return m ? [{ name: m[1]!, ...(m[2] ? { fingerprint: m[2] } : {}) }] : [];
  });
}

async function readSecretFile(file: string, service: string): Promise<Record<string, string>> {
  let fh;
  try {
    // Never through a symbolic link: the file is the one in secretsDir, not whatever it points at.
    fh = await open(file, constants.O_RDONLY | constants.O_NOFOLLOW);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const what = code === "ENOENT" ? "does not exist" : code === "EACCES" ? "is not readable by the agent's user" : code === "ELOOP" ? "is a symbolic link (put the file itself there)" : `cannot be opened (${code ?? "error"})`;
    throw new SecretError("AGENT_ERR_SECRET_MISSING", `the secret file ${file} ${what}; create it on this node (KEY=VALUE lines, chmod 600); ${service} was not started`);
  }
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw new SecretError("AGENT_ERR_SECRET_INVALID", `${file} is not a regular file; ${service} was not started`);
    if (st.nlink > 1) throw new SecretError("AGENT_ERR_SECRET_INSECURE", `${file} has other hard links; copy it instead of linking it; ${service} was not started`);
    if ((st.mode & 0o077) !== 0) {
      throw new SecretError("AGENT_ERR_SECRET_INSECURE", `${file} is accessible by its group or others (mode ${(st.mode & 0o777).toString(8).padStart(4, "0")}); run chmod 600 ${file}; ${service} was not started`);
    }
    const uid = process.getuid?.();
    if (uid !== undefined && st.uid !== uid && st.uid !== 0) {
      throw new SecretError("AGENT_ERR_SECRET_INSECURE", `${file} is owned by uid ${st.uid}, not by the agent's user (uid ${uid}) or root; run chown ${uid} ${file}; ${service} was not started`);
    }
    if (st.size > MAX_SECRET_FILE_BYTES) throw new SecretError("AGENT_ERR_SECRET_INVALID", `${file} is larger than ${MAX_SECRET_FILE_BYTES} bytes; ${service} was not started`);
    const text = await fh.readFile("utf8");
    try {
      return parseDotenv(text);
    } catch (err) {
      if (err instanceof DotenvError) throw new SecretError("AGENT_ERR_SECRET_INVALID", `${file}:${err.line}: ${err.reason}; ${service} was not started`);
      throw err;
    }
  } finally {
    await fh.close();
  }
}
