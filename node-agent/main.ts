/**
 * Starting an agent from agent.yaml: the runtime, the node (or router) core, and the API server.
 */
import { randomUUID } from "node:crypto";
import { mkdir, readFile } from "node:fs/promises";
import type { FastifyInstance } from "fastify";
import type { NodeSpec } from "../specs/wire.js";
import { loadAgentConfig, MIN_TOKEN_LENGTH, readSecret, type ResolvedAgentConfig } from "./config.js";
import { TokenGuard } from "./auth.js";
import { splitListen } from "../common/values.js";
import { makeLogger, type Logger } from "../common/log.js";
import { NodeAgent } from "./node.js";
import { DockerRuntime } from "./docker-runtime.js";
import { buildAgentServer, type AgentCore } from "./server.js";
import type { Runtime } from "./runtime.js";

export interface RunningAgent {
  config: ResolvedAgentConfig;
  server: FastifyInstance;
  /** The address the API listens on, e.g. http://127.0.0.1:7101 */
  url: string;
  close(): Promise<void>;
}

export interface StartAgentOptions {
  logger?: Logger;
  /** Overrides agent.yaml's listen (tests use port 0). */
  listen?: string;
  /** Supplies a runtime instead of building one from agent.yaml (tests). */
  runtime?: Runtime;
}

export async function startAgent(configFile: string, opts: StartAgentOptions = {}): Promise<RunningAgent> {
  const config = await loadAgentConfig(configFile);
  const logger = opts.logger ?? makeLogger("switchyard-agent").child({ node: config.name });
  const token = await readSecret(config.tokenFile, "agent token", MIN_TOKEN_LENGTH);
  await mkdir(config.dataDir, { recursive: true, mode: 0o700 });
  const tls = config.tls ? { cert: await readFile(config.tls.certFile), key: await readFile(config.tls.keyFile) } : undefined;
  const bootId = randomUUID();

  let core: AgentCore;
  let closeCore: () => Promise<void>;
  if (config.role === "router") {
    const { RouterAgent } = await import("./router-agent.js");
    const router = new RouterAgent({ name: config.name, dataDir: config.dataDir, listen: config.router.listen, allowedUpstreams: config.router.allowedUpstreams, logger, bootId });
    await router.start();
    core = router;
    closeCore = () => router.close();
  } else {
    const runtime = opts.runtime ?? (await makeRuntime(config, logger));
    const node = new NodeAgent({
      name: config.name,
      dataDir: config.dataDir,
      runtime,
      publishAddress: config.publishAddress,
      allowedRepositories: config.allowedRepositories,
      logger,
      bootId,
      containers: config.containers,
    });
    await node.start();
    core = {
      role: "node",
      status: () => node.status(),
      applySpec: (s) => node.applySpec(s as NodeSpec),
      onChange: (l) => node.onChange(l),
      grantLease: (e, t) => node.grantLease(e, t),
      revokeLease: () => node.revokeLease(),
    };
    closeCore = async () => {
      await node.close();
      await runtime.close();
    };
  }

  const server = buildAgentServer({ core, guard: new TokenGuard(token), logger, ...(tls ? { tls } : {}) });
  const [host, port] = splitListen(opts.listen ?? config.listen);
  await server.listen({ host, port });
  const addr = server.server.address();
  const boundPort = typeof addr === "object" && addr ? addr.port : port;
  const url = `${tls ? "https" : "http"}://${host.includes(":") ? `[${host}]` : host}:${boundPort}`;
  logger.info({ url, role: config.role, runtime: config.runtime }, "agent listening");
  let closing: Promise<void> | undefined;
  return {
    config,
    server,
    url,
    close: () =>
      (closing ??= (async () => {
        await server.close();
        await closeCore();
      })()),
  };
}

async function makeRuntime(config: ResolvedAgentConfig, logger: Logger): Promise<Runtime> {
  if (config.runtime === "process") {
    if (!config.process?.releasesDir) throw new Error(`${config.file}: runtime: process needs process.releasesDir (the folder with one folder per release)`);
    const { ProcessRuntime } = await import("./process-runtime.js");
    const { resolveReleaseUser } = await import("./release-user.js");
    const user = config.process.user ? await resolveReleaseUser(config.process.user) : undefined;
    if (!user && process.getuid?.() === 0) logger.warn("the process runtime runs releases as root; set process.user in agent.yaml to a dedicated unprivileged user");
    const rt = new ProcessRuntime({ releasesDir: config.process.releasesDir, dataDir: config.dataDir, logger, ...(user ? { user } : {}) });
    await rt.ping();
    return rt;
  }
  const credentials = await Promise.all(
    config.registries.map(async (r) => ({ host: r.host, username: r.username, password: await readSecret(r.passwordFile, `registry password for ${r.host}`) })),
  );
  const rt = new DockerRuntime({ socketPath: config.docker.socketPath, logger, credentials, pullIdleTimeoutMs: config.docker.pullIdleTimeoutSeconds * 1000 });
  await rt.ping();
  return rt;
}
