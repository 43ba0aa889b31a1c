import { ndjsonLines } from "../../common/ndjson.js";

/** Reads a newline-delimited JSON answer as it arrives (log streams), keeping every record. */
export class NdjsonReader<R = Record<string, unknown>> {
  readonly records: R[] = [];
  status = 0;
  ended = false;
  private readonly ctrl = new AbortController();
  readonly done: Promise<void>;
  private opened!: (status: number) => void;
  readonly ready = new Promise<number>((r) => (this.opened = r));

  constructor(url: string, headers: Record<string, string>) {
    this.done = (async () => {
      const res = await fetch(url, { headers, signal: this.ctrl.signal });
      this.status = res.status;
      this.opened(res.status);
      if (!res.body) return;
      for await (const line of ndjsonLines(res.body as unknown as AsyncIterable<Uint8Array>)) this.records.push(JSON.parse(line) as R);
      this.ended = true;
    })().catch((err: Error) => {
      this.opened(0);
      if (err.name !== "AbortError") throw err;
    });
  }

  /** The first record (after `from`) that matches; waits for it. */
  async waitFor(what: string, pred: (r: R) => boolean, timeoutMs = 15_000): Promise<R> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const hit = this.records.find(pred);
      if (hit) return hit;
      if (this.ended) throw new Error(`the stream ended before ${what}: ${JSON.stringify(this.records.slice(-5))}`);
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; last records: ${JSON.stringify(this.records.slice(-5))}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  close(): void {
    this.ctrl.abort();
  }
}
