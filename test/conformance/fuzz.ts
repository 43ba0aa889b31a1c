/**
 * The router fuzzer: seeded generated requests (and upstream responses) through the real data plane to the
 * recording upstream, many lanes (client connections) at once, each sending case after case on its
 * connection. The invariant is the conformance suite's (see check.ts), checked per case by program:
 * - a request reaches the upstream at most once, and only requests of real cases reach it;
 * - every answer a client gets is for its own request (x-echo-seq names the upstream request);
 * - llhttp and h11 read every upstream connection alike and without error;
 * - an accepted request whose bytes llhttp and h11 both read as one message reaches the upstream with the
 *   same method, target (origin form), Host (absolute-form: the authority) and body;
 * - an upstream answer reaches the client as llhttp or h11 reads it, or as the router's 502, or not at all.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { Client, LIVE_HOST, type Rig } from "./rig.js";
import { ECHO_SEQ, RecordingUpstream, echo, type UpstreamRequest } from "./recording-upstream.js";
import { header, llhttpParse, type HttpMessage, type ParseResult } from "./llhttp.js";
import { compareMessages } from "./check.js";
import { genRequest, genResponse, rngFor, type FuzzResponse } from "./fuzz-gen.js";

export interface FuzzOptions {
  seed: number;
  cases: number;
  /** First case index (to replay one case: first = i, cases = 1). */
  first?: number;
  /** Client connections at once. */
  lanes?: number;
  /** Cases per round (upstream connections are dropped and logs checked between rounds). */
  round?: number;
  onRound?: (done: number, findings: number, report: FuzzReport) => void;
}

export interface Finding {
  seed: number;
  index: number;
  kind: string;
  detail: string;
  /** The case's bytes as a JSON string (request, or the upstream's answer for response cases). */
  bytes: string;
  mutations: string[];
}

export interface FuzzReport {
  cases: number;
  ms: number;
  /** Invariant violations: each one fails the run. */
  findings: Finding[];
  /** Counted, not failures: accepted/refused split and where the router was stricter or laxer than both parsers. */
  stats: Record<string, number>;
  notes: Finding[];
}

interface Case {
  index: number;
  id: number;
  raw: Buffer;
  method: string;
  mutations: string[];
  response: FuzzResponse | null;
  ref: Promise<Ref> | null;
  answer: HttpMessage | null;
}

interface Want { method: string; target: string; host: string; body: string }
interface Ref { valid: boolean; want: Want | null; why: string }

const CASE_MS = 500;
const HOLD_MS = 25;
const ID_RE = /\/[fr]\/(\d+)/;

export async function runFuzz(rig: Rig, o: FuzzOptions): Promise<FuzzReport> {
  const lanes = o.lanes ?? 48;
  const round = o.round ?? 2_000;
  const first = o.first ?? 0;
  const report: FuzzReport = { cases: 0, ms: 0, findings: [], stats: {}, notes: [] };
  const t0 = performance.now();
  for (let start = first; start < first + o.cases; start += round) {
    const end = Math.min(first + o.cases, start + round);
    const cases: Case[] = [];
    for (let i = start; i < end; i++) cases.push(makeCase(rig, o.seed, i));
    const responses = new Map<number, FuzzResponse>();
    for (const c of cases) if (c.response !== null) responses.set(c.id, c.response);
    rig.upstream.responder = (r) => {
      const m = /^\/r\/(\d+)/.exec(r.msg.target);
      const resp = m === null ? undefined : responses.get(Number(m[1]));
      return resp === undefined ? echo(r) : { bytes: Buffer.from(resp.raw, "latin1"), close: resp.close };
    };
    let next = 0;
    const runLane = async (): Promise<void> => {
      let client: Client | null = null;
      while (next < cases.length) {
        const c = cases[next++]!;
        if (client === null || client.closed || client.broken) {
          client?.destroy();
          client = rig.client([]);
          await client.connected();
        }
        const before = client.finals();
        client.methods.push(c.method);
        client.socket.write(c.raw);
        const ref = c.ref === null ? null : await c.ref;
        await client.waitFor(before + 1, ref !== null && !ref.valid && ref.why === "incomplete" ? HOLD_MS : CASE_MS);
        c.answer = client.answers()[before] ?? null;
        const a = c.answer;
        // A mutated case may leave bytes behind (say a Content-Length one short): they would become part of
        // the next case's request, so the next case gets a connection of its own.
        if (a === null || c.mutations.length > 0 || c.response !== null || header(a, ECHO_SEQ) === undefined || /close/i.test(header(a, "connection") ?? "") || a.status === 101) {
          client.destroy();
          client = null;
        }
      }
      client?.destroy();
    };
    await Promise.all(Array.from({ length: lanes }, runLane));
    await quiet(rig);
    await judge(rig, o.seed, cases, report);
    await rig.resetUpstream();
    report.cases += cases.length;
    o.onRound?.(report.cases, report.findings.length, report);
  }
  report.ms = performance.now() - t0;
  return report;
}

function makeCase(rig: Rig, seed: number, index: number): Case {
  const r = rngFor(seed, index);
  const id = index;
  if (r() < 0.15) {
    const method = r() < 0.2 ? "HEAD" : "GET";
    const response = genResponse(r, id);
    const raw = Buffer.from(`${method} /r/${id} HTTP/1.1\r\nHost: ${LIVE_HOST}\r\n\r\n`, "latin1");
    return { index, id, raw, method, mutations: response.mutations, response, ref: null, answer: null };
  }
  const q = genRequest(r, id);
  const raw = Buffer.from(q.raw, "latin1");
  return { index, id, raw, method: q.method, mutations: q.mutations, response: null, ref: reference(rig, raw), answer: null };
}

/** What llhttp and h11 read in the client's bytes: one message both agree on, or why not. */
async function reference(rig: Rig, raw: Buffer): Promise<Ref> {
  const l = llhttpParse("request", raw, [], false);
  const h = await rig.h11.parse("request", raw, [], false);
  // Only the first message is the case; bytes after it (a Content-Length one short) are not judged here.
  if (l.messages.length > 0 && h.messages.length > 0) {
    if (compareMessages(l.messages.slice(0, 1), h.messages.slice(0, 1)) !== "") return { valid: false, want: null, why: "parsers disagree" };
    return { valid: true, want: normalise(l.messages[0]!), why: "" };
  }
  if (l.error !== "" || h.error !== "") return { valid: false, want: null, why: l.error !== "" && h.error !== "" ? "both reject" : l.error !== "" ? "llhttp rejects" : "h11 rejects" };
  if (l.messages.length === 0 && h.messages.length === 0) return { valid: false, want: null, why: "incomplete" };
  return { valid: false, want: null, why: "parsers disagree" };
}

/** Waits until the upstream has received nothing new for 20 ms (at most 1 s): late requests land first. */
async function quiet(rig: Rig): Promise<void> {
  const total = (): number => rig.upstream.conns.reduce((n, c) => n + c.chunks.length, 0);
  const end = Date.now() + 1_000;
  let last = -1;
  while (Date.now() < end) {
    const now = total();
    if (now === last) return;
    last = now;
    await sleep(20);
  }
}

function normalise(m: HttpMessage): Want {
  const abs = /^https?:\/\/([^/?#]*)([^#]*)/i.exec(m.target);
  const target = abs === null ? m.target : abs[2] === "" ? "/" : abs[2]!.startsWith("/") ? abs[2]! : "/" + abs[2]!;
  return { method: m.method, target, host: abs === null ? header(m, "host") ?? "(none)" : abs[1]!, body: m.body.toString("latin1") };
}

async function judge(rig: Rig, seed: number, cases: Case[], report: FuzzReport): Promise<void> {
  const byId = new Map<number, Case>();
  for (const c of cases) byId.set(c.id, c);
  const count = (k: string): void => { report.stats[k] = (report.stats[k] ?? 0) + 1; };
  const finding = (c: Case | undefined, kind: string, detail: string, bytes?: Buffer): void => {
    // SWITCHYARD_FUZZ_DUMP=<dir> keeps the whole byte stream of each finding (the report shows 2,000 bytes).
    const dump = process.env.SWITCHYARD_FUZZ_DUMP;
    if (dump !== undefined && bytes !== undefined) writeFileSync(join(dump, `seed${seed}-case${c?.index ?? "x"}-${kind}.bin`), bytes);
    report.findings.push({
      seed, index: c?.index ?? -1, kind, detail, mutations: c?.mutations ?? [],
      bytes: JSON.stringify((bytes ?? (c?.response ? Buffer.from(c.response.raw, "latin1") : c?.raw) ?? Buffer.alloc(0)).toString("latin1").slice(0, 2000)),
    });
  };
  const reqsOf = new Map<number, UpstreamRequest[]>();
  const bySeq = new Map<number, UpstreamRequest>();
  const conns = rig.upstream.conns.filter((c) => !(c.requests.length > 0 && c.requests.every((r) => r.msg.target === "/healthz")));
  // One snapshot of bytes and requests: a request a lane gave up on may still reach the upstream while h11 reads.
  const snap = conns.map((c) => ({ bytes: RecordingUpstream.bytes(c), requests: c.requests.slice() }));
  const h11s = await Promise.all(conns.map((c, i) => rig.h11.parse("request", snap[i]!.bytes, [], c.closed, c.switchAt)));
  conns.forEach((c, i) => {
    const h = h11s[i]!;
    const { bytes, requests } = snap[i]!;
    const conn = { ...c, requests };
    const caseAt = (k: number): Case | undefined => {
      const r = conn.requests[Math.min(k, conn.requests.length - 1)];
      const m = r === undefined ? null : ID_RE.exec(r.msg.target);
      return m === null ? undefined : byId.get(Number(m[1]));
    };
    // Blamed on the request the parser stopped at (h11), or on the last one llhttp read (its body held the junk).
    if (conn.error !== "") finding(caseAt(conn.requests.length - 1), "upstream-llhttp-error", `upstream llhttp: ${conn.error} (after the request shown); reads of ${conn.chunks.map((c) => c.length).join("+")} bytes; cases ${conn.requests.map((r) => r.msg.target).join(" ")}`, bytes);
    if (h.error !== "") finding(caseAt(h.messages.length), "upstream-h11-error", `upstream h11: ${h.error}`, bytes);
    const d = compareMessages(conn.requests.map((r) => r.msg), RecordingUpstream.taken(conn, h.messages));
    if (d !== "" && conn.error === "" && h.error === "") finding(caseAt(0), "upstream-parsers-disagree", d, bytes);
    for (const r of conn.requests) {
      bySeq.set(r.seq, r);
      if (r.msg.target === "/healthz") continue;
      const m = ID_RE.exec(r.msg.target);
      if (m === null) { finding(undefined, "DESYNC-unattributed", `the upstream got a request no client sent: ${r.msg.method} ${r.msg.target}`, bytes); continue; }
      const id = Number(m[1]);
      reqsOf.set(id, [...(reqsOf.get(id) ?? []), r]);
    }
  });
  for (const c of cases) {
    const reqs = reqsOf.get(c.id) ?? [];
    const a = c.answer;
    const seq = a === null ? undefined : header(a, ECHO_SEQ);
    if (reqs.length > 1) finding(c, "DESYNC-duplicate", `reached the upstream ${reqs.length} times`);
    if (seq !== undefined) {
      const r = bySeq.get(Number(seq));
      const m = r === undefined ? null : ID_RE.exec(r.msg.target);
      if (m === null || Number(m[1]) !== c.id) finding(c, "DESYNC-cross-talk", `the client got the answer to ${r === undefined ? `unknown seq ${seq}` : `${r.msg.method} ${r.msg.target}`}`);
    }
    if (c.response !== null) {
      // The router's own answer when it sent nothing upstream (say 503 while the node is marked down).
      if (reqs.length === 0 && a !== null && a.status >= 500 && seq === undefined) count("response-not-forwarded");
      else await judgeResponse(rig, c, finding, count);
      continue;
    }
    const ref = await c.ref!;
    if (reqs.length === 0) {
      count(ref.valid ? "refused-valid" : "refused-invalid");
      if (ref.valid && report.notes.filter((n) => n.kind === "refused-valid").length < 100) report.notes.push({ seed, index: c.index, kind: "refused-valid", detail: `router answered ${a?.status ?? "nothing"}`, bytes: JSON.stringify(c.raw.toString("latin1").slice(0, 500)), mutations: c.mutations });
      continue;
    }
    count(ref.valid ? "accepted-valid" : `accepted-invalid (${ref.why})`);
    const got = normalise(reqs[0]!.msg);
    if (ref.valid) {
      const w = ref.want!;
      const diffs = (["method", "target", "host", "body"] as const).filter((k) => got[k] !== w[k]).map((k) => `${k} ${JSON.stringify(got[k].slice(0, 80))} (sent ${JSON.stringify(w[k].slice(0, 80))})`);
      if (diffs.length > 0) finding(c, "changed", `forwarded changed: ${diffs.join(", ")}`);
    } else if (report.notes.length < 300) {
      report.notes.push({ seed, index: c.index, kind: `accepted-invalid (${ref.why})`, detail: `forwarded ${got.method} ${got.target} host ${got.host}`, bytes: JSON.stringify(c.raw.toString("latin1").slice(0, 500)), mutations: c.mutations });
    }
  }
}

async function judgeResponse(rig: Rig, c: Case, finding: (c: Case, kind: string, detail: string) => void, count: (k: string) => void): Promise<void> {
  const a = c.answer;
  if (a === null) { count("response-cut"); return; }
  // The generator never makes an upstream answer 502: a 502 is the router's.
  if (a.status === 502) { count("response-502"); return; }
  const raw = Buffer.from(c.response!.raw, "latin1");
  const readings: ParseResult[] = [llhttpParse("response", raw, [c.method], c.response!.close)];
  const finalOf = (r: ParseResult): HttpMessage | undefined => r.messages.find((m) => m.status >= 200);
  const same = (r: ParseResult): boolean => {
    const f = finalOf(r);
    return f !== undefined && f.status === a.status && f.body.equals(a.body);
  };
  // h11 is asked only when llhttp's reading differs (it rarely does; h11 is the slow one).
  if (same(readings[0]!)) { count("response-passed"); return; }
  readings.push(await rig.h11.parse("response", raw, [c.method], c.response!.close));
  if (same(readings[1]!)) { count("response-passed-h11"); return; }
  const f = finalOf(readings[0]!);
  if (f === undefined && finalOf(readings[1]!) === undefined) {
    // Both readers refuse the upstream's bytes (say BWS before a chunk extension, which RFC 9112 allows) and the
    // router passed on its own framing of them: nothing to compare the body with. Counted, not a violation.
    count("response-passed-invalid (both reject)");
    return;
  }
  finding(c, "response-changed", `client got ${a.status} ${JSON.stringify(a.body.toString("latin1").slice(0, 80))}; llhttp reads the upstream's answer as ${f === undefined ? readings[0]!.error || "incomplete" : `${f.status} ${JSON.stringify(f.body.toString("latin1").slice(0, 80))}`}`);
}
