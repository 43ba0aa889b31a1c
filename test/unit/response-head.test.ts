/**
 * The router's reading of an upstream's response head (ResponseHead.parse), byte string in: the framing it
 * decides, the lines it forwards and every refusal, asserted directly.
 */
import { describe, expect, it } from "vitest";
import { BODY_CHUNKED, BODY_LENGTH, BODY_NONE, BODY_UNTIL_CLOSE, ResponseHead } from "../../node-agent/router/response-head.js";

function parse(raw: string, o: { noBody?: boolean; keepUpgrade?: boolean; h?: ResponseHead } = {}): ResponseHead & { ok: boolean } {
  const h = o.h ?? new ResponseHead();
  const end = raw.indexOf("\r\n\r\n");
  if (end < 0) throw new Error("test head without CRLF CRLF");
  const ok = h.parse(Buffer.from(raw, "latin1"), end, o.noBody ?? false, o.keepUpgrade ?? false);
  return Object.assign(h, { ok });
}

const res = (...lines: string[]) => lines.join("\r\n") + "\r\n\r\n";

function refused(raw: string, why: string, o: { noBody?: boolean } = {}): void {
  const h = parse(raw, o);
  expect(h.ok, raw).toBe(false);
  expect(h.error).toBe(why);
}

describe("ResponseHead.parse: refusals", () => {
  it("refuses malformed heads", () => {
    for (const raw of [
      res("HTTP/1.1 200 OK", "X : a"),
      res("HTTP/1.1 200 OK", "X: a", " folded"),
      res("HTTP/1.1 200 OK", "X: a\nY: b"),
      res("HTTP/1.1 200 OK", "X: a\rY: b"),
      res("HTTP/1.1 200 OK", "X: \x00"),
      res("HTTP/1.2 200 OK"),
      res("HTTP/1.1 600 Nope"),
      res("HTTP/1.1 20 OK"),
      res("HTTP/1.1 2000 OK"),
      res("HTTP/1.1  200 OK"),
      res("ICY 200 OK"),
    ]) refused(raw, "malformed response head");
  });

  it("refuses invalid and conflicting Content-Length", () => {
    for (const v of ["x", "-1", "1 1", "", "1234567890123456"]) refused(res("HTTP/1.1 200 OK", `Content-Length: ${v}`), "invalid Content-Length");
    refused(res("HTTP/1.1 200 OK", "Content-Length: 1", "Content-Length: 2"), "invalid Content-Length");
    const same = parse(res("HTTP/1.1 200 OK", "Content-Length: 2", "content-length: 02"));
    expect(same.ok).toBe(true);
    expect(same.contentLength).toBe(2);
  });

  it("refuses Content-Length with Transfer-Encoding, even on a HEAD answer", () => {
    refused(res("HTTP/1.1 200 OK", "Transfer-Encoding: chunked", "Content-Length: 3"), "both Transfer-Encoding and Content-Length");
    refused(res("HTTP/1.1 200 OK", "Content-Length: 3", "Transfer-Encoding: chunked"), "both Transfer-Encoding and Content-Length", { noBody: true });
  });

  it("refuses invalid transfer codings and chunked anywhere but last", () => {
    refused(res("HTTP/1.1 200 OK", "Transfer-Encoding: chunked, gzip"), "invalid Transfer-Encoding");
    refused(res("HTTP/1.1 200 OK", "Transfer-Encoding: chunked", "Transfer-Encoding: chunked"), "invalid Transfer-Encoding");
    refused(res("HTTP/1.1 200 OK", "Transfer-Encoding: gzip;q=1"), "invalid Transfer-Encoding");
    refused(res("HTTP/1.1 200 OK", "Transfer-Encoding: gzip,,chunked"), "invalid Transfer-Encoding");
  });

  it("refuses a Connection header naming a framing header", () => {
    refused(res("HTTP/1.1 200 OK", "Connection: Content-Length", "Content-Length: 1"), "Connection names content-length");
    refused(res("HTTP/1.1 200 OK", "Connection: close, transfer-encoding"), "Connection names transfer-encoding");
  });
});

describe("ResponseHead.parse: framing", () => {
  it("Content-Length frames a body and keeps HTTP/1.1 alive", () => {
    const h = parse(res("HTTP/1.1 200 OK", "Content-Type: text/plain", "Content-Length: 5"));
    expect(h.ok).toBe(true);
    expect(h.status).toBe(200);
    expect(h.statusLine).toBe("HTTP/1.1 200 OK");
    expect(h.framing).toBe(BODY_LENGTH);
    expect(h.contentLength).toBe(5);
    expect(h.codings).toBe("");
    expect(h.keepAlive).toBe(true);
    expect(h.lines).toBe("Content-Type: text/plain\r\n");
  });

  it("chunked, with codings before it kept; other codings alone read until close", () => {
    const c = parse(res("HTTP/1.1 201 Created", "Transfer-Encoding: GZIP", "Transfer-Encoding:  chunked"));
    expect(c.ok).toBe(true);
    expect(c.status).toBe(201);
    expect(c.framing).toBe(BODY_CHUNKED);
    expect(c.codings).toBe("gzip");
    expect(c.keepAlive).toBe(true);
    expect(c.contentLength).toBe(-1);
    const plain = parse(res("HTTP/1.1 200 OK", "Transfer-Encoding: chunked"));
    expect(plain.codings).toBe("");
    const g = parse(res("HTTP/1.1 200 OK", "Transfer-Encoding: gzip, br"));
    expect(g.ok).toBe(true);
    expect(g.framing).toBe(BODY_UNTIL_CLOSE);
    expect(g.codings).toBe("gzip, br");
    expect(g.keepAlive).toBe(false);
  });

  it("without length or coding the body runs until close", () => {
    const h = parse(res("HTTP/1.1 200 OK", "X: 1"));
    expect(h.framing).toBe(BODY_UNTIL_CLOSE);
    expect(h.keepAlive).toBe(false);
    expect(h.contentLength).toBe(-1);
  });

  it("1xx, 204, 304 and HEAD answers have no body; 304 and HEAD pass their declared length on", () => {
    for (const [line, noBody, len] of [
      ["HTTP/1.1 100 Continue", false, -1], ["HTTP/1.1 199 X", false, -1], ["HTTP/1.1 204 No Content", false, -1],
      ["HTTP/1.1 304 Not Modified", false, 9], ["HTTP/1.1 200 OK", true, 9], ["HTTP/1.1 404 Not Found", true, 9],
    ] as const) {
      const h = parse(res(line, "Content-Length: 9"), { noBody });
      expect(h.ok, line).toBe(true);
      expect(h.framing, line).toBe(BODY_NONE);
      expect(h.contentLength, line).toBe(len);
      expect(h.keepAlive, line).toBe(true);
    }
    const head = parse(res("HTTP/1.1 200 OK", "Transfer-Encoding: gzip, chunked"), { noBody: true });
    expect(head.framing).toBe(BODY_NONE);
    expect(head.codings).toBe("");
    expect(head.contentLength).toBe(-1);
    expect(parse(res("HTTP/1.1 205 Reset", "Content-Length: 0")).framing).toBe(BODY_LENGTH);
    expect(parse(res("HTTP/1.1 305 Use Proxy", "Content-Length: 1")).framing).toBe(BODY_LENGTH);
  });

  it("an HTTP/1.0 answer is not kept alive unless it says keep-alive, and is forwarded as 1.1", () => {
    const h = parse(res("HTTP/1.0 200 OK", "Content-Length: 0"));
    expect(h.keepAlive).toBe(false);
    expect(h.statusLine).toBe("HTTP/1.1 200 OK");
    expect(parse(res("HTTP/1.0 200 OK", "Connection: keep-alive", "Content-Length: 0")).keepAlive).toBe(true);
    expect(parse(res("HTTP/1.0 200 OK", "Connection: x, Keep-Alive", "Content-Length: 0")).keepAlive).toBe(true);
    expect(parse(res("HTTP/1.1 200 OK", "Connection: close", "Content-Length: 0")).keepAlive).toBe(false);
    expect(parse(res("HTTP/1.1 200 OK", "Connection: x, close", "Content-Length: 0")).keepAlive).toBe(false);
    expect(parse(res("HTTP/1.1 200", "Content-Length: 0")).statusLine).toBe("HTTP/1.1 200");
  });

  it("drops hop-by-hop headers and those the Connection header names, keeps the rest as sent", () => {
    const h = parse(res("HTTP/1.1 200 OK", "Set-Cookie: a=1", "TE: x", "Trailer: y", "Keep-Alive: 5", "Proxy-Connection: x", "Upgrade: h2",
      "Connection: X-Hop, upgrade", "X-Hop: 1", "X-Hop2: 2", "Connection: x-hop2", "Content-Length: 0", "X-Last: z"));
    expect(h.ok).toBe(true);
    expect(h.lines).toBe("Set-Cookie: a=1\r\nX-Last: z\r\n");
  });

  it("keeps Connection and Upgrade for a 101 answer to a WebSocket handshake", () => {
    const h = parse(res("HTTP/1.1 101 Switching Protocols", "Upgrade: websocket", "Connection: Upgrade", "Sec-WebSocket-Accept: k", "Trailer: t"), { keepUpgrade: true });
    expect(h.ok).toBe(true);
    expect(h.status).toBe(101);
    expect(h.framing).toBe(BODY_NONE);
    expect(h.lines).toBe("Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: k\r\n");
  });

  it("a reused ResponseHead forgets the previous response", () => {
    const h = new ResponseHead();
    parse(res("HTTP/1.1 200 OK", "Transfer-Encoding: gzip, chunked"), { h });
    parse(res("HTTP/1.1 200 OK", "Content-Length: 3"), { h });
    expect(h.codings).toBe("");
    expect(h.framing).toBe(BODY_LENGTH);
    parse(res("HTTP/1.1 200 OK", "Connection: close", "Content-Length: 3"), { h });
    parse(res("HTTP/1.1 204 No Content"), { h });
    expect(h.keepAlive).toBe(true);
    expect(h.contentLength).toBe(-1);
    expect(h.framing).toBe(BODY_NONE);
    expect(h.lines).toBe("");
  });
});

describe("ResponseHead.parse: more edges", () => {
  it("reads every digit of the status", () => {
    expect(parse(res("HTTP/1.1 418 I'm a teapot", "Content-Length: 0")).status).toBe(418);
    expect(parse(res("HTTP/1.1 599 X", "Content-Length: 0")).status).toBe(599);
  });

  it("forwards headers whose names are as long as a hop-by-hop one", () => {
    const same = ["Ab: 1", "Expires: 0", "Accept-Charset: x", "Content-Encoding: gzip", "If-Modified-Since: s"];
    const h = parse(res("HTTP/1.1 200 OK", ...same, "Content-Length: 0"));
    expect(h.lines).toBe(same.map((l) => l + "\r\n").join(""));
    const c = parse(res("HTTP/1.1 200 OK", "Transfer-Encoding: chunked", "Vary: x"));
    expect(c.lines).toBe("Vary: x\r\n");
  });

  it("a zero Content-Length conflicts like any other", () => {
    refused(res("HTTP/1.1 200 OK", "Content-Length: 0", "Content-Length: 5"), "invalid Content-Length");
    refused(res("HTTP/1.1 200 OK", "Content-Length: 0", "Transfer-Encoding: chunked"), "both Transfer-Encoding and Content-Length");
  });

  it("refuses Transfer-Encoding in an HTTP/1.0 response", () => {
    refused(res("HTTP/1.0 200 OK", "Transfer-Encoding: chunked"), "Transfer-Encoding in an HTTP/1.0 response");
    expect(parse(res("HTTP/1.0 200 OK", "Content-Length: 1")).ok).toBe(true);
  });
});
