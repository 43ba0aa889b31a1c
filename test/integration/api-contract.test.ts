/**
 * The API keeps to its contract (specs/api): every route is driven, answers and errors alike, while the
 * rig checks each answer against its route's response schema before serialisation; the event stream's
 * messages are checked against their schemas too. Fails when an answer leaves its schema.
 */
import { describe, expect, it } from "vitest";
import { Ajv } from "ajv";
import { apiRoutes } from "../../specs/api/routes.js";
import { eventStreamMessages } from "../../specs/api/events.js";
import { apiLogin, apiRequester, git, useApiReconciler } from "../support/api-rig.js";
import { appendFileSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { randomBytes } from "node:crypto";

/** A registry password and a webhook signing key of their own, next to the agent tokens examples/local has. */
const REGISTRY_PASSWORD = `registry-${randomBytes(12).toString("hex")}`;
const WEBHOOK_KEY = `webhook-${randomBytes(12).toString("hex")}`;
function withSecrets(deploy: string): void {
  writeFileSync(join(deploy, "secrets", "registry.password"), REGISTRY_PASSWORD + "\n", { mode: 0o600 });
  writeFileSync(join(deploy, "secrets", "webhook.key"), WEBHOOK_KEY + "\n", { mode: 0o600 });
  const cluster = join(deploy, "cluster.yaml");
  const text = readFileSync(cluster, "utf8").replace("registry: { url: http://127.0.0.1:5000 }", "registry: { url: http://127.0.0.1:5000, username: ci, passwordFile: secrets/registry.password }");
  writeFileSync(cluster, text);
  appendFileSync(cluster, "  alerts:\n    webhooks: [{ url: http://127.0.0.1:9/hook, secretFile: secrets/webhook.key }]\n");
}

describe("the reconciler API keeps to its contract", () => {
  const tokens: Record<string, string> = {};
  const rig = useApiReconciler("sy-api-contract-", async (users) => {
    await users.addUser("root", "admin", "root-password-12");
    await users.addUser("dora", "deployer", "dora-password-12");
    await users.addUser("vera", "viewer", "vera-password-12");
    tokens.root = await users.createToken("root");
    tokens.dora = await users.createToken("dora");
    tokens.vera = await users.createToken("vera");
  }, withSecrets);
  const req = apiRequester(rig.url);
  const as = (who: string) => ({ token: tokens[who]! });

  it("every route answers within its schemas, on success and on refusal", async () => {
    expect((await req("GET", "/healthz")).status).toBe(200);
    expect((await req("GET", "/metrics", as("vera"))).status).toBe(200);
    const s = await apiLogin(req, "dora", "dora-password-12");
    expect((await req("GET", "/api/v1/auth/me", { cookie: s.cookie })).status).toBe(200);
    expect((await req("GET", "/api/v1/auth/me", as("vera"))).status).toBe(200);
    expect((await req("POST", "/api/v1/auth/login", { body: { username: "dora", password: "wrong-password" } })).status).toBe(401);
    expect((await req("POST", "/api/v1/auth/login", { body: { username: "dora" } })).status).toBe(400);

    expect((await req("GET", "/api/v1/status", as("vera"))).status).toBe(200);
    expect((await req("GET", "/api/v1/alerts", as("vera"))).status).toBe(200);
    expect((await req("GET", "/api/v1/events?limit=5", as("vera"))).status).toBe(200);
    expect((await req("GET", "/api/v1/events?after=x", as("vera"))).status).toBe(400);
    expect((await req("GET", "/api/v1/tags", as("vera"))).status).toBe(200);
    // Logs: deployers and admins; no agent runs here, so the stream says the node is unreachable.
    expect((await req("GET", "/api/v1/logs?service=web&color=blue", as("vera"))).status).toBe(403);
    expect((await req("GET", "/api/v1/logs?service=web", as("dora"))).status).toBe(400);
    const logs = await req("GET", "/api/v1/logs?service=web&color=blue&tail=5", as("dora"));
    expect(logs.status).toBe(200);
    expect(await logs.text()).toMatch(/"type":"node".*"state":"unreachable"/);
    expect((await req("GET", "/api/v1/history?limit=5", as("vera"))).status).toBe(200);
    expect((await req("GET", "/api/v1/history?limit=-1", as("vera"))).status).toBe(400);

    const doc = (await (await req("GET", "/api/v1/state", as("vera"))).json()) as { text: string; revision: string };
    const ifMatch = { "if-match": doc.revision };
    expect((await req("PUT", "/api/v1/state", { ...as("vera"), body: { text: doc.text } })).status).toBe(403);
    expect((await req("POST", "/api/v1/actions/deploy", { ...as("dora"), body: { tag: "v2", dryRun: true }, headers: ifMatch })).status).toBe(200);
    expect((await req("POST", "/api/v1/actions/deploy", { ...as("dora"), body: { tag: "no tag" }, headers: ifMatch })).status).toBe(400);
    expect((await req("POST", "/api/v1/actions/deploy", { ...as("dora"), body: { tag: "v99", dryRun: true }, headers: ifMatch })).status).toBe(422);
    expect((await req("POST", "/api/v1/actions/jobs", { ...as("dora"), body: { owner: "none", dryRun: true }, headers: ifMatch })).status).toBe(200);
    // No agents run here: neither colour gets Ready, so promote and roll back are refused (422).
    expect((await req("POST", "/api/v1/actions/promote", { ...as("dora"), body: { dryRun: true }, headers: ifMatch })).status).toBe(422);
    expect((await req("POST", "/api/v1/actions/rollback", { ...as("dora"), body: {}, headers: ifMatch })).status).toBe(422);
    // Maintenance: the live colour cannot be stopped; the idle one can (dry run); a running one cannot be started.
    expect((await req("POST", "/api/v1/actions/stop", { ...as("dora"), body: { color: "blue", dryRun: true }, headers: ifMatch })).status).toBe(422);
    const stop = await req("POST", "/api/v1/actions/stop", { ...as("dora"), body: { color: "green", dryRun: true }, headers: ifMatch });
    expect(stop.status).toBe(200);
    expect(((await stop.json()) as { diff: string }).diff).toMatch(/\+.*stopped: true/);
    expect((await req("POST", "/api/v1/actions/start", { ...as("dora"), body: { color: "green", dryRun: true }, headers: ifMatch })).status).toBe(422);
    // A redeploy pins what the idle colour's tag points at now; never the live colour, and not when nothing
    // moved (green was pinned to v2's digest at its deploy). A moved tag: test/integration/tag-moved.test.ts.
    expect((await req("POST", "/api/v1/actions/redeploy", { ...as("dora"), body: { color: "blue", dryRun: true }, headers: ifMatch })).status).toBe(422);
    const redeploy = await req("POST", "/api/v1/actions/redeploy", { ...as("dora"), body: { color: "green", dryRun: true }, headers: ifMatch });
    expect(redeploy.status).toBe(422);
    expect(((await redeploy.json()) as { error: { message: string } }).error.message).toMatch(/already runs what v2 points at .*nothing to redeploy/);
    expect((await req("POST", "/api/v1/actions/stop", { ...as("dora"), body: { color: "purple" }, headers: ifMatch })).status).toBe(400);
    // Restart (secret rotation): never the live colour, viewers may not, the idle one is re-created (no commit).
    expect((await req("POST", "/api/v1/actions/restart", { ...as("dora"), body: { color: "blue" } })).status).toBe(422);
    expect((await req("POST", "/api/v1/actions/restart", { ...as("dora"), body: { color: "purple" } })).status).toBe(400);
    expect((await req("POST", "/api/v1/actions/restart", { ...as("vera"), body: { color: "green" } })).status).toBe(403);
    const restart = await req("POST", "/api/v1/actions/restart", { ...as("dora"), body: { color: "green" } });
    expect(restart.status).toBe(200);
    expect(((await restart.json()) as { restartToken: number }).restartToken).toBeGreaterThan(0);
    // Retry task: deployers only; a task cluster.yaml does not have is 404 (the run itself: test/integration/tasks.test.ts).
    expect((await req("POST", "/api/v1/actions/retry-task", { ...as("vera"), body: { color: "green", task: "migrate" } })).status).toBe(403);
    expect((await req("POST", "/api/v1/actions/retry-task", { ...as("dora"), body: { color: "green" } })).status).toBe(400);
    expect((await req("POST", "/api/v1/actions/retry-task", { ...as("dora"), body: { color: "green", task: "migrate" } })).status).toBe(404);
    // Abort the analysis after a switch: none runs here (no rollback section), viewers may not.
    expect((await req("POST", "/api/v1/actions/abort-analysis", { ...as("vera") })).status).toBe(403);
    expect((await req("POST", "/api/v1/actions/abort-analysis", { ...as("dora") })).status).toBe(422);
    const first = git(rig.deploy, "rev-list", "--max-parents=0", "HEAD");
    expect((await req("POST", "/api/v1/actions/restore", { ...as("dora"), body: { commit: first, dryRun: true }, headers: ifMatch })).status).toBe(200);
    const put = await req("PUT", "/api/v1/state", { ...as("dora"), body: { text: doc.text.replace("owner: active", "owner: none"), message: "jobs off" }, headers: ifMatch });
    expect(put.status).toBe(200);
    const { revision } = (await put.json()) as { revision: string };
    expect((await req("POST", "/api/v1/actions/deploy", { ...as("dora"), body: { tag: "v2" }, headers: { "if-match": revision } })).status).toBe(200);
    expect((await req("POST", "/api/v1/actions/jobs", { ...as("dora"), body: { owner: "active" }, headers: ifMatch })).status).toBe(409);

    expect((await req("GET", "/api/v1/users", as("root"))).status).toBe(200);
    expect((await req("GET", "/api/v1/users", as("dora"))).status).toBe(403);
    expect((await req("PUT", "/api/v1/users/vera/role", { ...as("root"), body: { role: "deployer" } })).status).toBe(200);
    expect((await req("PUT", "/api/v1/users/vera/role", { ...as("root"), body: { role: "root" } })).status).toBe(400);
    expect((await req("DELETE", "/api/v1/users/vera/tokens/nope", as("root"))).status).toBe(404);
    expect((await req("DELETE", "/api/v1/users/vera/tokens", as("root"))).status).toBe(200);
    expect((await req("DELETE", "/api/v1/users/vera", as("root"))).status).toBe(200);
    expect((await req("DELETE", "/api/v1/users/nobody", as("root"))).status).toBe(404);
    expect((await req("POST", "/api/v1/auth/logout", { cookie: s.cookie, csrf: s.csrf })).status).toBe(204);

    const driven = [...rig.contract.seen.keys()].filter((r) => !r.startsWith("HEAD ")).sort();
    expect(driven).toEqual(Object.keys(apiRoutes).sort());
    expect(rig.contract.violations).toEqual([]);
  });

  it("the event stream's messages keep to their schemas", async () => {
    const ajv = new Ajv({ allErrors: true, strict: true, allowUnionTypes: true });
    ajv.addKeyword({ keyword: "x-hint", schemaType: "string" });
    const check = { event: ajv.compile(eventStreamMessages.event), status: ajv.compile(eventStreamMessages.status) };
    const ac = new AbortController();
    const res = await fetch(rig.url() + "/api/v1/events", { headers: { accept: "text/event-stream", authorization: `Bearer ${tokens.root}` }, signal: ac.signal });
    expect(res.status).toBe(200);
    const reader = res.body!.getReader();
    let text = "";
    while (!/event: status\n(data: .*\n)+\n/.test(text)) text += new TextDecoder().decode((await reader.read()).value);
    ac.abort();
    const messages = text.split("\n\n").filter((m) => /^event: (event|status)$/m.test(m));
    expect(messages.some((m) => m.includes("event: event"))).toBe(true);
    for (const m of messages) {
      const name = /^event: (\w+)$/m.exec(m)![1] as "event" | "status";
      const data = JSON.parse([...m.matchAll(/^data: (.*)$/gm)].map((x) => x[1]).join("\n"));
      expect(check[name](data), `${name}: ${JSON.stringify(check[name].errors)}`).toBe(true);
    }
  });
  it("no answer of any route carries a secret: agent tokens, the registry password, the webhook key, passwords, API tokens", async () => {
    // Runs after the routes above were all driven (vitest runs a file's tests in order).
    const secretsDir = join(rig.deploy, "secrets");
    const secrets = new Map<string, string>([
      ...readdirSync(secretsDir).filter((f) => f.endsWith(".token")).map((f) => [f, readFileSync(join(secretsDir, f), "utf8").trim()] as [string, string]),
      ["registry password", REGISTRY_PASSWORD], ["webhook key", WEBHOOK_KEY],
      ["root's password", "root-password-12"], ["dora's password", "dora-password-12"], ["vera's password", "vera-password-12"],
      ...Object.entries(tokens).map(([who, t]) => [`${who}'s API token`, t] as [string, string]),
    ]);
    expect(secrets.size).toBeGreaterThanOrEqual(11);
    expect(rig.contract.answers.length).toBeGreaterThan(30);
    const found: string[] = [];
    for (const a of rig.contract.answers) for (const [name, value] of secrets) if (a.text.includes(value)) found.push(`${name} in ${a.route}`);
    expect(found).toEqual([]);
  });
});
