/**
 * The router's own reading of a request head (RequestHead.parse), byte string in, verdict out: every
 * refusal is asserted with the router's status and reason, never through an upstream's answer.
 */
import { describe, expect, it } from "vitest";
import { REQ_CHUNKED, REQ_LENGTH, REQ_NONE, RequestHead } from "../../node-agent/router/request-head.js";

const REMOTE = "192.0.2.7";

function parse(raw: string, h = new RequestHead()): RequestHead & { ok: boolean } {
  const buf = Buffer.from(raw, "latin1");
  const end = raw.indexOf("\r\n\r\n");
  if (end < 0) throw new Error("test head without CRLF CRLF");
  const ok = h.parse(buf, end, REMOTE);
  return Object.assign(h, { ok });
}

const req = (...lines: string[]) => lines.join("\r\n") + "\r\n\r\n";

function refused(raw: string, status: number, why: string): void {
  const h = parse(raw);
  expect(h.ok).toBe(false);
  expect(h.errorStatus).toBe(status);
  expect(h.error).toBe(why + "\n");
}

describe("RequestHead.parse: framing refusals (request smuggling)", () => {
  it("refuses Content-Length together with Transfer-Encoding, in either order", () => {
    refused(req("POST /x HTTP/1.1", "Host: a", "Content-Length: 5", "Transfer-Encoding: chunked"), 400, "both Transfer-Encoding and Content-Length");
    refused(req("POST /x HTTP/1.1", "Host: a", "Transfer-Encoding: chunked", "Content-Length: 5"), 400, "both Transfer-Encoding and Content-Length");
  });

  it("refuses Transfer-Encoding on HTTP/1.0", () => {
    refused(req("POST /x HTTP/1.0", "Host: a", "Transfer-Encoding: chunked"), 400, "Transfer-Encoding in an HTTP/1.0 request");
  });

  it("refuses an invalid Content-Length", () => {
    for (const v of ["abc", "-1", "+5", "5 5", "0x10", "1.0", "", "1234567890123456"]) {
      refused(req("POST /x HTTP/1.1", "Host: a", `Content-Length: ${v}`), 400, "invalid Content-Length");
    }
  });

  it("refuses conflicting Content-Length headers but accepts an identical repeat", () => {
    refused(req("POST /x HTTP/1.1", "Host: a", "Content-Length: 5", "Content-Length: 6"), 400, "conflicting Content-Length headers");
    const h = parse(req("POST /x HTTP/1.1", "Host: a", "Content-Length: 5", "Content-Length: 5"));
    expect(h.ok).toBe(true);
    expect(h.framing).toBe(REQ_LENGTH);
    expect(h.contentLength).toBe(5);
  });

  it("refuses transfer codings other than a single chunked with 501", () => {
    refused(req("POST /x HTTP/1.1", "Host: a", "Transfer-Encoding: gzip"), 501, "unsupported Transfer-Encoding");
    refused(req("POST /x HTTP/1.1", "Host: a", "Transfer-Encoding: gzip, chunked"), 501, "unsupported Transfer-Encoding");
    refused(req("POST /x HTTP/1.1", "Host: a", "Transfer-Encoding: chunked", "Transfer-Encoding: chunked"), 501, "unsupported Transfer-Encoding");
  });

  it("accepts chunked in any case and with surrounding blanks, and frames it itself", () => {
    const h = parse(req("POST /x HTTP/1.1", "Host: a", "Transfer-Encoding:  Chunked "));
    expect(h.ok).toBe(true);
    expect(h.framing).toBe(REQ_CHUNKED);
    expect(h.contentLength).toBe(0);
    expect(h.upstreamHead).toBe("POST /x HTTP/1.1\r\nhost: a\r\ntransfer-encoding: chunked\r\nx-forwarded-for: 192.0.2.7\r\nx-forwarded-proto: http\r\nx-forwarded-host: a\r\n\r\n");
  });

  it("refuses an upgrade request with a body (length or chunked), accepts one with Content-Length 0", () => {
    const up = ["GET /ws HTTP/1.1", "Host: a", "Connection: Upgrade", "Upgrade: websocket"];
    refused(req(...up, "Content-Length: 3"), 400, "an upgrade request with a body");
    refused(req(...up, "Transfer-Encoding: chunked"), 400, "an upgrade request with a body");
    const h = parse(req(...up, "Content-Length: 0"));
    expect(h.ok).toBe(true);
    expect(h.upgrade).toBe("websocket");
    expect(h.framing).toBe(REQ_NONE);
  });

  it("refuses a Connection header that names a framing or routing header", () => {
    for (const n of ["Host", "Content-Length", "transfer-encoding"]) {
      refused(req("GET / HTTP/1.1", "Host: a", `Connection: keep-alive, ${n}`), 400, `Connection may not name ${n.toLowerCase()}`);
    }
  });
});

describe("RequestHead.parse: the head itself", () => {
  it("refuses malformed heads", () => {
    const bad = [
      req("GET / HTTP/1.1", "Host : a"), // whitespace before the colon
      req("GET / HTTP/1.1", "Host: a", " folded"), // obsolete line folding
      req("GET / HTTP/1.1", "Host: a\nX: b"), // bare LF
      req("GET / HTTP/1.1", "Host: a\rX: b"), // bare CR
      req("GET / HTTP/1.1", "Host: a\x01"), // control byte
      req("GET / HTTP/1.2", "Host: a"),
      req("GET / http/1.1", "Host: a"),
      req("GET  / HTTP/1.1", "Host: a"),
      req("GET /a#frag HTTP/1.1", "Host: a"),
      req("G(T / HTTP/1.1", "Host: a"),
      req("GET / HTTP/1.1", "Ho st: a"),
      req("GET / HTTP/1.1", ": a"),
    ];
    for (const raw of bad) refused(raw, 400, "malformed request");
  });

  it("needs exactly one Host that looks like a host", () => {
    refused(req("GET / HTTP/1.1"), 400, "missing Host header");
    refused(req("GET / HTTP/1.1", "Host: a", "Host: a"), 400, "more than one Host header");
    for (const v of ["a b", "a/b", "a:123456", "[::1", "a@b:"]) refused(req("GET / HTTP/1.1", `Host: ${v}`), 400, "bad Host header");
    for (const v of ["a.example", "a:8000", "[::1]:8000", "10.0.0.1", "a:"]) {
      const h = parse(req("GET / HTTP/1.1", `Host: ${v}`));
      expect(h.ok, v).toBe(true);
      expect(h.host).toBe(v);
    }
    const empty = parse(req("GET / HTTP/1.1", "Host:"));
    expect(empty.ok).toBe(true);
    expect(empty.host).toBe("");
  });

  it("takes the authority of an absolute-form target over Host", () => {
    const h = parse(req("GET http://b.example:81/p?q HTTP/1.1", "Host: a"));
    expect(h.ok).toBe(true);
    expect(h.host).toBe("b.example:81");
    expect(h.path).toBe("/p?q");
    expect(h.upstreamHead.startsWith("GET /p?q HTTP/1.1\r\nhost: b.example:81\r\n")).toBe(true);
    expect(parse(req("GET HTTPS://b HTTP/1.1")).path).toBe("/");
    expect(parse(req("GET http://b?x=1 HTTP/1.1")).path).toBe("/?x=1");
    refused(req("GET http://b c/ HTTP/1.1", "Host: a"), 400, "malformed request");
    refused(req("GET http://a@b@c/ HTTP/1.1"), 400, "bad authority in the request target");
    refused(req("GET ftp://b/ HTTP/1.1", "Host: a"), 400, "bad request target");
    refused(req("GET * HTTP/1.1", "Host: a"), 400, "bad request target");
    refused(req("GET x HTTP/1.1", "Host: a"), 400, "bad request target");
    const star = parse(req("OPTIONS * HTTP/1.1", "Host: a"));
    expect(star.ok).toBe(true);
    expect(star.path).toBe("*");
  });

  it("keeps the connection open by HTTP version and Connection tokens", () => {
    const ka = (...lines: string[]) => { const h = parse(req(...lines)); expect(h.ok).toBe(true); return h.keepAlive; };
    expect(ka("GET / HTTP/1.1", "Host: a")).toBe(true);
    expect(ka("GET / HTTP/1.0", "Host: a")).toBe(false);
    expect(ka("GET / HTTP/1.0", "Host: a", "Connection: Keep-Alive")).toBe(true);
    expect(ka("GET / HTTP/1.1", "Host: a", "Connection: close")).toBe(false);
    expect(ka("GET / HTTP/1.1", "Host: a", "Connection: x-a, close")).toBe(false);
    expect(ka("GET / HTTP/1.0", "Host: a", "Connection: x-a, keep-alive")).toBe(true);
    expect(ka("GET / HTTP/1.0", "Host: a", "Connection: x-a", "Connection: keep-alive")).toBe(true);
  });

  it("sends its own framing and forwarding headers upstream and drops hop-by-hop ones", () => {
    const h = parse(req(
      "POST /a?b HTTP/1.0", "Host: a.example", "Accept: */*", "TE: trailers", "Trailer: x", "Keep-Alive: 5", "Proxy-Connection: x",
      "Upgrade: h2c", "X-Forwarded-Host: evil", "X-Forwarded-Proto: https", "X-Forwarded-For: 10.0.0.1", "x-forwarded-for: 10.0.0.2",
      "Connection: X-Secret, keep-alive", "X-Secret: 1", "Content-Length: 007", "X-Last: z",
    ));
    expect(h.ok).toBe(true);
    expect(h.method).toBe("POST");
    expect(h.http10).toBe(true);
    expect(h.upgrade).toBeUndefined();
    expect(h.framing).toBe(REQ_LENGTH);
    expect(h.contentLength).toBe(7);
    expect(h.upstreamHead).toBe(
      "POST /a?b HTTP/1.1\r\nhost: a.example\r\nAccept: */*\r\nX-Last: z\r\ncontent-length: 7\r\n" +
      "x-forwarded-for: 10.0.0.1, 10.0.0.2, 192.0.2.7\r\nx-forwarded-proto: http\r\nx-forwarded-host: a.example\r\n\r\n",
    );
  });

  it("asks the upstream to upgrade only when the client's Connection says upgrade", () => {
    const up = parse(req("GET /ws HTTP/1.1", "Host: a", "Connection: keep-alive, Upgrade", "Upgrade: websocket", "Sec-WebSocket-Key: k"));
    expect(up.ok).toBe(true);
    expect(up.upgrade).toBe("websocket");
    expect(up.upstreamHead).toBe("GET /ws HTTP/1.1\r\nhost: a\r\nSec-WebSocket-Key: k\r\nx-forwarded-for: 192.0.2.7\r\nx-forwarded-proto: http\r\n" +
      "x-forwarded-host: a\r\nconnection: upgrade\r\nupgrade: websocket\r\n\r\n");
    const noConn = parse(req("GET /ws HTTP/1.1", "Host: a", "Upgrade: websocket"));
    expect(noConn.ok).toBe(true);
    expect(noConn.upgrade).toBeUndefined();
    expect(noConn.upstreamHead).not.toMatch(/upgrade/i);
  });

  it("content-length 0 is no body but still framed explicitly", () => {
    const h = parse(req("PUT /x HTTP/1.1", "Host: a", "Content-Length: 0"));
    expect(h.ok).toBe(true);
    expect(h.framing).toBe(REQ_NONE);
    expect(h.upstreamHead).toContain("\r\ncontent-length: 0\r\n");
  });

  it("a reused RequestHead forgets the previous request", () => {
    const h = new RequestHead();
    parse(req("GET /ws HTTP/1.1", "Host: a", "Connection: upgrade", "Upgrade: websocket"), h);
    parse(req("POST /y HTTP/1.1", "Host: b", "Content-Length: 4"), h);
    expect(h.upgrade).toBeUndefined();
    expect(h.framing).toBe(REQ_LENGTH);
    parse(req("GET /z HTTP/1.1", "Host: c"), h);
    expect(h.framing).toBe(REQ_NONE);
    expect(h.contentLength).toBe(0);
    expect(h.path).toBe("/z");
    expect(h.host).toBe("c");
    expect(h.keepAlive).toBe(true);
  });
});

describe("RequestHead.parse: headers whose names are as long as a hop-by-hop one", () => {
  it("forwards them untouched, in order", () => {
    const same = ["Ab: 1", "Date: d", "Referer: r", "User-Agent: u", "Content-Digest: c", "Accept-Language: l", "Content-Language: l", "If-Modified-Since: s"];
    const h = parse(req("GET / HTTP/1.1", "Host: a", ...same));
    expect(h.ok).toBe(true);
    expect(h.upstreamHead).toBe("GET / HTTP/1.1\r\nhost: a\r\n" + same.map((l) => l + "\r\n").join("") +
      "x-forwarded-for: 192.0.2.7\r\nx-forwarded-proto: http\r\nx-forwarded-host: a\r\n\r\n");
  });

  it("trims blanks around values, reads 15-digit lengths and refuses 16", () => {
    const h = parse(req("POST / HTTP/1.1", "Host:\t a.example \t", "Content-Length: \t12 "));
    expect(h.ok).toBe(true);
    expect(h.host).toBe("a.example");
    expect(h.contentLength).toBe(12);
    expect(parse(req("POST / HTTP/1.1", "Host: a", "Content-Length: 123456789012345")).contentLength).toBe(123456789012345);
    refused(req("POST / HTTP/1.1", "Host: a", "Content-Length: 0123456789012345"), 400, "invalid Content-Length");
    expect(parse(req("GET / HTTP/1.1", "Host: a", "X-Blank:  \t ")).upstreamHead).toContain("\r\nX-Blank:  \t \r\n");
  });

  it("an absolute-form target needs no Host; only OPTIONS may ask for *", () => {
    const h = parse(req("GET HTTPS://b HTTP/1.1"));
    expect(h.ok).toBe(true);
    expect(h.host).toBe("b");
    refused(req("GET xhttp://b/ HTTP/1.1", "Host: a"), 400, "bad request target");
    refused(req("OPTIONS x HTTP/1.1", "Host: a"), 400, "bad request target");
  });

  it("joins repeated Connection headers: a close in the first one counts", () => {
    const h = parse(req("GET / HTTP/1.1", "Host: a", "Connection: close", "Connection: x-a"));
    expect(h.ok).toBe(true);
    expect(h.keepAlive).toBe(false);
  });
});
