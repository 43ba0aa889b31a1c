/** Placeholder replaced when the router data plane lands. */
import type { Logger } from "pino";
import type { NodeSpec, NodeStatus, RouterSpec } from "../specs/wire.js";
export class RouterAgent {
  readonly role = "router" as const;
  constructor(_o: { name: string; dataDir: string; listen: string; logger: Logger; bootId: string }) {}
  async start(): Promise<void> {
    throw new Error("the router role is not available in this build");
  }
  status(): NodeStatus {
    throw new Error("unavailable");
  }
  async applySpec(_s: NodeSpec | RouterSpec): Promise<{ changed: boolean }> {
    throw new Error("unavailable");
  }
  onChange(_l: () => void): () => void {
    return () => undefined;
  }
  async close(): Promise<void> {}
}
