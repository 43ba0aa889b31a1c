/**
 * The Docker runtime: dockerode against the local engine. Touches only containers labelled with this
 * agent's app and node; never asks for privileges, host mounts, host network, capabilities or devices.
 */
import Docker from "dockerode";
import type { Logger } from "pino";
import { CONTAINER_LOG_MAX_FILES, CONTAINER_LOG_MAX_SIZE, DEFAULT_PULL_IDLE_TIMEOUT_SECONDS } from "../specs/defaults.js";
import { pullImage, type RegistryCredentials } from "./image-pull.js";
import { driftOf, type ContainerFacts } from "./container-judge.js";
import { dockerLogs } from "./docker-logs.js";
import { DockerLeftovers } from "./docker-leftovers.js";
import type { LogLine } from "../specs/logs.js";
import { LABEL, RuntimeError, containerName, extraFromLabels, kindOf, labelsOf, listedAs, type LogOptions, type PullProgress, type Runtime, type Workload, type WorkloadDef } from "./runtime.js";

/** Image IDs whose digests are remembered (a node holds a few images; old ones are forgotten first). */
const MAX_IMAGES_REMEMBERED = 256;

export interface DockerRuntimeOptions {
  socketPath: string;
  logger: Logger;
  /** Registry credentials by host (agent.yaml `registries`); a pull carries only its own host's. Never logged. */
  credentials?: readonly RegistryCredentials[];
  /** A pull that makes no progress for this long is aborted (agent.yaml `docker.pullIdleTimeoutSeconds`). */
  pullIdleTimeoutMs?: number;
}

export class DockerRuntime implements Runtime {
  readonly name = "docker" as const;
  private readonly docker: Docker;
  private readonly log: Logger;
  private readonly credentials: readonly RegistryCredentials[];
  private readonly pullIdleTimeoutMs: number;
  private readonly rootWarned = new Set<string>();
  /** RepoDigests by image ID. */
  private readonly repoDigests = new Map<string, string[]>();
  /** Stopped containers the engine could not remove: listed no more, their removal retried. */
  private readonly leftovers: DockerLeftovers;

  constructor(opts: DockerRuntimeOptions) {
    this.docker = new Docker({ socketPath: opts.socketPath });
    this.log = opts.logger;
    this.credentials = opts.credentials ?? [];
    this.pullIdleTimeoutMs = opts.pullIdleTimeoutMs ?? DEFAULT_PULL_IDLE_TIMEOUT_SECONDS * 1000;
    this.leftovers = new DockerLeftovers(this.docker, this.log);
  }

  async ping(): Promise<void> {
    try {
      await this.docker.ping();
    } catch (err) {
      throw new RuntimeError(`the Docker engine does not answer (${(err as Error).message}); is dockerd running?`, "engine-unreachable");
    }
  }

  async list(app: string, node: string, which: "workloads" | "tasks" = "workloads"): Promise<Workload[]> {
    const listed = await this.docker
      .listContainers({ all: true, filters: { label: app ? [`${LABEL.app}=${app}`, `${LABEL.node}=${node}`] : [`${LABEL.node}=${node}`] } })
      .catch((err: Error) => {
        throw new RuntimeError(`cannot list containers: ${err.message}`, "engine-unreachable");
      });
    const containers = this.leftovers.keep(listed);
    const digests = await this.digestsOf(containers);
    return containers.filter((c) => listedAs(c.Labels ?? {}, which)).map((c) => {
      const l = c.Labels ?? {};
      const repoDigests = digests.get(c.ImageID);
      const epoch = l[LABEL.epoch] ? Number(l[LABEL.epoch]) : undefined;
      return {
        id: c.Id,
        name: (c.Names?.[0] ?? "").replace(/^\//, ""),
        service: l[LABEL.service] ?? "",
        tag: l[LABEL.tag] ?? "",
        kind: kindOf(l),
        specHash: l[LABEL.specHash] ?? "",
        ...(epoch !== undefined ? { epoch } : {}),
        ...extraFromLabels(l),
        ...(repoDigests ? { repoDigests } : {}),
        running: c.State === "running",
        stateText: c.State === "exited" ? `exited (${/\((\d+)\)/.exec(c.Status)?.[1] ?? "?"})` : c.State,
        since: new Date(c.Created * 1000).toISOString(),
      } satisfies Workload;
    });
  }

  async ensureImage(repository: string, tag: string, onProgress?: (p: PullProgress) => void, signal?: AbortSignal, digest?: string): Promise<void> {
    const ref = `${repository}:${tag}`;
    const pinned = digest ? `${repository}@${digest}` : undefined;
    const local = await this.docker.getImage(ref).inspect().catch(() => undefined);
    // Without a digest any content of the tag will do; with one, only that content (a tag pushed again
    // reaches this node only through a redeploy that names the new digest).
    if (local && (!pinned || (local.RepoDigests ?? []).includes(pinned))) return;
    const have = pinned ? await this.docker.getImage(pinned).inspect().catch(() => undefined) : undefined;
    if (!have) {
      await pullImage(this.docker, repository, tag, {
        credentials: this.credentials,
        idleTimeoutMs: this.pullIdleTimeoutMs,
        ...(onProgress ? { onProgress } : {}),
        ...(signal ? { signal } : {}),
        ...(digest ? { digest } : {}),
      });
    }
    // followProgress reports some failures only as an event; make sure the image is really there.
    await this.docker.getImage(pinned ?? ref).inspect().catch(() => {
      throw new RuntimeError(`pulling ${pinned ?? ref} finished but the image is not there; see the registry's logs`, "other");
    });
    // Containers are created from repository:tag, so the tag must name the pinned content on this node.
    if (pinned) await this.docker.getImage(pinned).tag({ repo: repository, tag });
  }

  /**
   * The repository digests of each listed container's image (an image ID's digests only grow, and a node
   * holds few images, so they are looked up once per image).
   */
  private async digestsOf(containers: readonly Docker.ContainerInfo[]): Promise<Map<string, string[]>> {
    for (const id of new Set(containers.map((c) => c.ImageID))) {
      if (this.repoDigests.has(id)) continue;
      const image = await this.docker.getImage(id).inspect().catch(() => undefined);
      if (image) this.repoDigests.set(id, image.RepoDigests ?? []);
      if (this.repoDigests.size > MAX_IMAGES_REMEMBERED) this.repoDigests.delete(this.repoDigests.keys().next().value!);
    }
    return this.repoDigests;
  }

  /** What the container is, compared with what `def` would create (see container-judge.ts). */
  async judge(id: string, def: WorkloadDef, strict: boolean): Promise<string[]> {
    const info = await this.docker.getContainer(id).inspect().catch(() => undefined);
    if (!info) return [];
    // A container of an earlier spec (or another repository) is held to the image it was created from, whose
    // tag must be the one its label claims.
    const ref = strict ? `${def.repository}:${def.tag}` : info.Config.Image;
    const claimed = strict || ref.endsWith(`:${def.tag}`);
    const image = claimed ? await this.docker.getImage(ref).inspect().catch(() => undefined) : undefined;
    const judged = strict ? def : { ...def, repository: claimed ? ref.slice(0, -(def.tag.length + 1)) : ref };
    const hc = info.HostConfig;
    const shared = ([["network", hc.NetworkMode], ["pid", hc.PidMode], ["ipc", hc.IpcMode], ["uts", hc.UTSMode]] as const)
      .filter(([, mode]) => mode === "host" || (typeof mode === "string" && mode.startsWith("container:")))
      .map(([ns, mode]) => `${ns}=${mode}`);
    return driftOf({
      imageId: info.Image,
      portBindings: (hc.PortBindings ?? {}) as ContainerFacts["portBindings"],
      capAdd: hc.CapAdd ?? [],
      capDrop: hc.CapDrop ?? [],
      securityOpt: hc.SecurityOpt ?? [],
      // Anonymous volumes (an image's VOLUME lines) are the image's own; host paths and named volumes are not.
      mounts: (info.Mounts ?? []).filter((m) => m.Type !== "volume" || (m.Name !== undefined && !/^[0-9a-f]{64}$/.test(m.Name))).map((m) => `${m.Source}:${m.Destination}`),
      privileged: hc.Privileged === true,
      sharedNamespaces: shared,
      devices: (hc.Devices ?? []).length,
      memoryBytes: hc.Memory ?? 0,
      pidsLimit: hc.PidsLimit ?? 0,
    }, judged, image?.Id, strict);
  }

  async start(def: WorkloadDef): Promise<string> {
    // A leftover with our name (e.g. after a crash between create and label bookkeeping) is ours to replace.
    const name = await this.freeName(containerName(def), def);
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
        // No engine restarts, for web services too: the agent restarts what keeps dying, with a backoff (restarts.ts).
        RestartPolicy: { Name: "no" },
        ...hardening(def),
        // Lets apps reach services on the host (a recorder, a database on the same VM) by name.
        ExtraHosts: ["host.docker.internal:host-gateway"],
        ...(portKey && def.hostPort !== undefined
          ? { PortBindings: { [portKey]: [{ HostIp: def.publishAddress, HostPort: String(def.hostPort) }] } }
          : {}),
      },
    };
    await this.warnIfRoot(create.Image!, def);
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

  async logTail(id: string, lines: number): Promise<string[]> {
    const raw = (await this.docker.getContainer(id).logs({ stdout: true, stderr: true, follow: false, tail: lines })) as unknown as Buffer;
    return demuxLogs(Buffer.from(raw)).split("\n");
  }

  logs(id: string, opts: LogOptions, signal: AbortSignal): AsyncIterable<LogLine | { type: "caught-up" }> {
    return dockerLogs(this.docker, id, opts, signal);
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
      if (code === 404 || code === 409) return;
      const refused = await this.leftovers.failed(id, err as Error);
      if (refused) throw refused;
    }
  }

  watch(node: string, onChange: () => void, onEngineBack?: (lostAt: number) => void): () => void {
    let stopped = false;
    let current: NodeJS.ReadableStream | undefined;
    let retryMs = 500;
    let lost = false; // the event stream broke or could not be opened: the engine went away
    let lostAt = 0; // when it was first found gone (Date.now())
    const lose = () => {
      if (!lost) lostAt = Date.now();
      lost = true;
    };
    const connect = () => {
      if (stopped) return;
      this.docker.getEvents({ filters: { type: ["container"], label: [`${LABEL.node}=${node}`] } }, (err, stream) => {
        if (stopped) {
          (stream as unknown as { destroy?: () => void } | undefined)?.destroy?.();
          return;
        }
        if (err || !stream) {
          this.log.warn({ err: err?.message }, "docker events unavailable; retrying");
          lose();
          setTimeout(connect, retryMs).unref();
          retryMs = Math.min(retryMs * 2, 10_000);
          return;
        }
        retryMs = 500;
        current = stream;
        onChange(); // anything may have changed while we were not listening
        if (lost) {
          lost = false;
          this.log.warn("the Docker engine answers again after it went away");
          onEngineBack?.(lostAt);
        }
        stream.on("data", () => onChange());
        const again = () => {
          if (current !== stream || stopped) return;
          current = undefined;
          lose();
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
    this.leftovers.close();
  }

  /** The container runs as the image's user; say so when that is root (once per image and service). */
  private async warnIfRoot(image: string, def: WorkloadDef): Promise<void> {
    const info = await this.docker.getImage(image).inspect().catch(() => undefined);
    const user = info?.Config?.User ?? "";
    const key = `${info?.Id ?? image}|${def.service}`;
    if (!info || !runsAsRoot(user) || this.rootWarned.has(key)) return;
    this.rootWarned.add(key);
    this.log.warn(
      { service: def.service, tag: def.tag, user: user || "(none)" },
      "the image runs as root; its container has no capabilities but NET_BIND_SERVICE (and those the service adds back) and no-new-privileges, but a USER line with an unprivileged user in the Dockerfile is safer",
    );
  }

  /**
   * The name to create `def`'s container under: `name`, with our container that held it removed, or renamed
   * aside when the engine cannot remove it (the name the engine has no objection to, when it refuses that too).
   */
  private async freeName(name: string, def: WorkloadDef): Promise<string> {
    const c = this.docker.getContainer(name);
    const info = await c.inspect().catch(() => undefined);
    if (!info) return name;
    const l = info.Config?.Labels ?? {};
    if (l[LABEL.app] !== def.app || l[LABEL.node] !== def.node) {
      throw new RuntimeError(`a container named ${name} exists but is not this agent's (no matching labels); remove or rename it`);
    }
    const mine = this.docker.getContainer(info.Id);
    try {
      await mine.remove({ force: true });
      return name;
    } catch (err) {
      return this.leftovers.setAside(mine, name, err as Error);
    }
  }
}

/**
 * What every container gets: all capabilities dropped but the kept ones, no privilege gain through setuid
 * binaries, memory (no swap beyond it) and pids limits, and json-file logs that rotate.
 */
export function hardening(def: Pick<WorkloadDef, "capabilities" | "memoryBytes" | "pidsLimit">): Docker.HostConfig {
  return {
    CapDrop: ["ALL"],
    CapAdd: [...def.capabilities],
    SecurityOpt: ["no-new-privileges"],
    Memory: def.memoryBytes,
    MemorySwap: def.memoryBytes,
    PidsLimit: def.pidsLimit,
    LogConfig: { Type: "json-file", Config: { "max-size": CONTAINER_LOG_MAX_SIZE, "max-file": String(CONTAINER_LOG_MAX_FILES) } },
  };
}

function runsAsRoot(user: string): boolean {
  const name = user.split(":")[0] ?? "";
  return name === "" || name === "root" || name === "0";
}

/** Docker's multiplexed log stream (8-byte frame headers, no TTY) as text; a TTY stream is already text. */
function demuxLogs(buf: Buffer): string {
  const framed = buf.length >= 8 && buf[0]! <= 2 && buf[1] === 0 && buf[2] === 0 && buf[3] === 0;
  if (!framed) return buf.toString("utf8");
  const parts: Buffer[] = [];
  for (let i = 0; i + 8 <= buf.length; ) {
    const size = buf.readUInt32BE(i + 4);
    parts.push(buf.subarray(i + 8, i + 8 + size));
    i += 8 + size;
  }
  return Buffer.concat(parts).toString("utf8");
}
