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
