/**
 * The least a Node server can do per HTTP request: answer every read with one fixed response, over plain TCP
 * or over TLS (node:tls, the layer the router's HTTPS uses). bench:router measures its CPU per request to
 * show what Node's TLS layer costs by itself. IPC: `{ type: "ready" }` once listening.
 * Arguments: port, "tcp" | "tls", certFile, keyFile.
 */
import { createServer as createTcp, type Socket } from "node:net";
import { createServer as createTls } from "node:tls";
import { readFileSync } from "node:fs";

const [port, kind, certFile, keyFile] = process.argv.slice(2) as [string, "tcp" | "tls", string?, string?];
const RESPONSE = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 16\r\n\r\nhello from blue\n";
const serve = (s: Socket): void => {
  s.setNoDelay(true);
  s.on("data", () => s.write(RESPONSE, "latin1"));
  s.on("error", () => { /* the load generator closes at the end */ });
};
const server = kind === "tls" ? createTls({ cert: readFileSync(certFile!), key: readFileSync(keyFile!), minVersion: "TLSv1.2" }, serve) : createTcp(serve);
server.listen(Number(port), "127.0.0.1", () => process.send?.({ type: "ready" }));
process.on("disconnect", () => process.exit(0));
