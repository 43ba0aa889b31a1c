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
/** After the size digits, optional spaces or tabs (BWS), then only ";" or CR. */
const SIZE_WS = 8;
/** Within a trailer field line, after its colon: the value. */
const TRAILER_VALUE = 9;

/** Largest trailer section we read past (field lines are never forwarded). */
const MAX_TRAILER_BYTES = 16 * 1024;

const MAX_CHUNK = 0xffffffffff; // 1 TiB: ten hex digits; more is an attack, not a body

export class ChunkedScanner {
  private state = SIZE;
  private size = 0;
  private digits = 0;
  private lineLen = 0;
  private trailerBytes = 0;

  reset(): void {
    this.state = SIZE;
    this.size = 0;
    this.digits = 0;
    this.lineLen = 0;
    this.trailerBytes = 0;
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
          else if (c === 59 /* ; */) this.state = EXT;
          else if (c === 32 || c === 9) this.state = SIZE_WS;
          else return CHUNKED_ERROR;
          break;
        }
        case SIZE_WS: {
          const c = d[i++]!;
          if (c === 59 /* ; */) this.state = EXT;
          else if (c === 13) this.state = SIZE_LF;
          else if (c !== 32 && c !== 9) return CHUNKED_ERROR;
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
          // A field name (a token) up to its colon, or CR for the empty line that ends the body. Trailer
          // fields are read past and never forwarded, but a line that is not a field line is an error:
          // reading it as one is how a request hidden after "0\r\n" would be swallowed.
          const c = d[i++]!;
          if (++this.trailerBytes > MAX_TRAILER_BYTES) return CHUNKED_ERROR;
          if (c === 13) {
            if (this.lineLen !== 0) return CHUNKED_ERROR; // a name without a colon
            this.state = TRAILER_LF;
          } else if (c === 58 /* : */) {
            if (this.lineLen === 0) return CHUNKED_ERROR;
            this.state = TRAILER_VALUE;
          } else if (isTokenChar(c)) this.lineLen++;
          else return CHUNKED_ERROR;
          break;
        }
        case TRAILER_VALUE: {
          const c = d[i++]!;
          if (++this.trailerBytes > MAX_TRAILER_BYTES) return CHUNKED_ERROR;
          if (c === 13) this.state = TRAILER_LF;
          else if (c < 32 && c !== 9 || c === 127) return CHUNKED_ERROR;
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

/** RFC 9110 tchar: the bytes a field name may hold. */
function isTokenChar(c: number): boolean {
  return c >= 97 && c <= 122 || c >= 65 && c <= 90 || c >= 48 && c <= 57 ||
    c === 33 || c >= 35 && c <= 39 || c === 42 || c === 43 || c === 45 || c === 46 || c === 94 || c === 95 || c === 96 || c === 124 || c === 126;
}

function hexValue(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  if (c >= 65 && c <= 70) return c - 55;
  return -1;
}
