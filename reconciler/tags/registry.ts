/**
 * Tags from a registry (Registry HTTP API v2): the tag list with pagination, anonymous, basic or
 * token auth (the flow Docker Hub, GHCR and Harbor use), and each recent tag's creation time from its
 * image config. Results are cached briefly. A registry that cannot be read is an error, never an empty
 * list that looks real. Credentials and tokens never reach a log line or an error message.
 */
import { createHash } from "node:crypto";
import type { Logger } from "pino";
import { tagSchema } from "../../specs/common.js";
import type { TagInfo } from "../../specs/api/tags.js";
import {
  getCapped, jsonObject, nextLink, parseChallenge, registryError, registryErrorCode, describeBody,
  type Answer, type Challenge,
} from "./registry-http.js";

export const DEFAULT_REGISTRY_CACHE_MS = 10_000;
export const DEFAULT_REGISTRY_TIMEOUT_MS = 10_000;
/** Tags asked for per page (`?n=`). */
export const DEFAULT_REGISTRY_PAGE_SIZE = 100;
/** Only this many of the newest tags (by name) get a creation time: two requests each. */
export const CREATED_TIME_TAGS = 20;
export const CREATED_TIME_CONCURRENCY = 4;
const MAX_PAGES = 500;
const MAX_DIGEST_CACHE = 2000;
/** Tokens are renewed this long before they expire. */
const TOKEN_EARLY_MS = 5_000;

export const MANIFEST_ACCEPT = [
  "application/vnd.docker.distribution.manifest.v2+json",
  "application/vnd.oci.image.manifest.v1+json",
  "application/vnd.oci.image.index.v1+json",
  "application/vnd.docker.distribution.manifest.list.v2+json",
].join(", ");

const TAG = new RegExp(tagSchema.pattern);
const DIGEST = /^sha256:[a-f0-9]{64}$|^sha512:[a-f0-9]{128}$/;
/** A repository path inside a registry (the distribution spec's grammar). */
const NAME = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$/;

/** A tag and when its image was built; its schema is the API contract (specs/api/tags.ts). */
export type { TagInfo };

export interface RegistryClientOptions {
  /** The registry's base URL, like http://127.0.0.1:5000. */
  url: string;
  /** The image repository as in cluster.yaml (127.0.0.1:5000/switchyard-demo/app); the host part is dropped. */
  repository: string;
  username?: string;
  password?: string;
  /** How long a tag list is reused (default 10 s). */
  cacheMs?: number;
  /** Deadline for each request to the registry (default 10 s). */
  timeoutMs?: number;
  /** Tags per page (default 100). */
  pageSize?: number;
  logger?: Logger;
}

export class RegistryClient {
  /** The repository's path inside the registry. */
  readonly name: string;
  private readonly base: URL;
  private cached: { at: number; tags: TagInfo[] } | undefined;
  private loading: Promise<TagInfo[]> | undefined;
  /** What the registry asked for the last time it said 401. */
  private challenge: Challenge | undefined;
  private token: { value: string; expiresAt: number } | undefined;
  private tokenLoading: Promise<{ value: string; expiresAt: number }> | undefined;
  private createdByDigest = new Map<string, string | null>();

  constructor(private readonly o: RegistryClientOptions) {
    const base = new URL(o.url);
    if (base.protocol !== "http:" && base.protocol !== "https:") throw new Error(`registry url ${o.url} must be http:// or https://`);
    if (base.username || base.password) throw new Error("put registry credentials in username and passwordFile, not in the URL");
    this.base = base;
    this.name = registryPath(o.repository, base);
  }

  /** The repository's tags, newest first. Cached for `cacheMs`; concurrent callers share one load. */
  tags(): Promise<TagInfo[]> {
    const cacheMs = this.o.cacheMs ?? DEFAULT_REGISTRY_CACHE_MS;
    if (this.cached && Date.now() - this.cached.at < cacheMs) return Promise.resolve(this.cached.tags);
    this.loading ??= this.load()
      .then((tags) => {
        this.cached = { at: Date.now(), tags };
        return tags;
      })
      .finally(() => {
        this.loading = undefined;
      });
    return this.loading;
  }

  /** Forgets the cached tag list (after a push, say). */
  invalidate(): void {
    this.cached = undefined;
  }

  private async load(): Promise<TagInfo[]> {
    const names = (await this.listTags()).sort(byNameDesc);
    const created = new Map<string, string | null>();
    await eachLimited(names.slice(0, CREATED_TIME_TAGS), CREATED_TIME_CONCURRENCY, async (tag) => {
      created.set(tag, await this.createdOf(tag));
    });
    const all = names.map((tag) => Object.freeze({ tag, created: created.get(tag) ?? null }));
    const known = all.filter((t) => t.created !== null).sort((a, b) => Date.parse(b.created!) - Date.parse(a.created!) || byNameDesc(a.tag, b.tag));
    return Object.freeze([...known, ...all.filter((t) => t.created === null)]) as TagInfo[];
  }

  private async listTags(): Promise<string[]> {
    const pageSize = Math.max(1, Math.floor(this.o.pageSize ?? DEFAULT_REGISTRY_PAGE_SIZE));
    let url: URL | null = this.url(`tags/list?n=${pageSize}`);
    const seen = new Set<string>();
    const pages = new Set<string>();
    while (url) {
      if (pages.has(url.href) || pages.size >= MAX_PAGES) throw registryError(`the registry at ${this.base.origin} keeps paging the tag list of ${this.name} (${pages.size} pages); stopped`);
      pages.add(url.href);
      const a = await this.get(url, "application/json", "the tag list");
      const body = jsonObject(a, `the tag list of ${this.name}`);
      const tags = body.tags ?? null;
      if (tags !== null && !Array.isArray(tags)) throw registryError(`the registry at ${this.base.origin} answered the tag list of ${this.name} without a tags array (${describeBody(a)})`);
      for (const t of tags ?? []) {
        if (typeof t !== "string" || !TAG.test(t)) throw registryError(`the registry at ${this.base.origin} listed ${JSON.stringify(t).slice(0, 80)}, which is not a tag`);
        seen.add(t);
      }
      url = nextLink(a.headers.get("link"), a.url);
      if (url && url.origin !== this.base.origin) throw registryError(`the registry at ${this.base.origin} sent the next page of tags to another origin (${url.origin}); not followed`);
    }
    return [...seen];
  }

  /**
   * The manifest digest the tag points at now (what `docker pull` would fetch): the registry's
   * Docker-Content-Digest, else the hash of the manifest it served.
   */
  async digestOf(tag: string): Promise<string> {
    if (!TAG.test(tag)) throw registryError(`${JSON.stringify(tag.slice(0, 80))} is not a tag`);
    const a = await this.get(this.url(`manifests/${encodeURIComponent(tag)}`), MANIFEST_ACCEPT, `the manifest of ${tag}`);
    const header = a.headers.get("docker-content-digest");
    const digest = header ?? `sha256:${createHash("sha256").update(a.body).digest("hex")}`;
    if (!/^sha256:[a-f0-9]{64}$/.test(digest)) throw registryError(`the registry at ${this.base.origin} named the manifest of ${tag} ${JSON.stringify(digest.slice(0, 80))}, which is not a sha256 digest`);
    return digest;
  }

  /** The image's creation time; null when it cannot be had cheaply (errors are logged, not thrown). */
  private async createdOf(tag: string): Promise<string | null> {
    try {
      let a = await this.get(this.url(`manifests/${encodeURIComponent(tag)}`), MANIFEST_ACCEPT, `the manifest of ${tag}`);
      let m = jsonObject(a, `the manifest of ${tag}`);
      if (isIndex(m, a)) {
        const child = pickPlatform(m);
        if (!child) return null;
        a = await this.get(this.url(`manifests/${child}`), MANIFEST_ACCEPT, `the manifest of ${tag}`);
        m = jsonObject(a, `the manifest of ${tag}`);
      }
      const digest = (m.config as { digest?: unknown } | undefined)?.digest;
      if (typeof digest !== "string" || !DIGEST.test(digest)) return null;
      if (this.createdByDigest.has(digest)) return this.createdByDigest.get(digest)!;
      const config = jsonObject(await this.get(this.url(`blobs/${digest}`), "application/json, */*", `the image config of ${tag}`), `the image config of ${tag}`);
      const created = typeof config.created === "string" && !Number.isNaN(Date.parse(config.created)) ? new Date(config.created).toISOString() : null;
      if (this.createdByDigest.size >= MAX_DIGEST_CACHE) this.createdByDigest.delete(this.createdByDigest.keys().next().value!);
      this.createdByDigest.set(digest, created);
      return created;
    } catch (err) {
      this.o.logger?.warn({ repository: this.name, tag, err: (err as Error).message }, "cannot read a tag's creation time");
      return null;
    }
  }

  /** GET with the auth the registry asks for: anonymous first, then basic or a bearer token on 401. */
  private async get(url: URL, accept: string, what: string): Promise<Answer> {
    let a = await this.send(url, accept, what, await this.authorization());
    if (a.status === 401) {
      const ch = parseChallenge(a.headers.get("www-authenticate"));
      if (!ch) throw registryError(`the registry at ${this.base.origin} answered 401 for ${what} without saying how to authenticate`);
      const retried = this.challenge !== undefined;
      this.challenge = ch;
      this.token = undefined;
      if (ch.scheme === "basic" && !this.hasCredentials()) throw registryError(`the registry at ${this.base.origin} needs a username and password (set spec.image.registry.username and passwordFile in cluster.yaml)`);
      if (!retried || ch.scheme === "bearer") a = await this.send(url, accept, what, await this.authorization());
    }
    if (a.status === 401 || a.status === 403) {
      const who = this.hasCredentials() ? `the credentials of user ${this.o.username}` : "anonymous access";
      throw registryError(`the registry at ${this.base.origin} refused ${who} for ${this.name} (${a.status}${withCode(a)})`);
    }
    if (a.status === 404) throw registryError(`the registry at ${this.base.origin} does not know ${what} of ${this.name} (404${withCode(a)}); check spec.image.repository in cluster.yaml`);
    if (a.status < 200 || a.status >= 300) {
      throw registryError(`the registry at ${this.base.origin} answered ${a.status} ${a.statusText}${withCode(a)} for ${what}${a.status >= 500 ? "; it may be down or overloaded, try again shortly" : ""}`);
    }
    return a;
  }

  private send(url: URL, accept: string, what: string, authorization: string | undefined): Promise<Answer> {
    return getCapped(url, { accept, ...(authorization ? { authorization } : {}) }, this.o.timeoutMs ?? DEFAULT_REGISTRY_TIMEOUT_MS, what);
  }

  /** The Authorization header for the registry, fetching a bearer token when one is due. */
  private async authorization(): Promise<string | undefined> {
    const ch = this.challenge;
    if (!ch) return undefined;
    if (ch.scheme === "basic") return this.basic();
    if (!this.token || Date.now() >= this.token.expiresAt) {
      // Concurrent requests share one token request.
      this.tokenLoading ??= this.fetchToken(ch).finally(() => {
        this.tokenLoading = undefined;
      });
      this.token = await this.tokenLoading;
    }
    return `Bearer ${this.token.value}`;
  }

  private async fetchToken(ch: Challenge): Promise<{ value: string; expiresAt: number }> {
    if (!ch.realm) throw registryError(`the registry at ${this.base.origin} asked for a token without naming a token service (realm)`);
    let realm: URL;
    try {
      realm = new URL(ch.realm);
    } catch {
      throw registryError(`the registry at ${this.base.origin} named a token service that is not a URL`);
    }
    if (realm.protocol !== "https:" && !(realm.protocol === "http:" && this.base.protocol === "http:")) {
      throw registryError(`the registry at ${this.base.origin} named a token service at ${realm.protocol}//${realm.host}; only https (or http for an http registry) is used`);
    }
    if (ch.service) realm.searchParams.set("service", ch.service);
    realm.searchParams.set("scope", ch.scope ?? `repository:${this.name}:pull`);
    const basic = this.basic();
    const a = await getCapped(realm, { accept: "application/json", ...(basic ? { authorization: basic } : {}) }, this.o.timeoutMs ?? DEFAULT_REGISTRY_TIMEOUT_MS, "a token");
    if (a.status === 401 || a.status === 403) {
      const who = this.hasCredentials() ? `the credentials of user ${this.o.username}` : "anonymous access";
      throw registryError(`the token service at ${realm.origin} refused ${who} for ${this.name} (${a.status}${withCode(a)})`);
    }
    if (a.status < 200 || a.status >= 300) throw registryError(`the token service at ${realm.origin} answered ${a.status} ${a.statusText}${withCode(a)}`);
    const body = jsonObject(a, "a token request");
    const value = typeof body.token === "string" && body.token ? body.token : body.access_token;
    if (typeof value !== "string" || !/^[\x21-\x7e]{1,8192}$/.test(value)) throw registryError(`the token service at ${realm.origin} answered without a usable token`);
    const seconds = typeof body.expires_in === "number" && body.expires_in > 0 ? body.expires_in : 60;
    return { value, expiresAt: Date.now() + Math.max(1000, seconds * 1000 - TOKEN_EARLY_MS) };
  }

  private basic(): string | undefined {
    if (!this.hasCredentials()) return undefined;
    return `Basic ${Buffer.from(`${this.o.username}:${this.o.password}`).toString("base64")}`;
  }

  private hasCredentials(): boolean {
    return this.o.username !== undefined && this.o.password !== undefined;
  }

  private url(rest: string): URL {
    return new URL(`${this.base.pathname.replace(/\/+$/, "")}/v2/${this.name}/${rest}`, this.base);
  }
}

/**
 * The repository's path inside its registry: `127.0.0.1:5000/shop/app` → `shop/app`. The first part is
 * a host when it has a dot or a port or is localhost; Docker Hub's official images live under library/.
 */
export function registryPath(repository: string, registryUrl?: URL): string {
  const parts = repository.split("/");
  if (parts.length > 1 && /[.:]|^localhost$/.test(parts[0]!)) parts.shift();
  let name = parts.join("/");
  if (!name.includes("/") && registryUrl && /(^|\.)docker\.io$/.test(registryUrl.hostname)) name = `library/${name}`;
  if (!NAME.test(name) || name.length > 255) throw new Error(`${JSON.stringify(repository)} is not an image repository (like 127.0.0.1:5000/shop/app)`);
  return name;
}

const collator = new Intl.Collator("en", { numeric: true });

/** Tag names in descending natural order: v10 before v9 before v2. */
export function byNameDesc(a: string, b: string): number {
  return collator.compare(b, a) || (a < b ? 1 : a > b ? -1 : 0);
}

function isIndex(m: Record<string, unknown>, a: Answer): boolean {
  const type = typeof m.mediaType === "string" ? m.mediaType : (a.headers.get("content-type") ?? "");
  return /manifest\.list|image\.index/.test(type) || (Array.isArray(m.manifests) && m.config === undefined);
}

/** The child manifest of an index to date the image by: linux/amd64, else the first real platform. */
function pickPlatform(index: Record<string, unknown>): string | null {
  const list = Array.isArray(index.manifests) ? (index.manifests as { digest?: unknown; platform?: { os?: unknown; architecture?: unknown } }[]) : [];
  const usable = list.filter((m) => typeof m.digest === "string" && DIGEST.test(m.digest) && m.platform?.os !== "unknown");
  const pick = usable.find((m) => m.platform?.os === "linux" && m.platform.architecture === "amd64") ?? usable[0];
  return pick ? (pick.digest as string) : null;
}

function withCode(a: Answer): string {
  const code = registryErrorCode(a);
  return code ? ` ${code}` : "";
}

async function eachLimited<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await fn(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}
