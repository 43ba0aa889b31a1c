/**
 * The dashboard's Restart button in a real browser against real agents on Docker: a deployer clicks Restart
 * on the idle colour and confirms; Docker shows that colour's containers re-created (new container ids) and
 * the live colour's untouched. The live colour offers no Restart; Cancel restarts nothing.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Browser, Page } from "playwright-core";
import { ClusterBed } from "../support/cluster-bed.js";
import { dashboardOnBed } from "../support/browser.js";
import { docker, waitFor } from "../support/agent-bed.js";

/** The ids of a node's running containers, from Docker itself (ground truth, not the agents' status). */
async function containerIds(node: string): Promise<string[]> {
  const list = await docker.listContainers({ filters: { label: [`dev.switchyard.node=${node}`] } });
  return list.map((c) => c.Id).sort();
}

describe("the dashboard's Restart button", () => {
  const bed = new ClusterBed({ prefix: "rsb", state: { active: "blue", blue: "v1", green: "v2" } });
  let browser: Browser;
  let page: Page;

  beforeAll(async () => {
    ({ browser, page } = await dashboardOnBed(bed));
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
    await bed.close();
  });

  it("restarts the idle colour after a confirmation: its containers are re-created, the live colour's are untouched", async () => {
    const blueBefore = await containerIds(bed.names.blue);
    const greenBefore = await containerIds(bed.names.green);
    expect(blueBefore).toHaveLength(1);
    expect(greenBefore).toHaveLength(1);

    const green = page.getByTestId("color-green");
    await green.getByTestId("restart-green").waitFor();
    expect(await page.getByTestId("color-blue").getByTestId("restart-blue").count()).toBe(0); // the live colour has none

    // Cancel restarts nothing.
    await green.getByTestId("restart-green").click();
    await green.getByTestId("restart-cancel-green").click();
    await green.getByTestId("restart-green").waitFor();
    await new Promise((r) => setTimeout(r, 1500));
    expect(await containerIds(bed.names.green)).toEqual(greenBefore);

    await green.getByTestId("restart-green").click();
    await green.getByTestId("restart-confirm-green").click();
    await page.getByRole("status").filter({ hasText: "restart green" }).waitFor({ timeout: 10_000 });
    const greenAfter = await waitFor("green's container re-created", async () => {
      const ids = await containerIds(bed.names.green);
      return ids.length === 1 && ids[0] !== greenBefore[0] && ids;
    }, 30_000);
    expect(greenAfter).not.toEqual(greenBefore);
    await waitFor("green ready again", async () => (await bed.status()).colors?.green.phase === "Ready", 30_000);
    expect(await containerIds(bed.names.blue)).toEqual(blueBefore);
    expect((await bed.status()).router?.live).toBe("blue");
    await page.screenshot({ path: "test-results/screenshots/restart.png", fullPage: true });
  }, 120_000);
});
