/**
 * Response vectors: what an upstream may answer, and what the client must then see. Framing the router must
 * not pass on (CL+TE, Connection-nominated framing, bad chunks, bad lengths) ends in a 502 or a cut, never a
 * response the client or the next user of the pooled connection reads differently.
 */
import { chunk, markFindings, type ResponseExpect, type ResponseVector } from "./vectors.js";

const out: ResponseVector[] = [];
const add = (cls: string, name: string, raw: string, expect: ResponseExpect, o: Partial<ResponseVector> = {}): void => {
  out.push({ cls, name, raw, expect, ...o });
};
const pass = (status: number, body: string, headers?: Record<string, string | null>): ResponseExpect => ({ pass: { status, body, ...(headers ? { headers } : {}) } });
const bad: ResponseExpect = { bad: true };
const passOrBad = (status: number, body: string, headers?: Record<string, string | null>): ResponseExpect => ({ pass: { status, body, ...(headers ? { headers } : {}) }, alsoBad: true });
const R = (head: string, body = ""): string => `HTTP/1.1 ${head}\r\n\r\n${body}`;

// ---- valid ----
add("valid", "200 with Content-Length", R("200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5", "hello"), pass(200, "hello", { "content-type": "text/plain" }));
add("valid", "200 chunked", R("200 OK\r\nTransfer-Encoding: chunked", chunk("hello world", [5, 6])), pass(200, "hello world"));
add("valid", "200 chunked with extensions and trailer", R("200 OK\r\nTransfer-Encoding: chunked", "5;a=b\r\nhello\r\n0\r\nX-T: 1\r\n\r\n"), pass(200, "hello"));
add("valid", "BWS before a chunk extension (found by the fuzzer: llhttp and h11 refuse it, RFC 9112 allows it)", R("200 OK\r\nTransfer-Encoding: chunked", "5 ;a=b\r\nhello\r\n0\r\n\r\n"), passOrBad(200, "hello"), { noH11: true });
add("valid", "201 with body", R("201 Created\r\nContent-Length: 2", "ok"), pass(201, "ok"));
add("valid", "404 with body", R("404 Not Found\r\nContent-Length: 4", "nope"), pass(404, "nope"));
add("valid", "500 with body", R("500 Internal Server Error\r\nContent-Length: 4", "oops"), pass(500, "oops"));
add("valid", "no reason phrase", "HTTP/1.1 200 \r\nContent-Length: 2\r\n\r\nok", pass(200, "ok"));
add("valid", "custom reason phrase", R("299 Whatever You Like\r\nContent-Length: 2", "ok"), pass(299, "ok"));
add("valid", "204 no body", R("204 No Content"), pass(204, ""));
add("valid", "304 with Content-Length and no body", R("304 Not Modified\r\nContent-Length: 5\r\nETag: \"x\""), pass(304, "", { etag: '"x"' }));
add("valid", "HEAD answer with Content-Length", R("200 OK\r\nContent-Length: 5"), pass(200, "", { "content-length": "5" }), { method: "HEAD" });
add("valid", "HEAD answer chunked", R("200 OK\r\nTransfer-Encoding: chunked"), pass(200, ""), { method: "HEAD" });
add("valid", "body until close (no length)", R("200 OK\r\nContent-Type: text/plain", "until the end"), pass(200, "until the end"), { closeAfter: true });
add("valid", "HTTP/1.0 answer with length", "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok", pass(200, "ok"), { closeAfter: true });
add("valid", "HTTP/1.0 answer until close", "HTTP/1.0 200 OK\r\n\r\nold style", pass(200, "old style"), { closeAfter: true });
add("valid", "Content-Encoding gzip kept", R("200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 4", "\x1f\x8b\x08\x00"), pass(200, "\x1f\x8b\x08\x00", { "content-encoding": "gzip" }));
add("valid", "obs-text in a value", R("200 OK\r\nX-Latin: caf\xe9\r\nContent-Length: 2", "ok"), pass(200, "ok"));
add("valid", "Set-Cookie twice", R("200 OK\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\nContent-Length: 2", "ok"), pass(200, "ok"));
add("valid", "hop-by-hop headers dropped", R("200 OK\r\nConnection: keep-alive, x-hop\r\nX-Hop: 1\r\nKeep-Alive: timeout=5\r\nContent-Length: 2", "ok"), pass(200, "ok", { "x-hop": null, "keep-alive": null }));
add("valid", "Connection: close answer", R("200 OK\r\nConnection: close\r\nContent-Length: 2", "ok"), pass(200, "ok"), { closeAfter: true });
add("valid", "duplicate equal Content-Length", R("200 OK\r\nContent-Length: 2\r\nContent-Length: 2", "ok"), pass(200, "ok"));
add("valid", "large chunked body", R("200 OK\r\nTransfer-Encoding: chunked", chunk("x".repeat(100_000), [70_000])), pass(200, "x".repeat(100_000)));

// ---- 1xx ----
add("1xx", "100 Continue then 200", `HTTP/1.1 100 Continue\r\n\r\n${R("200 OK\r\nContent-Length: 2", "ok")}`, pass(200, "ok"));
add("1xx", "103 Early Hints then 200", `HTTP/1.1 103 Early Hints\r\nLink: </s.css>; rel=preload\r\n\r\n${R("200 OK\r\nContent-Length: 2", "ok")}`, pass(200, "ok"));
add("1xx", "two 1xx then 200", `HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 102 Processing\r\n\r\n${R("200 OK\r\nContent-Length: 2", "ok")}`, pass(200, "ok"));
add("1xx", "101 to a request that did not ask", R("101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: upgrade"), bad);
add("1xx", "1xx with Content-Length then 200", `HTTP/1.1 100 Continue\r\nContent-Length: 5\r\n\r\n${R("200 OK\r\nContent-Length: 2", "ok")}`, passOrBad(200, "ok"));

// ---- framing the router must not pass on ----
add("CL.TE", "Content-Length and chunked", R("200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked", chunk("hello")), passOrBad(200, "hello", { "content-length": null }));
add("CL.TE", "chunked and Content-Length, extra response in the body", R("200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 50", `${chunk("hi")}HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nhacked`), passOrBad(200, "hi", { "content-length": null }));
add("TE", "TE gzip, chunked keeps gzip (issue 11)", R("200 OK\r\nTransfer-Encoding: gzip, chunked", chunk("\x1f\x8b\x08\x00gz")), pass(200, "\x1f\x8b\x08\x00gz", { "transfer-encoding": "gzip" }), { noH11: true });
add("TE", "TE not ending in chunked is read until close", R("200 OK\r\nTransfer-Encoding: gzip", "\x1f\x8b\x08\x00rest"), passOrBad(200, "\x1f\x8b\x08\x00rest", { "transfer-encoding": "gzip" }), { closeAfter: true, noH11: true });
add("TE", "TE chunked, gzip (chunked not last)", R("200 OK\r\nTransfer-Encoding: chunked, gzip", "5\r\nhello\r\n0\r\n\r\n"), passOrBad(200, "5\r\nhello\r\n0\r\n\r\n"), { closeAfter: true, noH11: true });
add("TE", "TE xchunked is read until close, coding kept", R("200 OK\r\nTransfer-Encoding: xchunked", "5\r\nhello\r\n0\r\n\r\n"), passOrBad(200, "5\r\nhello\r\n0\r\n\r\n", { "transfer-encoding": "xchunked" }), { closeAfter: true, noH11: true });
add("TE", "TE chunked twice", R("200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked", chunk("hello")), bad);
add("TE", "TE on a 1.0 answer", "HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + chunk("hello"), bad, { closeAfter: true });
add("connection-nominated", "Connection: content-length (issue 11)", R("200 OK\r\nConnection: content-length\r\nContent-Length: 5", "hello"), bad);
add("connection-nominated", "Connection: transfer-encoding", R("200 OK\r\nConnection: transfer-encoding\r\nTransfer-Encoding: chunked", chunk("hello")), bad);
add("connection-nominated", "Connection: close, Content-Length", R("200 OK\r\nConnection: close, Content-Length\r\nContent-Length: 5", "hello"), bad, { closeAfter: true });
add("CL", "two different Content-Lengths", R("200 OK\r\nContent-Length: 2\r\nContent-Length: 5", "hello"), bad);
add("CL", "comma-joined equal Content-Length", R("200 OK\r\nContent-Length: 2, 2", "ok"), passOrBad(200, "ok"));
add("CL", "comma-joined different Content-Length", R("200 OK\r\nContent-Length: 2, 5", "hello"), bad);
for (const v of ["+2", "-2", "0x2", "2a", "", "2 2", "99999999999999999999"]) add("CL", `Content-Length ${JSON.stringify(v)}`, R(`200 OK\r\nContent-Length: ${v}`, "ok"), bad);
add("CL", "extra bytes after a Content-Length body", R("200 OK\r\nContent-Length: 2", "okHTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nhacked"), pass(200, "ok"));
add("CL", "extra bytes after a chunked body", R("200 OK\r\nTransfer-Encoding: chunked", chunk("ok") + "HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nhacked"), pass(200, "ok"));
add("no-body", "204 with a body", R("204 No Content", "HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nhacked"), pass(204, ""));
add("no-body", "204 with Content-Length and body", R("204 No Content\r\nContent-Length: 6", "hacked"), pass(204, ""));
add("no-body", "304 with a body", R("304 Not Modified\r\nContent-Length: 6", "hacked"), pass(304, ""));
add("no-body", "HEAD answer with a body", R("200 OK\r\nContent-Length: 6", "hacked"), pass(200, ""), { method: "HEAD" });
add("no-body", "HEAD answer with a chunked body", R("200 OK\r\nTransfer-Encoding: chunked", chunk("hacked")), pass(200, ""), { method: "HEAD" });

// ---- chunk framing ----
const badChunks: Array<[string, string]> = [
  ["zz\r\nhello\r\n0\r\n\r\n", "size not hex"], ["5\r\nhelloX0\r\n\r\n", "missing CRLF after data"], ["ffffffffffffffffff\r\nhello\r\n0\r\n\r\n", "size overflow"],
  ["5\nhello\r\n0\r\n\r\n", "bare LF after size"], ["5;a\rb\r\nhello\r\n0\r\n\r\n", "bare CR in extension"], ["-5\r\nhello\r\n0\r\n\r\n", "negative size"],
  ["3\r\nhello\r\n0\r\n\r\n", "data longer than size"], ["5\r\nhello\r\n0\r\nbad trailer\r\n\r\n", "trailer without colon"],
  ["5\r\nhello\r\n0\r\nX: a\r\n b\r\n\r\n", "folded trailer"],
];
for (const [body, n] of badChunks) add("chunk-framing", `chunked response: ${n}`, R("200 OK\r\nTransfer-Encoding: chunked", body), bad, { closeAfter: true });
add("chunk-framing", "trailer field Content-Length", R("200 OK\r\nTransfer-Encoding: chunked", "5\r\nhello\r\n0\r\nContent-Length: 99\r\n\r\n"), passOrBad(200, "hello"));

// ---- malformed heads ----
const badHeads: Array<[string, string]> = [
  ["HTTP/1.1 200 OK\r\nX-A: a\r\n b\r\nContent-Length: 2\r\n\r\nok", "obs-fold"],
  ["HTTP/1.1 200 OK\r\nX-A: a\x00b\r\nContent-Length: 2\r\n\r\nok", "NUL in a value"],
  ["HTTP/1.1 200 OK\r\nX-A : b\r\nContent-Length: 2\r\n\r\nok", "space before colon"],
  ["HTTP/1.1 200 OK\r\nContent-Length : 2\r\n\r\nok", "space before CL colon"],
  ["HTTP/1.1 200 OK\r\nX-A: a\rb\r\nContent-Length: 2\r\n\r\nok", "bare CR in a value"],
  ["HTTP/1.1 2000 OK\r\nContent-Length: 2\r\n\r\nok", "four-digit status"],
  ["HTTP/1.1 20 OK\r\nContent-Length: 2\r\n\r\nok", "two-digit status"],
  ["HTTP/1.1 600 Odd\r\nContent-Length: 2\r\n\r\nok", "status 600"],
  ["HTTP/2 200 OK\r\nContent-Length: 2\r\n\r\nok", "HTTP/2 version"],
  ["http/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", "lower-case version"],
  ["HTTP/1.1 200 OK\nContent-Length: 2\n\nok", "LF line endings"],
  ["HTTP/1.1 200 OK\r\nX-A: a\nContent-Length: 2\r\n\r\nok", "bare LF inside the head"],
  ["HTTP/1.1 200 OK\r\n\x01X: a\r\nContent-Length: 2\r\n\r\nok", "control byte in a name"],
  ["HTTP/1.1 200 OK\r\nX-A: a\x7f\r\nContent-Length: 2\r\n\r\nok", "DEL in a value"],
  [`HTTP/1.1 200 OK\r\nX-Big: ${"b".repeat(70_000)}\r\nContent-Length: 2\r\n\r\nok`, "70 KB head"],
];
add("TE", "TE lines chunked then identity, with CL: until close", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n\r\nok", passOrBad(200, "ok"), { closeAfter: true, noH11: true });
for (const [raw, n] of badHeads) add("malformed-head", n, raw, bad, { closeAfter: true });

// Defects these vectors found in the router on main 4e1a51c (after the issue 11 fixes); fixed in 14ac3a5.
const TRAILERS = "the chunked scanner takes any line of visible bytes as a trailer field (chunked.ts TRAILER state)";
markFindings(out, {
  "TE on a 1.0 answer": "an HTTP/1.0 response with Transfer-Encoding is decoded as chunked and passed on; RFC 9112 §6.1: treat its framing as faulty",
  "chunked response: trailer without colon": TRAILERS,
  "chunked response: folded trailer": TRAILERS,
  "70 KB head": "the 64 KiB response head limit holds only while the head is incomplete (upstream-conn.ts onHead; websocket.ts handshake likewise): a bigger head in one read is passed on",
});

export const RESPONSE_CORPUS: readonly ResponseVector[] = out;
