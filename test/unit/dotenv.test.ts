import { describe, expect, it } from "vitest";
import { DotenvError, parseDotenv } from "../../node-agent/dotenv.js";

/** The error a text raises (its line and reason), or null when it parses. */
function failure(text: string): { line: number; message: string } | null {
  try {
    parseDotenv(text);
    return null;
  } catch (err) {
    if (!(err instanceof DotenvError)) throw err;
    return { line: err.line, message: err.message };
  }
}

describe("dotenv secret files", () => {
  it("reads KEY=VALUE lines, export, comments, blank lines and quotes", () => {
    const text = [
      "\uFEFF# the database (a byte-order mark at the start is dropped)",
      "",
      "DATABASE_URL=postgres://app:s3cr3t@db:5432/shop",
      "export API_KEY = abc123 ",
      "SINGLE='a # not a comment $HOME'",
      'DOUBLE="line1\\nline2 \\"q\\" \\\\"  # a comment',
      "PLAIN=value # trailing comment",
      "HASH=a#b",
      "EMPTY=",
      "EQUALS=a=b=c",
    ].join("\r\n");
    expect(parseDotenv(text)).toEqual({
      DATABASE_URL: "postgres://app:s3cr3t@db:5432/shop",
      API_KEY: "abc123",
      SINGLE: "a # not a comment $HOME",
      DOUBLE: 'line1\nline2 "q" \\',
      PLAIN: "value",
      HASH: "a#b",
      EMPTY: "",
      EQUALS: "a=b=c",
    });
  });

  it("names the line and the reason of a bad line, never the value", () => {
    const cases: [string, number, RegExp][] = [
      ["A=1\nno equals sign here-hunter2\n", 2, /no '='/],
      ["A=1\n\n9BAD=hunter2\n", 3, /name is not valid/],
      ["A=1\nB='hunter2\n", 2, /single quote is not closed/],
      ['A="hunter2\n', 1, /double quote is not closed/],
      ['A="x" hunter2\n', 1, /text after the closing quote/],
      ["A=hunter2\nA=hunter2\n", 2, /A is set twice/],
      ["MY-VAR=hunter2\n", 1, /name is not valid/],
      // A NUL byte would make the runtime's refusal quote the value into status and logs.
      ["A=1\nB=hunter2\u0000x\n", 2, /B holds a control character/],
      ["B='hunter2\u0007'\n", 1, /B holds a control character/],
    ];
    for (const [text, line, reason] of cases) {
      const f = failure(text);
      expect(f, text).not.toBeNull();
      expect(f!.line, text).toBe(line);
      expect(f!.message, text).toMatch(reason);
      expect(f!.message, text).toMatch(new RegExp(`^line ${line}: `));
      expect(f!.message, text).not.toContain("hunter2");
    }
  });
});

