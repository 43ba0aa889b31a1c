/**
 * A lightweight runtime for scale benchmarks: a "container" is a tiny HTTP server on its host port that
 * answers 200, so the real agent, its health probes and the router all work unchanged — without Docker.
 */
import { createServer, type Server } from "node:http";
import type { PullProgress, Runtime, Workload, WorkloadDef } from "../../node-agent/runtime.js";

export class MemoryRuntime implements Runtime {
  readonly name = "process" as const;
  private readonly workloads = new Map<string, { w: Workload; server?: Server; node: string; app: string }>();
  private readonly watchers = new Set<{ node: string; fn: () => void }>();
  private seq = 0;

  async list(app: string, node: string): Promise<Workload[]> {
    return [...this.workloads.values()].filter((x) => x.node === node && (!app || x.app === app)).map((x) => x.w);
  }

  async ensureImage(_r: string, _t: string, _p?: (p: PullProgress) => void): Promise<void> {}

  async start(def: WorkloadDef): Promise<string> {
    const id = `mem-${++this.seq}`;
    let server: Server | undefined;
    if (def.hostPort !== undefined) {
      server = createServer((_q, s) => s.end("ok"));
      await new Promise<void>((resolve, reject) => server!.once("error", reject).listen(def.hostPort, def.publishAddress, resolve));
    }
    const w: Workload = { id, name: id, service: def.service, tag: def.tag, kind: def.kind, specHash: def.specHash, ...(def.epoch !== undefined ? { epoch: def.epoch } : {}), running: true, stateText: "running", since: new Date().toISOString() };
    this.workloads.set(id, { w, ...(server ? { server } : {}), node: def.node, app: def.app });
    this.notify(def.node);
    return id;
  }

  async stopAndRemove(id: string): Promise<void> {
    const x = this.workloads.get(id);
    if (!x) return;
    this.workloads.delete(id);
    await new Promise((r) => (x.server ? x.server.close(r) : r(null)));
    this.notify(x.node);
  }

  watch(node: string, onChange: () => void): () => void {
    const entry = { node, fn: onChange };
    this.watchers.add(entry);
    return () => this.watchers.delete(entry);
  }

  async ping(): Promise<void> {}

  async close(): Promise<void> {
    for (const id of [...this.workloads.keys()]) await this.stopAndRemove(id);
  }

  private notify(node: string): void {
    for (const w of this.watchers) if (w.node === node) setImmediate(w.fn);
  }
}
