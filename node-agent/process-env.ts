/**
 * The environment of a process-runtime workload. A spec comes from the reconciler, so a stolen token
 * must not be able to turn a release's own program into a way to run other code. On Docker, env only
 * reaches the container; here it reaches the host's loader, shells and interpreters, so a name is
 * accepted only when it is a plain `[A-Z_][A-Z0-9_]*` name that is on none of the lists below:
 *
 * - dynamic loader and C library: `LD_*`, `DYLD_*`, `GCONV_PATH`, `GLIBC_TUNABLES`, `LOCPATH`, `NLSPATH`,
 *   `HOSTALIASES`, `RES_OPTIONS`, `LOCALDOMAIN`, `MALLOC_*`, `TMPDIR`;
 * - shells: `BASH_*` (`BASH_ENV`, `BASH_XTRACEFD`, …), `ENV`, `SHELLOPTS`, `BASHOPTS`, `PS1`–`PS4`,
 *   `PROMPT_COMMAND`, `IFS`, `CDPATH`, `GLOBIGNORE`, `EXECIGNORE`, `FPATH`, `ZDOTDIR`, `SHELL`,
 *   `POSIXLY_CORRECT`, `INPUTRC`;
 * - where programs, configuration and trust come from: `PATH`, `HOME`, `XDG_*`, `OPENSSL_*`,
 *   `SSL_CERT_FILE`, `SSL_CERT_DIR`, `CURL_CA_BUNDLE`, `REQUESTS_CA_BUNDLE`, `GIT_*`, `EDITOR`, `VISUAL`,
 *   `PAGER`, `MANPAGER`, `LESSOPEN`, `LESSCLOSE`, `BROWSER`;
 * - language runtimes: `NODE_*` (but `NODE_ENV`, which only apps read), `NPM_CONFIG_*`, `COREPACK_*`,
 *   `UV_*`, `PYTHON*`, `PERL*`, `RUBY*`, `GEM_*`, `BUNDLE_*`, `JAVA_TOOL_OPTIONS`, `_JAVA_OPTIONS`,
 *   `JDK_JAVA_OPTIONS`, `CLASSPATH`, `PHPRC`, `PHP_INI_SCAN_DIR`, `LUA_*`, `TCLLIBPATH`, `GOFLAGS`,
 *   `GOROOT`, `GOPATH`, `GOTOOLCHAIN`, `DOTNET_*`, `CORECLR_*`.
 *
 * `HOST` and `PORT` belong to the agent: `HOST` is always its `publishAddress` and `PORT` the service's
 * host port (else its port), whatever the spec says. `PATH`, `LANG`, `LC_ALL` and `TZ` come from the
 * agent's own environment; with `process.user`, `HOME`, `USER` and `LOGNAME` are that user's.
 */
import { RuntimeError } from "./runtime.js";

/** A plain environment variable name. Anything else (lower case, `BASH_FUNC_x%%`) is refused. */
export const ENV_NAME = /^[A-Z_][A-Z0-9_]*$/;

const DENIED_NAMES = new Set([
  "GCONV_PATH", "GLIBC_TUNABLES", "LOCPATH", "NLSPATH", "HOSTALIASES", "RES_OPTIONS", "LOCALDOMAIN", "TMPDIR",
  "ENV", "SHELLOPTS", "BASHOPTS", "PS1", "PS2", "PS3", "PS4", "PROMPT_COMMAND", "IFS", "CDPATH", "GLOBIGNORE",
  "EXECIGNORE", "FPATH", "ZDOTDIR", "SHELL", "POSIXLY_CORRECT", "INPUTRC",
  "PATH", "HOME", "SSL_CERT_FILE", "SSL_CERT_DIR", "CURL_CA_BUNDLE", "REQUESTS_CA_BUNDLE", "EDITOR", "VISUAL",
  "PAGER", "MANPAGER", "LESSOPEN", "LESSCLOSE", "BROWSER",
  "JAVA_TOOL_OPTIONS", "_JAVA_OPTIONS", "JDK_JAVA_OPTIONS", "CLASSPATH", "PHPRC", "PHP_INI_SCAN_DIR", "TCLLIBPATH",
  "GOFLAGS", "GOROOT", "GOPATH", "GOTOOLCHAIN",
]);
const DENIED_PREFIXES = [
  "LD_", "DYLD_", "MALLOC_", "BASH_", "XDG_", "OPENSSL_", "GIT_", "NODE_", "NPM_CONFIG_", "COREPACK_", "UV_",
  "PYTHON", "PERL", "RUBY", "GEM_", "BUNDLE_", "LUA_", "DOTNET_", "CORECLR_",
];
/** Names under a refused prefix that only the app itself reads. */
const ALLOWED_NAMES = new Set(["NODE_ENV"]);

/** Why the process runtime refuses an env name, or null when it accepts it. */
export function envRefusal(name: string): string | null {
  if (!ENV_NAME.test(name)) return "only names of capital letters, digits and _ are accepted";
  if (ALLOWED_NAMES.has(name)) return null;
  if (DENIED_NAMES.has(name) || DENIED_PREFIXES.some((p) => name.startsWith(p))) {
    return "it changes which code or configuration a process, its shell or its language runtime loads";
  }
  return null;
}

/** Throws for the first refused name of a service's env. */
export function checkProcessEnv(service: string, env: Readonly<Record<string, unknown>>): void {
  for (const key of Object.keys(env)) {
    const why = envRefusal(key);
    if (why) throw new RuntimeError(`services.${service}.env.${key} is refused by the process runtime: ${why}`);
  }
}

/** The user releases run as (agent.yaml process.user), resolved at start-up. */
export interface ReleaseUser {
  name: string;
  uid: number;
  gid: number;
  home: string;
}

export interface ProcessEnvInput {
  service: string;
  env: Readonly<Record<string, string>>;
  hostPort?: number | undefined;
  port?: number | undefined;
  publishAddress: string;
  user?: ReleaseUser | undefined;
}

/**
 * The environment a release process gets: no inheritance from the agent (it may hold secrets), only
 * PATH and a few locale settings, then the service's env, then what the agent owns.
 */
export function processEnv(i: ProcessEnvInput): Record<string, string> {
  checkProcessEnv(i.service, i.env);
  const env: Record<string, string> = { ...i.env, PATH: process.env.PATH ?? "/usr/local/bin:/usr/bin:/bin" };
  for (const k of ["LANG", "LC_ALL", "TZ"]) if (process.env[k]) env[k] = process.env[k]!;
  if (i.user) Object.assign(env, { HOME: i.user.home, USER: i.user.name, LOGNAME: i.user.name });
  // Processes share the host's network: the app listens on the publish address itself.
  env.HOST = i.publishAddress;
  const port = i.hostPort ?? i.port;
  if (port !== undefined) env.PORT = String(port);
  else delete env.PORT;
  return env;
}
