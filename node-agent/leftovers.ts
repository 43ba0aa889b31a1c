/**
 * Stopped containers Docker could not remove (its "device or resource busy" when a mount of the container
 * leaked into another mount namespace, or any other failed removal). They run nothing and hold no port, so
 * they never keep a service from being started: they are no service's workload (not a second instance, not
 * a death, not drift), the name they held goes to the replacement, and their removal is tried again every
 * LEFTOVER_REMOVAL_RETRY_MS until it works. A container that still runs is never a leftover.
 */
import { LEFTOVER_REMOVAL_RETRY_MS } from "../specs/defaults.js";

/** States in which a container still runs (or will again) and may hold its port. */
const HOLDING = new Set(["running", "restarting", "paused"]);
/** The names asideName gives. */
const ASIDE = /-unremovable-[0-9a-f]{12}$/;

/** What a listing says of one container. */
export interface ListedContainer {
  id: string;
  name: string;
  /** Docker's state: running, exited, dead, removing... */
  state: string;
}

/** The name a leftover is renamed to, freeing its service's container name. */
export function asideName(name: string, id: string): string {
  return `${name}-unremovable-${id.slice(0, 12)}`;
}

/** The leftovers of one runtime and when each one's removal is tried next (times in ms, given by the caller). */
export class Leftovers {
  private readonly nextTry = new Map<string, number>();

  /** A removal of `id` failed now: its next try waits the retry interval. */
  add(id: string, now: number): void {
    this.nextTry.set(id, now + LEFTOVER_REMOVAL_RETRY_MS);
  }

  /**
   * True when a listed container is a leftover: it does not run, and its removal failed before (in this
   * process, or before an agent restart: Docker then says "dead", or it was set aside by name). Notes it.
   */
  is(c: ListedContainer, now: number): boolean {
    if (HOLDING.has(c.state)) return false;
    if (!this.nextTry.has(c.id) && c.state !== "dead" && !ASIDE.test(c.name)) return false;
    if (!this.nextTry.has(c.id)) this.nextTry.set(c.id, now);
    return true;
  }

  /** The leftovers whose removal is due at `now`; each then waits the retry interval again. */
  due(now: number): string[] {
    const out = [...this.nextTry].filter(([, at]) => at <= now).map(([id]) => id);
    for (const id of out) this.nextTry.set(id, now + LEFTOVER_REMOVAL_RETRY_MS);
    return out;
  }

  /** `id` is gone (removed at last, or by someone else). */
  gone(id: string): void {
    this.nextTry.delete(id);
  }

  /** How long until the next removal is due (0: now), or null when there is no leftover. */
  nextWait(now: number): number | null {
    if (this.nextTry.size === 0) return null;
    return Math.max(0, Math.min(...this.nextTry.values()) - now);
  }
}
