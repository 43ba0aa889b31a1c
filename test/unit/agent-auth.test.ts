/** The agent API's bearer-token check (node-agent/auth.ts): the right token always passes; failures are counted per address. */
import { describe, expect, it } from "vitest";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FAILED_WINDOW_MS, MAX_FAILED_ATTEMPTS, TokenGuard } from "../../node-agent/auth.js";
import { readTokens } from "../../node-agent/token-file.js";

const TOKEN = "a".repeat(32) + "0123456789abcdef";
const T0 = 1_000_000;

describe("TokenGuard", () => {
  it("accepts exactly `Bearer <token>`", () => {
    const g = new TokenGuard(TOKEN);
    expect(g.check("10.0.0.1", `Bearer ${TOKEN}`, T0)).toBe("ok");
    for (const bad of [undefined, "", TOKEN, `bearer ${TOKEN}`, `Bearer  ${TOKEN}`, `Bearer ${TOKEN} `, `Bearer ${TOKEN}x`, `Bearer ${TOKEN.slice(1)}`, `Basic ${TOKEN}`, `xBearer ${TOKEN}`, "Bearer "]) {
      expect(g.check(`10.0.1.${String(bad).length}-${bad?.slice(0, 8)}`, bad, T0), JSON.stringify(bad)).toBe("denied");
    }
  });

  it("accepts visible-ASCII tokens up to 512 characters and nothing longer", () => {
    const long = "~!".repeat(256);
    expect(new TokenGuard(long).check("a", `Bearer ${long}`, T0)).toBe("ok");
    const tooLong = long + "x";
    expect(new TokenGuard(tooLong).check("a", `Bearer ${tooLong}`, T0)).toBe("denied");
    const withSpace = "abc def";
    expect(new TokenGuard(withSpace).check("a", `Bearer ${withSpace}`, T0)).toBe("denied");
  });

  it("limits an address after MAX_FAILED_ATTEMPTS failures in a window, others stay denied only", () => {
    const g = new TokenGuard(TOKEN);
    expect(MAX_FAILED_ATTEMPTS).toBe(10);
    for (let i = 1; i <= MAX_FAILED_ATTEMPTS; i++) expect(g.check("10.0.0.9", "Bearer wrong", T0 + i), `attempt ${i}`).toBe("denied");
    expect(g.check("10.0.0.9", "Bearer wrong", T0 + 11)).toBe("limited");
    expect(g.check("10.0.0.8", "Bearer wrong", T0 + 11)).toBe("denied");
    // The right token always passes, also from a limited address.
    expect(g.check("10.0.0.9", `Bearer ${TOKEN}`, T0 + 12)).toBe("ok");
    expect(g.check("10.0.0.9", undefined, T0 + FAILED_WINDOW_MS)).toBe("limited");
    // The window started at the first failure (T0 + 1) and ends FAILED_WINDOW_MS later.
    expect(g.check("10.0.0.9", undefined, T0 + 1 + FAILED_WINDOW_MS)).toBe("denied");
  });

  it("keeps remembering failures when many addresses fail at once (bounded, oldest forgotten)", () => {
    const g = new TokenGuard(TOKEN);
    for (let i = 0; i < 10_001; i++) g.check(`a${i}`, undefined, T0);
    // a2 was kept: its earlier failure still counts.
    for (let i = 1; i < MAX_FAILED_ATTEMPTS; i++) g.check("a2", undefined, T0);
    expect(g.check("a2", undefined, T0)).toBe("limited");
    // only one window went to make room: a1, the next oldest, was kept too
    for (let i = 1; i < MAX_FAILED_ATTEMPTS; i++) g.check("a1", undefined, T0);
    expect(g.check("a1", undefined, T0)).toBe("limited");
    // a0 was the oldest window and was forgotten when the map overflowed: it starts again from 1.
    for (let i = 1; i <= MAX_FAILED_ATTEMPTS; i++) expect(g.check("a0", undefined, T0), `a0 attempt ${i}`).toBe("denied");
  });

  it("prunes expired windows first when full, before forgetting the oldest", () => {
    const g = new TokenGuard(TOKEN);
    const later = T0 + FAILED_WINDOW_MS;
    for (let i = 0; i < 9_999; i++) g.check(`b${i}`, undefined, later);
    g.check("old", undefined, T0); // its window ends exactly at `later`
    for (let i = 0; i < MAX_FAILED_ATTEMPTS - 1; i++) g.check("b0", undefined, later);
    // One more address overflows the map when "old" has expired: "old" goes, not b0 (the oldest entry).
    g.check("new", undefined, later);
    expect(g.check("b0", undefined, later)).toBe("limited");
  });
});

describe("token rotation on the agent", () => {
  it("accepts either token while two are in force, and only the new one after the file changes again", () => {
    const old = "o".repeat(32);
    const next = "n".repeat(32);
    const g = new TokenGuard([old, next]);
    expect(g.check("10.0.0.1", `Bearer ${old}`)).toBe("ok");
    expect(g.check("10.0.0.1", `Bearer ${next}`)).toBe("ok");
    g.setTokens([next]);
    expect(g.check("10.0.0.1", `Bearer ${old}`)).toBe("denied");
    expect(g.check("10.0.0.1", `Bearer ${next}`)).toBe("ok");
  });

  it("reads one or two tokens, one per line, and refuses an empty file, three tokens or a short one with what to fix", async () => {
    const dir = mkdtempSync(join(tmpdir(), "sy-tokens-"));
    const file = join(dir, "token");
    const read = (text: string) => (writeFileSync(file, text), readTokens(file, 16));
    await expect(read(`${"a".repeat(20)}\n`)).resolves.toEqual(["a".repeat(20)]);
    await expect(read(`${"a".repeat(20)}\n\n  ${"b".repeat(20)}  \n`)).resolves.toEqual(["a".repeat(20), "b".repeat(20)]);
    await expect(read("\n \n")).rejects.toThrow(/is empty; put a long random token/);
    await expect(read(`${"a".repeat(20)}\n${"b".repeat(20)}\n${"c".repeat(20)}`)).rejects.toThrow(/holds 3 tokens/);
    await expect(read(`${"a".repeat(20)}\nshort`)).rejects.toThrow(/token 2 in .* is shorter than 16 characters/);
    await expect(readTokens(join(dir, "missing"), 16)).rejects.toThrow(/cannot read the agent token file .*ENOENT/);
  });
});
