/**
 * The dashboard's log panel in a real browser against real agents on Docker: it follows a node's web
 * logs and shows a line the app printed after the panel started following; a line with ANSI codes and
 * HTML shows as plain text (no element made from it, no script run); the download holds the lines.
 */
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Browser, Page } from "playwright-core";
import { ClusterBed } from "../support/cluster-bed.js";
import { dashboardOnBed } from "../support/browser.js";
import { noisyWorker } from "../support/noisy-worker.js";

describe("the dashboard's log panel", () => {
  const bed = new ClusterBed({ prefix: "lgb", webEnv: { LOG_LEVEL: "debug" }, withWorker: true, workerCommand: noisyWorker, state: { active: "blue", blue: "v1", green: "v1" } });
  let browser: Browser;
  let page: Page;

  beforeAll(async () => {
    ({ browser, page } = await dashboardOnBed(bed, { acceptDownloads: true }));
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
    await bed.close();
  });

  it("follows green's web logs: a line printed after the panel opened appears; ANSI and HTML show as text; download", async () => {
    const panel = page.getByTestId("logs-panel");
    await panel.waitFor();
    await panel.getByTestId("logs-node").selectOption(bed.names.green);
    await panel.getByTestId("logs-service").selectOption("web");
    await panel.getByTestId("logs-follow").click();
    await expect.poll(async () => (await panel.getByTestId("logs-note").textContent().catch(() => "")) ?? "", { timeout: 15_000 }).toContain("Following");
    const marker = `panel-${Date.now()}`;
    await fetch(`http://127.0.0.1:${bed.ports.green}/version?m=${marker}`);
    const line = panel.getByTestId("logs-line").filter({ hasText: `m=${marker}` });
    await line.waitFor({ timeout: 15_000 });
    expect(await line.count()).toBe(1);

    const download = page.waitForEvent("download");
    await panel.getByTestId("logs-download").click();
    const file = await (await download).path();
    expect(readFileSync(file, "utf8")).toContain(`GET /version?m=${marker}`);

    // The worker (on blue, the jobs owner) prints colour codes and HTML.
    await panel.getByTestId("logs-stop").click();
    await panel.getByTestId("logs-node").selectOption(bed.names.blue);
    await panel.getByTestId("logs-service").selectOption("worker");
    await panel.getByTestId("logs-follow").click();
    const noisy = panel.getByTestId("logs-line").filter({ hasText: "red alert" }).first();
    await noisy.waitFor({ timeout: 15_000 });
    const text = (await noisy.textContent()) ?? "";
    expect(text).toContain("red alert <script>window.pwned=1</script> & <b>bold</b>");
    expect(text).not.toContain("\u001b");
    expect(text).not.toContain("[31m");
    expect(await panel.getByTestId("logs-lines").locator("script, b").count()).toBe(0);
    expect(await page.evaluate(() => (window as unknown as { pwned?: number }).pwned)).toBeUndefined();
    await page.screenshot({ path: "test-results/screenshots/logs-panel.png", fullPage: true });
  }, 120_000);
});
