/** The router's own short answers (400, 404, 502, 503, 504…) and the header naming the colour that served. */
import type { Color } from "../../specs/types.js";

/** Response header naming the colour that served a request (or that would have). */
export const COLOR_HEADER = "x-switchyard-color";

const COLOR_LINES: Record<Color, string> = { blue: `${COLOR_HEADER}: blue\r\n`, green: `${COLOR_HEADER}: green\r\n` };

/** The colour header as a header line (CRLF included). */
export function colorLine(color: Color): string {
  return COLOR_LINES[color];
}

const REASONS: Record<number, string> = {
  200: "OK", 308: "Permanent Redirect", 400: "Bad Request", 404: "Not Found", 408: "Request Timeout", 431: "Request Header Fields Too Large",
  501: "Not Implemented", 502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Timeout",
};

/** A complete plain-text HTTP/1.1 answer. `close` adds Connection: close; `http10` keeps an HTTP/1.0 client alive. */
export function replyText(status: number, body: string, color: Color | null, close: boolean, http10: boolean): string {
  return `HTTP/1.1 ${status} ${REASONS[status] ?? "Error"}\r\ncontent-type: text/plain; charset=utf-8\r\n` +
    `content-length: ${Buffer.byteLength(body)}\r\ncache-control: no-store\r\n` +
    (color !== null ? COLOR_LINES[color] : "") +
    (close ? "connection: close\r\n" : http10 ? "connection: keep-alive\r\n" : "") + `\r\n${body}`;
}

/** A 308 to `location` (HTTP to HTTPS): method and body are kept by the client on the new URL. */
export function redirectText(location: string, close: boolean, http10: boolean): string {
  const body = `see ${location}\n`;
  return `HTTP/1.1 308 Permanent Redirect\r\nlocation: ${location}\r\ncontent-type: text/plain; charset=utf-8\r\n` +
    `content-length: ${Buffer.byteLength(body)}\r\ncache-control: no-store\r\n` +
    (close ? "connection: close\r\n" : http10 ? "connection: keep-alive\r\n" : "") + `\r\n${body}`;
}
