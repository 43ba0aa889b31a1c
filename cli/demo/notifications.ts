/**
 * The demo's webhook receiver: a loopback HTTP server that cluster.yaml's webhook (json format, signed,
 * subscribed to every lifecycle event) posts to. Each verified event becomes one console line
 * ("notification: green (v2) promoted by admin"), so the person running the demo sees what a chat
 * channel would. Deliveries are at-least-once: a retried one (same X-Switchyard-Delivery) is shown once.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { DELIVERY_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER } from "../../reconciler/notify/webhooks.js";
import { verifySignature } from "../../reconciler/notify/webhook-signing.js";
import type { LifecycleEvent } from "../../specs/lifecycle.js";

/** The path the demo's webhook posts to. */
export const NOTIFY_PATH = "/notify";
/** Bodies beyond this are refused: a lifecycle event is a few hundred bytes. */
const MAX_BODY_BYTES = 64 * 1024;
/** Delivery ids remembered for deduplication. */
const SEEN_MAX = 500;

export interface NotificationReceiver {
  port: number;
  url: string;
  close(): Promise<void>;
}

/** Listens on 127.0.0.1 on a free port; `say` gets one line per lifecycle event whose signature holds. */
export async function startNotificationReceiver(o: { secret: string; say: (line: string) => void; warn: (msg: string) => void }): Promise<NotificationReceiver> {
  const seen = new Set<string>();
  const server = createServer((req, res) => {
    if (req.method !== "POST" || req.url !== NOTIFY_PATH) return answer(res, 404);
    readBody(req).then(
      (body) => {
        const ts = header(req, TIMESTAMP_HEADER);
        const sig = header(req, SIGNATURE_HEADER);
        if (!verifySignature(o.secret, ts, body, sig)) {
          o.warn("a notification with a wrong or missing signature was refused");
          return answer(res, 401);
        }
        const id = header(req, DELIVERY_HEADER);
        if (id && seen.has(id)) return answer(res, 204);
        if (id) remember(seen, id);
        const line = describe(body);
        if (line) o.say(`notification: ${line}`);
        answer(res, 204);
      },
      () => answer(res, 413),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen({ host: "127.0.0.1", port: 0 }, () => resolve());
  });
  const port = (server.address() as { port: number }).port;
  return {
    port,
    url: `http://127.0.0.1:${port}${NOTIFY_PATH}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** The event's own human line; an alert body (not subscribed by the demo) is shown by its name. */
function describe(body: string): string | null {
  try {
    const msg = JSON.parse(body) as { event?: LifecycleEvent; alert?: { name?: string; state?: string } };
    if (msg.event?.summary) return msg.event.summary;
    if (msg.alert?.name) return `alert ${msg.alert.name} ${msg.alert.state ?? ""}`.trim();
  } catch {
    /* not JSON: nothing to show */
  }
  return null;
}

function header(req: IncomingMessage, name: string): string {
  const v = req.headers[name];
  return typeof v === "string" ? v : "";
}

function remember(seen: Set<string>, id: string): void {
  seen.add(id);
  if (seen.size > SEEN_MAX) seen.delete(seen.values().next().value as string);
}

function answer(res: ServerResponse, status: number): void {
  res.writeHead(status, { "content-length": "0" });
  res.end();
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (d: Buffer) => {
      size += d.length;
      if (size > MAX_BODY_BYTES) {
        req.destroy();
        reject(new Error("too large"));
      } else chunks.push(d);
    });
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}
