/**
 * Webhook deliveries against a real HTTP receiver on 127.0.0.1:0: body shapes, signatures, retries,
 * Retry-After, no retry on 4xx, and a caller that never waits for a slow receiver.
 */
import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { WebhookSink, safeTarget, type WebhookSinkOptions } from "../../reconciler/notify/webhooks.js";
import { verifySignature } from "../../reconciler/notify/webhook-signing.js";
import type { Alert } from "../../reconciler/notify/alerts.js";
import { makeLogger } from "../../common/log.js";
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startReconciler } from "../../reconciler/main.js";
import { waitFor } from "../support/agent-bed.js";

interface Received {
  headers: IncomingHttpHeaders;
  body: string;
  at: number;
}

/** What the receiver does with the n-th request (0-based). */
type Answer = { status: number; headers?: Record<string, string>; body?: string } | "hang" | "destroy";

interface Receiver {
  url: string;
  received: Received[];
  close(): Promise<void>;
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function startReceiver(answer: (n: number) => Answer): Promise<Receiver> {
  const received: Received[] = [];
  const server: Server = createServer((req, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const n = received.length;
      received.push({ headers: req.headers, body: Buffer.concat(chunks).toString("utf8"), at: performance.now() });
      const a = answer(n);
      if (a === "hang") return;
      if (a === "destroy") return void req.socket.destroy();
      res.writeHead(a.status, { "content-type": "text/plain", ...a.headers }).end(a.body ?? "");
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  const r: Receiver = {
    url: `http://127.0.0.1:${port}/hook`,
    received,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  cleanups.push(r.close);
  return r;
}

function makeSink(o: Partial<WebhookSinkOptions> & { url: string }, logLines: string[] = []): WebhookSink {
  const logger = makeLogger("test", { level: "debug" }, { write: (l: string) => void logLines.push(l) });
  const sink = new WebhookSink({ format: "json", logger, baseDelayMs: 10, timeoutMs: 2_000, ...o });
  cleanups.push(() => sink.close());
  return sink;
}

const firing: Alert = Object.freeze({
  fingerprint: "3f9a1c0e5b7d2a41", name: "ContainerStopped", severity: "critical",
  summary: "web on blue-1 stopped <by hand> & not restarted", labels: { node: "blue-1", color: "blue", service: "web" },
  state: "firing", startsAt: "2026-01-01T00:00:00.000Z", endsAt: null,
});
const resolved: Alert = Object.freeze({ ...firing, state: "resolved", endsAt: "2026-01-01T00:00:07.000Z" });

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** Waits for a condition (polled every 5 ms), failing after 10 s. */
async function until(what: string, cond: () => boolean): Promise<void> {
  const end = performance.now() + 10_000;
  while (!cond()) {
    if (performance.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}
const ids = (rs: Received[]) => rs.map((r) => r.headers["x-switchyard-delivery"]);

describe("WebhookSink", () => {
  it("posts the JSON body with a signature that verifySignature accepts and a tampered body fails", async () => {
    const rx = await startReceiver(() => ({ status: 204 }));
    const secret = "k3y-0f-the-h00k";
    const sink = makeSink({ url: rx.url, secret, cluster: "shop" });
    sink.send(firing);
    expect(await sink.drain(2_000)).toBe(true);

    expect(rx.received).toHaveLength(1);
    const { headers, body } = rx.received[0]!;
    expect(headers["content-type"]).toBe("application/json");
    expect(JSON.parse(body)).toEqual({ version: 1, cluster: "shop", alert: firing });
    const ts = String(headers["x-switchyard-timestamp"]);
    const sig = String(headers["x-switchyard-signature"]);
    expect(sig).toMatch(/^sha256=[0-9a-f]{64}$/);
    expect(Math.abs(Number(ts) - Date.now() / 1000)).toBeLessThan(5);
    expect(verifySignature(secret, ts, body, sig)).toBe(true);
    expect(verifySignature(secret, ts, body.replace("blue-1", "blue-2"), sig)).toBe(false);
    expect(verifySignature("other-key", ts, body, sig)).toBe(false);
    expect(verifySignature(secret, String(Number(ts) + 1), body, sig)).toBe(false);
    expect(verifySignature(secret, ts, body, sig.slice(0, -1))).toBe(false);
    // A captured delivery replayed ten minutes later is refused, unless the receiver opts out of the window.
    const later = () => (Number(ts) + 600) * 1000;
    expect(verifySignature(secret, ts, body, sig, { now: later })).toBe(false);
    expect(verifySignature(secret, ts, body, sig, { now: later, toleranceSeconds: Infinity })).toBe(true);
  });

  it("sends no signature headers without a secret and leaves out cluster when not set", async () => {
    const rx = await startReceiver(() => ({ status: 200 }));
    const sink = makeSink({ url: rx.url });
    sink.send(firing);
    await sink.drain(2_000);
    expect(rx.received[0]!.headers).not.toHaveProperty("x-switchyard-signature");
    expect(rx.received[0]!.headers).not.toHaveProperty("x-switchyard-timestamp");
    expect(JSON.parse(rx.received[0]!.body)).toEqual({ version: 1, alert: firing });
  });

  it("posts a Slack-compatible { text } body for firing and resolved, in order", async () => {
    const rx = await startReceiver(() => ({ status: 200, body: "ok" }));
    const sink = makeSink({ url: rx.url, format: "slack", cluster: "shop" });
    sink.send(firing);
    sink.send(resolved);
    await sink.drain(2_000);
    const bodies = rx.received.map((r) => JSON.parse(r.body) as Record<string, string>);
    expect(bodies.map((b) => Object.keys(b))).toEqual([["text"], ["text"]]);
    expect(bodies[0]!.text).toMatch(/FIRING/);
    expect(bodies[0]!.text).toContain("*ContainerStopped* (shop)");
    expect(bodies[0]!.text).toContain("web on blue-1 stopped &lt;by hand&gt; &amp; not restarted");
    expect(bodies[1]!.text).toMatch(/^:white_check_mark: RESOLVED \*ContainerStopped\*/);
  });

  it("retries 500 and 503 with backoff and then delivers exactly once", async () => {
    const rx = await startReceiver((n) => ({ status: [500, 503][n] ?? 200 }));
    const lines: string[] = [];
    const sink = makeSink({ url: rx.url }, lines);
    sink.send(firing);
    expect(await sink.drain(5_000)).toBe(true);
    // drained: nothing pending, so no attempt is left to come (no sleep needed to see that none does)
    expect(rx.received).toHaveLength(3);
    expect(new Set(ids(rx.received)).size).toBe(1); // one delivery id across retries: receivers can dedupe
    expect(sink.stats()).toEqual({ delivered: 1, failed: 0, dropped: 0, pending: 0 });
    expect(lines.filter((l) => l.includes("webhook delivery failed; retrying"))).toHaveLength(2);
  });

  it("keeps order: a resolve waits behind a firing that is being retried", async () => {
    const rx = await startReceiver((n) => ({ status: n === 0 ? 502 : 200 }));
    const sink = makeSink({ url: rx.url });
    sink.send(firing);
    sink.send(resolved);
    await sink.drain(5_000);
    expect(rx.received.map((r) => (JSON.parse(r.body) as { alert: Alert }).alert.state)).toEqual(["firing", "firing", "resolved"]);
  });

  it("does not retry a 400 and logs the rejection", async () => {
    const rx = await startReceiver(() => ({ status: 400, body: "bad payload" }));
    const lines: string[] = [];
    const sink = makeSink({ url: rx.url }, lines);
    sink.send(firing);
    expect(await sink.drain(2_000)).toBe(true);
    expect(rx.received).toHaveLength(1);
    expect(sink.stats()).toMatchObject({ delivered: 0, failed: 1, pending: 0 });
    const line = JSON.parse(lines.find((l) => l.includes("webhook rejected delivery"))!) as Record<string, unknown>;
    expect(line).toMatchObject({ status: 400, answer: "bad payload", attempts: 1 });
  });

  it("honours Retry-After on 429", async () => {
    const rx = await startReceiver((n) => (n === 0 ? { status: 429, headers: { "retry-after": "1" } } : { status: 200 }));
    const sink = makeSink({ url: rx.url, baseDelayMs: 5 });
    sink.send(firing);
    await sink.drain(5_000);
    expect(rx.received).toHaveLength(2);
    expect(rx.received[1]!.at - rx.received[0]!.at).toBeGreaterThanOrEqual(950);
  });

  it("retries a dropped connection and a timed-out attempt", async () => {
    const rx = await startReceiver((n) => (["destroy", "hang"] as const)[n] ?? { status: 200 });
    const sink = makeSink({ url: rx.url, timeoutMs: 150 });
    sink.send(firing);
    expect(await sink.drain(5_000)).toBe(true);
    expect(rx.received).toHaveLength(3);
    expect(sink.stats().delivered).toBe(1);
  });

  it("gives up after maxAttempts and moves on to the next delivery", async () => {
    const rx = await startReceiver((n) => ({ status: n < 3 ? 500 : 200 }));
    const lines: string[] = [];
    const sink = makeSink({ url: rx.url, maxAttempts: 3 }, lines);
    sink.send(firing);
    sink.send(resolved);
    await sink.drain(5_000);
    expect(rx.received).toHaveLength(4);
    expect(sink.stats()).toMatchObject({ delivered: 1, failed: 1 });
    expect(lines.some((l) => l.includes("webhook delivery abandoned after retries"))).toBe(true);
  });

  it("never blocks the caller while the receiver hangs; bounded queue drops the oldest; close drops the rest", async () => {
    const rx = await startReceiver(() => "hang");
    const lines: string[] = [];
    const sink = makeSink({ url: rx.url, maxQueue: 10, timeoutMs: 60_000 }, lines);
    // send() returns nothing to wait for, and the queue is bounded before any I/O has happened
    for (let i = 0; i < 200; i++) expect(sink.send({ ...firing, fingerprint: `fp-${i}` })).toBeUndefined();
    expect(rx.received).toHaveLength(0);
    expect(sink.stats()).toMatchObject({ dropped: 190 });
    await until("the first delivery reaches the receiver", () => rx.received.length === 1);
    expect(sink.stats()).toMatchObject({ dropped: 190, pending: 10 }); // the first is in flight (it hangs), the rest wait
    expect(lines.filter((l) => l.includes("webhook queue full")).length).toBeGreaterThanOrEqual(1);

    // close does not wait for the hanging delivery's 60 s timeout
    const c0 = performance.now();
    await sink.close();
    expect(performance.now() - c0).toBeLessThan(5_000);
    expect(rx.received).toHaveLength(1);
    const closing = JSON.parse(lines.find((l) => l.includes("pending deliveries dropped"))!) as Record<string, unknown>;
    expect(closing.dropped).toBe(10);
    expect(sink.stats().pending).toBe(0);
  });

  it("close stops a pending retry timer at once", async () => {
    // The receiver asks for a retry in 3 s; close comes right after the first answer. A close that waited for
    // the timer would take those 3 s, and a timer left running would deliver again once they have passed.
    const rx = await startReceiver(() => ({ status: 503, headers: { "retry-after": "3" } }));
    const sink = makeSink({ url: rx.url });
    sink.send(firing);
    await until("the first attempt", () => rx.received.length === 1);
    const c0 = performance.now();
    await sink.close();
    expect(performance.now() - c0).toBeLessThan(2_000);
    await sleep(Math.max(0, rx.received[0]!.at + 3_500 - performance.now()));
    expect(rx.received).toHaveLength(1);
  });

  it("never logs the secret or the URL's query string", async () => {
    const rx = await startReceiver((n) => ({ status: n === 0 ? 500 : 400 }));
    const lines: string[] = [];
    const sink = makeSink({ url: `${rx.url}?token=q5ecretq&x=1`, secret: "s1gn1ng-k3y" }, lines);
    sink.send(firing);
    await sink.drain(5_000);
    expect(rx.received).toHaveLength(2);
    const all = lines.join("\n");
    expect(all).toContain(`"webhook":"${rx.url}"`);
    expect(all).not.toContain("q5ecretq");
    expect(all).not.toContain("s1gn1ng-k3y");
  });
});

describe("safeTarget", () => {
  it("keeps origin and path, drops query and credentials, masks token-like path segments", () => {
    expect(safeTarget("https://user:pw@alerts.example.com/hook?token=abc#x")).toBe("https://alerts.example.com/hook");
    expect(safeTarget("https://hooks.slack.com/services/T0001/B0002/XXXXXXXXXXXXXXXXXXXXXXXX")).toBe("https://hooks.slack.com/services/T0001/B0002/***");
  });
});

describe("webhook settings follow cluster.yaml", () => {
  it("a webhook added to cluster.yaml while the reconciler runs gets the next alert; one removed gets nothing more", async () => {
    const rx = await startReceiver(() => ({ status: 204 }));
    const root = mkdtempSync(join(tmpdir(), "sy-hook-reload-"));
    const deploy = join(root, "deploy");
    cpSync("examples/local", deploy, { recursive: true });
    const clusterFile = join(deploy, "cluster.yaml");
    const original = readFileSync(clusterFile, "utf8");
    const r = await startReconciler({ dir: deploy, dataDir: join(root, "data"), listen: "127.0.0.1:0", dashboardRoot: null, logger: makeLogger("hooks", { level: "silent" }) });
    cleanups.push(async () => {
      await r.close();
      rmSync(root, { recursive: true, force: true });
    });
    const stateFile = join(deploy, "state.yaml");
    const state = readFileSync(stateFile, "utf8");
    const breakState = () => writeFileSync(stateFile, state.replace(/active: \w+/, "active: purple"));
    const healState = async () => {
      writeFileSync(stateFile, state);
      await waitFor("valid again", async () => !r.alerts.firing().some((a) => a.name === "SpecInvalid"), 10_000);
    };

    breakState(); // no webhook yet: nothing is sent
    await waitFor("SpecInvalid", async () => r.alerts.firing().some((a) => a.name === "SpecInvalid"), 10_000);
    await healState();
    expect(rx.received).toEqual([]);

    writeFileSync(clusterFile, original.replace("  drift: { policy: heal }", `  drift: { policy: heal }\n  alerts: { webhooks: [{ url: "${rx.url}" }] }`));
    await waitFor("the new cluster.yaml in force", async () => r.source.get()!.desired.cluster.spec.alerts.webhooks.length === 1, 10_000);
    breakState();
    await waitFor("delivered to the new webhook", async () => rx.received.some((x) => JSON.parse(x.body).alert?.name === "SpecInvalid"), 10_000);
    await healState();
    await waitFor("the resolve delivered", async () => rx.received.some((x) => JSON.parse(x.body).alert?.state === "resolved"), 10_000);

    writeFileSync(clusterFile, original);
    await waitFor("the webhook removed", async () => r.source.get()!.desired.cluster.spec.alerts.webhooks.length === 0, 10_000);
    const before = rx.received.length;
    breakState();
    await waitFor("SpecInvalid again", async () => r.alerts.firing().some((a) => a.name === "SpecInvalid"), 10_000);
    await new Promise((res) => setTimeout(res, 500));
    expect(rx.received.length).toBe(before);
  }, 60_000);
});
