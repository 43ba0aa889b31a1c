/** `switchyard logs` prints another machine's text: nothing in it may drive the terminal. */
import { describe, expect, it } from "vitest";
import { plainText } from "../../cli/logs.js";

describe("plainText", () => {
  it("drops ANSI sequences, C0 and 8-bit C1 controls and bidi overrides; keeps tabs and text", () => {
    expect(plainText("\x1b[31mred\x1b[0m\tok")).toBe("red\tok");
    expect(plainText("a\x1b]52;c;ZXZpbA==\x07b")).toBe("ab"); // OSC 52: a clipboard write
    expect(plainText("a\x9d0;title\x07b\x9bc\x90d")).toBe("a0;titlebcd"); // 8-bit OSC, CSI, DCS introducers go
    expect(plainText("x\u202eevil\u202cy\u2066z\u2069")).toBe("xevilyz");
    expect(plainText("bell\x07 cr\r nul\x00 del\x7f")).toBe("bell cr nul del");
    expect(plainText("héllo wörld ✓")).toBe("héllo wörld ✓");
  });
});
