/**
 * The certificates a router serves over HTTPS, chosen by SNI host name. Each one is a PEM pair (certificate
 * with its chain, private key) read from files: listed in agent.yaml, or stored in the data dir by the ACME
 * hand-over. A pair is re-read when its files change (a watch on their folders, since tools replace files by
 * rename, plus a slow poll); a pair that does not load (half written, key and certificate disagree) keeps
 * the context loaded before, and says why in status. Swapping a context only changes what new handshakes get:
 * open connections keep theirs, nothing is closed.
 */
import { createSecureContext, type SecureContext } from "node:tls";
import { X509Certificate } from "node:crypto";
import { readFile, stat } from "node:fs/promises";
import { watch, type FSWatcher } from "node:fs";
import { basename, dirname } from "node:path";
import type { Logger } from "pino";
import type { CertificateInfo } from "../../specs/wire.js";
import { hostsOf, issuerOf } from "../../common/certificate.js";
import { CERT_RELOAD_DEBOUNCE_MS, CERT_RELOAD_POLL_MS, ROUTER_TLS12_CIPHERS, ROUTER_TLS_MIN_VERSION, ROUTER_TLS_SESSION_TIMEOUT_SECONDS } from "../../specs/defaults.js";

export interface CertPair {
  certFile: string;
  keyFile: string;
  source: CertificateInfo["source"];
}

/** The TLS settings every context shares: versions, ciphers, and one set of ticket keys (resumption across SNI hosts). */
export function tlsSettings(ticketKeys: Buffer): {
  minVersion: "TLSv1.2"; ciphers: string; honorCipherOrder: false; ticketKeys: Buffer; sessionTimeout: number;
} {
  return {
    minVersion: ROUTER_TLS_MIN_VERSION,
    ciphers: ROUTER_TLS12_CIPHERS.join(":"),
    honorCipherOrder: false,
    ticketKeys,
    sessionTimeout: ROUTER_TLS_SESSION_TIMEOUT_SECONDS,
  };
}

interface Loaded {
  pair: CertPair;
  /** mtimes and sizes of both files when last read: the poll re-reads only what changed. */
  stamp: string;
  ctx: SecureContext | null;
  /** The PEMs behind ctx (the server's default context for clients without SNI is built from them). */
  pems: { cert: Buffer; key: Buffer } | null;
  info: CertificateInfo;
}

export class CertStore {
  private loaded = new Map<string, Loaded>();
  /** Each configured pair's place: files before ACME, then as listed. */
  private readonly order = new Map<string, { source: CertPair["source"]; rank: number }>();
  /** Lowercase exact host → entry; `.example.com` → entry for `*.example.com`. */
  private exact = new Map<string, Loaded>();
  private wildcard = new Map<string, Loaded>();
  private first: Loaded | null = null;
  private watchers = new Map<string, FSWatcher>();
  private timers = new Map<string, NodeJS.Timeout>();
  private poller: NodeJS.Timeout | null = null;
  private closed = false;

  constructor(
    private readonly ticketKeys: Buffer,
    private readonly log: Logger,
    /** Called after the served set changed: the default context may need replacing, status changed. */
    private readonly onChange: () => void,
  ) {}

  /** Replaces the pairs of one source (file, acme) by `pairs`, loads them and watches their files. */
  async setPairs(source: CertPair["source"], pairs: readonly Omit<CertPair, "source">[]): Promise<void> {
    const want = new Map(pairs.map((p) => [key(p), { ...p, source }]));
    for (const [k, l] of this.loaded) if (l.pair.source === source && !want.has(k)) this.loaded.delete(k);
    for (const [k, o] of this.order) if (o.source === source) this.order.delete(k);
    [...want.keys()].forEach((k, i) => this.order.set(k, { source, rank: SOURCE_RANK[source] * 100_000 + i }));
    await Promise.all([...want].map(([k, p]) => this.load(k, p, true)));
    // The pairs load side by side and finish in any order: put them back in the configured one, which decides
    // the certificate for clients without SNI, which pair wins a host two of them name, and the status order.
    const rank = (k: string) => this.order.get(k)?.rank ?? Number.MAX_SAFE_INTEGER;
    this.loaded = new Map([...this.loaded].sort(([a], [b]) => rank(a) - rank(b)));
    this.rewatch();
    this.index();
  }

  /** The context for an SNI host name (exact, then the longest wildcard), else the first loaded. */
  contextFor(servername: string | undefined): SecureContext | null {
    if (servername !== undefined && servername !== "") {
      const name = servername.toLowerCase();
      const hit = this.exact.get(name);
      if (hit !== undefined) return hit.ctx;
      // A wildcard covers one label only: a.example.com matches *.example.com, a.b.example.com does not.
      const dot = name.indexOf(".");
      const w = dot > 0 ? this.wildcard.get(name.slice(dot)) : undefined;
      if (w !== undefined) return w.ctx;
    }
    return this.first?.ctx ?? null;
  }

  /** The PEMs of the first loaded pair (for clients without SNI); the same object until that changes. */
  defaultPems(): { cert: Buffer; key: Buffer } | null {
    return this.first?.pems ?? null;
  }

  /** What status shows: one entry per pair, loaded or not. */
  info(): CertificateInfo[] {
    return [...this.loaded.values()].map((l) => l.info);
  }

  /** Re-reads every pair whose files changed since they were read (the poll, and tests). */
  async recheck(): Promise<void> {
    await Promise.all([...this.loaded].map(([k, l]) => this.load(k, l.pair, false)));
    this.index();
  }

  close(): void {
    this.closed = true;
    for (const w of this.watchers.values()) w.close();
    for (const t of this.timers.values()) clearTimeout(t);
    if (this.poller !== null) clearInterval(this.poller);
    this.watchers.clear();
    this.timers.clear();
  }

  /** Reads one pair; on failure keeps what was loaded before and records the error. */
  private async load(k: string, pair: CertPair, force: boolean): Promise<void> {
    const before = this.loaded.get(k);
    let stamp = "";
    try {
      const [c, s] = await Promise.all([stat(pair.certFile), stat(pair.keyFile)]);
      stamp = `${c.mtimeMs}:${c.size}:${s.mtimeMs}:${s.size}`;
      if (!force && before !== undefined && before.stamp === stamp) return;
      const [cert, keyPem] = await Promise.all([readFile(pair.certFile), readFile(pair.keyFile)]);
      const x = new X509Certificate(cert);
      const ctx = createSecureContext({ cert, key: keyPem, ...tlsSettings(this.ticketKeys) });
      const info: CertificateInfo = {
        source: pair.source,
        ...(pair.source === "file" ? { certFile: pair.certFile } : {}),
        hosts: hostsOf(x),
        issuer: issuerOf(x),
        notBefore: new Date(x.validFrom).toISOString(),
        notAfter: new Date(x.validTo).toISOString(),
        error: null,
      };
      if (this.closed) return;
      this.loaded.set(k, { pair, stamp, ctx, pems: { cert, key: keyPem }, info });
      this.log.info({ certFile: pair.certFile, hosts: info.hosts, notAfter: info.notAfter, issuer: info.issuer }, before?.ctx ? "certificate reloaded" : "certificate loaded");
    } catch (err) {
      const error = `${pair.certFile}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`;
      if (this.closed) return;
      const keep = before?.ctx ?? null;
      this.loaded.set(k, {
        pair, stamp,
        ctx: keep,
        pems: before?.pems ?? null,
        info: before !== undefined ? { ...before.info, error } : { source: pair.source, ...(pair.source === "file" ? { certFile: pair.certFile } : {}), hosts: [], issuer: "", notBefore: new Date(0).toISOString(), notAfter: new Date(0).toISOString(), error },
      });
      this.log.error({ certFile: pair.certFile, error, keptPrevious: keep !== null }, "certificate not loaded");
    }
  }

  /** Rebuilds the host index from the loaded pairs (earlier pairs win a host both name). */
  private index(): void {
    const exact = new Map<string, Loaded>();
    const wildcard = new Map<string, Loaded>();
    let first: Loaded | null = null;
    for (const l of this.loaded.values()) {
      if (l.ctx === null) continue;
      first ??= l;
      for (const h of l.info.hosts) {
        const name = h.toLowerCase();
        if (name.startsWith("*.")) { if (!wildcard.has(name.slice(1))) wildcard.set(name.slice(1), l); }
        else if (!exact.has(name)) exact.set(name, l);
      }
    }
    this.exact = exact;
    this.wildcard = wildcard;
    this.first = first;
    this.onChange();
  }

  /** One watch per folder holding a certificate or key file; an event for one of them re-reads soon after. */
  private rewatch(): void {
    if (this.closed) return;
    const dirs = new Set<string>();
    for (const l of this.loaded.values()) for (const f of [l.pair.certFile, l.pair.keyFile]) dirs.add(dirname(f));
    for (const [dir, w] of this.watchers) if (!dirs.has(dir)) { w.close(); this.watchers.delete(dir); }
    for (const dir of dirs) {
      if (this.watchers.has(dir)) continue;
      try {
        const w = watch(dir, { persistent: false }, (_event, file) => this.changed(dir, file === null ? null : String(file)));
        w.on("error", () => { w.close(); this.watchers.delete(dir); });
        this.watchers.set(dir, w);
      } catch (err) {
        this.log.warn({ dir, err: (err as Error).message }, "cannot watch a certificate folder; relying on the poll");
      }
    }
    if (this.poller === null) {
      this.poller = setInterval(() => void this.recheck(), CERT_RELOAD_POLL_MS);
      this.poller.unref();
    }
  }

  private changed(dir: string, file: string | null): void {
    for (const [k, l] of this.loaded) {
      const p = l.pair;
      const hit = (f: string): boolean => dirname(f) === dir && (file === null || basename(f) === file);
      if (!hit(p.certFile) && !hit(p.keyFile)) continue;
      const t = this.timers.get(k);
      if (t !== undefined) clearTimeout(t);
      this.timers.set(k, setTimeout(() => {
        this.timers.delete(k);
        void this.load(k, p, false).then(() => this.index());
      }, CERT_RELOAD_DEBOUNCE_MS).unref());
    }
  }
}

/** Pairs from files (the operator's own) come before the ACME one. */
const SOURCE_RANK: Record<CertPair["source"], number> = { file: 0, acme: 1 };

function key(p: { certFile: string; keyFile: string }): string {
  return `${p.certFile}\n${p.keyFile}`;
}
