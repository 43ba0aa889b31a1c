/**
 * Benchmark router: the Switchyard data plane in a process of its own, like the agent runs it.
 * IPC: `{ type: "apply", spec }` → `{ type: "applied", applyMs, at }` once the table is on disk and swapped in
 * (`at`: when the message was handled, process.hrtime ns; `applyMs`: how long apply() took).
 */
import { RouterDataPlane } from "../../node-agent/router/data-plane.js";
import { makeLogger } from "../../node-agent/log.js";
import type { RouterSpec } from "../../specs/wire.js";

const [dataDir, listen] = process.argv.slice(2) as [string, string];
const plane = new RouterDataPlane({ dataDir, listen, logger: makeLogger("bench-router", { level: "warn" }) });
await plane.start();
process.on("message", (m: { type: string; spec: RouterSpec }) => {
  if (m.type !== "apply") return;
  const began = process.hrtime.bigint();
  plane.apply(m.spec).then(
    () => process.send?.({ type: "applied", applyMs: Number(process.hrtime.bigint() - began) / 1e6, at: began.toString() }),
    (err: Error) => process.send?.({ type: "error", message: err.message }),
  );
});
process.on("disconnect", () => { void plane.close().then(() => process.exit(0)); });
process.send?.({ type: "ready" });
