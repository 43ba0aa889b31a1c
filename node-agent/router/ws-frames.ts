/**
 * Just enough of RFC 6455 framing for the router to close a WebSocket tunnel properly: where one frame ends
 * (so a close frame never lands inside another frame) and the close frame itself. Payloads are never read.
 */
import { randomBytes } from "node:crypto";

/** 1001 "going away": the server (here: the route) is going away. */
export const CLOSE_GOING_AWAY = 1001;

/** Follows the frames of one direction of a tunnel. */
export class FrameScanner {
  private head: number[] = [];
  private need = 0;

  /** True between two frames. */
  atBoundary(): boolean {
    return this.need === 0 && this.head.length === 0;
  }

  /** Consumes `d` (all of it, or only up to the next frame boundary when `stop`); returns the bytes consumed. */
  scan(d: Buffer, stop: boolean): number {
    let i = 0;
    while (i < d.length) {
      if (stop && this.atBoundary()) return i;
      if (this.need > 0) {
        const take = Math.min(this.need, d.length - i);
        this.need -= take;
        i += take;
        continue;
      }
      this.head.push(d[i++]!);
      const size = headerSize(this.head);
      if (size > 0 && this.head.length === size) {
        this.need = payloadLength(this.head);
        this.head = [];
      }
    }
    return i;
  }
}

/** A close frame with `code` and `reason`; `masked` for frames a client sends (RFC 6455 §5.3). */
export function closeFrame(code: number, reason: string, masked: boolean): Buffer {
  const payload = Buffer.concat([Buffer.from([code >> 8, code & 0xff]), Buffer.from(reason, "utf8").subarray(0, 123)]);
  const head = Buffer.from([0x88, (masked ? 0x80 : 0) | payload.length]);
  if (!masked) return Buffer.concat([head, payload]);
  const key = randomBytes(4);
  const body = Buffer.from(payload.map((b, i) => b ^ key[i % 4]!));
  return Buffer.concat([head, key, body]);
}

/** The full header length once the first two bytes are known (0 before). */
function headerSize(h: number[]): number {
  if (h.length < 2) return 0;
  const len7 = h[1]! & 0x7f;
  return 2 + (len7 === 126 ? 2 : len7 === 127 ? 8 : 0) + (h[1]! & 0x80 ? 4 : 0);
}

function payloadLength(h: number[]): number {
  const len7 = h[1]! & 0x7f;
  if (len7 < 126) return len7;
  if (len7 === 126) return (h[2]! << 8) | h[3]!;
  let n = 0;
  for (let i = 2; i < 10; i++) n = n * 256 + h[i]!;
  return n;
}
