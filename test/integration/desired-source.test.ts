/**
 * The desired state on disk, as DesiredSource sees it, against quick successions of saves (the soak's
 * failure, seed 20261129 in CI): an editor saves state.yaml unchanged, an invalid save follows a few
 * milliseconds later, and three seconds after that the file is put back as it was. The invalid file must be
 * reported, and the file put back must clear it; before, the first read could hash the old bytes and parse
 * the new ones, remembered the old (valid) content as "known invalid", and the file put back was never
 * read again: SpecInvalid stayed on for good.
 */
import { afterEach, describe, expect, it } from "vitest";
import { cpSync, mkdtempSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { DesiredSource } from "../../reconciler/loop/desired-source.js";
import type { SpecIssue } from "../../specs/source.js";
import { waitFor } from "../support/agent-bed.js";

const VALID = [
  "apiVersion: switchyard.dev/v1", "kind: State", "spec:", "  active: blue", "  colors:", "    blue: { tag: v1 }", "    green: { tag: v2 }", "  jobs: { owner: active }", "",
].join("\n");
const PURPLE = VALID.replace("active: blue", "active: purple");
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("DesiredSource under quick successive saves", () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  function deployDir(): { dir: string; save: (text: string) => void } {
    const dir = mkdtempSync(join(tmpdir(), "sy-ds-"));
    dirs.push(dir);
    cpSync("examples/local", dir, { recursive: true });
    writeFileSync(join(dir, "state.yaml"), VALID);
    let n = 0;
    // Like an editor that saves by rename.
    const save = (text: string) => {
      const tmp = join(dir, `.state.yaml.${n++}.tmp`);
      writeFileSync(tmp, text);
      renameSync(tmp, join(dir, "state.yaml"));
    };
    return { dir, save };
  }

  it("an unchanged save, an invalid one right after, then the old file again: reported, then cleared (40 rounds)", async () => {
    const { dir, save } = deployDir();
    let issues: SpecIssue[] = [];
    let changes = 0;
    const source = new DesiredSource({ dir, logger: pino({ level: "silent" }), onChange: () => changes++, onInvalid: (i) => (issues = i) });
    await source.start();
    try {
      for (let round = 0; round < 40; round++) {
        save(VALID);
        await sleep(round % 12);
        save(PURPLE);
        await waitFor(`round ${round}: the invalid save is reported`, async () => issues.length > 0, 5_000, 5);
        expect(issues[0]!.message).toContain("purple");
        save(VALID);
        await waitFor(`round ${round}: the valid file put back clears it`, async () => issues.length === 0, 5_000, 5);
        expect(source.errors()).toEqual([]);
      }
      // The content in force never changed: the same valid file throughout.
      expect(changes).toBe(0);
      expect(source.get()?.desired.state.spec.active).toBe("blue");
    } finally {
      await source.close();
    }
  }, 120_000);

  it("two valid saves a few milliseconds apart: the second one is what acts (30 rounds)", async () => {
    const { dir, save } = deployDir();
    const seen: string[] = [];
    const source = new DesiredSource({ dir, logger: pino({ level: "silent" }), onChange: (s) => seen.push(s.desired.state.spec.colors.green.tag!), onInvalid: () => {} });
    await source.start();
    try {
      for (let round = 0; round < 30; round++) {
        save(VALID.replace("green: { tag: v2 }", `green: { tag: r${round}a }`));
        await sleep(round % 10);
        save(VALID.replace("green: { tag: v2 }", `green: { tag: r${round}b }`));
        await waitFor(`round ${round}: the second save is in force`, async () => source.get()?.desired.state.spec.colors.green.tag === `r${round}b`, 5_000, 5);
      }
      expect(seen.at(-1)).toBe("r29b");
    } finally {
      await source.close();
    }
  }, 120_000);
});
