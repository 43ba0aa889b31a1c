/**
 * The reconciler's outside calls in /metrics (issue 19): every registry GET and every git run is counted by
 * result, with its duration; a registry that fails (no answer, 5xx) and a git that exits non-zero count as
 * errors, a 404 (no such tag) does not.
 */
import { describe, expect, it } from "vitest";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { outsideCalls } from "../../common/op-stats.js";
import { getCapped } from "../../reconciler/tags/registry-http.js";
import { runGit } from "../../reconciler/history/git-exec.js";

const count = (kind: string, result: string) => outsideCalls.totals().find((x) => x.labels?.kind === kind && x.labels.result === result)?.value ?? 0;

describe("outside calls counted for /metrics", () => {
  it("registry: 200 and 404 are ok, 500 and no answer are errors; each has a duration", async () => {
    const srv = createServer((req, res) => {
      res.statusCode = req.url === "/ok" ? 200 : req.url === "/missing" ? 404 : 500;
      res.end("{}");
    });
    await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
    const base = `http://127.0.0.1:${(srv.address() as AddressInfo).port}`;
    const [ok0, err0] = [count("registry", "ok"), count("registry", "error")];
    await getCapped(new URL(base + "/ok"), {}, 5000, "a test");
    await getCapped(new URL(base + "/missing"), {}, 5000, "a test");
    await getCapped(new URL(base + "/broken"), {}, 5000, "a test");
    await new Promise((r) => srv.close(r));
    await expect(getCapped(new URL(base + "/gone"), {}, 5000, "a test")).rejects.toThrow();
    expect([count("registry", "ok") - ok0, count("registry", "error") - err0]).toEqual([2, 2]);
    const samples = outsideCalls.durations("d");
    expect(samples.find((x) => x.metricName === "d_count" && x.labels?.kind === "registry")?.value).toBeGreaterThanOrEqual(4);
  });

  it("git: exit 0 is ok, any other exit code is an error", async () => {
    const dir = mkdtempSync(join(tmpdir(), "sy-opstats-"));
    const [ok0, err0] = [count("git", "ok"), count("git", "error")];
    expect((await runGit(["init", "-q"], { cwd: dir })).code).toBe(0);
    expect((await runGit(["rev-parse", "--verify", "HEAD"], { cwd: dir })).code).not.toBe(0);
    expect([count("git", "ok") - ok0, count("git", "error") - err0]).toEqual([1, 1]);
  });
});
