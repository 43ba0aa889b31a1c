/**
 * HTTP for the registry client: one GET with a deadline, redirects followed by hand (credentials never
 * follow a redirect to another origin), bodies read with a size cap, and the `WWW-Authenticate` and
 * `Link` headers of the Registry HTTP API v2 parsed.
 */
import { reconError, type ReconError } from "../errors.js";
import { outsideCalls } from "../../common/op-stats.js";

/** Largest body we read from a registry: tag lists of tens of thousands of tags fit. */
export const MAX_REGISTRY_BODY_BYTES = 8 * 1024 * 1024;
const MAX_REDIRECTS = 5;

export interface Challenge {
  scheme: "basic" | "bearer";
  realm?: string;
  service?: string;
  scope?: string;
}

export interface Answer {
  status: number;
  statusText: string;
  headers: Headers;
  url: URL;
  body: Buffer;
}

export function registryError(message: string, details?: unknown): ReconError {
  return reconError("RECON_ERR_REGISTRY", message, details);
}

/** GETs `url` within `timeoutMs` (headers and body together) and reads the whole (capped) body. */
export async function getCapped(url: URL, headers: Record<string, string>, timeoutMs: number, what: string): Promise<Answer> {
  const t0 = performance.now();
  const seconds = () => (performance.now() - t0) / 1000;
  try {
    const a = await getOnce(url, headers, timeoutMs, what);
    // 4xx are answers (no such tag, a token challenge); a registry failing is 5xx, 429 or no answer.
    outsideCalls.record("registry", a.status < 500 && a.status !== 429, seconds());
    return a;
  } catch (err) {
    outsideCalls.record("registry", false, seconds());
    throw err;
  }
}

async function getOnce(url: URL, headers: Record<string, string>, timeoutMs: number, what: string): Promise<Answer> {
  const signal = AbortSignal.timeout(timeoutMs);
  let current = url;
  let auth = headers.authorization;
  for (let hop = 0; ; hop++) {
    const h = { ...headers };
    if (auth) h.authorization = auth;
    else delete h.authorization;
    let res: Response;
    try {
      res = await fetch(current, { headers: h, redirect: "manual", signal });
    } catch (err) {
      throw networkError(err, current, timeoutMs, what);
    }
    const location = res.headers.get("location");
    if (res.status >= 300 && res.status < 400 && location) {
      await res.body?.cancel().catch(() => undefined);
      if (hop >= MAX_REDIRECTS) throw registryError(`the registry at ${url.origin} redirected ${what} more than ${MAX_REDIRECTS} times`);
      const next = new URL(location, current);
      if (next.protocol !== "http:" && next.protocol !== "https:") throw registryError(`the registry at ${url.origin} redirected ${what} to a ${next.protocol} URL`);
      if (next.origin !== current.origin) auth = undefined; // blob storage (S3, a CDN) gets no registry credentials
      current = next;
      continue;
    }
    let body: Buffer;
    try {
      body = await readCapped(res, MAX_REGISTRY_BODY_BYTES);
    } catch (err) {
      if ((err as Error).message === "too large") throw registryError(`the registry at ${url.origin} sent more than ${MAX_REGISTRY_BODY_BYTES} bytes for ${what}`);
      throw networkError(err, current, timeoutMs, what);
    }
    return { status: res.status, statusText: res.statusText, headers: res.headers, url: current, body };
  }
}

/** Parses JSON that must be an object; anything else is a registry answering garbage. */
export function jsonObject(a: Answer, what: string): Record<string, unknown> {
  let v: unknown;
  try {
    v = JSON.parse(a.body.toString("utf8"));
  } catch {
    throw registryError(`the registry at ${a.url.origin} answered ${what} with something that is not JSON (${describeBody(a)})`);
  }
  if (v === null || typeof v !== "object" || Array.isArray(v)) {
    throw registryError(`the registry at ${a.url.origin} answered ${what} with JSON of the wrong shape (${describeBody(a)})`);
  }
  return v as Record<string, unknown>;
}

/** `{"errors":[{"code":"NAME_UNKNOWN","message":"…"}]}` → "NAME_UNKNOWN: …", when the body has it. */
export function registryErrorCode(a: Answer): string {
  try {
    const v = JSON.parse(a.body.toString("utf8")) as { errors?: { code?: unknown; message?: unknown }[] };
    const e = Array.isArray(v.errors) ? v.errors[0] : undefined;
    if (e && typeof e.code === "string") return printable(`${e.code}${typeof e.message === "string" ? `: ${e.message}` : ""}`, 160);
  } catch {
    /* not the registry's error format */
  }
  return "";
}

/** Parses `WWW-Authenticate: Bearer realm="…",service="…",scope="…"` (or Basic). */
export function parseChallenge(header: string | null): Challenge | null {
  if (!header) return null;
  const m = /^\s*(Basic|Bearer)\b(.*)$/i.exec(header);
  if (!m) return null;
  const params: Record<string, string> = {};
  for (const p of m[2]!.matchAll(/([A-Za-z_]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))/g)) {
    params[p[1]!.toLowerCase()] = (p[2] ?? p[3] ?? "").replace(/\\(.)/g, "$1");
  }
  const scheme = m[1]!.toLowerCase() as Challenge["scheme"];
  return {
    scheme,
    ...(params.realm ? { realm: params.realm } : {}),
    ...(params.service ? { service: params.service } : {}),
    ...(params.scope ? { scope: params.scope } : {}),
  };
}

/** The `rel="next"` target of a `Link` header, resolved against the page it came with. */
export function nextLink(header: string | null, base: URL): URL | null {
  if (!header) return null;
  for (const part of header.split(/,(?=\s*<)/)) {
    const m = /^\s*<([^>]*)>\s*;(.*)$/.exec(part);
    if (m && /(^|;)\s*rel\s*=\s*"?next"?\s*(;|$)/i.test(m[2]!)) return new URL(m[1]!, base);
  }
  return null;
}

/** A short, printable excerpt of a body for an error message. */
export function describeBody(a: Answer): string {
  const type = a.headers.get("content-type") ?? "no content type";
  const text = printable(a.body.subarray(0, 200).toString("utf8"), 80);
  return `${type}${text ? `: ${JSON.stringify(text)}` : ", empty"}`;
}

function printable(s: string, max: number): string {
  const clean = s.replace(/[^\P{Cc}]+/gu, " ").trim();
  return clean.length > max ? clean.slice(0, max) + "…" : clean;
}

async function readCapped(res: Response, max: number): Promise<Buffer> {
  const declared = Number(res.headers.get("content-length") ?? "0");
  if (declared > max) {
    await res.body?.cancel().catch(() => undefined);
    throw new Error("too large");
  }
  if (!res.body) return Buffer.alloc(0);
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = res.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > max) {
      await reader.cancel().catch(() => undefined);
      throw new Error("too large");
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks);
}

function networkError(err: unknown, url: URL, timeoutMs: number, what: string): ReconError {
  const e = err as Error & { cause?: { code?: string; message?: string } };
  if (e.name === "TimeoutError" || e.name === "AbortError") {
    return registryError(`the registry at ${url.origin} did not answer within ${timeoutMs} ms (asking for ${what})`);
  }
  const cause = e.cause?.code ?? e.cause?.message ?? e.message;
  return registryError(`the registry at ${url.origin} does not answer (${cause}; asking for ${what})`);
}
