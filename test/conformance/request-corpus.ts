/**
 * Request vectors for the router's data plane: the request-smuggling classes published in recent years
 * (CL.TE, TE.CL, TE.TE obfuscations, duplicate lengths, obs-fold, bare CR/LF, control bytes, chunk framing,
 * trailers, Connection-nominated headers, upgrade early data, pipelining, absolute-form, Expect, HTTP/1.0,
 * oversize heads) and the RFC 9110/9112 rules. Every vector says what must reach the upstream.
 */
import { HOST, chunk, fwd, markFindings, type Forwarded, type RequestExpect, type RequestVector } from "./vectors.js";

const H = `Host: ${HOST}\r\n`;
const out: RequestVector[] = [];
const add = (cls: string, name: string, raw: string, expect: RequestExpect, splits?: number[]): void => {
  out.push({ cls, name, raw, expect, ...(splits ? { splits } : {}) });
};
const refuse = (...status: number[]): RequestExpect => ({ refuse: status });
const forward = (...f: Forwarded[]): RequestExpect => ({ forward: f });
const either = (...f: Forwarded[]): RequestExpect => ({ either: f });
const post = (headers: string, body: string, target = "/p"): string => `POST ${target} HTTP/1.1\r\n${H}${headers}\r\n${body}`;
const SMUGGLED = `GET /smuggled HTTP/1.1\r\nHost: internal.test\r\n\r\n`;

// ---- valid requests (the baseline every proxy must pass through unchanged in meaning) ----
add("valid", "GET origin-form", `GET /a/b?c=d&e=%20f HTTP/1.1\r\n${H}\r\n`, forward(fwd("GET", "/a/b?c=d&e=%20f")));
add("valid", "HEAD", `HEAD /h HTTP/1.1\r\n${H}\r\n`, forward(fwd("HEAD", "/h")));
add("valid", "POST with Content-Length", post("Content-Length: 5\r\n", "hello"), forward(fwd("POST", "/p", "hello")));
add("valid", "POST chunked", post("Transfer-Encoding: chunked\r\n", chunk("hello world", [5, 6])), forward(fwd("POST", "/p", "hello world")));
add("valid", "PUT binary body", post("Content-Length: 4\r\n", "\x00\xff\r\n").replace("POST", "PUT"), forward(fwd("PUT", "/p", "\x00\xff\r\n")));
add("valid", "DELETE", `DELETE /d HTTP/1.1\r\n${H}\r\n`, forward(fwd("DELETE", "/d")));
add("valid", "PATCH chunked one-byte chunks", `PATCH /x HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n${chunk("abcd", [1, 1, 1, 1])}`, forward(fwd("PATCH", "/x", "abcd")));
add("valid", "OPTIONS asterisk", `OPTIONS * HTTP/1.1\r\n${H}\r\n`, forward(fwd("OPTIONS", "*")));
add("valid", "OPTIONS path", `OPTIONS /o HTTP/1.1\r\n${H}\r\n`, forward(fwd("OPTIONS", "/o")));
add("valid", "PROPFIND (extension method)", `PROPFIND /dav HTTP/1.1\r\n${H}Content-Length: 0\r\n\r\n`, forward(fwd("PROPFIND", "/dav")));
add("valid", "PURGE (extension method)", `PURGE /c HTTP/1.1\r\n${H}\r\n`, forward(fwd("PURGE", "/c")));
add("valid", "header name case", `GET /c HTTP/1.1\r\nhOsT: ${HOST}\r\nX-MiXeD: v\r\n\r\n`, forward(fwd("GET", "/c")));
add("valid", "optional whitespace around values", `GET /ows HTTP/1.1\r\nHost: \t ${HOST} \t\r\nX-A:v\r\n\r\n`, forward(fwd("GET", "/ows")));
add("valid", "empty header value", `GET /e HTTP/1.1\r\n${H}X-Empty:\r\n\r\n`, forward(fwd("GET", "/e")));
add("valid", "obs-text in a value", `GET /t HTTP/1.1\r\n${H}X-Latin: caf\xe9\r\n\r\n`, forward(fwd("GET", "/t")));
add("valid", "many headers", `GET /many HTTP/1.1\r\n${H}${Array.from({ length: 90 }, (_, i) => `X-H${i}: ${i}\r\n`).join("")}\r\n`, forward(fwd("GET", "/many")));
add("valid", "8 KiB header value", `GET /long HTTP/1.1\r\n${H}X-Long: ${"a".repeat(8192)}\r\n\r\n`, forward(fwd("GET", "/long")));
add("valid", "leading empty lines", `\r\n\r\nGET /lead HTTP/1.1\r\n${H}\r\n`, forward(fwd("GET", "/lead")));
add("valid", "Content-Length 0 on GET", `GET /z HTTP/1.1\r\n${H}Content-Length: 0\r\n\r\n`, forward(fwd("GET", "/z")));
add("valid", "GET with a body", `GET /gb HTTP/1.1\r\n${H}Content-Length: 3\r\n\r\nabc`, forward(fwd("GET", "/gb", "abc")));
add("valid", "64 KiB chunked body", post("Transfer-Encoding: chunked\r\n", chunk("q".repeat(65536), [40000])), forward(fwd("POST", "/p", "q".repeat(65536))));
add("valid", "Host with port", `GET /port HTTP/1.1\r\nHost: ${HOST}:8080\r\n\r\n`, forward(fwd("GET", "/port", "", `${HOST}:8080`)));
add("valid", "Host of another colour", `GET /b HTTP/1.1\r\nHost: blue.shop.test\r\n\r\n`, forward(fwd("GET", "/b", "", "blue.shop.test")));
add("valid", "unknown Host goes to the default route", `GET /u HTTP/1.1\r\nHost: unknown.test\r\n\r\n`, forward(fwd("GET", "/u", "", "unknown.test")));
add("valid", "hop-by-hop headers dropped, request kept", `GET /hop HTTP/1.1\r\n${H}Connection: keep-alive, x-hop\r\nX-Hop: 1\r\nKeep-Alive: timeout=5\r\nTE: trailers\r\nProxy-Connection: keep-alive\r\n\r\n`, forward(fwd("GET", "/hop")));
add("valid", "Connection: close", `GET /close HTTP/1.1\r\n${H}Connection: close\r\n\r\n`, forward(fwd("GET", "/close")));

// ---- CL.TE and TE.CL: both framings in one request ----
const clte: Array<[string, string]> = [
  ["CL then TE, body smuggles a request", `Content-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nG`],
  ["TE then CL", `Transfer-Encoding: chunked\r\nContent-Length: 6\r\n\r\n0\r\n\r\nG`],
  ["CL 0 with chunked smuggled prefix", `Content-Length: 0\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n`],
  ["CL covers a whole second request", `Content-Length: ${5 + 5 + SMUGGLED.length}\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n${SMUGGLED}`],
  ["TE.CL: chunk hides a request", `Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n${(SMUGGLED.length).toString(16)}\r\n${SMUGGLED}\r\n0\r\n\r\n`],
  ["CL and TE with obfuscated TE value", `Content-Length: 5\r\nTransfer-Encoding: xchunked\r\n\r\nhello`],
  ["CL and identity TE", `Content-Length: 5\r\nTransfer-Encoding: identity\r\n\r\nhello`],
  ["CL and TE in lower case", `content-length: 5\r\ntransfer-encoding: chunked\r\n\r\n0\r\n\r\n`],
  ["CL and TE, TE after 50 other headers", `Content-Length: 5\r\n${Array.from({ length: 50 }, (_, i) => `X-${i}: y\r\n`).join("")}Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n`],
  ["CL and TE, CL named by Connection", `Connection: content-length\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`],
];
for (const [name, rest] of clte) add(name.startsWith("TE.CL") ? "TE.CL" : "CL.TE", name, `POST /clte HTTP/1.1\r\n${H}${rest}`, refuse(400, 501));

// ---- TE.TE: obfuscated Transfer-Encoding values and lines ----
const teChunked: string[] = ["chunked", "Chunked", "CHUNKED", " chunked", "chunked ", "\tchunked", "chunked\t"];
const teBad: string[] = [
  "xchunked", "chunkedx", "chunk", "chunked, identity", "identity, chunked", "chunked, chunked", "gzip, chunked", "chunked;q=1", '"chunked"',
  "chunked,", ",chunked", "identity", "gzip", "chunked\x0b", "\x0bchunked", "chunked\x00", "ch\x00unked", "chunked\x0c", "chunk\xe9d", "chunked,,",
  "cHuNkEd, gzip", "deflate, chunked",
];
teChunked.forEach((v, i) => add("TE.TE", `TE value ${JSON.stringify(v)} is chunked (${i})`, post(`Transfer-Encoding:${v.startsWith(" ") || v.startsWith("\t") ? "" : " "}${v}\r\n`, chunk("hello")), forward(fwd("POST", "/p", "hello"))));
teBad.forEach((v) => add("TE.TE", `TE value ${JSON.stringify(v)}`, post(`Transfer-Encoding: ${v}\r\n`, chunk("hello")), refuse(400, 501)));
teBad.slice(0, 10).forEach((v) => add("TE.TE", `TE value ${JSON.stringify(v)} with CL`, post(`Transfer-Encoding: ${v}\r\nContent-Length: 5\r\n`, "hello"), refuse(400, 501)));
add("TE.TE", "TE duplicated", post("Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n", chunk("hello")), refuse(400, 501));
add("TE.TE", "TE chunked then identity line", post("Transfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n", chunk("hello")), refuse(400, 501));
add("TE.TE", "TE identity then chunked line", post("Transfer-Encoding: identity\r\nTransfer-Encoding: chunked\r\n", chunk("hello")), refuse(400, 501));
add("TE.TE", "TE in a folded line", post("Transfer-Encoding:\r\n chunked\r\n", chunk("hello")), refuse(400));
add("TE.TE", "TE folded after chunked", post("Transfer-Encoding: chunked\r\n , identity\r\n", chunk("hello")), refuse(400));
add("TE.TE", "space before TE colon", post("Transfer-Encoding : chunked\r\n", chunk("hello")), refuse(400));
add("TE.TE", "tab before TE colon", post("Transfer-Encoding\t: chunked\r\n", chunk("hello")), refuse(400));
add("TE.TE", "TE name with leading space (fold)", post("X: y\r\n Transfer-Encoding: chunked\r\n", chunk("hello")), refuse(400));
add("TE.TE", "TE name with NUL", post("Transfer-Encoding\x00: chunked\r\n", chunk("hello")), refuse(400));
add("TE.TE", "TE with underscore is another header", `POST /u HTTP/1.1\r\n${H}Transfer_Encoding: chunked\r\nContent-Length: 5\r\n\r\nhello`, forward(fwd("POST", "/u", "hello")));
add("TE.TE", "TE with bare CR in value", post("Transfer-Encoding: chunked\r, identity\r\n", chunk("hello")), refuse(400));
add("TE.TE", "TE in HTTP/1.0", `POST /p HTTP/1.0\r\n${H}Transfer-Encoding: chunked\r\n\r\n${chunk("hello")}`, refuse(400));

// ---- Content-Length variants ----
const clOk: Array<[string, string]> = [[" 5", "leading space"], ["5 ", "trailing space"], ["\t5", "leading tab"], ["05", "leading zero"], ["000000000005", "many leading zeros"]];
clOk.forEach(([v, n]) => add("CL", `CL ${n}`, post(`Content-Length:${v.startsWith(" ") || v.startsWith("\t") ? "" : " "}${v}\r\n`, "hello"), forward(fwd("POST", "/p", "hello"))));
const clBad = ["+5", "-5", "0x5", "5.0", "5a", "a5", "5\x00", "", "1_0", "5 5", "5\x0b", "1e1", "99999999999999999999", "\xb5", "5,6", "0, 5"];
clBad.forEach((v) => add("CL", `CL value ${JSON.stringify(v)}`, post(`Content-Length: ${v}\r\n`, "hello"), refuse(400, 413)));
add("CL", "duplicate equal CL lines", post("Content-Length: 5\r\nContent-Length: 5\r\n", "hello"), forward(fwd("POST", "/p", "hello")));
add("CL", "duplicate different CL lines", post("Content-Length: 5\r\nContent-Length: 6\r\n", "hello!"), refuse(400));
add("CL", "duplicate CL, second 0 (CL.CL)", post("Content-Length: 0\r\nContent-Length: 5\r\n", "hello"), refuse(400));
add("CL", "comma-joined equal CL", post("Content-Length: 5, 5\r\n", "hello"), either(fwd("POST", "/p", "hello")));
add("CL", "comma-joined equal CL, no space", post("Content-Length: 5,5\r\n", "hello"), either(fwd("POST", "/p", "hello")));
add("CL", "CL then comma-joined", post("Content-Length: 5\r\nContent-Length: 5, 5\r\n", "hello"), either(fwd("POST", "/p", "hello")));
add("CL", "CL 0 with a pipelined request after", `POST /p HTTP/1.1\r\n${H}Content-Length: 0\r\n\r\nGET /next HTTP/1.1\r\n${H}\r\n`, forward(fwd("POST", "/p"), fwd("GET", "/next")));
add("CL", "CL counts a request-looking body", post(`Content-Length: ${SMUGGLED.length}\r\n`, SMUGGLED), forward(fwd("POST", "/p", SMUGGLED)));
add("CL", "CL named by Connection (issue 11)", post("Connection: content-length\r\nContent-Length: " + SMUGGLED.length + "\r\n", SMUGGLED), refuse(400));
add("CL", "15-digit CL of zeros", post("Content-Length: 000000000000000\r\n", ""), forward(fwd("POST", "/p")));

// ---- obs-fold ----
add("obs-fold", "folded custom header", `GET /f HTTP/1.1\r\n${H}X-A: a\r\n b\r\n\r\n`, refuse(400));
add("obs-fold", "folded with tab", `GET /f HTTP/1.1\r\n${H}X-A: a\r\n\tb\r\n\r\n`, refuse(400));
add("obs-fold", "folded Host", `GET /f HTTP/1.1\r\nHost: ${HOST}\r\n evil.test\r\n\r\n`, refuse(400));
add("obs-fold", "folded Content-Length", post("Content-Length:\r\n 5\r\n", "hello"), refuse(400));
add("obs-fold", "whitespace line right after the request line", `GET /f HTTP/1.1\r\n ${H}\r\n`, refuse(400));
add("obs-fold", "folded Connection naming CL", post("Connection: keep-alive\r\n content-length\r\nContent-Length: 5\r\n", "hello"), refuse(400));

// ---- bare CR and LF ----
add("bare-CR-LF", "LF-only line endings", `GET /lf HTTP/1.1\n${H.replace("\r\n", "\n")}\n`, refuse(400));
add("bare-CR-LF", "bare LF ends one header line", `GET /lf HTTP/1.1\r\n${H}X-A: a\nX-B: b\r\n\r\n`, refuse(400));
add("bare-CR-LF", "bare LF after request line", `GET /lf HTTP/1.1\n${H}\r\n`, refuse(400));
add("bare-CR-LF", "bare CR inside a value", `GET /cr HTTP/1.1\r\n${H}X-A: a\rb\r\n\r\n`, refuse(400));
add("bare-CR-LF", "bare CR before CRLF", `GET /cr HTTP/1.1\r\n${H}X-A: a\r\r\n\r\n`, refuse(400));
add("bare-CR-LF", "bare CR in the target", `GET /c\rr HTTP/1.1\r\n${H}\r\n`, refuse(400));
add("bare-CR-LF", "bare CR in the request line end", `GET /cr HTTP/1.1\r\r\n${H}\r\n`, refuse(400));
add("bare-CR-LF", "head ends CRLF LF", `GET /lf HTTP/1.1\r\n${H}\r\n\nGET /two HTTP/1.1\r\n${H}\r\n`, either(fwd("GET", "/lf")));
add("bare-CR-LF", "bare LF smuggles a header line", `GET /lf HTTP/1.1\r\n${H}X-A: a\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\nhello`, refuse(400));
add("bare-CR-LF", "bare CR before the colon", `GET /cr HTTP/1.1\r\n${H}X-A\r: b\r\n\r\n`, refuse(400));

// ---- NUL and control bytes ----
const ctl = ["\x00", "\x01", "\x07", "\x08", "\x1b", "\x1f", "\x7f"];
for (const c of ctl) {
  const hex = c.charCodeAt(0).toString(16).padStart(2, "0");
  add("ctl", `0x${hex} in a header value`, `GET /c HTTP/1.1\r\n${H}X-A: a${c}b\r\n\r\n`, refuse(400));
  add("ctl", `0x${hex} in a header name`, `GET /c HTTP/1.1\r\n${H}X-${c}A: b\r\n\r\n`, refuse(400));
  add("ctl", `0x${hex} in the target`, `GET /c${c}d HTTP/1.1\r\n${H}\r\n`, refuse(400));
}
add("ctl", "NUL in the method", `G\x00ET /c HTTP/1.1\r\n${H}\r\n`, refuse(400));
add("ctl", "NUL in Host", `GET /c HTTP/1.1\r\nHost: shop\x00.test\r\n\r\n`, refuse(400));
add("ctl", "vertical tab in a value", `GET /c HTTP/1.1\r\n${H}X-A: a\x0bb\r\n\r\n`, refuse(400));
add("ctl", "form feed in a value", `GET /c HTTP/1.1\r\n${H}X-A: a\x0cb\r\n\r\n`, refuse(400));
add("ctl", "obs-text (0xff) in the target", `GET /caf\xe9 HTTP/1.1\r\n${H}\r\n`, refuse(400));
add("ctl", "obs-text (0x80) in the target", `GET /\x80 HTTP/1.1\r\n${H}\r\n`, refuse(400));
add("ctl", "obs-text in a header name", `GET /c HTTP/1.1\r\n${H}X-\xe9: b\r\n\r\n`, refuse(400));
add("ctl", "space in the target", `GET /a b HTTP/1.1\r\n${H}\r\n`, refuse(400));
add("ctl", "tab in the target", `GET /a\tb HTTP/1.1\r\n${H}\r\n`, refuse(400));

// ---- whitespace before the colon ----
add("ws-colon", "space before Host colon", `GET /w HTTP/1.1\r\nHost : ${HOST}\r\n\r\n`, refuse(400));
add("ws-colon", "space before CL colon", post("Content-Length : 5\r\n", "hello"), refuse(400));
add("ws-colon", "tab before a custom colon", `GET /w HTTP/1.1\r\n${H}X-A\t: b\r\n\r\n`, refuse(400));
add("ws-colon", "empty header name", `GET /w HTTP/1.1\r\n${H}: b\r\n\r\n`, refuse(400));
add("ws-colon", "header line without colon", `GET /w HTTP/1.1\r\n${H}X-A b\r\n\r\n`, refuse(400));
add("ws-colon", "non-token name", `GET /w HTTP/1.1\r\n${H}X(a): b\r\n\r\n`, refuse(400));

// ---- chunk sizes ----
const chunkOk: Array<[string, string]> = [["0005", "leading zeros"], ["A", "upper-case hex"], ["a", "lower-case hex"], ["000000000a", "ten digits"]];
chunkOk.forEach(([size, n]) => {
  const len = parseInt(size, 16);
  add("chunk-size", `chunk size ${n}`, post("Transfer-Encoding: chunked\r\n", `${size}\r\n${"z".repeat(len)}\r\n0\r\n\r\n`), forward(fwd("POST", "/p", "z".repeat(len))));
});
const chunkBad: Array<[string, string]> = [
  ["ffffffffffffffff1", "overflow beyond 64 bits"], ["10000000000000005", "overflow that wraps to 5"], ["-5", "negative"], ["0x5", "0x prefix"],
  ["+5", "plus sign"], ["5 5", "two numbers"], ["g", "not hex"], ["", "empty size"], ["5\x00", "NUL after size"], ["\x005", "NUL before size"],
];
chunkBad.forEach(([size, n]) => add("chunk-size", `chunk size ${n}`, post("Transfer-Encoding: chunked\r\n", `${size}\r\nhello\r\n0\r\n\r\n`), refuse(400)));
add("chunk-size", "chunk data longer than its size", post("Transfer-Encoding: chunked\r\n", "3\r\nhello\r\n0\r\n\r\n"), refuse(400));
add("chunk-size", "chunk data shorter than its size", post("Transfer-Encoding: chunked\r\n", `7\r\nhello\r\n0\r\n\r\n${SMUGGLED}`), refuse(400));
add("chunk-size", "bare LF after chunk size", post("Transfer-Encoding: chunked\r\n", "5\nhello\r\n0\r\n\r\n"), refuse(400));
add("chunk-size", "bare LF after chunk data", post("Transfer-Encoding: chunked\r\n", "5\r\nhello\n0\r\n\r\n"), refuse(400));
add("chunk-size", "last chunk 000", post("Transfer-Encoding: chunked\r\n", "5\r\nhello\r\n000\r\n\r\n"), forward(fwd("POST", "/p", "hello")));
add("chunk-size", "space before chunk CRLF", post("Transfer-Encoding: chunked\r\n", "5 \r\nhello\r\n0\r\n\r\n"), either(fwd("POST", "/p", "hello")));
add("chunk-size", "missing CRLF after last chunk", post("Transfer-Encoding: chunked\r\n", `5\r\nhello\r\n0\r\n${SMUGGLED}`), refuse(400));

// ---- chunk extensions ----
const extOk = [";a=b", ";a", ';a="quoted"', ';a="q;u\\"o"', ";a=b;c=d", "; a = b", ";" + "e".repeat(3000)];
extOk.forEach((e, i) => add("chunk-ext", `extension ${JSON.stringify(e.slice(0, 20))} (${i})`, post("Transfer-Encoding: chunked\r\n", `5${e}\r\nhello\r\n0${e}\r\n\r\n`),
  (e.length > 100 ? either : forward)(fwd("POST", "/p", "hello"))));
add("chunk-ext", "BWS before the extension", post("Transfer-Encoding: chunked\r\n", "5 ;a=b\r\nhello\r\n0 ; a=b\r\n\r\n"), either(fwd("POST", "/p", "hello")));
const extBad = [";a\rb", ";a\nb", ";a\x00b", ';a="\r\n"', ";a=b\x7f", "\x0b;a"];
extBad.forEach((e) => add("chunk-ext", `extension ${JSON.stringify(e)}`, post("Transfer-Encoding: chunked\r\n", `5${e}\r\nhello\r\n0\r\n\r\n`), refuse(400)));

// ---- trailers ----
const trOk: Array<[string, string]> = [
  ["X-Trailer: v\r\n", "plain"], ["Content-Length: 50\r\n", "Content-Length"], ["Transfer-Encoding: chunked\r\n", "Transfer-Encoding"],
  ["Host: evil.test\r\n", "Host"], ["X-A: 1\r\nX-B: 2\r\n", "two fields"],
];
trOk.forEach(([t, n]) => add("trailer", `trailer ${n}`, post("Transfer-Encoding: chunked\r\n", `5\r\nhello\r\n0\r\n${t}\r\n`) + `GET /after HTTP/1.1\r\n${H}\r\n`, forward(fwd("POST", "/p", "hello"), fwd("GET", "/after"))));
const trBad: Array<[string, string]> = [
  ["not a header\r\n", "line without colon"], ["X-A: a\r\n b\r\n", "folded"], ["X-A: a\nX-B: b\r\n", "bare LF"], ["X-A : b\r\n", "space before colon"],
  ["X-A: a\x00\r\n", "NUL"], [": b\r\n", "empty name"],
];
trBad.forEach(([t, n]) => add("trailer", `trailer ${n}`, post("Transfer-Encoding: chunked\r\n", `5\r\nhello\r\n0\r\n${t}\r\n`), refuse(400)));

// ---- Connection-nominated headers ----
const nominated: Array<[string, string, string]> = [
  ["content-length", `Content-Length: ${SMUGGLED.length}\r\n`, SMUGGLED], ["Content-Length", `Content-Length: ${SMUGGLED.length}\r\n`, SMUGGLED],
  ["close, content-length", `Content-Length: ${SMUGGLED.length}\r\n`, SMUGGLED], ["keep-alive,content-length", `Content-Length: ${SMUGGLED.length}\r\n`, SMUGGLED],
  ["transfer-encoding", "Transfer-Encoding: chunked\r\n", chunk(SMUGGLED)], ["Transfer-Encoding, close", "Transfer-Encoding: chunked\r\n", chunk(SMUGGLED)],
  ["host", "", ""], ["HOST", "", ""],
];
nominated.forEach(([c, h, body]) => add("connection-nominated", `Connection: ${c}`, post(`Connection: ${c}\r\n${h}`, body), refuse(400)));
add("connection-nominated", "second Connection line names CL", post(`Connection: keep-alive\r\nConnection: content-length\r\nContent-Length: ${SMUGGLED.length}\r\n`, SMUGGLED), refuse(400));
add("connection-nominated", "Connection names X-Forwarded-For (dropped, forwarded)", `GET /x HTTP/1.1\r\n${H}Connection: x-forwarded-for\r\nX-Forwarded-For: 1.2.3.4\r\n\r\n`, forward(fwd("GET", "/x")));
add("connection-nominated", "Connection names a custom header", `GET /x HTTP/1.1\r\n${H}Connection: x-secret\r\nX-Secret: 1\r\n\r\n`, forward(fwd("GET", "/x")));

// ---- upgrade early data ----
const WS = `Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n`;
const ADMIN = `GET /admin HTTP/1.1\r\nHost: internal.test\r\nX-Forwarded-For: 127.0.0.1\r\n\r\n`;
add("upgrade-early-data", "refused upgrade, request in the same write (issue 11)", `GET /ws HTTP/1.1\r\n${H}${WS}\r\n${ADMIN}`, forward(fwd("GET", "/ws")));
const wsHead = `GET /ws HTTP/1.1\r\n${H}${WS}\r\n`;
add("upgrade-early-data", "refused upgrade, request in a second write", wsHead + ADMIN, forward(fwd("GET", "/ws")), [wsHead.length]);
add("upgrade-early-data", "refused upgrade, request split mid-line", wsHead + ADMIN, forward(fwd("GET", "/ws")), [wsHead.length + 7]);
add("upgrade-early-data", "refused h2c upgrade with early request", `GET /ws HTTP/1.1\r\n${H}Upgrade: h2c\r\nConnection: Upgrade, HTTP2-Settings\r\nHTTP2-Settings: AAMAAABkAAQAoAAAAAIAAAAA\r\n\r\n${ADMIN}`, forward(fwd("GET", "/ws")));
add("upgrade-early-data", "accepted upgrade, early frame bytes after the 101", `GET /ws-ok HTTP/1.1\r\n${H}${WS}\r\n${ADMIN}`, forward(fwd("GET", "/ws-ok")));
add("upgrade-early-data", "upgrade with a body is refused", `GET /ws HTTP/1.1\r\n${H}${WS}Content-Length: ${ADMIN.length}\r\n\r\n${ADMIN}`, refuse(400));
add("upgrade-early-data", "Upgrade without Connection: upgrade is a plain request", `GET /plain HTTP/1.1\r\n${H}Upgrade: websocket\r\n\r\nGET /next HTTP/1.1\r\n${H}\r\n`, forward(fwd("GET", "/plain"), fwd("GET", "/next")));

// ---- pipelining ----
const P1 = `POST /p1 HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n${chunk("hello world", [5, 6])}`;
const P2 = `GET /p2 HTTP/1.1\r\n${H}\r\n`;
const P3 = `PUT /p3 HTTP/1.1\r\n${H}Content-Length: 3\r\n\r\nabc`;
const pipeFwd = [fwd("POST", "/p1", "hello world"), fwd("GET", "/p2"), fwd("PUT", "/p3", "abc")];
add("pipelining", "three requests in one write", P1 + P2 + P3, forward(...pipeFwd));
add("pipelining", "HEAD then GET", `HEAD /h HTTP/1.1\r\n${H}\r\n${P2}`, forward(fwd("HEAD", "/h"), fwd("GET", "/p2")));
add("pipelining", "ten GETs in one write", Array.from({ length: 10 }, (_, i) => `GET /g${i} HTTP/1.1\r\n${H}\r\n`).join(""), forward(...Array.from({ length: 10 }, (_, i) => fwd("GET", `/g${i}`))));
add("pipelining", "valid request then garbage", `${P2}GARBAGE\r\n\r\n`, { refuse: [400], after: [fwd("GET", "/p2")] });
add("pipelining", "Connection: close then another request", `GET /c HTTP/1.1\r\n${H}Connection: close\r\n\r\n${P2}`, forward(fwd("GET", "/c")));
// Split at every awkward point: each offset of P1+P2 (inside words, between CR and LF, inside chunk sizes).
const pipe = P1 + P2;
const awkward = new Set<number>();
for (let i = 1; i < pipe.length; i++) {
  const a = pipe[i - 1]!;
  const b = pipe[i]!;
  if (a === "\r" || b === "\r" || a === ":" || a === " " || /[0-9a-f]/.test(a) && /\r/.test(b) || i % 7 === 0) awkward.add(i);
}
for (const at of awkward) add("pipelining-split", `split at ${at} (${JSON.stringify(pipe.slice(Math.max(0, at - 4), at))}|${JSON.stringify(pipe.slice(at, at + 4))})`, pipe, forward(pipeFwd[0]!, pipeFwd[1]!), [at]);
add("pipelining-split", "byte by byte", P2 + P3, forward(fwd("GET", "/p2"), fwd("PUT", "/p3", "abc")), Array.from({ length: (P2 + P3).length - 1 }, (_, i) => i + 1));

// ---- absolute-form ----
add("absolute-form", "authority replaces Host (issue 11)", `GET http://other.test/x?y=1 HTTP/1.1\r\n${H}\r\n`, forward(fwd("GET", "/x?y=1", "", "other.test")));
add("absolute-form", "authority without path", `GET http://other.test HTTP/1.1\r\n${H}\r\n`, forward(fwd("GET", "/", "", "other.test")));
add("absolute-form", "authority with query only", `GET http://other.test?q=1 HTTP/1.1\r\n${H}\r\n`, forward(fwd("GET", "/?q=1", "", "other.test")));
add("absolute-form", "authority with port", `GET http://other.test:8080/p HTTP/1.1\r\n${H}\r\n`, forward(fwd("GET", "/p", "", "other.test:8080")));
add("absolute-form", "https scheme", `GET https://other.test/s HTTP/1.1\r\n${H}\r\n`, forward(fwd("GET", "/s", "", "other.test")));
add("absolute-form", "upper-case scheme", `GET HTTP://other.test/u HTTP/1.1\r\n${H}\r\n`, forward(fwd("GET", "/u", "", "other.test")));
add("absolute-form", "no Host header", `GET http://other.test/n HTTP/1.1\r\n\r\n`, forward(fwd("GET", "/n", "", "other.test")));
add("absolute-form", "POST with body", `POST http://other.test/b HTTP/1.1\r\n${H}Content-Length: 3\r\n\r\nabc`, forward(fwd("POST", "/b", "abc", "other.test")));
add("absolute-form", "authority of the live host", `GET http://${HOST}/l HTTP/1.1\r\nHost: evil.test\r\n\r\n`, forward(fwd("GET", "/l", "", HOST)));
add("absolute-form", "userinfo in the authority", `GET http://user@other.test/x HTTP/1.1\r\n${H}\r\n`, refuse(400));
add("absolute-form", "other scheme", `GET ftp://other.test/x HTTP/1.1\r\n${H}\r\n`, refuse(400));
add("absolute-form", "empty authority", `GET http:///x HTTP/1.1\r\n${H}\r\n`, refuse(400));

// ---- Expect ----
add("expect", "100-continue with the body at once", post("Expect: 100-continue\r\nContent-Length: 5\r\n", "hello"), forward(fwd("POST", "/p", "hello")));
const exp = post("Expect: 100-continue\r\nContent-Length: 5\r\n", "hello");
add("expect", "100-continue with the body later", exp, forward(fwd("POST", "/p", "hello")), [exp.length - 5]);
add("expect", "100-continue on a chunked body", post("Expect: 100-continue\r\nTransfer-Encoding: chunked\r\n", chunk("hello")), forward(fwd("POST", "/p", "hello")));
add("expect", "unknown expectation", post("Expect: something\r\nContent-Length: 5\r\n", "hello"), either(fwd("POST", "/p", "hello")));

// ---- HTTP/1.0 ----
add("http10", "HTTP/1.0 GET", `GET /o HTTP/1.0\r\n${H}\r\n`, forward(fwd("GET", "/o")));
add("http10", "HTTP/1.0 keep-alive pipelined pair", `GET /k1 HTTP/1.0\r\n${H}Connection: keep-alive\r\n\r\nGET /k2 HTTP/1.0\r\n${H}Connection: keep-alive\r\n\r\n`, forward(fwd("GET", "/k1"), fwd("GET", "/k2")));
add("http10", "HTTP/1.0 without keep-alive ends after one", `GET /k1 HTTP/1.0\r\n${H}\r\nGET /k2 HTTP/1.0\r\n${H}\r\n`, forward(fwd("GET", "/k1")));
add("http10", "HTTP/1.0 POST with CL", `POST /o HTTP/1.0\r\n${H}Content-Length: 5\r\n\r\nhello`, forward(fwd("POST", "/o", "hello")));
add("http10", "HTTP/1.0 without Host", `GET /o HTTP/1.0\r\n\r\n`, either(fwd("GET", "/o", "", "")));

// ---- oversize heads ----
const big = (n: number): string => `GET /big HTTP/1.1\r\n${H}X-Big: ${"b".repeat(n)}\r\n\r\n`;
add("oversize-head", "20 KiB head in one piece (issue 11)", big(20_000), refuse(431, 400));
add("oversize-head", "34 KiB head in one piece (issue 11)", big(33_800), refuse(431, 400));
const frag = big(20_000);
add("oversize-head", "20 KiB head in 1 KiB fragments", frag, refuse(431, 400), Array.from({ length: Math.floor(frag.length / 1024) }, (_, i) => (i + 1) * 1024));
add("oversize-head", "600 headers of 40 bytes", `GET /big HTTP/1.1\r\n${H}${Array.from({ length: 600 }, (_, i) => `X-${String(i).padStart(4, "0")}: ${"v".repeat(30)}\r\n`).join("")}\r\n`, refuse(431, 400));
add("oversize-head", "20 KiB target", `GET /${"t".repeat(20_000)} HTTP/1.1\r\n${H}\r\n`, refuse(414, 431, 400));
add("oversize-head", "15 KiB head is fine", big(15_000), forward(fwd("GET", "/big")));
add("oversize-head", "oversize second pipelined head", `${P2}${big(20_000)}`, { refuse: [431, 400], after: [fwd("GET", "/p2")] });

// ---- methods and versions ----
const badLines = [
  "GET / HTTP/1.2", "GET / HTTP/2.0", "GET / HTTP/1.1 ", "GET / http/1.1", "GET / HTTP/01.1", "GET / HTTP/1", "GET /", "GET  / HTTP/1.1",
  "GET / HTTP/1.1 extra", " GET / HTTP/1.1", "GET\t/ HTTP/1.1", "G:ET / HTTP/1.1", "GET / HTTP/1.10", "GET / HTTP/ 1.1",
];
badLines.forEach((l) => add("method-version", `request line ${JSON.stringify(l)}`, `${l}\r\n${H}\r\n`, refuse(400, 505)));
add("method-version", "CONNECT", `CONNECT other.test:443 HTTP/1.1\r\nHost: other.test:443\r\n\r\n`, refuse(400, 405, 501));

// ---- Host rules (RFC 9112 §3.2) ----
add("host", "HTTP/1.1 without Host", `GET /h HTTP/1.1\r\n\r\n`, refuse(400));
add("host", "two Host lines", `GET /h HTTP/1.1\r\n${H}Host: evil.test\r\n\r\n`, refuse(400));
add("host", "two equal Host lines", `GET /h HTTP/1.1\r\n${H}${H}\r\n`, refuse(400));
add("host", "comma-joined Host", `GET /h HTTP/1.1\r\nHost: ${HOST}, evil.test\r\n\r\n`, refuse(400));
add("host", "space inside Host", `GET /h HTTP/1.1\r\nHost: shop test\r\n\r\n`, refuse(400));
add("host", "userinfo in Host", `GET /h HTTP/1.1\r\nHost: evil@${HOST}\r\n\r\n`, refuse(400));
add("host", "path in Host", `GET /h HTTP/1.1\r\nHost: ${HOST}/x\r\n\r\n`, refuse(400));
add("host", "empty Host", `GET /h HTTP/1.1\r\nHost:\r\n\r\n`, either(fwd("GET", "/h", "", "")));
add("host", "IPv6 literal Host", `GET /h HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n`, forward(fwd("GET", "/h", "", "[::1]:8080")));

// Defects these vectors found in the router on main 4e1a51c (after the issue 11 fixes); fixed in 14ac3a5.
const TRAILERS = "the chunked scanner takes any line of visible bytes as a trailer field (chunked.ts TRAILER state): " +
  "no field-name, no colon, obs-fold and whitespace before the colon all pass, where llhttp and h11 both answer 400";
markFindings(out, {
  "OPTIONS asterisk": "OPTIONS * is answered 503: the table routes by path prefix and \"*\" matches no route",
  "chunk size two numbers": "whitespace after a chunk size starts an 'extension' that may hold anything (chunked.ts SIZE/EXT): \"5 5\" is read as 5; RFC 9112 §7.1.1 allows only BWS then \";\"",
  "missing CRLF after last chunk": `${TRAILERS}; here a whole request after "0\\r\\n" is swallowed as trailer lines`,
  "trailer line without colon": TRAILERS,
  "trailer folded": TRAILERS,
  "trailer space before colon": TRAILERS,
  "trailer empty name": TRAILERS,
});

export const REQUEST_CORPUS: readonly RequestVector[] = out;
