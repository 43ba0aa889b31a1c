/**
 * Pulling an image through the Docker engine: the credentials of the image's own registry host only, a
 * watchdog that aborts a pull which makes no progress for a while, and an abort signal so that a newer
 * spec never waits behind a stalled registry.
 */
import type Docker from "dockerode";
import { RuntimeError, type PullProgress } from "./runtime.js";
import { registryHost } from "../specs/images.js";

/** Credentials for one registry host (agent.yaml `registries`). The password is never logged. */
export interface RegistryCredentials {
  host: string;
  username: string;
  password: string;
}

export interface PullOptions {
  /** Credentials by registry host; a pull uses only the entry of its own host. */
  credentials: readonly RegistryCredentials[];
  /** Abort when the engine reports nothing (not even the request's answer) for this long. */
  idleTimeoutMs: number;
  onProgress?: (p: PullProgress) => void;
  /** Aborting it (a newer spec arrived) ends the pull at once with kind `aborted`. */
  signal?: AbortSignal;
  /** Pull repository@digest (exactly this content) instead of whatever the tag points at now. */
  digest?: string;
}

type PullEvent = { id?: string; status?: string; error?: string; progressDetail?: { current?: number; total?: number } };

/** Pulls repository:tag (or repository@digest); resolves once the engine says the pull finished. */
export async function pullImage(docker: Docker, repository: string, tag: string, o: PullOptions): Promise<void> {
  const ref = o.digest ? `${repository}@${o.digest}` : `${repository}:${tag}`;
  const host = registryHost(repository);
  const cred = credentialsFor(host, o.credentials);
  const authconfig = cred ? { username: cred.username, password: cred.password, serveraddress: cred.host } : undefined;
  const controller = new AbortController();
  let why: RuntimeError | undefined;
  const abort = (err: RuntimeError) => {
    why ??= err;
    controller.abort();
  };
  const onOuterAbort = () => abort(new RuntimeError(`the pull of ${ref} was abandoned: a newer spec arrived`, "aborted"));
  if (o.signal?.aborted) throw new RuntimeError(`the pull of ${ref} was abandoned: a newer spec arrived`, "aborted");
  o.signal?.addEventListener("abort", onOuterAbort, { once: true });
  let idle: NodeJS.Timeout | undefined;
  const touch = () => {
    clearTimeout(idle);
    idle = setTimeout(() => abort(stalled(ref, host, o.idleTimeoutMs)), o.idleTimeoutMs);
  };
  touch();
  try {
    let stream: NodeJS.ReadableStream;
    try {
      stream = (await docker.pull(ref, { abortSignal: controller.signal, ...(authconfig ? { authconfig } : {}) })) as NodeJS.ReadableStream;
    } catch (err) {
      throw why ?? pullError(err as Error, repository, tag);
    }
    touch();
    await new Promise<void>((resolve, reject) => {
      const onAbort = () => {
        (stream as unknown as { destroy?: () => void }).destroy?.();
        reject(why);
      };
      if (controller.signal.aborted) return onAbort();
      controller.signal.addEventListener("abort", onAbort, { once: true });
      const layers = new Map<string, { current: number; total: number }>();
      docker.modem.followProgress(
        stream,
        (err: Error | null) => {
          controller.signal.removeEventListener("abort", onAbort);
          if (why) reject(why);
          else if (err) reject(pullError(err, repository, tag));
          else resolve();
        },
        (ev: PullEvent) => {
          touch();
          if (ev.error || !ev.id || !ev.progressDetail?.total) return; // errors come through the done callback
          layers.set(ev.id, { current: ev.progressDetail.current ?? 0, total: ev.progressDetail.total });
          let currentBytes = 0;
          let totalBytes = 0;
          for (const l of layers.values()) {
            currentBytes += l.current;
            totalBytes += l.total;
          }
          o.onProgress?.({ currentBytes, totalBytes });
        },
      );
    });
  } finally {
    clearTimeout(idle);
    o.signal?.removeEventListener("abort", onOuterAbort);
  }
}

export { registryHost };

/** The credentials of exactly this host (case-insensitive), or none. */
export function credentialsFor(host: string, all: readonly RegistryCredentials[]): RegistryCredentials | undefined {
  return all.find((c) => c.host.toLowerCase() === host.toLowerCase());
}

function stalled(ref: string, host: string, idleMs: number): RuntimeError {
  return new RuntimeError(
    `AGENT_ERR_PULL_STALLED: pulling ${ref} made no progress for ${Math.round(idleMs / 1000)} s, so it was aborted; running containers are untouched. Check that the registry ${host} answers, then deploy again`,
    "pull-stalled",
  );
}

function pullError(err: Error, repository: string, tag: string): RuntimeError {
  const msg = err.message ?? String(err);
  const registry = registryHost(repository);
  if (/manifest unknown|not found|manifest for .* not found/i.test(msg)) {
    return new RuntimeError(`AGENT_ERR_TAG_MISSING: tag ${tag} does not exist in ${repository}; push it first or pick an existing tag`, "tag-not-found");
  }
  if (/unauthorized|authentication required|denied/i.test(msg)) {
    return new RuntimeError(`the registry ${registry} refused to serve ${repository}:${tag} (unauthorized); check the agent's credentials for ${registry} (agent.yaml registries)`, "unauthorized");
  }
  if (/connection refused|no such host|i\/o timeout|dial tcp|EOF|timeout|unreachable/i.test(msg)) {
    return new RuntimeError(`cannot reach the registry ${registry} (${firstLine(msg)}); is it running and reachable from this VM?`, "registry-unreachable");
  }
  return new RuntimeError(`cannot pull ${repository}:${tag}: ${firstLine(msg)}`);
}

function firstLine(s: string): string {
  return (s.split("\n")[0] ?? s).replace(/^\(HTTP code \d+\) [a-z ]+ - /, "").slice(0, 300);
}
