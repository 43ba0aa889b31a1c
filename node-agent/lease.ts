/**
 * The job lease as the agent holds it. Expiry is measured on this process's monotonic clock from when the
 * grant arrived, so wall-clock jumps cannot extend it. A revoked epoch can never be granted again (a late
 * renewal that arrives after a revocation is refused), and epochs never go down.
 *
 * Across an agent restart (lease.json in the data dir): a held lease is written with its expiry on the
 * kernel's monotonic clock (which is system-wide on Linux, so it survives the agent process, not a reboot)
 * and on the wall clock. A restarted agent *adopts* it only when the kernel boot is the same and both clocks
 * say it has not expired: it then keeps the job workloads that run under that epoch, starts none, and stops
 * them when the lease lapses unless the reconciler renews it first (a renewal *confirms* it).
 */
import { performance } from "node:perf_hooks";
import { agentError } from "./errors.js";
import { currentBootId as kernelBootId } from "./process-identity.js";
import type { LeaseStatus } from "../specs/wire.js";

export interface LeaseMemory {
  /** Highest epoch ever granted to this agent. */
  highestEpoch: number;
  /** Epochs up to and including this one were revoked here and are refused from now on. */
  revokedThrough: number;
  /** The lease held when this was written (absent: none held, or given up when the agent stopped). */
  held?: HeldLease;
}

export interface HeldLease {
  epoch: number;
  ttlMs: number;
  /** The kernel's boot id (/proc/sys/kernel/random/boot_id): the monotonic clock below is only valid within it. */
  kernelBootId: string;
  /** Expiry on the kernel's monotonic clock (ms), the clock the lease runs on. */
  expiresAtMonoMs: number;
  /** Expiry on the wall clock (ms since the epoch): an adoption needs both clocks to agree. */
  expiresAtWallMs: number;
}

export class Lease {
  private epoch = 0;
  private expiresAt = 0; // performance.now() ms
  private ttlMs = 0;
  private state: "none" | "held" | "expired" | "revoked" = "none";
  /** Held from before a restart and not yet renewed by the reconciler: running jobs are kept, none started. */
  private adopted = false;
  private timer: NodeJS.Timeout | undefined;

  /** `bootId` reads the kernel's boot id (null where there is none); tests pass their own. */
  constructor(private mem: LeaseMemory, private readonly onLapse: () => void, private readonly bootId: () => string | null = kernelBootId) {}

  /**
   * Takes over the lease held before this agent restarted, when it certainly has not expired (same kernel
   * boot, both clocks). Returns its remaining ms, or null when there is nothing to adopt.
   */
  adopt(): number | null {
    const h = this.mem.held;
    this.mem = { highestEpoch: this.mem.highestEpoch, revokedThrough: this.mem.revokedThrough };
    const boot = this.bootId();
    if (!h || boot === null || h.kernelBootId !== boot || h.epoch <= this.mem.revokedThrough || h.epoch < this.mem.highestEpoch) return null;
    const remaining = Math.min(h.expiresAtMonoMs - monoNowMs(), h.expiresAtWallMs - Date.now(), h.ttlMs);
    if (!(remaining > 0)) return null;
    this.hold(h.epoch, h.ttlMs, remaining);
    this.adopted = true;
    return Math.floor(remaining);
  }

  /** Grants or renews. Returns true when the epoch changed or an adopted lease is confirmed (jobs converge again). */
  grant(epoch: number, ttlMs: number): boolean {
    if (epoch <= this.mem.revokedThrough) {
      throw agentError("AGENT_ERR_STALE_EPOCH", `epoch ${epoch} was revoked on this node; a new grant needs an epoch above ${this.mem.revokedThrough}`);
    }
    if (epoch < this.mem.highestEpoch) {
      throw agentError("AGENT_ERR_STALE_EPOCH", `epoch ${epoch} is older than epoch ${this.mem.highestEpoch} already granted here`);
    }
    const changed = this.state !== "held" || epoch !== this.epoch || this.adopted;
    this.adopted = false;
    this.hold(epoch, ttlMs, ttlMs);
    return changed;
  }

  revoke(): void {
    if (this.timer) clearTimeout(this.timer);
    this.adopted = false;
    this.mem = { highestEpoch: this.mem.highestEpoch, revokedThrough: Math.max(this.mem.revokedThrough, this.mem.highestEpoch) };
    this.state = this.state === "none" ? "none" : "revoked";
  }

  /** The agent is stopping and stops its jobs: the lease is given up (not adopted by the next start). */
  giveUp(): void {
    if (this.timer) clearTimeout(this.timer);
    this.adopted = false;
    this.mem = { highestEpoch: this.mem.highestEpoch, revokedThrough: this.mem.revokedThrough };
    if (this.state === "held") this.state = "expired";
  }

  /** True while job containers may run. Checked right before any job container starts. */
  held(): boolean {
    if (this.state === "held" && performance.now() >= this.expiresAt) this.lapse();
    return this.state === "held";
  }

  /** True while new job workloads may start: held, and granted or renewed by the reconciler since this agent started. */
  confirmed(): boolean {
    return this.held() && !this.adopted;
  }

  currentEpoch(): number {
    return this.epoch;
  }

  /** The TTL of the last grant (0 before any). */
  lastTtlMs(): number {
    return this.ttlMs;
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

  private hold(epoch: number, ttlMs: number, remainingMs: number): void {
    this.epoch = epoch;
    this.ttlMs = ttlMs;
    this.expiresAt = performance.now() + remainingMs;
    this.state = "held";
    const boot = this.bootId();
    this.mem = {
      highestEpoch: epoch,
      revokedThrough: this.mem.revokedThrough,
      ...(boot !== null ? { held: { epoch, ttlMs, kernelBootId: boot, expiresAtMonoMs: monoNowMs() + remainingMs, expiresAtWallMs: Date.now() + remainingMs } } : {}),
    };
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => this.lapse(), remainingMs + 1);
    this.timer.unref();
  }

  private lapse(): void {
    if (this.state !== "held") return;
    this.state = "expired";
    this.adopted = false;
    this.mem = { highestEpoch: this.mem.highestEpoch, revokedThrough: this.mem.revokedThrough };
    this.onLapse();
  }
}

/** The kernel's monotonic clock in ms: process.hrtime is CLOCK_MONOTONIC, the same for every process of one boot. */
function monoNowMs(): number {
  return Number(process.hrtime.bigint() / 1_000_000n);
}
