/** Small helpers over HTTP head text (latin1 strings of CRLF-terminated lines). */

/** Case-insensitive match of the header name starting at `pos` against a lower-case name of equal length. */
export function is(text: string, pos: number, lower: string): boolean {
  for (let i = 0; i < lower.length; i++) {
    const c = text.charCodeAt(pos + i);
    if ((c >= 65 && c <= 90 ? c + 32 : c) !== lower.charCodeAt(i)) return false;
  }
  return true;
}

/** The header value between the colon and the line end, without surrounding spaces and tabs. */
export function value(text: string, colon: number, next: number): string {
  let from = colon + 1;
  let to = next;
  while (from < to && (text.charCodeAt(from) === 32 || text.charCodeAt(from) === 9)) from++;
  while (to > from && (text.charCodeAt(to - 1) === 32 || text.charCodeAt(to - 1) === 9)) to--;
  return text.slice(from, to);
}

/** Removes the header lines whose lower-cased names are listed from a block of CRLF-terminated lines. */
export function dropHeaders(lines: string, names: readonly string[]): string {
  let out = "";
  let pos = 0;
  while (pos < lines.length) {
    const next = lines.indexOf("\r\n", pos);
    const name = lines.slice(pos, lines.indexOf(":", pos)).toLowerCase();
    if (!names.includes(name)) out += lines.slice(pos, next + 2);
    pos = next + 2;
  }
  return out;
}

/** A Content-Length value: digits only, at most 15 of them; -1 when invalid. */
export function parseLength(v: string): number {
  if (v.length === 0 || v.length > 15) return -1;
  let n = 0;
  for (let i = 0; i < v.length; i++) {
    const d = v.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return -1;
    n = n * 10 + d;
  }
  return n;
}
