/**
 * The router's HTTPS side: a TLS listener on agent.yaml router.tls.listen that terminates TLS (1.2 and 1.3
 * only, modern ciphers, session tickets shared by every certificate) and hands each decrypted connection to
 * the same request handling as plain HTTP. SNI picks the certificate from the CertStore; a certificate swap
 * changes what new handshakes get and closes nothing.
 */
import { createSecureContext, createServer, type Server, type TLSSocket } from "node:tls";
import { randomBytes, X509Certificate } from "node:crypto";
import { readdir } from "node:fs/promises";
import { join } from "node:path";
import type { Logger } from "pino";
import type { CertificateInfo, RouterTlsStatus } from "../../specs/wire.js";
import { writeFileAtomic } from "../../common/atomic-file.js";
import { agentError } from "../errors.js";
import { ROUTER_TLS_HANDSHAKE_TIMEOUT_MS } from "../../specs/defaults.js";
import { splitListen } from "../../common/values.js";
import { CertStore, tlsSettings, type CertPair } from "./certificates.js";
import { listenOn } from "./socket-activation.js";

export interface HttpsOptions {
  listen: string;
  /** ACME certificates handed over by the reconciler live in <dataDir>/acme/ (mode 0600). */
  dataDir: string;
  certificates: readonly Omit<CertPair, "source">[];
  /** Port for the Location of redirects; default: the listen port. */
  redirectPort?: number;
  /** A listening socket passed by systemd for `listen`; absent: bind it here. */
  listenFd?: number;
  logger: Logger;
  onChange: () => void;
  onConnection: (socket: TLSSocket) => void;
}

/** Handshake counts since start, for metrics and the bench. */
export interface HandshakeCounts {
  full: number;
  resumed: number;
  failed: number;
}

export class HttpsSide {
  readonly certs: CertStore;
  readonly handshakes: HandshakeCounts = { full: 0, resumed: 0, failed: 0 };
  private readonly server: Server;
  private readonly host: string;
  private port: number;
  private readonly ticketKeys = randomBytes(48);
  private defaultPems: { cert: Buffer; key: Buffer } | null = null;
  private readonly acmeDir: string;

  constructor(private readonly o: HttpsOptions) {
    [this.host, this.port] = splitListen(o.listen);
    this.acmeDir = join(o.dataDir, "acme");
    const ticketKeys = this.ticketKeys;
    this.certs = new CertStore(ticketKeys, o.logger, () => this.certsChanged());
    this.server = createServer({
      ...tlsSettings(ticketKeys),
      allowHalfOpen: true,
      noDelay: true,
      handshakeTimeout: ROUTER_TLS_HANDSHAKE_TIMEOUT_MS,
      SNICallback: (name, cb) => {
        const ctx = this.certs.contextFor(name);
        if (ctx === null) cb(new Error("no certificate loaded"), undefined);
        else cb(null, ctx);
      },
    }, (socket) => {
      if (socket.isSessionReused()) this.handshakes.resumed++;
      else this.handshakes.full++;
      o.onConnection(socket);
    });
    this.server.on("tlsClientError", (err) => {
      this.handshakes.failed++;
      o.logger.debug({ err: err.message }, "TLS handshake failed");
    });
  }

  /** Loads the certificates from files and the stored ACME ones, then listens. */
  async start(): Promise<void> {
    await this.certs.setPairs("file", this.o.certificates);
    await this.certs.setPairs("acme", await storedAcmePairs(this.acmeDir));
    await listenOn(this.server, this.host, this.port, this.o.listenFd, `for HTTPS on ${this.o.listen}`);
    const a = this.server.address();
    if (a !== null && typeof a === "object") this.port = a.port;
    this.server.on("error", (err) => this.o.logger.error({ err: err.message }, "router HTTPS server error"));
    this.o.logger.info({ listen: this.o.listen, certificates: this.certs.info().length }, "router listening for HTTPS");
  }

  /** The port an HTTP to HTTPS redirect names (null for 443, which the URL leaves out). */
  get redirectPort(): number | null {
    const p = this.o.redirectPort ?? this.port;
    return p === 443 ? null : p;
  }

  /**
   * Stores an ACME certificate and key (0600, atomically: key first, so a crash never pairs a new
   * certificate with an old key for long) and serves it to new handshakes. A pair that does not load is
   * refused and nothing is written.
   */
  async installAcme(name: string, certificate: string, key: string): Promise<CertificateInfo> {
    try {
      createSecureContext({ cert: certificate, key });
    } catch (err) {
      throw agentError("AGENT_ERR_INVALID_SPEC", `the certificate and key do not load together: ${(err as Error).message}; nothing was changed`);
    }
    const certFile = join(this.acmeDir, `${name}.crt`);
    await writeFileAtomic(join(this.acmeDir, `${name}.key`), key, 0o600);
    await writeFileAtomic(certFile, certificate, 0o600);
    await this.certs.setPairs("acme", await storedAcmePairs(this.acmeDir));
    await this.certs.recheck();
    const info = this.certs.info().find((c) => c.source === "acme" && c.hosts.length > 0 && c.notAfter === new Date(new X509Certificate(certificate).validTo).toISOString());
    this.o.logger.info({ name, hosts: info?.hosts, notAfter: info?.notAfter }, "ACME certificate installed");
    return info ?? this.certs.info().at(-1)!;
  }

  status(): RouterTlsStatus {
    return { listen: this.o.listen, certificates: this.certs.info() };
  }

  /** Stops accepting; resolves once the open connections have ended (the data plane ends them). */
  stopListening(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  /** Stops listening (open connections are the data plane's to end). */
  close(): Promise<void> {
    this.certs.close();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  /** Connections without SNI get the first certificate: keep the server's default context in step. */
  private certsChanged(): void {
    const pems = this.certs.defaultPems();
    if (pems !== null && pems !== this.defaultPems) {
      this.defaultPems = pems;
      this.server.setSecureContext({ ...pems, ...tlsSettings(this.ticketKeys) });
    }
    this.o.onChange();
  }
}

/** The ACME pairs stored in `dir`: every <name>.crt with its <name>.key. */
async function storedAcmePairs(dir: string): Promise<Array<{ certFile: string; keyFile: string }>> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return [];
  }
  const set = new Set(names);
  return names.filter((n) => n.endsWith(".crt") && set.has(n.slice(0, -4) + ".key")).sort()
    .map((n) => ({ certFile: join(dir, n), keyFile: join(dir, n.slice(0, -4) + ".key") }));
}
