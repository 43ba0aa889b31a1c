/**
 * ChunkedScanner over raw bytes: where a chunked body ends, what payload it carries, and every malformed
 * framing refused — whole and split at every byte boundary (the scanner keeps its state across feeds).
 */
import { describe, expect, it } from "vitest";
import { CHUNKED_ERROR, CHUNKED_MORE, ChunkedScanner } from "../../node-agent/router/chunked.js";

/** Feeds `raw` in pieces of `step` bytes: the end offset within the whole input, or MORE / ERROR, and the payload. */
function scan(raw: string, step = raw.length, s = new ChunkedScanner()): { end: number; data: string } {
  const buf = Buffer.from(raw, "latin1");
  let data = "";
  for (let at = 0; at < buf.length; at += step) {
    const piece = buf.subarray(at, Math.min(buf.length, at + step));
    const r = s.feed(piece, 0, (b) => { data += b.toString("latin1"); });
    if (r === CHUNKED_ERROR) return { end: r, data };
    if (r !== CHUNKED_MORE) return { end: at + r, data };
  }
  return { end: CHUNKED_MORE, data };
}

const everyStep = (raw: string) => Array.from({ length: raw.length }, (_, i) => i + 1);

describe("ChunkedScanner", () => {
  it("finds the end of a body and hands out the payload, whatever the feed boundaries", () => {
    const body = "5\r\nhello\r\nA;name=\"v\"\r\n0123456789\r\n0\r\n\r\n";
    for (const step of everyStep(body)) expect(scan(body + "NEXT", step), `step ${step}`).toEqual({ end: body.length, data: "hello0123456789" });
  });

  it("reads past trailers and extensions with blanks", () => {
    const body = "3 ;x\r\nabc\r\n0\t;y=1\r\nX-Sum: 1\r\nX-B:\t2\r\n\r\n";
    for (const step of everyStep(body)) expect(scan(body, step), `step ${step}`).toEqual({ end: body.length, data: "abc" });
  });

  it("accepts hex digits of both cases and leading zeros", () => {
    expect(scan("a\r\n0123456789\r\n0\r\n\r\n").data).toBe("0123456789");
    expect(scan("B\r\n0123456789X\r\n0\r\n\r\n").data).toBe("0123456789X");
    expect(scan("f\r\n0123456789abcde\r\n000\r\n\r\n").data).toBe("0123456789abcde");
    expect(scan("0000000001\r\nz\r\n0\r\n\r\n").data).toBe("z");
  });

  it("says MORE until the last CRLF of the trailer section", () => {
    for (const partial of ["", "5", "5\r", "5\r\nhel", "5\r\nhello", "5\r\nhello\r", "5\r\nhello\r\n0", "5\r\nhello\r\n0\r\n", "5\r\nhello\r\n0\r\n\r", "5\r\nhello\r\n0\r\nX: 1\r\n"]) {
      expect(scan(partial).end, JSON.stringify(partial)).toBe(CHUNKED_MORE);
    }
  });

  it("refuses malformed framing", () => {
    for (const bad of [
      "\r\n", // no size
      ";x\r\n", // extension without a size
      "g\r\n", "5x\r\n", "-5\r\n", "+5\r\n",
      "5\nhello\r\n0\r\n\r\n", // bare LF after the size
      "5\r\rhello\r\n0\r\n\r\n",
      "5;a\nb\r\nhello\r\n0\r\n\r\n", // bare LF in an extension
      "5;a\x00\r\nhello\r\n0\r\n\r\n", "5;a\x7f\r\nhello\r\n0\r\n\r\n",
      "5\r\nhelloX\r\n0\r\n\r\n", // data longer than its size
      "5\r\nhello\rX0\r\n\r\n", "5\r\nhello\n\r\n0\r\n\r\n",
      "0\r\nX: 1\n\r\n", "0\r\nX: \x01\r\n\r\n", "0\r\nX: \x7f\r\n\r\n", "0\r\n\rX",
      "00000000001\r\nz\r\n0\r\n\r\n", // eleven digits
    ]) {
      expect(scan(bad).end, JSON.stringify(bad)).toBe(CHUNKED_ERROR);
    }
  });

  it("allows tabs in extensions and trailers, the largest ten-digit size, and counts trailer bytes", () => {
    expect(scan("1;\ta\r\nz\r\n0\r\nA:\tb\r\n\r\n").end).toBe(20);
    expect(scan("ffffffffff\r\nab").end).toBe(CHUNKED_MORE);
  });

  it("follows framing only (no decoding) when given no callback, from an offset", () => {
    const s = new ChunkedScanner();
    const buf = Buffer.from("HEAD2\r\nhi\r\n0\r\n\r\nnext", "latin1");
    expect(s.feed(buf, 4, null)).toBe(16);
  });

  it("passes a whole buffer through untouched when it is all payload", () => {
    const s = new ChunkedScanner();
    expect(s.feed(Buffer.from("4\r\n"), 0, null)).toBe(CHUNKED_MORE);
    const whole = Buffer.from("abcd");
    const seen: Buffer[] = [];
    expect(s.feed(whole, 0, (b) => seen.push(b))).toBe(CHUNKED_MORE);
    expect(seen).toHaveLength(1);
    expect(seen[0]).toBe(whole);
    const mid = Buffer.from("xyab");
    const s2 = new ChunkedScanner();
    s2.feed(Buffer.from("2\r\n"), 0, null);
    const got: Buffer[] = [];
    expect(s2.feed(mid, 2, (b) => got.push(b))).toBe(CHUNKED_MORE);
    expect(got.map((b) => b.toString())).toEqual(["ab"]);
  });

  it("is ready for the next body after one ends, and after reset", () => {
    const s = new ChunkedScanner();
    expect(scan("1\r\na\r\n0\r\n\r\n", 100, s).end).toBe(11);
    expect(scan("2\r\nbc\r\n0\r\n\r\n", 100, s)).toEqual({ end: 12, data: "bc" });
    expect(scan("3\r\nab", 100, s).end).toBe(CHUNKED_MORE);
    s.reset();
    expect(scan("1\r\nq\r\n0\r\n\r\n", 100, s)).toEqual({ end: 11, data: "q" });
    s.feed(Buffer.from("0;ext"), 0, null);
    s.reset();
    expect(scan("1\r\nq\r\n0\r\n\r\n", 100, s)).toEqual({ end: 11, data: "q" });
    s.feed(Buffer.from("0\r\nX: 1"), 0, null);
    s.reset();
    expect(scan("1\r\nq\r\n0\r\n\r\n", 100, s)).toEqual({ end: 11, data: "q" });
  });
});

describe("ChunkedScanner: sizes, blanks after the size, trailer field lines", () => {
  it("reads multi-digit sizes and every hex digit", () => {
    expect(scan("10\r\n0123456789abcdef\r\n0\r\n\r\n").data).toBe("0123456789abcdef");
    for (const [digit, len] of [["9", 9], ["A", 10], ["F", 15], ["e", 14], ["0", 0]] as const) {
      const body = "z".repeat(len);
      expect(scan(`1${digit}\r\n${"y".repeat(16)}${body}\r\n0\r\n\r\n`).data, digit).toBe("y".repeat(16) + body);
    }
    for (const c of ["/", ":", "@", "G", "`", "g"]) expect(scan(`1${c}\r\n`).end, c).toBe(CHUNKED_ERROR);
  });

  it("allows blanks between the size and a ';' or the CR, nothing else", () => {
    for (const ok of ["5 \t ;x\r\nhello\r\n0\r\n\r\n", "5 \r\nhello\r\n0\r\n\r\n", "5\t\r\nhello\r\n0\r\n\r\n", "5;a b\r\nhello\r\n0\r\n\r\n"]) {
      for (const step of everyStep(ok)) expect(scan(ok, step), `${JSON.stringify(ok)} step ${step}`).toEqual({ end: ok.length, data: "hello" });
    }
    for (const bad of ["5 x\r\n", "5 5\r\n", "5 \n", "5 \x00\r\n"]) expect(scan(bad).end, JSON.stringify(bad)).toBe(CHUNKED_ERROR);
  });

  it("trailer lines must be field lines: a token name, a colon, a value", () => {
    const tchars = "!#$%&'*+-.^_`|~09azAZ";
    expect(scan(`0\r\n${tchars}: v\r\n\r\n`).end).toBe(`0\r\n${tchars}: v\r\n\r\n`.length);
    for (const c of ["\"", "(", ")", ",", "/", ";", "<", "=", ">", "?", "@", "[", "\\", "]", "{", "}", " ", "\t", "\x7f", "\x80", "\x00"]) {
      expect(scan(`0\r\nA${c}B: v\r\n\r\n`).end, JSON.stringify(c)).toBe(CHUNKED_ERROR);
    }
    expect(scan("0\r\nX\r\n\r\n").end).toBe(CHUNKED_ERROR); // a name without a colon
    expect(scan("0\r\n: v\r\n\r\n").end).toBe(CHUNKED_ERROR); // a colon without a name
    // What looks like a request smuggled after the last chunk is not a trailer.
    expect(scan("0\r\nGET /admin HTTP/1.1\r\nHost: a\r\n\r\n").end).toBe(CHUNKED_ERROR);
  });

  it("reads past at most 16 KiB of trailers, counted per body", () => {
    const trailer = (n: number) => `0\r\nX:${"v".repeat(n)}\r\n\r\n`; // counted: X, :, n value bytes, CR, final CR
    expect(scan(trailer(16_380)).end).toBe(trailer(16_380).length);
    expect(scan(trailer(16_381)).end).toBe(CHUNKED_ERROR); // the final CR is one too many
    expect(scan(trailer(16_383)).end).toBe(CHUNKED_ERROR); // within the value
    expect(scan(`0\r\nX:${"v".repeat(16_381)}\r\n`).end).toBe(CHUNKED_MORE); // the 16384th byte, a value's CR, is allowed
    const name = `0\r\n${"N".repeat(16_385)}:v\r\n\r\n`;
    expect(scan(name).end).toBe(CHUNKED_ERROR); // within the name
    const s = new ChunkedScanner();
    expect(scan(trailer(10_000), 100_000, s).end).toBe(trailer(10_000).length);
    expect(scan(trailer(10_000), 100_000, s).end).toBe(trailer(10_000).length);
    s.feed(Buffer.from(`0\r\nX:${"v".repeat(10_000)}`), 0, null);
    s.reset();
    expect(scan(trailer(10_000), 100_000, s).end).toBe(trailer(10_000).length);
  });
});
