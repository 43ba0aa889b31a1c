import { describe, expect, it } from "vitest";
import { FrameScanner, closeFrame } from "../../node-agent/router/ws-frames.js";

/** A frame with `len` payload bytes (7-bit, 16-bit or 64-bit length), masked or not. */
function frame(len: number, masked: boolean): Buffer {
  const ext = len < 126 ? [] : len < 65536 ? [len >> 8, len & 0xff] : [0, 0, 0, 0, (len >>> 24) & 0xff, (len >> 16) & 0xff, (len >> 8) & 0xff, len & 0xff];
  const len7 = len < 126 ? len : len < 65536 ? 126 : 127;
  return Buffer.concat([Buffer.from([0x82, (masked ? 0x80 : 0) | len7, ...ext]), masked ? Buffer.from([1, 2, 3, 4]) : Buffer.alloc(0), Buffer.alloc(len, 7)]);
}

describe("WebSocket frame boundaries", () => {
  const frames = [frame(0, false), frame(5, true), frame(300, false), frame(70_000, true), frame(125, true)];
  const stream = Buffer.concat(frames);
  const ends = frames.reduce<number[]>((acc, f) => [...acc, (acc.at(-1) ?? 0) + f.length], []);

  it("finds every frame end however the bytes are split", () => {
    for (const chunk of [1, 2, 3, 7, 13, 1000, stream.length]) {
      const s = new FrameScanner();
      const found: number[] = [];
      let at = 0;
      while (at < stream.length) {
        const piece = stream.subarray(at, Math.min(at + chunk, stream.length));
        let off = 0;
        while (off < piece.length) {
          const n = s.scan(piece.subarray(off), true);
          off += n;
          if (s.atBoundary() && (found.at(-1) ?? -1) !== at + off) found.push(at + off);
          if (n === 0) {
            // at a boundary: step into the next frame
            off += s.scan(piece.subarray(off, off + 1), false);
          }
        }
        at += piece.length;
      }
      expect(found.filter((x) => x > 0), `chunk ${chunk}`).toEqual(ends);
    }
  });

  it("a close frame: code 1001, masked towards the upstream with the mask applied", () => {
    expect([...closeFrame(1001, "going away", false)]).toEqual([0x88, 12, 0x03, 0xe9, ...Buffer.from("going away")]);
    const m = closeFrame(1001, "going away", true);
    expect([m[0], m[1]]).toEqual([0x88, 0x80 | 12]);
    const key = m.subarray(2, 6);
    const payload = Buffer.from(m.subarray(6).map((b, i) => b ^ key[i % 4]!));
    expect([...payload]).toEqual([0x03, 0xe9, ...Buffer.from("going away")]);
  });
});
