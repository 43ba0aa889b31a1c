/**
 * bench:api — the reconciler API and the dashboard:
 *   1. GET /api/v1/status under 50 concurrent keep-alive clients (wrk, authenticated with an API token):
 *      requests per second and p50/p99 latency.
 *   2. Time from a change of state.yaml on disk until the dashboard (in headless Chromium, logged in)
 *      shows it.
 *   3. The dashboard's JavaScript and CSS size, gzipped.
 * The last line is one JSON object.
 */
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { gzipSync } from "node:zlib";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";
import { startReconciler } from "../reconciler/main.js";
import { Users } from "../reconciler/auth/users.js";
import { dashboardRoot } from "../reconciler/api/static.js";
import { makeLogger } from "../common/log.js";
import { percentile, round } from "./lib/stats.js";

const execFileAsync = promisify(execFile);
process.env.SWITCHYARD_LOG_LEVEL ??= "error";

async function main(): Promise<void> {
  const root = mkdtempSync(join(tmpdir(), "sy-bench-api-"));
  const deploy = join(root, "deploy");
  cpSync("examples/local", deploy, { recursive: true });
  const users = new Users({ file: join(root, "data", "users.json") });
  await users.load();
  await users.addUser("bench", "admin", "bench-password-1");
  const token = await users.createToken("bench");
  await users.flush();
  const r = await startReconciler({ dir: deploy, dataDir: join(root, "data"), listen: "127.0.0.1:0", logger: makeLogger("bench", { level: "warn" }) });
  const browser = await chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium", args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"] });
  try {
    // 1. wrk against /api/v1/status.
    // Asynchronous: the reconciler answers from this process.
    const wrk = await execFileAsync("wrk", ["-t2", "-c50", "-d10s", "--latency", "-H", `Authorization: Bearer ${token}`, `${r.url}/api/v1/status`], { encoding: "utf8" }).then((r) => r.stdout);
    console.log(wrk.trim());
    const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(wrk)?.[1]);
    const ms = (label: string) => {
      const m = new RegExp(`^\\s+${label}%\\s+([\\d.]+)(us|ms|s)`, "m").exec(wrk);
      if (!m) return NaN;
      return Number(m[1]) * (m[2] === "us" ? 0.001 : m[2] === "s" ? 1000 : 1);
    };
    const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(wrk)?.[1] ?? 0);

    // 2. state.yaml change → the dashboard shows it.
    const page = await browser.newPage();
    await page.goto(r.url + "/");
    await page.getByTestId("login-username").fill("bench");
    await page.getByTestId("login-password").fill("bench-password-1");
    await page.getByTestId("login-submit").click();
    await page.getByTestId("jobs-status").waitFor();
    const lags: number[] = [];
    const owners = ["none", "active"];
    const base = readFileSync(join(deploy, "state.yaml"), "utf8");
    for (let i = 0; i < 20; i++) {
      const owner = owners[i % 2]!;
      const want = owner === "active" ? "the live colour" : owner;
      const t0 = Date.now();
      writeFileSync(join(deploy, "state.yaml"), base.replace("owner: active", `owner: ${owner}`));
      await page.waitForFunction((w) => document.querySelector('[data-testid="jobs-status"] strong')?.textContent === w, want, { polling: "raf", timeout: 10_000 });
      lags.push(Date.now() - t0);
      await new Promise((res) => setTimeout(res, 200));
    }

    // 3. Bundle size.
    const dash = dashboardRoot();
    let jsGz = 0;
    let cssGz = 0;
    if (dash) {
      for (const f of readdirSync(join(dash, "assets"))) {
        const gz = gzipSync(readFileSync(join(dash, "assets", f))).length;
        if (f.endsWith(".js")) jsGz += gz;
        if (f.endsWith(".css")) cssGz += gz;
      }
    }
    const out = {
      statusRps: round(rps), statusP50Ms: round(ms("50"), 2), statusP99Ms: round(ms("99"), 2), non2xx,
      dashboardLagP50Ms: round(percentile(lags, 50)), dashboardLagMaxMs: round(Math.max(...lags)),
      dashboardJsGzipKb: round(jsGz / 1024, 1), dashboardCssGzipKb: round(cssGz / 1024, 1),
    };
    console.log(`GET /api/v1/status, 50 clients: ${out.statusRps} req/s, p50 ${out.statusP50Ms} ms, p99 ${out.statusP99Ms} ms, non-2xx ${non2xx}`);
    console.log(`state.yaml change → dashboard shows it: p50 ${out.dashboardLagP50Ms} ms, max ${out.dashboardLagMaxMs} ms over ${lags.length}`);
    console.log(`dashboard assets gzipped: JS ${out.dashboardJsGzipKb} KB, CSS ${out.dashboardCssGzipKb} KB`);
    console.log(JSON.stringify(out));
  } finally {
    await browser.close();
    await r.close();
    rmSync(root, { recursive: true, force: true });
  }
}

main().then(() => process.exit(0), (err) => {
  console.error(`bench:api failed: ${(err as Error).stack}`);
  process.exit(1);
});
