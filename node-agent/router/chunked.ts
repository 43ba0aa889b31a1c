/**
 * Follows HTTP/1.1 chunked framing over raw bytes and hands out the chunk payloads, so the router knows
 * exactly where a body ends and frames what it forwards itself (extensions and trailers are read past,
 * never forwarded). Strict: a malformed size line is an error, never a guess, because a framing
 * disagreement between us and the other side is how smuggling starts.
 */

/** `feed` results besides an end offset. */
export const CHUNKED_MORE = -1;
export const CHUNKED_ERROR = -2;

const SIZE = 0;
const EXT = 1;
const SIZE_LF = 2;
const DATA = 3;
const DATA_CR = 4;
const DATA_LF = 5;
const TRAILER = 6;
const TRAILER_LF = 7;

const MAX_CHUNK = 0xffffffffff; // 1 TiB: ten hex digits; more is an attack, not a body

export class ChunkedScanner {
  private state = SIZE;
  private size = 0;
  private digits = 0;
  private lineLen = 0;

  reset(): void {
    this.state = SIZE;
    this.size = 0;
    this.digits = 0;
    this.lineLen = 0;
  }

  /**
   * Scans `d` from `from`. Returns the offset just past the end of the chunked body (last CRLF of the
   * trailer section), CHUNKED_MORE if it does not end in `d`, or CHUNKED_ERROR. When `onData` is given, the
   * chunk payloads are passed to it (decoding); otherwise only framing is followed.
   */
  feed(d: Buffer, from: number, onData: ((slice: Buffer) => void) | null): number {
    const n = d.length;
    let i = from;
    while (i < n) {
      switch (this.state) {
        case SIZE: {
          const c = d[i++]!;
          const v = hexValue(c);
          if (v >= 0) {
            if (++this.digits > 10) return CHUNKED_ERROR;
            this.size = this.size * 16 + v;
          } else if (this.digits === 0) return CHUNKED_ERROR;
          else if (c === 13) this.state = SIZE_LF;
          else if (c === 59 /* ; */ || c === 32 || c === 9) this.state = EXT;
          else return CHUNKED_ERROR;
          break;
        }
        case EXT: {
          // Chunk extensions are ignored, but must not contain a bare LF or control bytes.
          const c = d[i++]!;
          if (c === 13) this.state = SIZE_LF;
          else if (c < 32 && c !== 9 || c === 127) return CHUNKED_ERROR;
          break;
        }
        case SIZE_LF: {
          if (d[i++] !== 10) return CHUNKED_ERROR;
          if (this.size > MAX_CHUNK) return CHUNKED_ERROR;
          this.digits = 0;
          if (this.size === 0) {
            this.state = TRAILER;
            this.lineLen = 0;
          } else this.state = DATA;
          break;
        }
        case DATA: {
          const take = Math.min(this.size, n - i);
          if (onData !== null) onData(i === 0 && take === n ? d : d.subarray(i, i + take));
          i += take;
          this.size -= take;
          if (this.size === 0) this.state = DATA_CR;
          break;
        }
        case DATA_CR:
          if (d[i++] !== 13) return CHUNKED_ERROR;
          this.state = DATA_LF;
          break;
        case DATA_LF:
          if (d[i++] !== 10) return CHUNKED_ERROR;
          this.state = SIZE;
          break;
        case TRAILER: {
          const c = d[i++]!;
          if (c === 13) this.state = TRAILER_LF;
          else if (c < 32 && c !== 9 || c === 127) return CHUNKED_ERROR;
          else this.lineLen++;
          break;
        }
        default: { // TRAILER_LF
          if (d[i++] !== 10) return CHUNKED_ERROR;
          if (this.lineLen === 0) {
            this.reset();
            return i;
          }
          this.lineLen = 0;
          this.state = TRAILER;
        }
      }
    }
    return CHUNKED_MORE;
  }
}

function hexValue(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  if (c >= 65 && c <= 70) return c - 55;
  return -1;
}
