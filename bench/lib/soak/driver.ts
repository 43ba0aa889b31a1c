/**
 * Executes the seeded schedule against a SoakCluster and records it: faults with their windows and
 * recovery times, desired-state changes (valid, unsafe and invalid ones, the latter checked to be refused
 * without effect), and the reconciler's status sampled twice a second.
 */
import { openSync, closeSync, writeSync, rmSync } from "node:fs";
import { join } from "node:path";
import type { Color } from "../../../specs/types.js";
import { CRASH_TAG, GOOD_TAGS, type SoakCluster } from "./cluster.js";
import type { ChangeRecord, FaultRecord, History } from "./history.js";
import { describeModel, other, type DesiredModel } from "./model.js";
import { notReached, sampleOf, status } from "./observe.js";
import type { Prng } from "./prng.js";
import { drawChange, type Change, type FaultPlan, type InvalidKind } from "./schedule.js";

export interface DriverOptions {
  perColor: number;
  /** How long the desired state may take to be reached after a fault heals. */
  recoveryBoundMs: number;
  log: (line: string) => void;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** How long an invalid edit or an unsafe switch stays on disk before it is checked and undone. */
const REFUSAL_WATCH_MS = 3000;
/** How long a crash-looping release may take to be crash looping on every node of its colour (pulls, first death, heal). */
const CRASH_LOOP_ESTABLISHED_BOUND_MS = 20_000;

export class Driver {
  model: DesiredModel;
  private sampler: NodeJS.Timeout | undefined;
  private crashLooping = false;
  /** Crash-loop figures: specs the reconciler sent to the crash-looping colour's nodes, per minute. */
  readonly crashLoopSpecsPerMinute: number[] = [];

  constructor(private readonly cluster: SoakCluster, private readonly prng: Prng, private readonly h: History, initial: DesiredModel, private readonly o: DriverOptions) {
    this.model = structuredClone(initial);
  }

  startSampling(): void {
    let busy = false;
    this.sampler = setInterval(() => {
      if (busy) return;
      busy = true;
      const at = Date.now();
      void status(this.cluster).then((s) => {
        if (s) this.h.samples.push(sampleOf(s, at));
        busy = false;
      });
    }, 500);
  }

  stopSampling(): void {
    if (this.sampler) clearInterval(this.sampler);
  }

  /** Waits until the model is reached; ms from `from`, or null past the bound. */
  async settle(from: number, boundMs = this.o.recoveryBoundMs): Promise<{ ms: number | null; why: string | null }> {
    let why: string | null = "not checked";
    while (Date.now() - from < boundMs) {
      why = notReached(await status(this.cluster), this.model, this.o.perColor);
      if (why === null) return { ms: Date.now() - from, why };
      await sleep(250);
    }
    return { ms: null, why };
  }

  async change(): Promise<void> {
    await this.apply(drawChange(this.prng, this.model, !this.crashLooping));
  }

  async apply(ch: Change): Promise<void> {
    const rec: ChangeRecord = { kind: ch.kind, at: Date.now(), detail: ch.detail, desired: this.model };
    this.h.changes.push(rec);
    this.o.log(`change ${ch.kind}: ${ch.detail}`);
    if (ch.kind === "invalid") return this.invalid(ch.invalid!, rec);
    if (ch.kind === "bad-promote") return this.badPromote(ch.next, rec);
    this.model = ch.next;
    rec.desired = ch.next;
    this.cluster.writeState(ch.next);
  }

  async fault(plan: FaultPlan): Promise<FaultRecord> {
    const f: FaultRecord = { kind: plan.kind, target: plan.target, detail: plan.detail, start: Date.now(), end: null };
    this.h.faults.push(f);
    this.o.log(`fault ${plan.kind} ${plan.target} (${plan.detail})`);
    const during = async () => {
      for (let i = 0; i < plan.changes; i++) {
        await sleep(plan.durationMs / (plan.changes + 1));
        await this.change();
      }
      await sleep(plan.durationMs / (plan.changes + 1));
    };
    const c = this.cluster;
    switch (plan.kind) {
      case "kill-reconciler":
        await c.killReconciler();
        await during();
        await c.startReconciler();
        break;
      case "kill-agent":
      case "kill-router": {
        const n = c.node(plan.target);
        await c.killAgent(n);
        await during();
        await c.startAgent(n);
        break;
      }
      case "stop-agent": {
        const n = c.node(plan.target);
        c.signalAgent(n, "SIGSTOP");
        await during();
        c.signalAgent(n, "SIGCONT");
        break;
      }
      case "partition-agent":
      case "partition-router":
      case "slow-agent": {
        const n = c.node(plan.target);
        n.relay.set(plan.kind === "slow-agent" ? { kind: "slow", latencyMs: Number(/\d+/.exec(plan.detail)![0]) } : { kind: plan.detail as "cut" | "blackhole" });
        await during();
        n.relay.heal();
        break;
      }
      case "crash-loop":
        await this.crashLoop(plan, f);
        break;
      case "registry-down":
        await this.registryDown(f, during);
        break;
      case "engine-restart":
        // SIGTERM, as `systemctl restart docker`: the engine stops its containers; the agents stay up.
        await c.engine!.stop();
        await during();
        await c.engine!.start();
        break;
      case "disk-full": {
        const dir = plan.target === "reconciler" ? c.reconcilerData : join(c.node(plan.target).dir, "data");
        fillDisk(dir);
        await during();
        rmSync(join(dir, "soak-fill"), { force: true });
        break;
      }
    }
    f.end = Date.now();
    const r = await this.settle(f.end);
    f.recoveryMs = r.ms;
    if (r.ms === null) f.notReachedWhy = r.why;
    this.o.log(`  healed; ${r.ms === null ? `NOT recovered within ${this.o.recoveryBoundMs} ms: ${r.why}` : `recovered in ${r.ms} ms`}`);
    return f;
  }

  /** The idle colour gets a release that exits at once; after the fault, a good release again. */
  private async crashLoop(plan: FaultPlan, f: FaultRecord): Promise<void> {
    const idle = other(this.model.active);
    const before = this.model.tags[idle];
    this.crashLooping = true;
    await this.apply({ kind: "deploy", next: { ...structuredClone(this.model), tags: { ...this.model.tags, [idle]: CRASH_TAG }, stopped: { ...this.model.stopped, [idle]: false } }, detail: `${CRASH_TAG} to ${idle}` });
    // The rate is measured once the loop runs (every node has started the crash tag again by itself): the
    // deploy's own specs (the deploy, the heal of the first death, the digest pin a Docker node's pull brings)
    // are no loop. A reconciler that loops never lets that moment come: past the bound it is measured anyway.
    const looping = Date.now() + CRASH_LOOP_ESTABLISHED_BOUND_MS;
    await sleep(1000);
    while (Date.now() < looping && !(await this.allCrashLooping(idle))) await sleep(250);
    const gen0 = await this.generations(idle);
    const t0 = Date.now();
    await sleep(plan.durationMs);
    const gen1 = await this.generations(idle);
    if (gen0 !== null && gen1 !== null) {
      const perMinute = ((gen1 - gen0) / ((Date.now() - t0) / 60_000)) / this.o.perColor;
      this.crashLoopSpecsPerMinute.push(perMinute);
      f.specsPerMinute = perMinute;
      f.detail += `; ${perMinute.toFixed(0)} specs/min per node`;
    }
    this.crashLooping = false;
    const good = (GOOD_TAGS as readonly string[]).includes(before) ? before : GOOD_TAGS[0];
    await this.apply({ kind: "deploy", next: { ...structuredClone(this.model), tags: { ...this.model.tags, [idle]: good } }, detail: `${good} to ${idle}` });
  }

  /**
   * The registry relay cut; the Docker engine forgets the images no container uses, and the idle colour
   * gets a tag whose image is not on the engine, so its Docker node must pull. What the node says while it
   * cannot goes into the fault's detail (a clear error, not a hang); after the heal it must converge.
   */
  private async registryDown(f: FaultRecord, during: () => Promise<void>): Promise<void> {
    const c = this.cluster;
    c.registry.cut();
    await c.engine!.dropUnusedImages(c.repo);
    const present = new Set((await c.engine!.engine.docker.listImages().catch(() => [])).flatMap((i) => i.RepoTags ?? []));
    const idle = other(this.model.active);
    const tag = [...GOOD_TAGS, "v3"].find((t) => t !== this.model.tags[idle] && !present.has(`${c.repo}:${t}`));
    if (tag) await this.apply({ kind: "deploy", next: { ...structuredClone(this.model), tags: { ...this.model.tags, [idle]: tag }, stopped: { ...this.model.stopped, [idle]: false } }, detail: `${tag} to ${idle} (needs a pull)` });
    await during();
    const s = await status(c);
    const node = s?.colors?.[idle].nodes.find((n) => c.node(n.name).runtime === "docker");
    const said = node ? Object.values(node.services).map((x) => x.error).find((e) => e) ?? node.error ?? `${node.tag ?? "no tag"}, no error` : "no status";
    f.detail += `; ${tag ? `${tag} to ${idle}` : "no pull needed"}: ${said}`;
    this.o.log(`  while the registry is down, ${node?.name ?? "the Docker node"} says: ${said}`);
    c.registry.heal();
  }

  private async allCrashLooping(c: Color): Promise<boolean> {
    const nodes = (await status(this.cluster))?.colors?.[c].nodes;
    return !!nodes && nodes.every((n) => n.tag === CRASH_TAG && (n.services.web?.restarts?.count ?? 0) >= 2);
  }

  private async generations(c: Color): Promise<number | null> {
    const s = await status(this.cluster);
    const nodes = s?.colors?.[c].nodes;
    return nodes ? nodes.reduce((a, n) => a + n.generation, 0) : null;
  }

  /** A switch to a colour that cannot be Ready: the routers must stay where they are; then it is undone. */
  private async badPromote(next: DesiredModel, rec: ChangeRecord): Promise<void> {
    const prev = this.model;
    this.cluster.writeState(next);
    await sleep(REFUSAL_WATCH_MS);
    const s = await status(this.cluster);
    this.cluster.writeState(prev);
    if (!s?.router) return void (rec.note = "reconciler down: not checked");
    const moved = s.router.nodes.filter((r) => r.reachable && r.live !== prev.active);
    rec.refusedWithoutEffect = moved.length === 0;
    if (moved.length) rec.note = `routers moved: ${moved.map((r) => `${r.name}=${r.live}`).join(", ")}`;
  }

  private async invalid(kind: InvalidKind, rec: ChangeRecord): Promise<void> {
    const m = this.model;
    const before = await status(this.cluster);
    const bad = structuredClone(m);
    if (kind === "yaml") this.cluster.writeAtomically("state.yaml", "apiVersion: switchyard.dev/v1\nkind: State\nspec: { active: blue\n");
    else if (kind === "schema") this.cluster.writeAtomically("state.yaml", `apiVersion: switchyard.dev/v1\nkind: State\nspec:\n  active: purple\n  colors: { blue: { tag: v1 }, green: { tag: v2 } }\n`);
    else {
      if (kind === "stop-active") bad.stopped[m.active] = true;
      if (kind === "owner-stopped") bad.owner = other(m.active);
      if (kind === "live-tag") bad.tags[m.active] = m.tags[m.active] === GOOD_TAGS[0] ? GOOD_TAGS[1] : GOOD_TAGS[0];
      this.cluster.writeState(bad);
    }
    rec.detail += ` (${describeModel(m)} stays in force)`;
    await sleep(REFUSAL_WATCH_MS);
    const s = await status(this.cluster);
    this.cluster.writeState(m);
    if (!s?.router || !s.colors || !before) return void (rec.note = "reconciler down: not checked");
    const refused = kind === "live-tag"
      ? s.colors[m.active].phase === "Refused"
      : s.conditions.some((c) => c.type === "SpecInvalid" && c.status === "True");
    const moved = s.router.nodes.filter((r) => r.reachable && r.live !== m.active);
    const tagKept = s.colors[m.active].nodes.every((n) => !n.reachable || n.tag === m.tags[m.active]);
    rec.refusedWithoutEffect = refused && moved.length === 0 && tagKept;
    if (!rec.refusedWithoutEffect) rec.note = `refused ${refused}, routers ${s.router.nodes.map((r) => r.live).join("/")}, live nodes ${s.colors[m.active].nodes.map((n) => n.tag).join("/")}`;
  }
}

/** Fills the file system holding dir (a small tmpfs) to the last byte. */
function fillDisk(dir: string): void {
  const fd = openSync(join(dir, "soak-fill"), "w");
  const chunk = Buffer.alloc(1 << 20);
  try {
    for (;;) writeSync(fd, chunk);
  } catch {
    /* ENOSPC: full */
  } finally {
    closeSync(fd);
  }
  try {
    const fd2 = openSync(join(dir, "soak-fill"), "a");
    try {
      for (;;) writeSync(fd2, Buffer.alloc(1024));
    } catch {
      /* the last blocks */
    } finally {
      closeSync(fd2);
    }
  } catch {
    /* full */
  }
}
