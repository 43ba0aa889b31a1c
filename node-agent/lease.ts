/**
 * The job lease as the agent holds it. Expiry is measured on this process's monotonic clock from when the
 * grant arrived, so wall-clock jumps cannot extend it. A revoked epoch can never be granted again (a late
 * renewal that arrives after a revocation is refused), and epochs never go down.
 */
import { performance } from "node:perf_hooks";
import { agentError } from "./errors.js";
import type { LeaseStatus } from "../specs/wire.js";

export interface LeaseMemory {
  /** Highest epoch ever granted to this agent. */
  highestEpoch: number;
  /** Epochs up to and including this one were revoked here and are refused from now on. */
  revokedThrough: number;
}

export class Lease {
  private epoch = 0;
  private expiresAt = 0; // performance.now() ms
  private state: "none" | "held" | "expired" | "revoked" = "none";
  private timer: NodeJS.Timeout | undefined;

  constructor(private mem: LeaseMemory, private readonly onLapse: () => void) {}

  /** Grants or renews. Returns true when the epoch changed (job containers must restart under it). */
  grant(epoch: number, ttlMs: number): boolean {
    if (epoch <= this.mem.revokedThrough) {
      throw agentError("AGENT_ERR_STALE_EPOCH", `epoch ${epoch} was revoked on this node; a new grant needs an epoch above ${this.mem.revokedThrough}`);
    }
    if (epoch < this.mem.highestEpoch) {
      throw agentError("AGENT_ERR_STALE_EPOCH", `epoch ${epoch} is older than epoch ${this.mem.highestEpoch} already granted here`);
    }
    const changed = this.state !== "held" || epoch !== this.epoch;
    this.epoch = epoch;
    this.mem = { ...this.mem, highestEpoch: epoch };
    this.expiresAt = performance.now() + ttlMs;
    this.state = "held";
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => this.lapse(), ttlMs + 1);
    this.timer.unref();
    return changed;
  }

  revoke(): void {
    if (this.timer) clearTimeout(this.timer);
    this.mem = { ...this.mem, revokedThrough: Math.max(this.mem.revokedThrough, this.mem.highestEpoch) };
    this.state = this.state === "none" ? "none" : "revoked";
  }

  /** True while job containers may run. Checked right before any job container starts. */
  held(): boolean {
    if (this.state === "held" && performance.now() >= this.expiresAt) this.lapse();
    return this.state === "held";
  }

  currentEpoch(): number {
    return this.epoch;
  }

  memory(): LeaseMemory {
    return this.mem;
  }

  status(): LeaseStatus {
    const held = this.held();
    return {
      state: this.state,
      epoch: Math.max(this.epoch, this.mem.highestEpoch),
      remainingMs: held ? Math.max(0, Math.floor(this.expiresAt - performance.now())) : 0,
      revokedThrough: this.mem.revokedThrough,
    };
  }

  close(): void {
    if (this.timer) clearTimeout(this.timer);
  }

  private lapse(): void {
    if (this.state !== "held") return;
    this.state = "expired";
    this.onLapse();
  }
}
