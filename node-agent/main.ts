/**
 * Starting an agent from agent.yaml: the runtime, the node (or router) core, and the API server.
 */
import { randomUUID } from "node:crypto";
import { mkdir, readFile } from "node:fs/promises";
import type { FastifyInstance } from "fastify";
import { loadAgentConfig, MIN_TOKEN_LENGTH, readSecret, type ResolvedAgentConfig } from "./config.js";
import { readTokens, watchTokens } from "./token-file.js";
import { TokenGuard } from "./auth.js";
import { splitListen } from "../common/values.js";
import { makeCliLogger, type LogFormat, type Logger } from "../common/log.js";
import { NodeAgent } from "./node/agent.js";
import { DockerRuntime } from "./docker-runtime.js";
import { buildAgentServer, type AgentCore } from "./server.js";
import { lockDataDir } from "./data-dir-lock.js";
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
  /** How the agent's own logger writes (without `logger`): JSON lines (the default) or readable lines. */
  logFormat?: LogFormat;
}

/**
 * Starts an agent. Order matters: the data dir is locked and the API port bound before the core touches
 * any workload (a node's start stops job leftovers), so a second agent on the same config, or one whose port
 * is taken, fails having changed nothing. Whatever fails, everything started so far is closed again and
 * the error is thrown (the CLI exits non-zero).
 */
export async function startAgent(configFile: string, opts: StartAgentOptions = {}): Promise<RunningAgent> {
  const config = await loadAgentConfig(configFile);
  const logger = opts.logger ?? makeCliLogger("switchyard-agent", opts.logFormat ?? "json").child({ node: config.name });
  const tokens = await readTokens(config.tokenFile, MIN_TOKEN_LENGTH);
  const metricsTokens = config.metricsTokenFile ? await readTokens(config.metricsTokenFile, MIN_TOKEN_LENGTH) : [];
  await mkdir(config.dataDir, { recursive: true, mode: 0o700 });
  const tls = config.tls ? { cert: await readFile(config.tls.certFile), key: await readFile(config.tls.keyFile) } : undefined;
  const bootId = randomUUID();
  const undo: (() => Promise<void>)[] = [];
  const closeAll = async () => {
    for (const step of undo.splice(0).reverse()) await step().catch((err: Error) => logger.warn({ err: err.message }, "closing after a failed start"));
  };

  try {
    const lock = await lockDataDir(config.dataDir);
    undo.push(() => lock.release());

    let core: AgentCore;
    let startCore: () => Promise<void>;
    if (config.role === "router") {
      const { RouterAgent } = await import("./router-agent.js");
      const { takeListenFds } = await import("./router/socket-activation.js");
      const listenFds = takeListenFds();
      const router = new RouterAgent({ name: config.name, dataDir: config.dataDir, listen: config.router.listen, allowedUpstreams: config.router.allowedUpstreams, tls: config.router.tls, listenFds, logger, bootId });
      core = router;
      startCore = async () => {
        undo.push(() => router.close());
        await router.start();
      };
    } else {
      const runtime = opts.runtime ?? (await makeRuntime(config, logger));
      undo.push(() => runtime.close());
      const node = new NodeAgent({
        name: config.name,
        dataDir: config.dataDir,
        runtime,
        publishAddress: config.publishAddress,
        ...(config.secretsDir !== undefined ? { secretsDir: config.secretsDir } : {}),
        allowedRepositories: config.allowedRepositories,
        logger,
        bootId,
        containers: config.containers,
      });
      core = node;
      startCore = async () => {
        undo.push(() => node.close());
        await node.start();
      };
    }

    let started = false;
    const guard = new TokenGuard(tokens, metricsTokens);
    const unwatchTokens = watchTokens(config.tokenFile, MIN_TOKEN_LENGTH, logger, (t) => guard.setTokens(t));
    undo.push(async () => unwatchTokens());
    if (config.metricsTokenFile) {
      const unwatchMetrics = watchTokens(config.metricsTokenFile, MIN_TOKEN_LENGTH, logger, (t) => guard.setMetricsTokens(t));
      undo.push(async () => unwatchMetrics());
    }
    const server = buildAgentServer({ core, guard, logger, ready: () => started, ...(tls ? { tls } : {}) });
    const [host, port] = splitListen(opts.listen ?? config.listen);
    const closeServer = () => server.close();
    undo.push(closeServer);
    await server.listen({ host, port });
    await startCore();
    started = true;
    // From now on a close stops the API first, then the core.
    undo.splice(undo.indexOf(closeServer), 1);
    undo.push(closeServer);
    const addr = server.server.address();
    const boundPort = typeof addr === "object" && addr ? addr.port : port;
    const url = `${tls ? "https" : "http"}://${host.includes(":") ? `[${host}]` : host}:${boundPort}`;
    logger.info({ url, role: config.role, runtime: config.runtime }, "agent listening");
    let closing: Promise<void> | undefined;
    return { config, server, url, close: () => (closing ??= closeAll()) };
  } catch (err) {
    await closeAll();
    throw err;
  }
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
