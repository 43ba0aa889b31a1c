#!/usr/bin/env node
/**
 * The real thing for developing and screenshotting the dashboard: `switchyard demo` on the process
 * runtime (the real reconciler, two node agents, a router and the demo app as local processes; no
 * Docker), serving dist/dashboard, with one user per role. There is no second copy of the API to keep
 * in step: what the dashboard sees here is what it sees in production.
 *
 *   npm run build && node dashboard/dev-server.mjs     # http://127.0.0.1:8790 (PORT=… to change)
 *   users admin, deployer, viewer (and alice, a deployer): the password is the name + "-password"
 *   npx vite --config dashboard/vite.config.ts          # hot reload, /api proxied to it
 *
 * For scripts (screenshot.mjs): <dir>/dev-server.json holds the URL, the deploy dir (state.yaml in git:
 * commit to it to change the state behind the dashboard's back) and an API token of alice's.
 * Ctrl-C stops everything.
 */
import { writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startDemo } from "../dist/cli/demo/cluster.js";
import { Users } from "../dist/reconciler/auth/users.js";

const PORT = Number(process.env.PORT ?? 8790);
const root = process.env.SWITCHYARD_DEV_DIR ?? join(tmpdir(), "switchyard-dashboard-dev");
const DEV_USERS = [["admin", "admin"], ["deployer", "deployer"], ["viewer", "viewer"], ["alice", "deployer"]];

const demo = await startDemo({ root, want: "process", dashboardPort: PORT, routerPort: 0, say: (line) => process.stderr.write(line + "\n") });
// The reconciler reads the users file again when it changes: these users can sign in at once.
const users = new Users({ file: join(root, "data", "users.json") });
await users.load();
for (const [name, role] of DEV_USERS) await users.addUser(name, role, `${name}-password`, { replace: true });
const aliceToken = await users.createToken("alice");
await users.flush();
const info = { url: demo.info.dashboard.replace(/\/$/, ""), deployDir: demo.info.deployDir, aliceToken, live: demo.info.live, preview: demo.info.preview };
await writeFile(join(root, "dev-server.json"), JSON.stringify(info, null, 2) + "\n", { mode: 0o600 });
process.stdout.write(`dashboard dev server: ${info.url}  (users ${DEV_USERS.map(([n]) => n).join(", ")}; password <name>-password)\n`);
process.stdout.write(`live ${info.live}  preview ${info.preview}  state ${info.deployDir}/state.yaml  details ${join(root, "dev-server.json")}\n`);

let stopping = false;
for (const signal of ["SIGINT", "SIGTERM"]) {
  process.on(signal, async () => {
    if (stopping) return;
    stopping = true;
    await demo.stop();
    process.exit(0);
  });
}
