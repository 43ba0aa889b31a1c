/**
 * The dashboard's Users screen in a real browser (Debian's Chromium through playwright-core): an admin
 * sees users with their roles and token ids (never a secret), demotes one, revokes a token and removes
 * a user; each takes effect at the next API request. A viewer sees no Users screen.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Browser, Page } from "playwright-core";
import { startReconciler, type RunningReconciler } from "../../reconciler/main.js";
import { Users } from "../../reconciler/auth/users.js";
import { apiRequester, localDeployDir } from "../support/api-rig.js";
import { launchChromium } from "../support/browser.js";

const SHOTS = "test-results/screenshots";

describe("dashboard Users screen in a real browser", () => {
  const root = mkdtempSync(join(tmpdir(), "sy-users-ui-"));
  const data = join(root, "data");
  let r: RunningReconciler;
  let browser: Browser;
  let page: Page;
  const tokens: Record<string, string> = {};

  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    localDeployDir(join(root, "deploy"));
    const users = new Users({ file: join(data, "users.json"), scrypt: { N: 1024, r: 8, p: 1 } });
    for (const [name, role] of [["root", "admin"], ["dora", "deployer"], ["vera", "viewer"]] as const) {
      await users.addUser(name, role, `${name}-password-1`);
      tokens[name] = await users.createToken(name);
    }
    r = await startReconciler({ dir: join(root, "deploy"), dataDir: data, listen: "127.0.0.1:0" });
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  });
  afterAll(async () => {
    await browser?.close();
    await r?.close();
    rmSync(root, { recursive: true, force: true });
  });

  const req = apiRequester(() => r.url);
  const signIn = async (name: string) => {
    await page.goto(r.url + "/");
    await page.getByTestId("login-username").fill(name);
    await page.getByTestId("login-password").fill(`${name}-password-1`);
    await page.getByTestId("login-submit").click();
  };
  const row = (name: string) => page.locator(`[data-testid="user-row"][data-user="${name}"]`);
  const deployProbe = (token: string) => req("POST", "/api/v1/actions/jobs", { token, body: { owner: "none", dryRun: true } });

  it("an admin demotes a deployer, revokes a token and removes a user; each applies at the next request", async () => {
    await signIn("root");
    await page.getByTestId("users-panel").waitFor();
    await expect.poll(async () => page.getByTestId("user-row").count(), { timeout: 10_000 }).toBe(3);
    const text = (await page.getByTestId("users-panel").textContent()) ?? "";
    for (const t of Object.values(tokens)) expect(text).not.toContain(t.slice(3, 20));
    expect(await row("dora").getByTestId("user-role").inputValue()).toBe("deployer");
    await page.screenshot({ path: `${SHOTS}/users-admin.png`, fullPage: true });

    expect((await deployProbe(tokens.dora!)).status).toBe(200);
    await row("dora").getByTestId("user-role").selectOption("viewer");
    await expect.poll(async () => (await deployProbe(tokens.dora!)).status, { timeout: 10_000 }).toBe(403);

    await row("dora").getByTestId("token-revoke").click();
    await row("dora").getByTestId("token-revoke-confirm").click();
    await expect.poll(async () => (await req("GET", "/api/v1/status", { token: tokens.dora! })).status, { timeout: 10_000 }).toBe(401);
    await expect.poll(async () => row("dora").getByTestId("token-row").count(), { timeout: 10_000 }).toBe(0);

    expect((await req("GET", "/api/v1/status", { token: tokens.vera! })).status).toBe(200);
    await row("vera").getByTestId("user-remove").click();
    await row("vera").getByTestId("user-remove-confirm").click();
    await expect.poll(async () => row("vera").count(), { timeout: 10_000 }).toBe(0);
    expect((await req("GET", "/api/v1/status", { token: tokens.vera! })).status).toBe(401);
    await page.screenshot({ path: `${SHOTS}/users-after.png`, fullPage: true });
  });

  it("a viewer sees no Users screen", async () => {
    await page.context().clearCookies();
    await signIn("dora"); // a viewer now
    await page.getByTestId("color-blue").or(page.getByText("The reconciler has not observed the cluster yet.")).first().waitFor({ timeout: 10_000 });
    expect(await page.getByTestId("users-panel").count()).toBe(0);
    expect(await page.getByRole("link", { name: "Users" }).count()).toBe(0);
  });
});
