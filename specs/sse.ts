/** Reading server-sent events: feed raw chunks, get back the data of every complete event. */
export class SseParser {
  private buf = "";
  private readonly decoder = new TextDecoder();

  /** The data of each event completed by this chunk (comments and heartbeats yield nothing). */
  push(chunk: Uint8Array): string[] {
    this.buf += this.decoder.decode(chunk, { stream: true });
    const out: string[] = [];
    let i: number;
    while ((i = this.buf.indexOf("\n\n")) >= 0) {
      const frame = this.buf.slice(0, i);
      this.buf = this.buf.slice(i + 2);
      const data = frame.split("\n").filter((l) => l.startsWith("data: ")).map((l) => l.slice(6)).join("\n");
      if (data) out.push(data);
    }
    return out;
  }
}
