/**
 * Benchmark upstream: a plain Node HTTP server (the proxy is measured, not the app). Run as a child process
 * with an IPC channel: `{ type: "arm" }` makes it report, once, when the first non-health request arrives
 * (`{ type: "first", at }`, process.hrtime in ns: one monotonic clock for every process on the machine).
 */
import { createServer } from "node:http";

const [portArg, name = "app"] = process.argv.slice(2);
const body = Buffer.from(`hello from ${name}\n`);
const healthBody = Buffer.from("ok\n");
let armed = false;

const server = createServer((req, res) => {
  if (req.url === "/healthz") {
    res.writeHead(200, { "content-type": "text/plain", "content-length": healthBody.length });
    res.end(healthBody);
    return;
  }
  if (armed) {
    armed = false;
    process.send?.({ type: "first", at: process.hrtime.bigint().toString() });
  }
  res.writeHead(200, { "content-type": "text/plain", "content-length": body.length });
  res.end(body);
});
server.keepAliveTimeout = 60_000;
server.listen(Number(portArg), "127.0.0.1", () => process.send?.({ type: "ready" }));
process.on("message", (m: { type: string }) => {
  if (m.type === "arm") {
    armed = true;
    process.send?.({ type: "armed" });
  }
});
process.on("disconnect", () => process.exit(0));
