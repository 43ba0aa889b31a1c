/**
 * HTTPS for router tests: a throwaway CA and leaf certificates made with openssl, an HTTPS client that
 * trusts that CA (with SNI, session reuse and the peer certificate), and a router with HTTPS on free ports.
 */
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readFileSync, writeFileSync, renameSync } from "node:fs";
import { join } from "node:path";
import { request, Agent } from "node:https";
import type { IncomingHttpHeaders } from "node:http";
import type { ConnectionOptions, PeerCertificate, TLSSocket } from "node:tls";
import { freePort, startRouter, tempDir, LOOPBACK, type RouterHandle } from "./router-world.js";
import type { DataPlaneOptions } from "../../node-agent/router/data-plane.js";

export interface TestCa {
  dir: string;
  caFile: string;
  ca: Buffer;
  /** Issues a leaf for `hosts` into `<dir>/<name>.crt|.key` (written aside and renamed into place). */
  issue(name: string, hosts: string[], o?: { days?: number }): { certFile: string; keyFile: string; serial: string };
}

/** A CA in a temp dir removed after the test (or in `dir`, the caller's to remove). */
export async function testCa(dir?: string): Promise<TestCa> {
  dir ??= await tempDir();
  const caKey = join(dir, "ca.key");
  const caFile = join(dir, "ca.crt");
  openssl(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", caKey, "-out", caFile,
    "-subj", "/CN=Switchyard Test CA", "-days", "2"]);
  const caDir = dir;
  return {
    dir: caDir, caFile, ca: readFileSync(caFile),
    issue(name, hosts, o = {}) {
      const serial = randomBytes(8).toString("hex");
      const tmpKey = join(caDir, `.${name}.key.tmp`), tmpCsr = join(caDir, `.${name}.csr`), tmpCrt = join(caDir, `.${name}.crt.tmp`), ext = join(caDir, `.${name}.ext`);
      writeFileSync(ext, `subjectAltName=${hosts.map((h) => (/^[0-9.]+$/.test(h) ? `IP:${h}` : `DNS:${h}`)).join(",")}\n`);
      openssl(["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", tmpKey, "-out", tmpCsr, "-subj", `/CN=${hosts[0]}`]);
      openssl(["x509", "-req", "-in", tmpCsr, "-CA", caFile, "-CAkey", caKey, "-set_serial", `0x${serial}`, "-out", tmpCrt, "-days", String(o.days ?? 1), "-extfile", ext]);
      const certFile = join(caDir, `${name}.crt`), keyFile = join(caDir, `${name}.key`);
      renameSync(tmpKey, keyFile);
      renameSync(tmpCrt, certFile);
      // As Node shows a certificate's serial: upper-case hex without leading zero bytes, an even number of digits.
      const shown = serial.toUpperCase().replace(/^(00)+/, "");
      return { certFile, keyFile, serial: shown };
    },
  };
}

function openssl(args: string[]): void {
  execFileSync("openssl", args, { stdio: ["ignore", "ignore", "pipe"] });
}

export interface TlsRouter extends RouterHandle {
  tlsPort: number;
}

/** A router with HTTPS on a free port, certificates from files. */
export async function startTlsRouter(certificates: Array<{ certFile: string; keyFile: string }>, o: { timeouts?: DataPlaneOptions["timeouts"]; redirectPort?: number } = {}): Promise<TlsRouter> {
  const tlsPort = await freePort();
  const r = await startRouter({ ...o, tls: { listen: `${LOOPBACK}:${tlsPort}`, certificates, ...(o.redirectPort ? { redirectPort: o.redirectPort } : {}) } });
  return { ...r, tlsPort };
}

export interface HttpsReply {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
  cert: PeerCertificate;
  reused: boolean;
  protocol: string | null;
}

/** One HTTPS request to the router on 127.0.0.1, SNI `host` (or `servername`), trusting `ca`. */
export function httpsGet(port: number, path: string, o: { host: string; ca: Buffer; servername?: string; agent?: Agent; method?: string; body?: string } & Partial<Pick<ConnectionOptions, "minVersion" | "maxVersion" | "ciphers" | "session">>): Promise<HttpsReply> {
  return new Promise((resolve, reject) => {
    const options = {
      host: LOOPBACK, port, path, method: o.method ?? "GET", agent: o.agent ?? false, ca: o.ca, servername: o.servername ?? o.host,
      headers: { host: o.host }, minVersion: o.minVersion, maxVersion: o.maxVersion, ciphers: o.ciphers, session: o.session,
    };
    const req = request(options, (res) => {
      const socket = res.socket as TLSSocket;
      const cert = socket.getPeerCertificate();
      const reused = socket.isSessionReused();
      const protocol = socket.getProtocol();
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString(), cert, reused, protocol }));
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end(o.body);
  });
}
