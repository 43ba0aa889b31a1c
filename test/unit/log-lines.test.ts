import { describe, expect, it } from "vitest";
import { LineSplitter, dockerLogLines, isoNano } from "../../node-agent/log-lines.js";
import { LogMarks } from "../../node-agent/process-logs.js";

function frame(stream: 1 | 2, text: string): Buffer {
  const body = Buffer.from(text);
  const head = Buffer.alloc(8);
  head[0] = stream;
  head.writeUInt32BE(body.length, 4);
  return Buffer.concat([head, body]);
}

async function* chunks(buf: Buffer, size: number): AsyncGenerator<Buffer> {
  for (let i = 0; i < buf.length; i += size) yield buf.subarray(i, i + size);
}

describe("log lines", () => {
  it("a line longer than the cap is cut to the cap and marked; the next line is whole", () => {
    const s = new LineSplitter(10);
    const out = [...s.push(Buffer.from("0123456789abcdef")), ...s.push(Buffer.from("ghij\nshort\n"))];
    expect(out).toEqual([{ text: "0123456789", truncated: true }, { text: "short", truncated: false }]);
    expect(s.flush()).toBeUndefined();
  });

  it("Docker frames split anywhere across chunks: stdout and stderr apart, times normalised, long lines cut", async () => {
    const long = "x".repeat(100);
    const raw = Buffer.concat([
      frame(1, "2026-11-29T20:00:00.1Z hello\n"),
      frame(2, "2026-11-29T20:00:00.123456789Z oops\n"),
      frame(1, `2026-11-29T20:00:01Z ${long}\n`),
      frame(1, "2026-11-29T20:00:02.5Z partial"),
    ]);
    for (const size of [1, 3, 7, 1000]) {
      const got = [];
      for await (const l of dockerLogLines(chunks(raw, size), 20)) got.push(l);
      expect(got, `chunks of ${size}`).toEqual([
        { type: "line", t: "2026-11-29T20:00:00.100000000Z", stream: "stdout", line: "hello" },
        { type: "line", t: "2026-11-29T20:00:00.123456789Z", stream: "stderr", line: "oops" },
        { type: "line", t: "2026-11-29T20:00:01.000000000Z", stream: "stdout", line: "x".repeat(20), truncated: true },
        { type: "line", t: "2026-11-29T20:00:02.500000000Z", stream: "stdout", line: "partial" },
      ]);
    }
  });

  it("times of every source sort as text", () => {
    expect(isoNano("2026-11-29T20:00:00.1234Z") < isoNano("2026-11-29T20:00:00.12345Z")).toBe(true);
    expect(isoNano(new Date("2026-11-29T20:00:00.5Z"))).toBe("2026-11-29T20:00:00.500000000Z");
  });

  it("process log marks: since is an offset that misses nothing written after it; memory stays bounded", () => {
    const m = new LogMarks();
    m.note("a.log", 100, 1000);
    m.note("a.log", 100, 1500); // no growth: no mark
    m.note("a.log", 250, 2000);
    expect(m.offsetAt("a.log", new Date(999), 40)).toBe(40);
    expect(m.offsetAt("a.log", new Date(1999), 40)).toBe(100);
    expect(m.offsetAt("a.log", new Date(2000), 40)).toBe(250);
    expect(m.timeOf("a.log", 90)).toBeNull();
    expect(m.timeOf("a.log", 200)).toBe(isoNano(new Date(2000)));
    for (let i = 0; i < 10_000; i++) m.note("b.log", i + 1, i);
    expect(m.offsetAt("b.log", new Date(5000), 0)).toBeLessThanOrEqual(5001);
    expect(m.offsetAt("b.log", new Date(5000), 0)).toBeGreaterThan(4990);
  });
});

describe("ndjsonLines bounds what a peer can make us hold", () => {
  it("splits records across any chunking, and refuses a record that grows past the cap without its newline", async () => {
    const { ndjsonLines } = await import("../../common/ndjson.js");
    async function* chunks(parts: string[]) { for (const p of parts) yield Buffer.from(p); }
    const got: string[] = [];
    for await (const l of ndjsonLines(chunks(['{"a":', '1}\n{"b"', ':2}\n\n{"c":3}\n{"partial"']))) got.push(l);
    expect(got).toEqual(['{"a":1}', '{"b":2}', '{"c":3}']);
    const huge = chunks(Array.from({ length: 40 }, () => "x".repeat(8192)));
    await expect((async () => { for await (const _ of ndjsonLines(huge, 64 * 1024)) { /* none */ } })()).rejects.toThrow(/longer than 65536 characters/);
  });
});
