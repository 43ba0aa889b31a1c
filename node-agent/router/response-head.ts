/**
 * Parses an upstream's HTTP/1.x response head into what the router forwards: status, reason, the
 * end-to-end header lines as they came (hop-by-hop and framing ones dropped) and the body framing. Strict
 * where being lax would let an upstream desynchronise a pooled connection or the client's connection (bad
 * or conflicting Content-Length, Content-Length with Transfer-Encoding, a Connection header naming a framing
 * header, folded lines, bare CR or LF).
 *
 * Framing belongs to the router: Content-Length and Transfer-Encoding never pass as they came; the client
 * connection writes its own from `framing`, `contentLength` and `codings` (transfer codings other than
 * chunked, such as gzip, are kept).
 */
import { dropHeaders, is, parseLength, value } from "./http-text.js";

/** Body framing of a response. */
export const BODY_NONE = 0;
export const BODY_LENGTH = 1;
export const BODY_CHUNKED = 2;
export const BODY_UNTIL_CLOSE = 3;

/** One transfer coding, without parameters. */
const CODING_RE = /^[!#$%&'*+\-.^_`|~0-9a-z]+$/;
const TOKEN = "[!#$%&'*+\\-.^_`|~0-9A-Za-z]+";
const HEAD_RE = new RegExp(`^HTTP/1\\.[01] [1-5][0-9][0-9](?: [\\t\\x20-\\x7e\\x80-\\xff]*)?\\r\\n(?:${TOKEN}:[\\t\\x20-\\x7e\\x80-\\xff]*\\r\\n)*$`);

/** Reused by its owner for every response it parses; `parse` overwrites every field. */
export class ResponseHead {
  status = 0;
  /** The status line as received, without its CRLF ("HTTP/1.1 200 OK"), with the version set to 1.1. */
  statusLine = "";
  /** End-to-end header lines, each ending in CRLF, exactly as the upstream sent them. */
  lines = "";
  framing = BODY_NONE;
  /** The body length (BODY_LENGTH), or the length an answer without a body declares (HEAD, 304); -1 when none. */
  contentLength = -1;
  /** Transfer codings applied before chunked, in order ("gzip"); "" for none. */
  codings = "";
  /** The upstream lets us reuse the connection after this response. */
  keepAlive = true;
  /** Why the head was refused, when `parse` returns false. */
  error = "";

  /**
   * Parses `buf[0, end)` (end = index of the CRLF CRLF). `noBody` for answers to HEAD. `keepUpgrade` keeps
   * the Connection and Upgrade headers (for 101 answers to WebSocket handshakes). False when malformed.
   */
  parse(buf: Buffer, end: number, noBody: boolean, keepUpgrade: boolean): boolean {
    const text = buf.toString("latin1", 0, end + 2);
    if (!HEAD_RE.test(text)) return this.fail("malformed response head");
    const lineEnd = text.indexOf("\r\n");
    const status = (text.charCodeAt(9) - 48) * 100 + (text.charCodeAt(10) - 48) * 10 + (text.charCodeAt(11) - 48);
    this.status = status;
    this.keepAlive = text.charCodeAt(7) === 49; // HTTP/1.1 keeps alive by default, 1.0 does not
    this.statusLine = this.keepAlive ? text.slice(0, lineEnd) : "HTTP/1.1" + text.slice(8, lineEnd);
    let lines = "";
    let contentLength = -1;
    let te: string | undefined;
    let drop: string[] | null = null;
    let pos = lineEnd + 2;
    const stop = text.length;
    while (pos < stop) {
      const next = text.indexOf("\r\n", pos);
      const colon = text.indexOf(":", pos);
      let keep = true;
      switch (colon - pos) {
        case 2: // TE
          if (is(text, pos, "te")) keep = false;
          break;
        case 7: // Upgrade, Trailer
          if (is(text, pos, "upgrade")) keep = keepUpgrade;
          else if (is(text, pos, "trailer")) keep = false;
          break;
        case 10: // Connection, Keep-Alive
          if (is(text, pos, "connection")) {
            drop = this.connection(value(text, colon, next), drop);
            keep = keepUpgrade;
          } else if (is(text, pos, "keep-alive")) keep = false;
          break;
        case 14: // Content-Length
          if (is(text, pos, "content-length")) {
            const n = parseLength(value(text, colon, next));
            if (n < 0 || contentLength >= 0 && n !== contentLength) return this.fail("invalid Content-Length");
            contentLength = n;
            keep = false;
          }
          break;
        case 16: // Proxy-Connection
          if (is(text, pos, "proxy-connection")) keep = false;
          break;
        case 17: // Transfer-Encoding
          if (is(text, pos, "transfer-encoding")) {
            const v = value(text, colon, next);
            te = te === undefined ? v : `${te}, ${v}`;
            keep = false;
          }
          break;
      }
      if (keep) lines += text.slice(pos, next + 2);
      pos = next + 2;
    }
    if (drop !== null) {
      for (const name of drop) if (name === "content-length" || name === "transfer-encoding") return this.fail(`Connection names ${name}`);
      lines = dropHeaders(lines, drop);
    }
    this.codings = "";
    this.contentLength = -1;
    if (te !== undefined && contentLength >= 0) return this.fail("both Transfer-Encoding and Content-Length");
    // RFC 9112 §6.1: Transfer-Encoding in an HTTP/1.0 message means its framing is faulty.
    if (te !== undefined && text.charCodeAt(7) === 48) return this.fail("Transfer-Encoding in an HTTP/1.0 response");
    let chunked = false;
    if (te !== undefined) {
      const codings = te.toLowerCase().split(",").map((c) => c.trim());
      for (let i = 0; i < codings.length; i++) {
        const c = codings[i]!;
        if (!CODING_RE.test(c) || c === "chunked" && i !== codings.length - 1) return this.fail("invalid Transfer-Encoding");
      }
      chunked = codings[codings.length - 1] === "chunked";
      this.codings = (chunked ? codings.slice(0, -1) : codings).join(", ");
    }
    if (noBody || status < 200 || status === 204 || status === 304) {
      this.framing = BODY_NONE;
      // What a HEAD or 304 answer says the body would be is passed on; 1xx and 204 never carry a length.
      if (status >= 200 && status !== 204) this.contentLength = contentLength;
      this.codings = "";
    } else if (te !== undefined) {
      this.framing = chunked ? BODY_CHUNKED : BODY_UNTIL_CLOSE;
      if (!chunked) this.keepAlive = false;
    } else if (contentLength >= 0) {
      this.framing = BODY_LENGTH;
      this.contentLength = contentLength;
    } else {
      this.framing = BODY_UNTIL_CLOSE;
      this.keepAlive = false;
    }
    this.lines = lines;
    return true;
  }

  /** Reads a Connection header: "close" ends reuse; other tokens name more hop-by-hop headers to drop. */
  private connection(v: string, acc: string[] | null): string[] | null {
    const lower = v.toLowerCase();
    if (lower === "keep-alive") { this.keepAlive = true; return acc; }
    if (lower === "close") { this.keepAlive = false; return acc; }
    for (const raw of lower.split(",")) {
      const t = raw.trim();
      if (t === "close") this.keepAlive = false;
      else if (t === "keep-alive") this.keepAlive = true;
      else if (t !== "" && t !== "upgrade") (acc ??= []).push(t);
    }
    return acc;
  }

  private fail(why: string): false {
    this.error = why;
    return false;
  }
}
