/**
 * The Docker runtime: dockerode against the local engine. Touches only containers labelled with this
 * agent's app and node; never asks for privileges, host mounts, host network, capabilities or devices.
 */
import Docker from "dockerode";
import type { Logger } from "pino";
import { LABEL, RuntimeError, containerName, labelsOf, type PullProgress, type Runtime, type Workload, type WorkloadDef } from "./runtime.js";

export interface DockerRuntimeOptions {
  socketPath: string;
  logger: Logger;
  /** Registry credentials for pulls. The password stays in memory and is never logged. */
  auth?: { username: string; password: string };
}

export class DockerRuntime implements Runtime {
  readonly name = "docker" as const;
  private readonly docker: Docker;
  private readonly log: Logger;
  private readonly auth?: { username: string; password: string };

  constructor(opts: DockerRuntimeOptions) {
    this.docker = new Docker({ socketPath: opts.socketPath });
    this.log = opts.logger;
    this.auth = opts.auth;
  }

  async ping(): Promise<void> {
    try {
      await this.docker.ping();
    } catch (err) {
      throw new RuntimeError(`the Docker engine does not answer (${(err as Error).message}); is dockerd running?`, "engine-unreachable");
    }
  }

  async list(app: string, node: string): Promise<Workload[]> {
    const containers = await this.docker
      .listContainers({ all: true, filters: { label: app ? [`${LABEL.app}=${app}`, `${LABEL.node}=${node}`] : [`${LABEL.node}=${node}`] } })
      .catch((err: Error) => {
        throw new RuntimeError(`cannot list containers: ${err.message}`, "engine-unreachable");
      });
    return containers.map((c) => {
      const l = c.Labels ?? {};
      const epoch = l[LABEL.epoch] ? Number(l[LABEL.epoch]) : undefined;
      return {
        id: c.Id,
        name: (c.Names?.[0] ?? "").replace(/^\//, ""),
        service: l[LABEL.service] ?? "",
        tag: l[LABEL.tag] ?? "",
        kind: l[LABEL.kind] === "job" ? "job" : "web",
        specHash: l[LABEL.specHash] ?? "",
        ...(epoch !== undefined ? { epoch } : {}),
        running: c.State === "running",
        stateText: c.State === "exited" ? `exited (${/\((\d+)\)/.exec(c.Status)?.[1] ?? "?"})` : c.State,
        since: new Date(c.Created * 1000).toISOString(),
      } satisfies Workload;
    });
  }

  async ensureImage(repository: string, tag: string, onProgress?: (p: PullProgress) => void): Promise<void> {
    const ref = `${repository}:${tag}`;
    try {
      await this.docker.getImage(ref).inspect();
      return;
    } catch {
      // not present: pull it
    }
    const registry = registryHost(repository);
    const authconfig = this.auth ? { username: this.auth.username, password: this.auth.password, serveraddress: registry } : undefined;
    let stream: NodeJS.ReadableStream;
    try {
      stream = (await this.docker.pull(ref, authconfig ? { authconfig } : {})) as NodeJS.ReadableStream;
    } catch (err) {
      throw pullError(err as Error, repository, tag);
    }
    await new Promise<void>((resolve, reject) => {
      const layers = new Map<string, { current: number; total: number }>();
      this.docker.modem.followProgress(
        stream,
        (err: Error | null) => (err ? reject(pullError(err, repository, tag)) : resolve()),
        (ev: { id?: string; status?: string; error?: string; progressDetail?: { current?: number; total?: number } }) => {
          if (ev.error) return; // reported through the done callback
          if (ev.id && ev.progressDetail?.total) {
            layers.set(ev.id, { current: ev.progressDetail.current ?? 0, total: ev.progressDetail.total });
            let currentBytes = 0;
            let totalBytes = 0;
            for (const l of layers.values()) {
              currentBytes += l.current;
              totalBytes += l.total;
            }
            onProgress?.({ currentBytes, totalBytes });
          }
        },
      );
    });
    // followProgress reports some failures only as an event; make sure the image is really there.
    await this.docker.getImage(ref).inspect().catch(() => {
      throw new RuntimeError(`pulling ${ref} finished but the image is not there; see the registry's logs`, "other");
    });
  }

  async start(def: WorkloadDef): Promise<string> {
    const name = containerName(def);
    // A leftover with our name (e.g. after a crash between create and label bookkeeping) is ours to replace.
    await this.removeByName(name, def);
    const labels = labelsOf(def);
    const portKey = def.port !== undefined ? `${def.port}/tcp` : undefined;
    const create: Docker.ContainerCreateOptions = {
      name,
      Image: `${def.repository}:${def.tag}`,
      Labels: labels,
      Env: Object.entries(def.env).map(([k, v]) => `${k}=${v}`),
      ...(def.command ? { Cmd: def.command } : {}),
      ...(portKey ? { ExposedPorts: { [portKey]: {} } } : {}),
      HostConfig: {
        RestartPolicy: { Name: def.restart },
        SecurityOpt: ["no-new-privileges"],
        // Lets apps reach services on the host (a recorder, a database on the same VM) by name.
        ExtraHosts: ["host.docker.internal:host-gateway"],
        ...(portKey && def.hostPort !== undefined
          ? { PortBindings: { [portKey]: [{ HostIp: def.publishAddress, HostPort: String(def.hostPort) }] } }
          : {}),
      },
    };
    let container: Docker.Container;
    try {
      container = await this.docker.createContainer(create);
    } catch (err) {
      throw new RuntimeError(`cannot create the ${def.service} container: ${(err as Error).message}`);
    }
    try {
      await container.start();
    } catch (err) {
      const msg = (err as Error).message;
      await container.remove({ force: true }).catch(() => undefined);
      if (/port is already allocated|address already in use/i.test(msg)) {
        throw new RuntimeError(`host port ${def.hostPort} on ${def.publishAddress} is already in use by another program; free it or change the node's ports in cluster.yaml`, "port-in-use");
      }
      throw new RuntimeError(`cannot start the ${def.service} container: ${msg}`);
    }
    this.log.info({ service: def.service, tag: def.tag, id: container.id.slice(0, 12) }, "container started");
    return container.id;
  }

  async stopAndRemove(id: string, timeoutSeconds: number): Promise<void> {
    const c = this.docker.getContainer(id);
    try {
      await c.stop({ t: timeoutSeconds });
    } catch (err) {
      const code = (err as { statusCode?: number }).statusCode;
      if (code !== 304 && code !== 404) throw new RuntimeError(`cannot stop container ${id.slice(0, 12)}: ${(err as Error).message}`);
    }
    try {
      await c.remove({ force: true });
    } catch (err) {
      const code = (err as { statusCode?: number }).statusCode;
      if (code !== 404 && code !== 409) throw new RuntimeError(`cannot remove container ${id.slice(0, 12)}: ${(err as Error).message}`);
    }
  }

  watch(node: string, onChange: () => void): () => void {
    let stopped = false;
    let current: NodeJS.ReadableStream | undefined;
    let retryMs = 500;
    const connect = () => {
      if (stopped) return;
      this.docker.getEvents({ filters: { type: ["container"], label: [`${LABEL.node}=${node}`] } }, (err, stream) => {
        if (stopped) {
          (stream as unknown as { destroy?: () => void } | undefined)?.destroy?.();
          return;
        }
        if (err || !stream) {
          this.log.warn({ err: err?.message }, "docker events unavailable; retrying");
          setTimeout(connect, retryMs).unref();
          retryMs = Math.min(retryMs * 2, 10_000);
          return;
        }
        retryMs = 500;
        current = stream;
        onChange(); // anything may have changed while we were not listening
        stream.on("data", () => onChange());
        const again = () => {
          if (current !== stream || stopped) return;
          current = undefined;
          setTimeout(connect, retryMs).unref();
        };
        stream.on("end", again);
        stream.on("error", again);
      });
    };
    connect();
    return () => {
      stopped = true;
      (current as unknown as { destroy?: () => void } | undefined)?.destroy?.();
    };
  }

  async close(): Promise<void> {
    // dockerode keeps no persistent connections beyond the event stream, which watch() closes.
  }

  private async removeByName(name: string, def: WorkloadDef): Promise<void> {
    const c = this.docker.getContainer(name);
    const info = await c.inspect().catch(() => undefined);
    if (!info) return;
    const l = info.Config?.Labels ?? {};
    if (l[LABEL.app] !== def.app || l[LABEL.node] !== def.node) {
      throw new RuntimeError(`a container named ${name} exists but is not this agent's (no matching labels); remove or rename it`);
    }
    await c.remove({ force: true }).catch(() => undefined);
  }
}

function registryHost(repository: string): string {
  const first = repository.split("/")[0]!;
  return repository.includes("/") && (first.includes(".") || first.includes(":") || first === "localhost") ? first : "docker.io";
}

function pullError(err: Error, repository: string, tag: string): RuntimeError {
  const msg = err.message ?? String(err);
  const registry = registryHost(repository);
  if (/manifest unknown|not found|manifest for .* not found/i.test(msg)) {
    return new RuntimeError(`tag ${tag} does not exist in ${repository}; push it first or pick an existing tag`, "tag-not-found");
  }
  if (/unauthorized|authentication required|denied/i.test(msg)) {
    return new RuntimeError(`the registry ${registry} refused to serve ${repository}:${tag} (unauthorized); check the agent's registry credentials`, "unauthorized");
  }
  if (/connection refused|no such host|i\/o timeout|dial tcp|EOF|timeout|unreachable/i.test(msg)) {
    return new RuntimeError(`cannot reach the registry ${registry} (${firstLine(msg)}); is it running and reachable from this VM?`, "registry-unreachable");
  }
  return new RuntimeError(`cannot pull ${repository}:${tag}: ${firstLine(msg)}`);
}

function firstLine(s: string): string {
  return (s.split("\n")[0] ?? s).replace(/^\(HTTP code \d+\) [a-z ]+ - /, "").slice(0, 300);
}
