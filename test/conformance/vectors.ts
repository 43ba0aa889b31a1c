/** Shapes of conformance vectors (request and response corpora) and small builders. */

/** A request as the upstream must see it: method, target (origin form), Host, body. */
export interface Forwarded {
  method: string;
  target: string;
  host: string;
  body: string;
}

export type RequestExpect =
  /** Accepted: exactly these requests reach the upstream, each once, and each client response is its own. */
  | { forward: Forwarded[] }
  /**
   * Refused: the router answers one of `status` (any 4xx/5xx when empty), or holds the connection without
   * answering; nothing of it reaches the upstream except the requests in `after` (pipelined before it).
   */
  | { refuse: number[]; after?: Forwarded[] }
  /** Either forwarded as `forward`, or refused with nothing upstream (RFC leaves the choice). */
  | { either: Forwarded[] };

export interface RequestVector {
  name: string;
  /** The smuggling class or RFC rule the vector exercises. */
  cls: string;
  /** The raw bytes (latin1). */
  raw: string;
  /** Offsets where the bytes are split into separate writes. */
  splits?: number[];
  expect: RequestExpect;
  /** A defect of the router this vector found (kept as a regression case), and its mechanism. */
  finding?: string;
}

export type ResponseExpect =
  /** The client gets this status and body, and these headers (null: must be absent; string: must contain). */
  | { pass: { status: number; body: string; headers?: Record<string, string | null> }; alsoBad?: boolean }
  /** The router must not pass it on as it is: 502, or (body already started) a cut connection. */
  | { bad: true };

export interface ResponseVector {
  name: string;
  cls: string;
  /** The request method (GET unless said). */
  method?: string;
  /** The upstream's raw answer (latin1). */
  raw: string;
  /** The upstream closes the connection after its answer. */
  closeAfter?: boolean;
  expect: ResponseExpect;
  /** h11 cannot parse this (say a transfer coding other than chunked): compare llhttp only on the client side. */
  noH11?: boolean;
  /** A defect of the router this vector found (kept as a regression case), and its mechanism. */
  finding?: string;
}

/** Marks the vectors named in `findings` (a vector name that matches none is an error: names drift). */
export function markFindings<T extends { name: string; finding?: string }>(vectors: T[], findings: Record<string, string>): void {
  for (const [name, finding] of Object.entries(findings)) {
    const v = vectors.find((x) => x.name === name);
    if (v === undefined) throw new Error(`no vector named ${JSON.stringify(name)}`);
    v.finding = finding;
  }
}

export const HOST = "shop.test";

export function fwd(method: string, target: string, body = "", host = HOST): Forwarded {
  return { method, target, host, body };
}

/** Every offset of `raw` as a single split point (one vector per offset) is built by the corpora. */
export function chunk(body: string, sizes: number[] = [body.length]): string {
  let out = "";
  let at = 0;
  for (const n of sizes) {
    out += `${n.toString(16)}\r\n${body.slice(at, at + n)}\r\n`;
    at += n;
  }
  if (at < body.length) out += `${(body.length - at).toString(16)}\r\n${body.slice(at)}\r\n`;
  return out + "0\r\n\r\n";
}
