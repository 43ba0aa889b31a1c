#!/usr/bin/env node
/**
 * Takes the dashboard's screenshots against the dev server (dashboard/dev-server.mjs: the real reconciler
 * and agents on the process runtime), driving headless
 * Chromium over the DevTools protocol (the `ws` dev dependency): log in, watch a deploy, open the
 * confirm dialog, scroll to the history. Development only; the real browser test is the lead's.
 *
 *   npm run build && node dashboard/dev-server.mjs &
 *   node dashboard/screenshot.mjs [out dir]
 */
import { spawn } from "node:child_process";
import { execFileSync } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import WebSocket from "ws";

/** Written by dev-server.mjs: its URL, deploy dir and an API token of alice (a deployer). */
const dev = JSON.parse(await readFile(join(process.env.SWITCHYARD_DEV_DIR ?? join(tmpdir(), "switchyard-dashboard-dev"), "dev-server.json"), "utf8"));
const base = dev.url;
const out = process.argv[2] ?? fileURLToPath(new URL("./screenshots/", import.meta.url));
const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";

const profile = await mkdtemp(join(tmpdir(), "sy-shots-"));
const browser = spawn(CHROMIUM, [
  "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
  "--disable-sync", "--no-first-run", "--hide-scrollbars", "--window-size=1280,900", "--remote-debugging-port=0", `--user-data-dir=${profile}`, "about:blank",
], { stdio: ["ignore", "ignore", "pipe"] });
const wsUrl = await new Promise((resolve, reject) => {
  let buf = "";
  browser.stderr.on("data", (d) => {
    buf += d;
    const m = /DevTools listening on (ws:\/\/\S+)/.exec(buf);
    if (m) resolve(m[1]);
  });
  browser.on("exit", (code) => reject(new Error(`chromium exited (${code}): ${buf}`)));
});

const ws = new WebSocket(wsUrl, { perMessageDeflate: false });
await new Promise((r) => ws.once("open", r));
let id = 0;
const waiting = new Map();
ws.on("message", (m) => {
  const msg = JSON.parse(String(m));
  const w = waiting.get(msg.id);
  if (!w) return;
  waiting.delete(msg.id);
  if (msg.error) w.reject(new Error(msg.error.message));
  else w.resolve(msg.result);
});
let sessionId;
const cdp = (method, params = {}) =>
  new Promise((resolve, reject) => {
    const n = ++id;
    waiting.set(n, { resolve, reject });
    ws.send(JSON.stringify({ id: n, method, params, ...(sessionId ? { sessionId } : {}) }));
  });

try {
  const { targetId } = await cdp("Target.createTarget", { url: "about:blank" });
  ({ sessionId } = await cdp("Target.attachToTarget", { targetId, flatten: true }));
  await cdp("Page.enable");
  await cdp("Runtime.enable");

  for (const [name, width, height, mobile] of [["laptop", 1280, 900, false], ["phone", 390, 844, true]]) {
    await cdp("Emulation.setDeviceMetricsOverride", { width, height, deviceScaleFactor: 1, mobile });
    await cdp("Network.clearBrowserCookies").catch(() => {});
    await cdp("Page.navigate", { url: base + "/" });
    await waitFor(`document.querySelector('[data-testid=login-submit]')`);
    await shot(`login-${name}`);

    await evaluate(`(() => {
      const set = (id, v) => { const el = document.querySelector('[data-testid=' + id + ']'); el.value = v; el.dispatchEvent(new Event('input', { bubbles: true })); };
      set('login-username', 'deployer'); set('login-password', 'deployer-password');
      document.querySelector('[data-testid=login-submit]').click();
    })()`);
    await waitFor(`document.querySelector('[data-testid=color-green] [data-testid=phase]')`);
    await deployAsAlice("v2");
    await waitFor(`document.querySelector('[data-testid=color-green] [data-testid=phase]')?.textContent === 'Deploying'`);
    await sleep(2500);
    await shot(`overview-deploying-${name}`);
    if (mobile) {
      await evaluate(`document.querySelector('[data-testid=color-green]').scrollIntoView()`);
      await sleep(200);
      await shot(`overview-deploying-green-${name}`);
      await evaluate(`window.scrollTo(0, 0)`);
    }

    await waitFor(`document.querySelector('[data-testid=color-green] [data-testid=phase]')?.textContent === 'Ready'`, 20_000);
    await waitFor(`!document.querySelector('[data-testid=promote-button]').disabled`);
    await evaluate(`document.querySelector('[data-testid=promote-button]').click()`);
    await waitFor(`document.querySelector('[data-testid=confirm-diff]')`);
    await sleep(300);
    await shot(`confirm-${name}`);
    if (!mobile) {
      // Someone else commits while the dialog is open: Commit must answer with the conflict.
      externalCommit();
      await evaluate(`document.querySelector('[data-testid=confirm-submit]').click()`);
      await waitFor(`document.querySelector('[data-testid=conflict-reload]')`);
      await sleep(200);
      await shot(`conflict-${name}`);
      await evaluate(`document.querySelector('[data-testid=conflict-reload]').click()`);
      await waitFor(`!document.querySelector('[data-testid=confirm-dialog]')`);
    } else await evaluate(`document.querySelector('[data-testid=confirm-cancel]').click()`);

    await evaluate(`document.getElementById('history').scrollIntoView()`);
    await sleep(400);
    await shot(`history-${name}`);
    // Put green back so the next size starts from the same place.
    await deployAsAlice("v1");
    await waitFor(`document.querySelector('[data-testid=color-green] [data-testid=phase]')?.textContent === 'Ready'`, 20_000);
    await evaluate(`document.querySelector('.user button').click()`);
    await waitFor(`document.querySelector('[data-testid=login-submit]')`);
  }
  // A viewer sees no action buttons.
  await cdp("Emulation.setDeviceMetricsOverride", { width: 1280, height: 900, deviceScaleFactor: 1, mobile: false });
  await evaluate(`(() => {
    const set = (id, v) => { const el = document.querySelector('[data-testid=' + id + ']'); el.value = v; el.dispatchEvent(new Event('input', { bubbles: true })); };
    set('login-username', 'viewer'); set('login-password', 'viewer-password');
    document.querySelector('[data-testid=login-submit]').click();
  })()`);
  await waitFor(`document.querySelector('[data-testid=color-green] [data-testid=phase]')`);
  await sleep(500);
  if (await evaluate(`!!document.querySelector('[data-testid=deploy-button], [data-testid=promote-button], [data-testid=history-restore]')`)) throw new Error("a viewer sees action buttons");
  await shot("viewer-laptop");
} finally {
  ws.close();
  const exited = new Promise((r) => browser.once("exit", r));
  browser.kill();
  await exited;
  await rm(profile, { recursive: true, force: true });
}

async function evaluate(expression) {
  const r = await cdp("Runtime.evaluate", { expression, awaitPromise: true, returnByValue: true });
  if (r.exceptionDetails) throw new Error(`${expression}: ${r.exceptionDetails.exception?.description ?? r.exceptionDetails.text}`);
  return r.result.value;
}

async function waitFor(expression, ms = 10_000) {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (await evaluate(`!!(${expression})`)) return;
    await sleep(100);
  }
  throw new Error(`timed out waiting for ${expression}`);
}

async function shot(name) {
  const { data } = await cdp("Page.captureScreenshot", { format: "png" });
  await writeFile(join(out, `${name}.png`), Buffer.from(data, "base64"));
  console.log(join(out, `${name}.png`));
}

/** Someone else deploys (something to watch): alice, through the API. */
async function deployAsAlice(tag) {
  const auth = { authorization: `Bearer ${dev.aliceToken}` };
  const { revision } = await (await fetch(base + "/api/v1/state", { headers: auth })).json();
  const res = await fetch(base + "/api/v1/actions/deploy", {
    method: "POST", headers: { ...auth, "content-type": "application/json", "if-match": revision }, body: JSON.stringify({ tag, color: "green" }),
  });
  if (!res.ok) throw new Error(`deploy ${tag}: ${await res.text()}`);
}

/** Someone commits state.yaml behind the dashboard's back (to see the 409). */
function externalCommit() {
  const git = (...args) => execFileSync("git", ["-C", dev.deployDir, "-c", "user.name=ci", "-c", "user.email=ci@example.com", ...args]);
  execFileSync("sh", ["-c", 'printf "# touched by ci\n" >> state.yaml'], { cwd: dev.deployDir });
  git("commit", "-qam", "ci: touch state.yaml");
}

function sleep(ms) {
  return new Promise((r) => setTimeout(r, ms));
}
