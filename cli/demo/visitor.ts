/**
 * A steady trickle of visitors on the demo's live address (GET /version through the router), so the
 * dashboard's requests per second and error rate per colour move, and a release that answers 500s (v4)
 * meets enough requests for the automatic rollback to judge it. Errors are ignored: it is a visitor.
 */
import { Agent, request } from "node:http";

/** One request per this many milliseconds: 4 a second, well above the demo's minRequests in its window. */
export const DEMO_VISIT_INTERVAL_MS = 250;

export interface Visitor {
  stop(): void;
}

export function startVisitor(routerPort: number, host: string): Visitor {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  let busy = false;
  const timer = setInterval(() => {
    if (busy) return;
    busy = true;
    const req = request({ host: "127.0.0.1", port: routerPort, path: "/version", headers: { host: `${host}:${routerPort}`, "user-agent": "switchyard-demo-visitor" }, agent, timeout: 2000 }, (res) => {
      res.resume();
      res.on("close", () => (busy = false));
    });
    req.on("error", () => (busy = false));
    req.on("timeout", () => req.destroy());
    req.end();
  }, DEMO_VISIT_INTERVAL_MS);
  timer.unref();
  return {
    stop() {
      clearInterval(timer);
      agent.destroy();
    },
  };
}
