/**
 * Deploy notifications (issue 17, item 4): a Slack-format receiver subscribed to every lifecycle event
 * gets exactly "deploy started", "ready", "promoted", "rolled back", in order, once each, for one
 * deploy → promote → rollback through the API; a JSON receiver subscribed to `promoted` only gets that one
 * event with who did it; a webhook with the default events (alerts only) gets none of them.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createServer, type Server } from "node:http";
import { ClusterBed } from "../support/cluster-bed.js";
import { waitFor } from "../support/agent-bed.js";
import { lifecycleEvents } from "../../specs/lifecycle.js";

/** An HTTP receiver on port 0 that keeps every body it is sent, by path. */
async function receiver(): Promise<{ server: Server; url: string; got: Map<string, unknown[]> }> {
  const got = new Map<string, unknown[]>();
  const server = createServer((req, res) => {
    let body = "";
    req.on("data", (d: Buffer) => (body += d));
    req.on("end", () => {
      got.set(req.url ?? "", [...(got.get(req.url ?? "") ?? []), JSON.parse(body) as unknown]);
      res.end("ok");
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const addr = server.address() as { port: number };
  return { server, url: `http://127.0.0.1:${addr.port}`, got };
}

describe("lifecycle notifications", () => {
  let bed: ClusterBed;
  let rx: Awaited<ReturnType<typeof receiver>>;

  beforeAll(async () => {
    rx = await receiver();
    bed = new ClusterBed({
      prefix: "lcw", git: true, state: { blue: "v1", green: "v1" },
      webhooks: [
        { url: `${rx.url}/slack`, format: "slack", events: [...lifecycleEvents] },
        { url: `${rx.url}/json`, format: "json", events: ["promoted"] },
        `${rx.url}/alerts`,
      ],
    });
    await bed.startAgents();
    await bed.startReconciler();
  }, 120_000);

  afterAll(async () => {
    await bed?.close();
    rx?.server.close();
  }, 60_000);

  const act = async (action: string, body: object) => {
    const { revision } = await bed.api<{ revision: string }>("/api/v1/state");
    const r = await bed.api<{ commit?: string; error?: unknown }>(`/api/v1/actions/${action}`, { method: "POST", body: JSON.stringify(body), headers: { "if-match": revision } });
    expect(r.error).toBeUndefined();
  };

  it("sends deploy started, ready, promoted, rolled back: in order, once each", async () => {
    await waitFor("blue live, green ready", async () => {
      const s = await bed.status();
      return s.router?.live === "blue" && s.colors?.green.phase === "Ready" && s;
    }, 90_000);
    await act("deploy", { tag: "v2" });
    await waitFor("green ready with v2", async () => {
      const s = await bed.status();
      return s.colors?.green.phase === "Ready" && s.colors.green.tag === "v2" && s;
    }, 90_000);
    await act("promote", {});
    await waitFor("green live", async () => (await bed.status()).router?.live === "green", 30_000);
    await act("rollback", {});
    await waitFor("blue live again", async () => (await bed.status()).router?.live === "blue", 30_000);
    await waitFor("four Slack messages", async () => (rx.got.get("/slack")?.length ?? 0) >= 4, 10_000);
    await new Promise((r) => setTimeout(r, 1500)); // nothing more arrives (a duplicate, a late ready)

    const texts = (rx.got.get("/slack") as { text: string }[]).map((m) => m.text);
    expect(texts).toEqual([
      expect.stringMatching(/^:rocket: deploy of v2 to green started by tester \(lcw\)$/),
      expect.stringMatching(/^:large_green_circle: green is ready with v2 \(lcw\)$/),
      expect.stringMatching(/^:arrows_counterclockwise: green \(v2\) promoted by tester \(lcw\)$/),
      expect.stringMatching(/^:rewind: rolled back to blue \(v1\) by tester \(lcw\)$/),
    ]);
    expect(rx.got.get("/json")).toEqual([
      { version: 1, cluster: "lcw", event: { type: "promoted", at: expect.any(String), summary: "green (v2) promoted by tester", color: "green", tag: "v2", by: "tester" } },
    ]);
    expect(rx.got.get("/alerts") ?? []).toEqual([]);
  }, 240_000);
});
