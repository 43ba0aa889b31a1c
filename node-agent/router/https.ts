/**
 * The router's HTTPS side: a TLS listener on agent.yaml router.tls.listen that terminates TLS (1.2 and 1.3
 * only, modern ciphers, session tickets shared by every certificate) and hands each decrypted connection to
 * the same request handling as plain HTTP. SNI picks the certificate from the CertStore; a certificate swap
 * changes what new handshakes get and closes nothing.
 */
import { createServer, type Server, type TLSSocket } from "node:tls";
import { randomBytes } from "node:crypto";
import type { Logger } from "pino";
import type { RouterTlsStatus } from "../../specs/wire.js";
import { ROUTER_TLS_HANDSHAKE_TIMEOUT_MS } from "../../specs/defaults.js";
import { splitListen } from "../../common/values.js";
import { CertStore, tlsSettings, type CertPair } from "./certificates.js";

export interface HttpsOptions {
  listen: string;
  certificates: readonly Omit<CertPair, "source">[];
  /** Port for the Location of redirects; default: the listen port. */
  redirectPort?: number;
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

  constructor(private readonly o: HttpsOptions) {
    [this.host, this.port] = splitListen(o.listen);
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

  /** Loads the certificates from files, then listens. */
  async start(): Promise<void> {
    await this.certs.setPairs("file", this.o.certificates);
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error): void => reject(new Error(`the router cannot listen for HTTPS on ${this.o.listen}: ${err.message}`));
      this.server.once("error", onError);
      this.server.listen({ host: this.host, port: this.port }, () => {
        this.server.removeListener("error", onError);
        const a = this.server.address();
        if (a !== null && typeof a === "object") this.port = a.port;
        resolve();
      });
    });
    this.server.on("error", (err) => this.o.logger.error({ err: err.message }, "router HTTPS server error"));
    this.o.logger.info({ listen: this.o.listen, certificates: this.certs.info().length }, "router listening for HTTPS");
  }

  /** The port an HTTP to HTTPS redirect names (null for 443, which the URL leaves out). */
  get redirectPort(): number | null {
    const p = this.o.redirectPort ?? this.port;
    return p === 443 ? null : p;
  }

  status(): RouterTlsStatus {
    return { listen: this.o.listen, certificates: this.certs.info() };
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
