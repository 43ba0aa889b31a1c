/**
 * Parses a client's HTTP/1.x request head and builds the head we send upstream.
 *
 * Strict by design, because the router's reading of a request must be the only possible reading: the
 * whole head is checked by one regular expression (token method and header names, a visible-ASCII target,
 * no whitespace before a colon, no folded lines, no bare CR or LF, no control bytes), Content-Length must be
 * digits and agree with any repeat, Transfer-Encoding must be exactly "chunked" and never comes with
 * Content-Length, Host must look like a host.
 *
 * Framing belongs to the router: the client's Host, Content-Length and Transfer-Encoding lines are never
 * forwarded as they came; the upstream head carries our own `host:` (the absolute-form authority when there
 * is one) and our own `content-length:` or `transfer-encoding: chunked` (a chunked body is re-encoded by
 * the client connection). A Connection header that nominates one of those three is refused: hop-by-hop
 * removal may drop headers, never framing.
 *
 * Other hop-by-hop headers are dropped (Connection, Keep-Alive, TE, Trailer, Upgrade, Proxy-Connection and
 * every header the Connection header names); X-Forwarded-For is appended to; X-Forwarded-Proto and -Host are
 * set by us whatever the client sent. Expect is forwarded (the upstream's 100 Continue comes back through us).
 */
import { dropHeaders, is, parseLength, value } from "./http-text.js";

export const REQ_NONE = 0;
export const REQ_LENGTH = 1;
export const REQ_CHUNKED = 2;


/** A Host value or an absolute-form authority: a reg-name or IPv4 address, or a bracketed IPv6 literal, and an optional port. */
const HOST_RE = /^(?:[A-Za-z0-9\-._~!$&'()*+,;=%]+|\[[0-9A-Fa-f:.]+\])(?::[0-9]{0,5})?$/;
/** Headers a Connection header may not nominate: removing them would change how the upstream frames or routes. */
const NEVER_HOP = new Set(["host", "content-length", "transfer-encoding"]);

const TOKEN = "[!#$%&'*+\\-.^_`|~0-9A-Za-z]+";
// The target is visible ASCII without "#": clients percent-encode everything else, and a fragment is never sent.
const HEAD_RE = new RegExp(`^${TOKEN} [\\x21-\\x22\\x24-\\x7e]+ HTTP/1\\.[01]\\r\\n(?:${TOKEN}:[\\t\\x20-\\x7e\\x80-\\xff]*\\r\\n)*$`);

/** Reused for every request of a connection; `parse` overwrites every field. */
export class RequestHead {
  method = "";
  /** Path and query in origin form ("/a?b"); "*" for OPTIONS *. */
  path = "";
  host: string | undefined = undefined;
  http10 = false;
  /** The client wants the connection kept open after this exchange. */
  keepAlive = true;
  /** The Upgrade header's value when the request asks to switch protocols (WebSocket). */
  upgrade: string | undefined = undefined;
  framing = REQ_NONE;
  contentLength = 0;
  /** The head to send upstream (request line, headers, blank line). */
  upstreamHead = "";
  errorStatus = 0;
  error = "";

  /** Parses `buf[0, end)` where `end` is the index of the CRLF CRLF; false with errorStatus/error when refused. `secure`: it came over TLS. */
  parse(buf: Buffer, end: number, remoteAddress: string, secure = false): boolean {
    // Through the CRLF that ends the last header line: every line of `text` ends in CRLF.
    const text = buf.toString("latin1", 0, end + 2);
    if (!HEAD_RE.test(text)) return this.refuse(400, "malformed request\n");
    const sp1 = text.indexOf(" ");
    const sp2 = text.indexOf(" ", sp1 + 1);
    const lineEnd = text.indexOf("\r\n");
    this.method = text.slice(0, sp1);
    let target = text.slice(sp1 + 1, sp2);
    this.http10 = text.charCodeAt(lineEnd - 1) === 48 /* HTTP/1.0 */;
    let authority: string | undefined;
    if (target.charCodeAt(0) !== 47 /* / */) {
      // absolute-form ("GET http://host/x") is allowed by HTTP/1.1; its authority overrides Host.
      const m = /^https?:\/\/([^/?]*)(.*)$/i.exec(target);
      if (m !== null) {
        if (!HOST_RE.test(m[1]!)) return this.refuse(400, "bad authority in the request target\n");
        authority = m[1]!;
        target = m[2] === "" ? "/" : m[2]!.charCodeAt(0) === 47 ? m[2]! : "/" + m[2]!;
      } else if (target !== "*" || this.method !== "OPTIONS") return this.refuse(400, "bad request target\n");
    }
    this.path = target;
    this.upgrade = undefined;
    this.framing = REQ_NONE;
    this.contentLength = 0;

    let host: string | undefined;
    let hosts = 0;
    let xff: string | undefined;
    let te: string | undefined;
    let cl: string | undefined;
    let connection: string | undefined;
    let upgrade: string | undefined;
    let kept = "";
    let pos = lineEnd + 2;
    const stop = text.length;
    while (pos < stop) {
      const next = text.indexOf("\r\n", pos);
      const colon = text.indexOf(":", pos);
      const nameLen = colon - pos;
      let keep = true;
      switch (nameLen) {
        case 2: // TE
          if (is(text, pos, "te")) keep = false;
          break;
        case 4: // Host
          if (is(text, pos, "host")) { host = value(text, colon, next); hosts++; keep = false; }
          break;
        case 7: // Upgrade, Trailer
          if (is(text, pos, "upgrade")) { upgrade = value(text, colon, next); keep = false; }
          else if (is(text, pos, "trailer")) keep = false;
          break;
        case 10: // Connection, Keep-Alive
          if (is(text, pos, "connection")) {
            const v = value(text, colon, next);
            connection = connection === undefined ? v : `${connection}, ${v}`;
            keep = false;
          } else if (is(text, pos, "keep-alive")) keep = false;
          break;
        case 14: // Content-Length
          if (is(text, pos, "content-length")) {
            const v = value(text, colon, next);
            if (cl !== undefined && v !== cl) return this.refuse(400, "conflicting Content-Length headers\n");
            cl = v;
            keep = false;
          }
          break;
        case 15: // X-Forwarded-For
          if (is(text, pos, "x-forwarded-for")) {
            const v = value(text, colon, next);
            xff = xff === undefined ? v : `${xff}, ${v}`;
            keep = false;
          }
          break;
        case 16: // X-Forwarded-Host, Proxy-Connection
          if (is(text, pos, "x-forwarded-host") || is(text, pos, "proxy-connection")) keep = false;
          break;
        case 17: // Transfer-Encoding, X-Forwarded-Proto
          if (is(text, pos, "transfer-encoding")) {
            const v = value(text, colon, next);
            te = te === undefined ? v : `${te}, ${v}`;
            keep = false;
          } else if (is(text, pos, "x-forwarded-proto")) keep = false;
          break;
      }
      if (keep) kept += text.slice(pos, next + 2);
      pos = next + 2;
    }

    if (hosts > 1) return this.refuse(400, "more than one Host header\n");
    if (host === undefined && authority === undefined) return this.refuse(400, "missing Host header\n");
    if (host !== undefined && host !== "" && !HOST_RE.test(host)) return this.refuse(400, "bad Host header\n");
    if (authority !== undefined) host = authority;
    this.host = host;

    let keepAlive = !this.http10;
    let upgradeAsked = false;
    if (connection !== undefined) {
      const tokens = connection.toLowerCase();
      if (tokens === "keep-alive") keepAlive = true;
      else if (tokens === "close") keepAlive = false;
      else {
        const drop: string[] = [];
        for (const raw of tokens.split(",")) {
          const t = raw.trim();
          if (t === "close") keepAlive = false;
          else if (t === "keep-alive") keepAlive = true;
          else if (t === "upgrade") upgradeAsked = true;
          else if (NEVER_HOP.has(t)) return this.refuse(400, `Connection may not name ${t}\n`);
          else if (t !== "") drop.push(t);
        }
        if (drop.length > 0) kept = dropHeaders(kept, drop);
      }
    }
    this.keepAlive = keepAlive;
    if (upgradeAsked && upgrade !== undefined) this.upgrade = upgrade;

    let framingLine = "";
    if (te !== undefined) {
      if (cl !== undefined) return this.refuse(400, "both Transfer-Encoding and Content-Length\n");
      if (this.http10) return this.refuse(400, "Transfer-Encoding in an HTTP/1.0 request\n");
      if (te.trim().toLowerCase() !== "chunked") return this.refuse(501, "unsupported Transfer-Encoding\n");
      this.framing = REQ_CHUNKED;
      framingLine = "transfer-encoding: chunked\r\n";
    } else if (cl !== undefined) {
      const n = parseLength(cl);
      if (n < 0) return this.refuse(400, "invalid Content-Length\n");
      this.contentLength = n;
      if (n > 0) this.framing = REQ_LENGTH;
      framingLine = "content-length: " + n + "\r\n";
    }
    if (this.upgrade !== undefined && this.framing !== REQ_NONE) return this.refuse(400, "an upgrade request with a body\n");

    let head = this.method + " " + target + " HTTP/1.1\r\n" + (host !== undefined ? "host: " + host + "\r\n" : "") + kept + framingLine +
      "x-forwarded-for: " + (xff === undefined ? remoteAddress : xff + ", " + remoteAddress) + (secure ? "\r\nx-forwarded-proto: https\r\n" : "\r\nx-forwarded-proto: http\r\n");
    if (host !== undefined) head += "x-forwarded-host: " + host + "\r\n";
    if (this.upgrade !== undefined) head += "connection: upgrade\r\nupgrade: " + this.upgrade + "\r\n";
    this.upstreamHead = head + "\r\n";
    return true;
  }

  private refuse(status: number, body: string): false {
    this.errorStatus = status;
    this.error = body;
    return false;
  }
}
