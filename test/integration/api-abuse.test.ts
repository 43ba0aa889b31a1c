/**
 * The reconciler API against abuse: paths spelt to slip past the auth check, a hostile state.yaml
 * (bounded status, alerts and events), a large invalid PUT, event-stream clients that never read, and
 * more stream clients than the server holds. No agents run: nodes are unreachable.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cpSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { request } from "node:http";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startReconciler, type RunningReconciler } from "../../reconciler/main.js";
import { Users } from "../../reconciler/auth/users.js";
import { makeLogger } from "../../common/log.js";
import { waitFor } from "../support/agent-bed.js";
import { MAX_API_STREAMS, MAX_SPEC_ISSUES } from "../../specs/defaults.js";
import { contractCheck } from "../support/api-contract.js";

/** A raw request: the path goes on the wire exactly as written (fetch would normalise it). */
function raw(port: number, path: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, path, headers }, (res) => {
      let body = "";
      res.on("data", (c: Buffer) => (body += c.toString()));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on("error", reject);
    req.end();
  });
}

/** A state.yaml of about `bytes` bytes whose spec holds thousands of unknown keys. */
function hostileState(bytes: number): string {
  let text = "apiVersion: switchyard.dev/v1\nkind: State\nspec:\n  active: blue\n  colors:\n    blue: { tag: v1 }\n    green: { tag: v2 }\n";
  for (let i = 0; text.length < bytes - 20; i++) text += `  x${i.toString(36)}: 1\n`;
  return text;
}

describe("reconciler API under abuse", () => {
  const root = mkdtempSync(join(tmpdir(), "sy-abuse-"));
  const deploy = join(root, "deploy");
  const data = join(root, "data");
  const lines: string[] = [];
  let r: RunningReconciler;
  let port = 0;
  let token = "";
  const auth = () => ({ authorization: `Bearer ${token}` });
  const contract = contractCheck();

  beforeAll(async () => {
    cpSync("examples/local", deploy, { recursive: true });
    const users = new Users({ file: join(data, "users.json"), scrypt: { N: 1024, r: 8, p: 1 } });
    await users.load();
    await users.addUser("root", "admin", "root-password-12");
    token = await users.createToken("root");
    await users.flush();
    const logger = makeLogger("abuse", { level: "warn" }, { write: (line: string) => void lines.push(line) });
    r = await startReconciler({ dir: deploy, dataDir: data, listen: "127.0.0.1:0", dashboardRoot: null, logger, apiSetup: contract.setup });
    port = Number(new URL(r.url).port);
  });
  afterAll(async () => {
    await r?.close();
    rmSync(root, { recursive: true, force: true });
    expect(contract.violations, "answers that left their schema (specs/api)").toEqual([]);
  });

  it("the auth check reads the path the router matches: no encoding, case or slash trick reaches a route unauthenticated", async () => {
    const sameRoute = ["/%61pi/v1/auth/me", "/%61%70%69/v1/auth/me", "/api/v1/auth/%6De", "/api/v1/%61uth/me"];
    const others = [
      "/API/v1/auth/me", "//api/v1/auth/me", "/api//v1/auth/me", "/api/v1/auth/me/", "/api%2Fv1%2Fauth%2Fme", "/api%2fv1/auth/me",
      "/%2e/api/v1/auth/me", "/api/v1/%2e%2e/v1/auth/me", "/./api/v1/status", "/%61pi/v1/status", "/%6detrics", "/api/v1/st%61tus",
      "/api/v1/auth/me;x", "/api/v1/auth/me%3f", "/api\\v1\\status", "/%5capi/v1/status", "/Api/v1/events", "/api/v1/events%2f", "/%2F%2Fapi/v1/status",
    ];
    for (const path of [...sameRoute, ...others]) {
      const anon = await raw(port, path);
      expect(anon.status, `anonymous ${path}: ${anon.body}`).toBeGreaterThanOrEqual(400);
      expect(anon.status, `anonymous ${path}: ${anon.body}`).toBeLessThan(500);
      if (sameRoute.includes(path)) expect(anon.status, path).toBe(401);
      const signed = await raw(port, path, auth());
      expect(signed.status, `signed in ${path}: ${signed.body}`).toBeLessThan(500);
    }
    for (const path of sameRoute) expect(JSON.parse((await raw(port, path, auth())).body).user.name).toBe("root");
  });

  it("a 250 KiB state.yaml of ~26,000 unknown keys: refused, with status, alerts and events staying small", async () => {
    const eventsFile = join(data, "events", "events.jsonl");
    await r.events.flush();
    const eventBytesBefore = statSync(eventsFile).size;
    const good = readFileSync(join(deploy, "state.yaml"), "utf8");
    const started = Date.now();
    writeFileSync(join(deploy, "state.yaml"), hostileState(250 * 1024));
    await waitFor("SpecInvalid", async () => r.controller.status().conditions.find((c) => c.type === "SpecInvalid")?.status === "True", 60_000, 20);
    console.log(`hostile 250 KiB state.yaml: SpecInvalid after ${Date.now() - started} ms (includes the ${150} ms confirmation re-read)`);
    const status = r.controller.statusJson();
    expect(r.controller.status().specErrors).toHaveLength(MAX_SPEC_ISSUES + 1);
    expect(Buffer.byteLength(status)).toBeLessThan(64 * 1024);
    const alerts = await raw(port, "/api/v1/alerts", auth());
    expect(Buffer.byteLength(alerts.body)).toBeLessThan(16 * 1024);
    expect(alerts.body).toMatch(/… and \d+ more/);
    await r.events.flush();
    expect(statSync(eventsFile).size - eventBytesBefore).toBeLessThan(32 * 1024);
    const events = await raw(port, "/api/v1/events?limit=1000", auth());
    expect(Buffer.byteLength(events.body)).toBeLessThan(64 * 1024);
    console.log(`sizes: status ${Buffer.byteLength(status)} B, alerts ${Buffer.byteLength(alerts.body)} B, event log grew ${statSync(eventsFile).size - eventBytesBefore} B`);

    writeFileSync(join(deploy, "state.yaml"), good);
    await waitFor("valid again", async () => r.controller.status().conditions.find((c) => c.type === "SpecInvalid")?.status === "False", 30_000);
  });

  it("a 56 KiB invalid PUT /api/v1/state answers with a small 422", async () => {
    const text = hostileState(56 * 1024);
    const started = Date.now();
    const res = await fetch(`${r.url}/api/v1/state`, { method: "PUT", headers: { ...auth(), "content-type": "application/json", "if-match": "000000000000" }, body: JSON.stringify({ text }) });
    const body = await res.text();
    console.log(`56 KiB hostile PUT /api/v1/state: ${res.status} in ${Date.now() - started} ms, ${Buffer.byteLength(body)} B answer`);
    expect(res.status).toBe(422);
    expect(JSON.parse(body).error.code).toBe("RECON_ERR_INVALID_STATE");
    expect(Buffer.byteLength(body)).toBeLessThan(48 * 1024);
  });

  it("an event-stream client that never reads is disconnected once its unsent bytes pass the bound", async () => {
    const connections = () => new Promise<number>((res, rej) => r.server.server.getConnections((err, n) => (err ? rej(err) : res(n))));
    const idle = await connections();
    const sock = connect(port, "127.0.0.1");
    await new Promise<void>((res) => sock.once("connect", () => res()));
    sock.write(`GET /api/v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\nAccept: text/event-stream\r\n\r\n`);
    sock.pause(); // never reads: the kernel buffers fill, then the server's
    await waitFor("the stream open", async () => (await connections()) > idle);
    const filler = "x".repeat(1900);
    let appended = 0;
    // Events are ~2 KB frames; up to 64 MB of them, in batches so the server gets to write.
    while ((await connections()) > idle && appended < 32_000) {
      for (let i = 0; i < 200; i++, appended++) r.events.append({ type: "info", message: filler });
      await new Promise((res) => setTimeout(res, 5));
    }
    sock.destroy();
    console.log(`slow event-stream client closed by the server after ${appended} events (~${Math.round((appended * 2) / 1024)} MB offered)`);
    expect(appended).toBeLessThan(32_000);
    expect(lines.some((l) => l.includes('"msg":"event stream closed: its client does not read"'))).toBe(true);
  });

  it(`at most ${MAX_API_STREAMS} event streams at once; the next gets 503 RECON_ERR_TOO_MANY_STREAMS`, async () => {
    const ctrls: AbortController[] = [];
    try {
      for (let i = 0; i < MAX_API_STREAMS; i++) {
        const c = new AbortController();
        ctrls.push(c);
        const res = await fetch(`${r.url}/api/v1/events`, { headers: { ...auth(), accept: "text/event-stream" }, signal: c.signal });
        expect(res.status).toBe(200);
      }
      const over = await fetch(`${r.url}/api/v1/events`, { headers: { ...auth(), accept: "text/event-stream" } });
      expect(over.status).toBe(503);
      expect(((await over.json()) as { error: { code: string } }).error.code).toBe("RECON_ERR_TOO_MANY_STREAMS");
      ctrls.pop()!.abort();
      const again = await waitFor("a free slot", async () => {
        const c = new AbortController();
        const res = await fetch(`${r.url}/api/v1/events`, { headers: { ...auth(), accept: "text/event-stream" }, signal: c.signal });
        if (res.status === 200) return c;
        await res.body?.cancel();
        return undefined;
      });
      ctrls.push(again);
    } finally {
      for (const c of ctrls) c.abort();
    }
  });
});
