/**
 * The Docker side of leftovers.ts: stopped containers the engine could not remove are kept out of the
 * runtime's listings, their removal is tried again on a timer, and the name one of them holds is freed for
 * its replacement (renamed aside; when the engine refuses that too, the replacement takes another name).
 */
import { randomBytes } from "node:crypto";
import type Docker from "dockerode";
import type { Logger } from "pino";
import { LEFTOVER_REMOVAL_RETRY_MS } from "../specs/defaults.js";
import { Leftovers, asideName } from "./leftovers.js";
import { RuntimeError } from "./runtime.js";

export class DockerLeftovers {
  private readonly book = new Leftovers();
  private timer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(private readonly docker: Docker, private readonly log: Logger) {}

  /** The listed containers that are not leftovers (those that are get their removal retried). */
  keep(containers: readonly Docker.ContainerInfo[]): Docker.ContainerInfo[] {
    const now = Date.now();
    const out = containers.filter((c) => !this.book.is({ id: c.Id, name: (c.Names?.[0] ?? "").replace(/^\//, ""), state: c.State }, now));
    this.arm();
    return out;
  }

  /**
   * Removing `id` failed with `err`: a RuntimeError of kind `unremovable` when it does not run (it is a
   * leftover from now on), else one that blocks (a running container that stays would hold its port); null
   * when it is gone after all.
   */
  async failed(id: string, err: Error): Promise<RuntimeError | null> {
    const info = await this.docker.getContainer(id).inspect().catch((e: { statusCode?: number }) => (e.statusCode === 404 ? null : undefined));
    if (info === null) return null;
    const msg = `cannot remove container ${id.slice(0, 12)}: ${err.message}`;
    if (!info || info.State.Running || info.State.Restarting || info.State.Paused) return new RuntimeError(msg);
    this.book.add(id, Date.now());
    this.arm();
    return new RuntimeError(
      `container ${id.slice(0, 12)} is stopped but Docker cannot remove it (${err.message}); it holds no port and is left aside, its removal tried again every ${LEFTOVER_REMOVAL_RETRY_MS / 1000} s`,
      "unremovable",
    );
  }

  /**
   * The container `c` (ours) holds `name` and could not be removed: it is renamed aside and `name` is free
   * again; when the engine refuses the rename, the name to create the replacement under instead.
   */
  async setAside(c: Docker.Container, name: string, err: Error): Promise<string> {
    const refused = await this.failed(c.id, err);
    if (refused === null) return name;
    if (refused.kind !== "unremovable") throw refused;
    const aside = asideName(name, c.id);
    try {
      await c.rename({ name: aside });
      this.log.warn({ id: c.id.slice(0, 12), name: aside, err: err.message }, "a stopped container Docker cannot remove held the name of its replacement; renamed aside, its removal is retried");
      return name;
    } catch (renameErr) {
      const other = `${name}-${randomBytes(3).toString("hex")}`;
      this.log.warn({ id: c.id.slice(0, 12), name: other, err: (renameErr as Error).message }, "a stopped container Docker cannot remove or rename holds the name of its replacement; the replacement takes another name");
      return other;
    }
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** One timer while there are leftovers, for the next removal that is due. */
  private arm(): void {
    const wait = this.book.nextWait(Date.now());
    if (this.timer || wait === null || this.closed) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.retry().finally(() => this.arm());
    }, wait);
    this.timer.unref();
  }

  private async retry(): Promise<void> {
    for (const id of this.book.due(Date.now())) {
      try {
        // No force: a leftover never runs, and if it somehow did, it is not ours to kill here.
        await this.docker.getContainer(id).remove();
        this.book.gone(id);
        this.log.info({ id: id.slice(0, 12) }, "a container Docker could not remove before is removed now");
      } catch (err) {
        if ((err as { statusCode?: number }).statusCode === 404) this.book.gone(id);
        else this.log.debug({ id: id.slice(0, 12), err: (err as Error).message }, "a leftover container still cannot be removed");
      }
    }
  }
}
