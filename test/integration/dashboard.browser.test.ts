/**
 * The dashboard in a real browser (Debian's Chromium through playwright-core) against the real stack:
 * log in, pick v2, deploy it to green, wait for Ready, promote, check through the router that v2
 * serves, roll back, check that v1 serves. A screenshot of each step is kept in test-results/.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Browser, Page } from "playwright-core";
import { ClusterBed } from "../support/cluster-bed.js";
import { launchChromium } from "../support/browser.js";
import { waitFor } from "../support/agent-bed.js";

const SHOTS = "test-results/screenshots";

const SIZES = [
  { name: "desktop", prefix: "ui", width: 1280, height: 900 },
  { name: "phone", prefix: "uip", width: 390, height: 844 },
] as const;

for (const size of SIZES) describe(`dashboard in a real browser (${size.name}, ${size.width}×${size.height})`, () => {
  const bed = new ClusterBed({ prefix: size.prefix, git: true, state: { active: "blue", blue: "v1", green: "v1" } });
  let browser: Browser;
  let page: Page;
  let step = 0;
  /** A screenshot of each step; and at every step the page fits its viewport (nothing to scroll sideways). */
  const shot = async (name: string) => {
    await page.screenshot({ path: `${SHOTS}/${size.name}-${String(++step).padStart(2, "0")}-${name}.png`, fullPage: true });
    const width = await page.evaluate(() => document.documentElement.scrollWidth);
    // Names the widest elements when it does not fit, so the failure says what to fix.
    const wide = width <= size.width ? [] : await page.evaluate((w) => [...document.querySelectorAll("body *")]
      .filter((e) => e.getBoundingClientRect().right > w && ![...e.children].some((c) => c.getBoundingClientRect().right > w))
      .slice(0, 5).map((e) => `${e.tagName.toLowerCase()}.${[...e.classList].join(".")} right=${Math.round(e.getBoundingClientRect().right)}: ${(e.textContent ?? "").trim().slice(0, 40)}`), size.width);
    expect(width, `document width at "${name}": ${wide.join(" | ")}`).toBeLessThanOrEqual(size.width);
  };

  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    await bed.startAgents();
    await bed.startReconciler();
    await waitFor("both colours ready", async () => {
      const s = await bed.status();
      return s.colors?.blue.phase === "Ready" && s.colors.green.phase === "Ready" && s.router?.live === "blue";
    }, 60_000);
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: size.width, height: size.height } });
  });
  afterAll(async () => {
    await browser?.close();
    await bed.close();
  });

  const version = async () => JSON.parse((await bed.viaRouter()).body).version as string;
  const confirm = async (name: string) => {
    await page.getByTestId("confirm-dialog").waitFor();
    await expect.poll(async () => (await page.getByTestId("confirm-diff").textContent()) ?? "").not.toBe("");
    await shot(`${name}-confirm`);
    await page.getByTestId("confirm-submit").click();
    await page.getByTestId("confirm-dialog").waitFor({ state: "hidden", timeout: 10_000 });
  };

  it("log in, deploy v2 to green, promote, roll back", async () => {
    await page.goto(bed.reconcilerUrl + "/");
    await page.getByTestId("login-username").fill("tester");
    await page.getByTestId("login-password").fill("tester-password-1");
    await shot("login");
    await page.getByTestId("login-submit").click();
    const green = page.getByTestId("color-green");
    const blue = page.getByTestId("color-blue");
    await green.waitFor();
    await expect.poll(async () => blue.getByTestId("badge-live").count(), { timeout: 10_000 }).toBe(1);
    await shot("overview");
    expect(await green.getByTestId("preview-link").getAttribute("href")).toBe(`http://preview.test:${bed.routerPort}/`);

    // Pick v2 from the registry and deploy it to the idle colour.
    await page.getByTestId("tag-picker").selectOption("v2");
    await page.getByTestId("deploy-button").click();
    await page.getByTestId("confirm-dialog").waitFor();
    expect(await page.getByTestId("confirm-diff").textContent()).toContain("tag: v2");
    await confirm("deploy");
    await expect.poll(async () => green.getByTestId("tag").textContent(), { timeout: 10_000 }).toBe("v2");
    await expect.poll(async () => green.getByTestId("phase").textContent(), { timeout: 60_000 }).toBe("Ready");
    await shot("green-ready");
    expect(await version()).toBe("v1");

    // Promote green: the router serves v2.
    await expect.poll(async () => page.getByTestId("promote-button").isEnabled(), { timeout: 10_000 }).toBe(true);
    await page.getByTestId("promote-button").click();
    await confirm("promote");
    await waitFor("v2 live", async () => (await version()) === "v2", 30_000);
    await expect.poll(async () => green.getByTestId("badge-live").count(), { timeout: 10_000 }).toBe(1);
    await shot("promoted");

    // Roll back to blue: v1 serves again.
    await expect.poll(async () => page.getByTestId("rollback-button").isEnabled(), { timeout: 10_000 }).toBe(true);
    await page.getByTestId("rollback-button").click();
    await confirm("rollback");
    await waitFor("v1 live again", async () => (await version()) === "v1", 30_000);
    await expect.poll(async () => blue.getByTestId("badge-live").count(), { timeout: 10_000 }).toBe(1);
    await shot("rolled-back");

    // Maintenance: stop the idle colour (green), then start it again; live traffic stays on blue.
    await page.getByTestId("stop-button").click();
    await confirm("stop");
    await waitFor("green stopped", async () => (await bed.status()).colors?.green.phase === "Stopped", 30_000);
    await page.getByTestId("start-button").waitFor({ timeout: 10_000 });
    expect(await version()).toBe("v1");
    await page.getByTestId("start-button").click();
    await confirm("start");
    await waitFor("green ready again", async () => (await bed.status()).colors?.green.phase === "Ready", 30_000);
    await page.getByTestId("stop-button").waitFor({ timeout: 10_000 });

    // Every click was a commit by the signed-in user.
    const h = await bed.api<{ enabled: boolean; warning?: string; entries: { author: string; message: string }[] }>("/api/v1/history");
    expect(h.enabled).toBe(true);
    expect(h.entries.slice(0, 5).map((e) => `${e.author}: ${e.message}`)).toEqual([
      "tester: start green (v2)", "tester: stop green for maintenance", "tester: roll back to blue (v1)", "tester: promote green (v2)", "tester: deploy v2 to green",
    ]);

    // A hand edit saved without a commit: a banner while Switchyard records it, then its own commit in History.
    const file = join(bed.deployDir, "state.yaml");
    writeFileSync(file, readFileSync(file, "utf8") + "# tuned by hand\n");
    await page.getByTestId("recording-banner").waitFor({ timeout: 10_000 });
    await shot("recording-hand-edit");
    await page.getByTestId("recording-banner").waitFor({ state: "hidden", timeout: 15_000 });
    const after = await bed.api<{ entries: { author: string; message: string }[] }>("/api/v1/history");
    expect(after.entries[0]!.author).toBe("Switchyard");
    expect(after.entries[0]!.message).toMatch(/^state\.yaml saved by hand, not committed/);
  }, 180_000);
});
