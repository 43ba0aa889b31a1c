/**
 * Runs one corpus vector through the router to the recording upstream and checks the invariant by program:
 * an accepted request reaches the upstream exactly once, and llhttp and h11 both read the upstream's bytes
 * as the same method, target, Host and body the client sent (absolute-form: Host = its authority); a refused
 * one sends nothing upstream; a victim on a second connection, sharing the upstream pool, gets its own
 * answer; a response reaches the client as the upstream meant it, or as a 502 (or a cut).
 */
import { setTimeout as sleep } from "node:timers/promises";
import { Client, LIVE_HOST, type Rig } from "./rig.js";
import { ECHO_SEQ, RecordingUpstream, echo, type UpstreamConnLog, type UpstreamRequest } from "./recording-upstream.js";
import { header, llhttpParse, type HttpMessage, type ParseResult } from "./llhttp.js";
import type { Forwarded, RequestVector, ResponseVector } from "./vectors.js";

/** How long a client waits for the answers it expects (a router holding a bad request answers nothing). */
const HOLD_MS = 300;
const VICTIM_MS = 3_000;

export interface Outcome {
  problems: string[];
  /** What reached the upstream (llhttp's reading), victim and probes left out. */
  forwarded: Forwarded[];
  /** Statuses the attacking client received. */
  statuses: number[];
}

export async function runRequestVector(rig: Rig, v: RequestVector, n: number): Promise<Outcome> {
  await rig.resetUpstream();
  rig.upstream.responder = echo;
  const exp = v.expect;
  const expected = "forward" in exp ? exp.forward : "either" in exp ? exp.either : exp.after ?? [];
  const want = "refuse" in exp ? expected.length + 1 : expected.length;
  const methods = [...expected.map((f) => f.method), "GET"];
  const { a, problems, reqs } = await attack(rig, methods, pieces(Buffer.from(v.raw, "latin1"), v.splits ?? []), want, false, n);
  const forwarded = reqs.map((r) => asForwarded(r.msg));
  const got = a.parsed();
  const finals = got.messages.filter((m) => m.status >= 200 || m.status === 101);
  const statuses = finals.map((m) => m.status);
  const routerRefused = (m: HttpMessage | undefined): boolean => m !== undefined && m.status >= 400 && header(m, ECHO_SEQ) === undefined;

  const sameList = (want: Forwarded[]): string => {
    if (forwarded.length !== want.length) return `upstream got ${forwarded.length} request(s), expected ${want.length}: ${JSON.stringify(forwarded)}`;
    for (let i = 0; i < want.length; i++) {
      const d = diff(forwarded[i]!, want[i]!);
      if (d !== "") return `request ${i} reached the upstream changed: ${d}`;
    }
    return "";
  };
  if ("forward" in exp) {
    const d = sameList(exp.forward);
    if (d !== "") problems.push(d);
    else problems.push(...ownAnswers(finals, reqs));
  } else if ("either" in exp) {
    if (forwarded.length === 0) {
      if (finals.length > 0 && !routerRefused(finals[0])) problems.push(`nothing reached the upstream but the client got ${finals[0]!.status}`);
    } else {
      const d = sameList(exp.either);
      if (d !== "") problems.push(d);
      else problems.push(...ownAnswers(finals, reqs));
    }
  } else {
    const after = exp.after ?? [];
    const d = sameList(after);
    if (d !== "") problems.push(`refused request: ${d}`);
    const answer = finals[after.length];
    if (answer !== undefined) {
      if (!routerRefused(answer)) problems.push(`expected the router to refuse, the client got ${answer.status} from ${header(answer, ECHO_SEQ) === undefined ? "the router" : "the upstream"}`);
      else if (exp.refuse.length > 0 && !exp.refuse.includes(answer.status)) problems.push(`refused with ${answer.status}, expected one of ${exp.refuse.join(", ")}`);
    }
  }
  problems.push(...(await clientAgreement(rig, a, methods)));
  return { problems, forwarded, statuses };
}

export async function runResponseVector(rig: Rig, v: ResponseVector, n: number): Promise<Outcome> {
  await rig.resetUpstream();
  const target = `/resp/${n}`;
  rig.upstream.responder = (r) => (r.msg.target === target ? { bytes: Buffer.from(v.raw, "latin1"), close: v.closeAfter ?? false } : echo(r));
  const method = v.method ?? "GET";
  const request = Buffer.from(`${method} ${target} HTTP/1.1\r\nHost: ${LIVE_HOST}\r\n\r\n`, "latin1");
  const { a, problems, reqs } = await attack(rig, [method], [request], 1, v.closeAfter ?? false, n);
  if (reqs.length !== 1 || reqs[0]!.msg.target !== target) problems.push(`upstream got ${JSON.stringify(reqs.map((r) => r.msg.target))}, expected [${target}]`);

  const got = llhttpParse("response", a.bytes(), [method], a.closed);
  const final = got.messages.find((m) => m.status >= 200 || m.status === 101);
  const cut = final === undefined;
  const is502 = final !== undefined && final.status === 502 && header(final, ECHO_SEQ) === undefined;
  const exp = v.expect;
  if ("bad" in exp) {
    if (!cut && !is502) problems.push(`expected 502 or a cut, the client got ${final.status} ${JSON.stringify(final.body.toString("latin1").slice(0, 80))}`);
  } else if (!(exp.alsoBad === true && (cut || is502))) {
    const p = exp.pass;
    if (final === undefined) problems.push(`expected ${p.status}, the client got no complete answer (${got.error || "cut"})`);
    else {
      if (final.status !== p.status) problems.push(`status ${final.status}, expected ${p.status}`);
      if (final.body.toString("latin1") !== p.body) problems.push(`body ${JSON.stringify(final.body.toString("latin1").slice(0, 120))}, expected ${JSON.stringify(p.body.slice(0, 120))}`);
      for (const [k, want] of Object.entries(p.headers ?? {})) {
        const have = final.headers.filter(([hk]) => hk.toLowerCase() === k).map(([, hv]) => hv).join(", ");
        if (want === null && have !== "") problems.push(`header ${k} should be gone, is ${JSON.stringify(have)}`);
        if (want !== null && !have.toLowerCase().includes(want.toLowerCase())) problems.push(`header ${k} is ${JSON.stringify(have)}, should contain ${JSON.stringify(want)}`);
      }
    }
  }
  if (!v.noH11) problems.push(...(await clientAgreement(rig, a, [method])));
  return { problems, forwarded: reqs.map((r) => asForwarded(r.msg)), statuses: got.messages.map((m) => m.status) };
}

/**
 * The attacking client sends its bytes and waits for `want` answers (or a close, or HOLD_MS); then the victim
 * runs; then the upstream's connections are checked. Returns the attacker's client and the requests it caused.
 */
async function attack(rig: Rig, methods: string[], bytes: Buffer[], want: number, waitClose: boolean, n: number):
  Promise<{ a: Client; problems: string[]; reqs: UpstreamRequest[] }> {
  const a = rig.client(methods);
  await a.connected();
  await a.send(bytes);
  await a.waitFor(want, HOLD_MS);
  if (waitClose) await a.waitClosed(HOLD_MS);
  await sleep(2);
  const victim = await runVictim(rig, n);
  a.destroy();
  const problems = [...victim.problems];
  const conns = await checkUpstream(rig, problems);
  // A probe can land while a case runs (the node is probed every second); no vector asks for /healthz.
  return { a, problems, reqs: conns.flatMap((c) => c.requests).filter((r) => r !== victim.req && r.msg.target !== "/healthz") };
}

/** The victim: a plain GET on its own connection, which must get the answer to its own request. */
async function runVictim(rig: Rig, n: number): Promise<{ problems: string[]; req: UpstreamRequest | undefined }> {
  const b = rig.client(["GET"]);
  await b.connected();
  const target = `/victim/${n}`;
  await b.send([Buffer.from(`GET ${target} HTTP/1.1\r\nHost: ${LIVE_HOST}\r\n\r\n`, "latin1")]);
  await b.waitFor(1, VICTIM_MS);
  b.destroy();
  const problems: string[] = [];
  const mine = rig.upstream.requests.filter((r) => r.msg.target === target);
  if (mine.length !== 1) problems.push(`the victim's request reached the upstream ${mine.length} times`);
  const answer = b.parsed().messages.find((m) => m.status >= 200);
  if (answer === undefined) problems.push("the victim got no answer");
  else if (mine.length === 1 && header(answer, ECHO_SEQ) !== String(mine[0]!.seq)) {
    problems.push(`DESYNC: the victim got someone else's answer: ${answer.status} ${JSON.stringify(answer.body.toString("latin1").slice(0, 160))}`);
  }
  return { problems, req: mine[0] };
}

/** Upstream connections of this case (probe connections left out), each read by h11 too; disagreements are problems. */
async function checkUpstream(rig: Rig, problems: string[]): Promise<UpstreamConnLog[]> {
  const conns = rig.upstream.conns.filter((c) => !(c.requests.length > 0 && c.requests.every((r) => r.msg.target === "/healthz")));
  for (const c of conns) {
    const bytes = RecordingUpstream.bytes(c);
    const h = await rig.h11.parse("request", bytes, [], c.closed, c.switchAt);
    const l = c.requests.map((r) => r.msg);
    if (c.error !== "") problems.push(`upstream llhttp refused what the router sent: ${c.error}; bytes ${JSON.stringify(bytes.toString("latin1").slice(0, 400))}`);
    if (h.error !== "") problems.push(`upstream h11 refused what the router sent: ${h.error}; bytes ${JSON.stringify(bytes.toString("latin1").slice(0, 400))}`);
    const d = compareMessages(l, RecordingUpstream.taken(c, h.messages));
    if (d !== "") problems.push(`upstream parsers disagree: ${d}; bytes ${JSON.stringify(bytes.toString("latin1").slice(0, 400))}`);
  }
  return conns;
}

/** llhttp and h11 must read the client's bytes alike (as far as both got). */
async function clientAgreement(rig: Rig, c: Client, methods: string[]): Promise<string[]> {
  const bytes = c.bytes();
  const l = llhttpParse("response", bytes, methods, c.closed);
  const h = await rig.h11.parse("response", bytes, methods, c.closed);
  const finals = (r: ParseResult): HttpMessage[] => r.messages.filter((m) => m.status >= 200);
  const lf = finals(l);
  const hf = finals(h);
  const out: string[] = [];
  const n = Math.min(lf.length, hf.length);
  for (let i = 0; i < n; i++) {
    if (lf[i]!.status !== hf[i]!.status || !lf[i]!.body.equals(hf[i]!.body)) out.push(`client parsers disagree on answer ${i}: llhttp ${lf[i]!.status}, h11 ${hf[i]!.status}`);
  }
  if (lf.length !== hf.length && l.error === "" && h.error === "") out.push(`client parsers disagree: llhttp read ${lf.length} answers, h11 ${hf.length}`);
  return out;
}

/** Each answer the client got belongs to its own request, in order. */
function ownAnswers(finals: HttpMessage[], reqs: UpstreamRequest[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < Math.min(finals.length, reqs.length); i++) {
    const seq = header(finals[i]!, ECHO_SEQ);
    if (finals[i]!.status === 101) continue;
    if (seq !== String(reqs[i]!.seq)) out.push(`answer ${i} is not for request ${i} (${seq ?? `router's ${finals[i]!.status}`})`);
  }
  if (finals.length < reqs.length) out.push(`the client got ${finals.length} answers for ${reqs.length} forwarded requests`);
  return out;
}

export function asForwarded(m: HttpMessage): Forwarded {
  return { method: m.method, target: m.target, host: header(m, "host") ?? "(none)", body: m.body.toString("latin1") };
}

function diff(a: Forwarded, b: Forwarded): string {
  const out: string[] = [];
  for (const k of ["method", "target", "host", "body"] as const) if (a[k] !== b[k]) out.push(`${k} ${JSON.stringify(a[k].slice(0, 80))} (expected ${JSON.stringify(b[k].slice(0, 80))})`);
  return out.join(", ");
}

export function compareMessages(a: HttpMessage[], b: HttpMessage[]): string {
  if (a.length !== b.length) return `llhttp read ${a.length} requests (${a.map((m) => m.target).join(" ")}), h11 ${b.length} (${b.map((m) => m.target).join(" ")})`;
  for (let i = 0; i < a.length; i++) {
    const x = asForwarded(a[i]!);
    const y = asForwarded(b[i]!);
    const d = diff(x, y);
    if (d !== "") return `request ${i}: ${d}`;
  }
  return "";
}

function pieces(raw: Buffer, splits: readonly number[]): Buffer[] {
  const out: Buffer[] = [];
  let at = 0;
  for (const s of splits) {
    out.push(raw.subarray(at, s));
    at = s;
  }
  out.push(raw.subarray(at));
  return out;
}
