/**
 * Benchmark router: a real router agent (the data plane behind the agent API) in a process of its own, like
 * `switchyard agent` runs it. Flips arrive as `PUT /v1/spec` with the bearer token, over loopback HTTP.
 * IPC: `{ type: "ready", apiPort, token }` once listening.
 */
import { randomBytes } from "node:crypto";
import { RouterAgent } from "../../node-agent/router-agent.js";
import { buildAgentServer } from "../../node-agent/server.js";
import { TokenGuard } from "../../node-agent/auth.js";
import { makeLogger } from "../../common/log.js";

const [dataDir, listen, tlsListen, certFile, keyFile] = process.argv.slice(2) as [string, string, string?, string?, string?];
const logger = makeLogger("bench-router", { level: "warn" });
const tls = tlsListen !== undefined && certFile !== undefined && keyFile !== undefined ? { listen: tlsListen, certificates: [{ certFile, keyFile }] } : undefined;
const router = new RouterAgent({ name: "router-1", dataDir, listen, logger, bootId: "bench", ...(tls ? { tls } : {}) });
await router.start();
const token = randomBytes(24).toString("hex");
const server = buildAgentServer({ core: router, guard: new TokenGuard(token), logger });
await server.listen({ host: "127.0.0.1", port: 0 });
const addr = server.server.address();
process.on("disconnect", () => { void server.close().then(() => router.close()).then(() => process.exit(0)); });
process.send?.({ type: "ready", apiPort: typeof addr === "object" && addr ? addr.port : 0, token });
