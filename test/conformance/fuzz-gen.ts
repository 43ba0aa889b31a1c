/**
 * Seeded generators for the router fuzzer: a well-formed request (or upstream response), then zero to three
 * mutations drawn from the smuggling classes of the corpus. Case `i` of seed `s` is always the same bytes.
 */

export type Rng = () => number;

/** mulberry32: small, fast, good enough to spread cases. */
export function rngFor(seed: number, index: number): Rng {
  let a = (Math.imul(seed >>> 0, 0x9e3779b1) + Math.imul(index, 0x85ebca6b) + 0x6d2b79f5) >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const pick = <T>(r: Rng, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
const int = (r: Rng, lo: number, hi: number): number => lo + Math.floor(r() * (hi - lo + 1));

const METHODS = ["GET", "GET", "POST", "POST", "PUT", "HEAD", "DELETE", "PATCH", "OPTIONS"];
const HOSTS = ["shop.test", "blue.shop.test", "other.test", "shop.test:8080", "preview.shop.test"];
const EXTRA = ["User-Agent: fuzz/1.0", "Accept: */*", "Cookie: a=b; c=d", "X-Custom: v", "Accept-Encoding: gzip", "X-Empty:", "Cache-Control: no-cache", "X-Latin: caf\xe9"];
const TE_VALUES = ["chunked", "Chunked", " chunked", "chunked ", "xchunked", "chunked, identity", "identity", "gzip, chunked", "chunked, chunked", "chunked\x0b", '"chunked"', "\tchunked"];
const CONN = ["content-length", "transfer-encoding", "host", "close", "keep-alive", "x-custom", "upgrade", "Content-Length, close"];
const CTL = ["\x00", "\x01", "\x0b", "\x0c", "\x1f", "\x7f", "\r", "\n", "\t", " ", "\x80", "\xff"];
const BODY_CHARS = "abcdefghijklmnopqrstuvwxyz0123456789 \r\n:\x00\xff";

export interface FuzzRequest {
  raw: string;
  method: string;
  /** Mutations applied, for the report. */
  mutations: string[];
}

/** Case `id` as a request: `/f/<id>` is in its target whatever the mutations do. */
export function genRequest(r: Rng, id: number): FuzzRequest {
  const method = pick(r, METHODS);
  const mutations: string[] = [];
  const host = pick(r, HOSTS);
  let target = `/f/${id}/${pick(r, ["", "a", "a/b", "x.html", "%20"])}${r() < 0.3 ? `?q=${int(r, 0, 99)}` : ""}`;
  if (r() < 0.05) { target = `http://${host}${target}`; mutations.push("absolute-form"); }
  let version = "HTTP/1.1";
  const headers: string[] = [`Host: ${host}`];
  for (let i = int(r, 0, 3); i > 0; i--) headers.push(pick(r, EXTRA));
  const hasBody = method === "POST" || method === "PUT" || method === "PATCH" || r() < 0.05;
  let body = "";
  let chunked = false;
  const chunks: string[] = [];
  const trailers: string[] = [];
  if (hasBody) {
    const n = r() < 0.2 ? 0 : int(r, 1, 200);
    for (let i = 0; i < n; i++) body += BODY_CHARS[Math.floor(r() * BODY_CHARS.length)];
    chunked = r() < 0.45;
    if (chunked) {
      let at = 0;
      while (at < body.length) {
        const k = Math.min(body.length - at, int(r, 1, 80));
        chunks.push(`${k.toString(16)}\r\n${body.slice(at, at + k)}\r\n`);
        at += k;
      }
      headers.push("Transfer-Encoding: chunked");
    } else headers.push(`Content-Length: ${body.length}`);
  }
  let lastChunk = "0\r\n";
  const muts = r() < 0.35 ? 0 : int(r, 1, 3);
  for (let m = 0; m < muts; m++) {
    if (headers.length === 0) headers.push("X-Pad: 1");
    const kind = int(r, 0, 15);
    switch (kind) {
      case 0: { // Content-Length value variants
        const n = body.length;
        const v = pick(r, [` ${n}`, `${n} `, `0${n}`, `+${n}`, `${n}, ${n}`, `${n},${n}`, `-${n}`, `0x${n.toString(16)}`, `${n}\x00`, `${n + 1}`, `${Math.max(0, n - 1)}`]);
        const i = headers.findIndex((h) => h.startsWith("Content-Length"));
        if (i >= 0) headers[i] = `Content-Length: ${v}`; else headers.push(`Content-Length: ${v}`);
        mutations.push(`CL ${JSON.stringify(v)}`);
        break;
      }
      case 1: headers.push(`Content-Length: ${pick(r, [body.length, 0, body.length + 5])}`); mutations.push("second CL"); break;
      case 2: { const v = pick(r, TE_VALUES); headers.push(`Transfer-Encoding: ${v}`); mutations.push(`TE ${JSON.stringify(v)}`); break; }
      case 3: { const v = pick(r, CONN); headers.push(`Connection: ${v}`); mutations.push(`Connection ${v}`); break; }
      case 4: { const i = int(r, 0, headers.length - 1); headers[i] += `\r\n${pick(r, [" ", "\t"])}folded`; mutations.push("obs-fold"); break; }
      case 5: { const i = int(r, 0, headers.length - 1); headers[i] += pick(r, ["\n", "\r"]) + "X-Bare: 1"; mutations.push("bare CR/LF"); break; }
      case 6: { const i = int(r, 0, headers.length - 1); const h = headers[i]!; const at = int(r, 0, h.length); const c = pick(r, CTL); headers[i] = h.slice(0, at) + c + h.slice(at); mutations.push(`ctl 0x${c.charCodeAt(0).toString(16)}`); break; }
      case 7: { const i = int(r, 0, headers.length - 1); headers[i] = headers[i]!.replace(":", pick(r, [" :", "\t:"])); mutations.push("ws before colon"); break; }
      case 8: if (chunked && chunks.length > 0) {
        const i = int(r, 0, chunks.length - 1);
        const v = pick(r, ["lead0", "upper", "ext", "ext-q", "ext-bad", "bare-lf", "space"]);
        const c = chunks[i]!;
        const nl = c.indexOf("\r\n");
        const size = c.slice(0, nl);
        const rest = c.slice(nl);
        chunks[i] = v === "lead0" ? `000${size}${rest}` : v === "upper" ? `${size.toUpperCase()}${rest}` : v === "ext" ? `${size};a=b${rest}`
          : v === "ext-q" ? `${size};a="x;y"${rest}` : v === "ext-bad" ? `${size};a\rb${rest}` : v === "bare-lf" ? `${size}\n${rest.slice(2)}` : `${size} ${rest}`;
        mutations.push(`chunk ${v}`);
      } break;
      case 9: { const t = pick(r, ["X-Trailer: 1", "Content-Length: 99", "Transfer-Encoding: chunked", "Host: evil.test", "bad trailer"]); trailers.push(t); mutations.push(`trailer ${t}`); break; }
      case 10: version = "HTTP/1.0"; mutations.push("HTTP/1.0"); break;
      case 11: {
        const v = pick(r, ["drop", "dup", "comma", "space", "at"]);
        if (!headers.some((h) => h.startsWith("Host"))) break;
        if (v === "drop") headers.splice(headers.findIndex((h) => h.startsWith("Host")), 1);
        else if (v === "dup") headers.push("Host: evil.test");
        else headers[headers.findIndex((h) => h.startsWith("Host"))] = v === "comma" ? "Host: shop.test, evil.test" : v === "space" ? "Host: shop test" : "Host: evil@shop.test";
        mutations.push(`Host ${v}`);
        break;
      }
      case 12: headers.push("Upgrade: websocket", "Connection: Upgrade"); mutations.push("upgrade"); break;
      case 13: headers.push("Expect: 100-continue"); mutations.push("expect"); break;
      case 14: lastChunk = pick(r, ["00\r\n", "0;x=y\r\n", "0\n", "000000000000000000\r\n"]); mutations.push(`last chunk ${JSON.stringify(lastChunk)}`); break;
      default: headers.push(`X-Long: ${"l".repeat(int(r, 100, 20_000))}`); mutations.push("long header");
    }
  }
  const head = `${method} ${target} ${version}\r\n${headers.map((h) => h + "\r\n").join("")}\r\n`;
  const payload = !hasBody ? "" : chunked ? chunks.join("") + lastChunk + trailers.map((t) => t + "\r\n").join("") + "\r\n" : body;
  return { raw: head + payload, method, mutations };
}

export interface FuzzResponse {
  raw: string;
  /** The upstream closes after it. */
  close: boolean;
  mutations: string[];
}

/** An upstream answer for case `id` (its body names the id), with mutations of its framing. */
export function genResponse(r: Rng, id: number): FuzzResponse {
  const mutations: string[] = [];
  const status = pick(r, [200, 200, 201, 204, 304, 404, 500]);
  const body = status === 204 || status === 304 ? "" : `resp ${id} ` + "z".repeat(int(r, 0, 300));
  const headers = ["Content-Type: text/plain"];
  let framing = pick(r, ["cl", "cl", "chunked", "close"]);
  let close = framing === "close";
  let payload = body;
  if (framing === "cl") headers.push(`Content-Length: ${body.length}`);
  else if (framing === "chunked") {
    headers.push("Transfer-Encoding: chunked");
    payload = body.length > 0 ? `${body.length.toString(16)}\r\n${body}\r\n0\r\n\r\n` : "0\r\n\r\n";
  }
  let pre = "";
  let post = "";
  const muts = r() < 0.35 ? 0 : int(r, 1, 2);
  for (let m = 0; m < muts; m++) {
    switch (int(r, 0, 9)) {
      case 0: headers.push(`Transfer-Encoding: ${pick(r, ["chunked", "gzip, chunked", "gzip", "xchunked"])}`); mutations.push("TE added"); close = true; break;
      case 1: headers.push(`Content-Length: ${pick(r, [body.length, 0, body.length + 3])}`); mutations.push("CL added"); break;
      case 2: headers.push(`Connection: ${pick(r, CONN)}`); mutations.push("Connection"); break;
      case 3: post = `HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nhacked`; mutations.push("extra response after"); break;
      case 4: pre = "HTTP/1.1 100 Continue\r\n\r\n"; mutations.push("1xx first"); break;
      case 5: { const i = int(r, 0, headers.length - 1); headers[i] += "\r\n folded"; mutations.push("obs-fold"); close = true; break; }
      case 6: { const i = int(r, 0, headers.length - 1); const h = headers[i]!; const at = int(r, 0, h.length); headers[i] = h.slice(0, at) + pick(r, CTL) + h.slice(at); mutations.push("ctl"); close = true; break; }
      case 7: if (framing === "chunked") { payload = payload.replace("\r\n", pick(r, ["\n", " \r\n", ";a=b\r\n", "\r\r\n"])); mutations.push("chunk size line"); close = true; } break;
      case 8: framing = "close"; close = true; mutations.push("close after"); break;
      default: headers.push(`X-Long: ${"l".repeat(int(r, 100, 70_000))}`); mutations.push("long header");
    }
  }
  const raw = `${pre}HTTP/1.1 ${status} Whatever\r\n${headers.map((h) => h + "\r\n").join("")}\r\n${payload}${post}`;
  return { raw, close, mutations };
}
