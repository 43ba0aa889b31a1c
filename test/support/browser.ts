/** Debian's Chromium through playwright-core, with the flags every browser test uses. */
import { chromium, type Browser, type Page } from "playwright-core";
import type { ClusterBed } from "./cluster-bed.js";
import { waitFor } from "./agent-bed.js";

export const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
}

/**
 * A cluster bed with both colours Ready and a browser page signed in to its dashboard as the bed's admin
 * (tester). The caller closes the browser, then the bed.
 */
export async function dashboardOnBed(bed: ClusterBed, o: { acceptDownloads?: boolean } = {}): Promise<{ browser: Browser; page: Page }> {
  await bed.startAgents();
  await bed.startReconciler();
  await waitFor("both colours ready", async () => {
    const s = await bed.status();
    return s.colors?.blue.phase === "Ready" && s.colors.green.phase === "Ready";
  }, 60_000);
  const browser = await launchChromium();
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 }, ...(o.acceptDownloads ? { acceptDownloads: true } : {}) });
  await page.goto(bed.reconcilerUrl + "/");
  await page.getByTestId("login-username").fill("tester");
  await page.getByTestId("login-password").fill("tester-password-1");
  await page.getByTestId("login-submit").click();
  return { browser, page };
}
