/**
 * Certificates as a reconciled resource (cert-manager's model): the desired certificate comes from
 * cluster.yaml (acme section, router hosts); the reconciler orders it from the ACME CA with the
 * `acme-client` library, answers HTTP-01 by putting the token into every router (the CA may reach any of
 * them behind a floating IP), keeps the certificate and key in its data dir (0600), and hands them to every
 * router that does not serve them yet (over TLS or loopback only). Renewal starts at two thirds of the
 * lifetime; failures retry with exponential backoff. Each pass is level-triggered: it re-reads the desired
 * certificate, what is stored and what each router serves.
 */
import * as acme from "acme-client";
import { Agent as HttpsAgent } from "node:https";
import { X509Certificate } from "node:crypto";
import { readFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import type { Logger } from "pino";
import type { Cluster } from "../../specs/cluster.js";
import type { AgentClient } from "../loop/agent-client.js";
import { writeFileAtomic } from "../../common/atomic-file.js";
import { hostsOf, issuerOf } from "../../common/certificate.js";
import { ACME_CHECK_INTERVAL_MS, ACME_RENEW_FRACTION, ACME_RETRY_INITIAL_MS, ACME_RETRY_MAX_MS } from "../../specs/defaults.js";

export interface AcmeManagerOptions {
  /** <reconciler data dir>/acme: account key, certificates and keys, all 0600. */
  dir: string;
  /** The current cluster.yaml and the file it came from (caFile is relative to it). */
  cluster: () => { cluster: Cluster; file: string } | null;
  /** The router agents' clients. */
  routers: () => AgentClient[];
  logger: Logger;
  /** Called whenever status() changes. */
  onChange?: () => void;
  /** Tests shorten the backoff. */
  retryInitialMs?: number;
}

/** What status, /metrics and alerts show about the ACME certificate (never the key). */
export interface AcmeCertificateStatus {
  name: string;
  hosts: string[];
  issuer: string | null;
  notBefore: string | null;
  notAfter: string | null;
  /** When renewal starts (two thirds of the lifetime). */
  renewAt: string | null;
  /** Failed orders in a row (0 after a success). */
  failures: number;
  lastError: string | null;
  /** Routers that serve the current certificate. */
  routers: string[];
}

/** How soon a pass is tried again while no router client exists yet. */
const ROUTERS_WAIT_MS = 500;

interface Stored {
  cert: string;
  key: string;
  hosts: string[];
  issuer: string;
  notBefore: number;
  notAfter: number;
}

export class AcmeManager {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private stopped = false;
  private failures = 0;
  private lastError: string | null = null;
  private nextOrderAt = 0;
  private stored: Stored | null = null;
  private served = new Set<string>();
  private challenges = new Map<string, string>();
  private wanted: { name: string; hosts: string[] } | null = null;

  constructor(private readonly o: AcmeManagerOptions) {}

  start(): void {
    this.kick(0);
  }

  /** Queues a pass soon (cluster.yaml changed, a router came back). */
  queue(): void {
    this.kick(0);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer !== null) clearTimeout(this.timer);
    await this.running;
  }

  status(): AcmeCertificateStatus | null {
    const w = this.wanted;
    if (w === null) return null;
    const s = this.stored;
    return {
      name: w.name,
      hosts: s?.hosts ?? w.hosts,
      issuer: s?.issuer ?? null,
      notBefore: s ? new Date(s.notBefore).toISOString() : null,
      notAfter: s ? new Date(s.notAfter).toISOString() : null,
      renewAt: s ? new Date(renewAt(s)).toISOString() : null,
      failures: this.failures,
      lastError: this.lastError,
      routers: [...this.served].sort(),
    };
  }

  private kick(ms: number): void {
    if (this.stopped) return;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = null;
      if (this.running !== null) { this.kick(1_000); return; }
      this.running = this.pass().catch((err: Error) => {
        this.o.logger.error({ err: err.message }, "ACME pass failed");
      }).finally(() => {
        this.running = null;
      });
    }, ms);
    this.timer.unref();
  }

  /** One level-triggered pass: order or renew when due, then hand the certificate to every router lacking it. */
  private async pass(): Promise<void> {
    const c = this.o.cluster();
    const cfg = c?.cluster.spec.acme;
    if (c === null || cfg === undefined) {
      this.wanted = null;
      return;
    }
    const want = { name: c.cluster.metadata.name, hosts: acmeHosts(c.cluster) };
    this.wanted = want;
    // The controller connects to the agents on its first pass: until then there is nobody to answer the CA.
    if (this.o.routers().length === 0) {
      this.kick(ROUTERS_WAIT_MS);
      return;
    }
    this.stored ??= await this.load(want.name);
    const now = Date.now();
    const due = this.stored === null || !sameHosts(this.stored.hosts, want.hosts) || now >= renewAt(this.stored);
    if (due && now >= this.nextOrderAt) {
      try {
        const ca = cfg.caFile !== undefined ? await readFile(resolve(dirname(resolve(c.file)), cfg.caFile), "utf8") : undefined;
        this.stored = await this.order(want.name, want.hosts, cfg.directoryUrl, cfg.email, ca);
        this.failures = 0;
        this.lastError = null;
        this.served.clear();
      } catch (err) {
        this.failures++;
        this.lastError = (err as Error).message.slice(0, 500);
        const delay = Math.min(ACME_RETRY_MAX_MS, (this.o.retryInitialMs ?? ACME_RETRY_INITIAL_MS) * 2 ** (this.failures - 1));
        this.nextOrderAt = Date.now() + delay;
        this.o.logger.error({ hosts: want.hosts, failures: this.failures, retryInMs: delay, err: this.lastError }, "ACME order failed; the current certificate (if any) stays served");
      }
      this.o.onChange?.();
    }
    if (this.stored !== null) await this.handOver(want.name, this.stored);
    const next = this.stored === null || this.failures > 0 ? Math.max(0, this.nextOrderAt - Date.now()) : Math.min(ACME_CHECK_INTERVAL_MS, Math.max(0, renewAt(this.stored) - Date.now()));
    this.kick(Math.min(next, ACME_CHECK_INTERVAL_MS));
  }

  /** Orders a certificate through the full HTTP-01 flow; stores it and its key (0600) before returning it. */
  private async order(name: string, hosts: string[], directoryUrl: string, email: string, ca: string | undefined): Promise<Stored> {
    // acme-client talks through its own axios instance: a private CA (pebble in tests) is trusted there.
    acme.axios.defaults.httpsAgent = ca !== undefined ? new HttpsAgent({ ca }) : undefined;
    const client = new acme.Client({ directoryUrl, accountKey: await this.accountKey() });
    const [key, csr] = await acme.crypto.createCsr({ commonName: hosts[0]!, altNames: hosts }, await acme.crypto.createPrivateEcdsaKey("P-256"));
    this.o.logger.info({ hosts, directoryUrl }, "ordering an ACME certificate");
    const cert = await client.auto({
      csr, email, termsOfServiceAgreed: true, challengePriority: ["http-01"],
      // The CA checks; our own pre-check would go to port 80 of the public name, which tests and NAT may not have.
      skipChallengeVerification: true,
      challengeCreateFn: async (_authz, challenge, keyAuthorization) => {
        this.challenges.set(challenge.token, keyAuthorization);
        await this.pushChallenges(true);
      },
      challengeRemoveFn: async (_authz, challenge) => {
        this.challenges.delete(challenge.token);
        await this.pushChallenges(false);
      },
    });
    await writeFileAtomic(join(this.o.dir, `${name}.key`), key, 0o600);
    await writeFileAtomic(join(this.o.dir, `${name}.crt`), cert, 0o600);
    const s = parse(cert, key.toString());
    this.o.logger.info({ hosts: s.hosts, notAfter: new Date(s.notAfter).toISOString(), issuer: s.issuer }, "ACME certificate issued");
    return s;
  }

  /** Every router gets the challenge set; when adding, at least one must have taken it. */
  private async pushChallenges(adding: boolean): Promise<void> {
    const list = [...this.challenges].map(([token, keyAuthorization]) => ({ token, keyAuthorization }));
    const routers = this.o.routers();
    const results = await Promise.allSettled(routers.map((r) => r.putChallenges(list)));
    const failed = results.flatMap((r, i) => (r.status === "rejected" ? [`${routers[i]!.node}: ${(r.reason as Error).message}`] : []));
    if (failed.length > 0) this.o.logger.warn({ failed }, "some routers did not take the ACME challenges");
    if (adding && failed.length === routers.length) throw new Error(`no router took the ACME challenge: ${failed.join("; ") || "no routers"}`);
  }

  /** Hands the certificate to each router whose status does not show it yet. */
  private async handOver(name: string, s: Stored): Promise<void> {
    const notAfter = new Date(s.notAfter).toISOString();
    await Promise.all(this.o.routers().map(async (r) => {
      try {
        const st = await r.status();
        const has = st.router?.tls?.certificates.some((c) => c.source === "acme" && c.notAfter === notAfter && sameHosts(c.hosts, s.hosts) && c.error === null);
        if (!has) {
          await r.putCertificate(name, s.cert, s.key);
          this.o.logger.info({ router: r.node, hosts: s.hosts, notAfter }, "certificate handed to the router");
        }
        if (!this.served.has(r.node)) { this.served.add(r.node); this.o.onChange?.(); }
      } catch (err) {
        if (this.served.delete(r.node)) this.o.onChange?.();
        this.o.logger.warn({ router: r.node, err: (err as Error).message }, "could not hand the certificate to the router; retrying");
      }
    }));
  }

  private async accountKey(): Promise<Buffer> {
    const file = join(this.o.dir, "account.key");
    try {
      return await readFile(file);
    } catch {
      const key = await acme.crypto.createPrivateEcdsaKey("P-256");
      await writeFileAtomic(file, key, 0o600);
      return key;
    }
  }

  private async load(name: string): Promise<Stored | null> {
    try {
      const [cert, key] = await Promise.all([readFile(join(this.o.dir, `${name}.crt`), "utf8"), readFile(join(this.o.dir, `${name}.key`), "utf8")]);
      return parse(cert, key);
    } catch {
      return null;
    }
  }
}

/** The host names on the ACME certificate: cluster.yaml acme.hosts, else every router host name without wildcards. */
export function acmeHosts(c: Cluster): string[] {
  if (c.spec.acme?.hosts !== undefined) return [...new Set(c.spec.acme.hosts.map((h) => h.toLowerCase()))];
  const h = c.spec.router.hosts;
  return [...new Set([...h.live, ...h.preview, ...h.blue, ...h.green].map((x) => x.toLowerCase()).filter((x) => !x.startsWith("*.")))];
}

/** Renewal starts once two thirds of the lifetime have passed. */
export function renewAt(s: { notBefore: number; notAfter: number }): number {
  return s.notBefore + (s.notAfter - s.notBefore) * ACME_RENEW_FRACTION;
}

function sameHosts(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && [...a].sort().join(",") === [...b].sort().join(",");
}

function parse(cert: string, key: string): Stored {
  const x = new X509Certificate(cert);
  return { cert, key, hosts: hostsOf(x), issuer: issuerOf(x), notBefore: Date.parse(x.validFrom), notAfter: Date.parse(x.validTo) };
}
