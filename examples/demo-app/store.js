// Switchyard demo app: the shared "notification store" that workers take jobs from, with an epoch fence.
//
//   node store.js            (PORT, default 9300; HOST, default 127.0.0.1)
//
// It hands out an endless queue of notifications to send. A worker claims one (POST /claim), "sends" it
// and reports it sent (POST /sent), always passing the SWITCHYARD_JOBS_EPOCH it was started with. The
// store remembers the highest epoch it has seen and refuses any claim or report with a lower one
// (409 fenced), putting that notification back in the queue. This is the app-level fence that keeps
// data safe even when an old owner's agent is frozen and cannot stop its workers: the moment the new
// owner's first write arrives, every write of the old owner is refused.
//
// GET /records returns the ground truth tests check: every notification delivered (with colour, node,
// epoch, host and time), every attempt (claims and reports, refused or not), and the counters.

import { createServer } from 'node:http';

const port = Number(process.env.PORT || 9300);
const host = process.env.HOST || '127.0.0.1';
const claimTimeoutMs = Number(process.env.CLAIM_TIMEOUT_MS || 5000);

let highestEpoch = 0;
let nextId = 1;
const requeued = [];            // ids whose claim was refused or expired
const claims = new Map();       // id -> { epoch, host, at }
const delivered = [];           // { id, epoch, color, node, host, at }
const deliveredIds = new Set();
const attempts = [];            // { kind, ok, epoch, color, node, host, at }
let fenced = 0;
let duplicates = 0;

function fence(epoch) {
  if (typeof epoch !== 'number' || !Number.isInteger(epoch) || epoch < 1) return 'epoch must be a positive integer';
  if (epoch < highestEpoch) return `epoch ${epoch} is older than epoch ${highestEpoch}: a newer owner runs the jobs`;
  highestEpoch = epoch;
  return null;
}

function expireClaims(now) {
  for (const [id, c] of claims) {
    if (now - c.at > claimTimeoutMs) {
      claims.delete(id);
      requeued.push(id);
    }
  }
}

function json(res, status, body) {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

const server = createServer((req, res) => {
  let raw = '';
  req.on('data', (d) => {
    raw += d;
    if (raw.length > 10_000) req.destroy();
  });
  req.on('end', () => {
    const now = Date.now();
    if (req.method === 'GET' && req.url === '/records') {
      return json(res, 200, { highestEpoch, delivered, attempts, fenced, duplicates });
    }
    if (req.method === 'GET' && req.url === '/healthz') return json(res, 200, { ok: true });
    let body;
    try {
      body = JSON.parse(raw || '{}');
    } catch {
      return json(res, 400, { error: 'body must be JSON' });
    }
    const who = { epoch: body.epoch, color: String(body.color ?? ''), node: String(body.node ?? ''), host: String(body.host ?? '') };
    if (req.method === 'POST' && req.url === '/claim') {
      expireClaims(now);
      const why = fence(body.epoch);
      attempts.push({ kind: 'claim', ok: !why, ...who, at: now });
      if (why) {
        fenced += 1;
        return json(res, 409, { error: why, fenced: true, highestEpoch });
      }
      const id = requeued.length ? requeued.shift() : nextId++;
      claims.set(id, { epoch: body.epoch, host: who.host, at: now });
      return json(res, 200, { id });
    }
    if (req.method === 'POST' && req.url === '/sent') {
      const id = body.id;
      const why = fence(body.epoch);
      attempts.push({ kind: 'sent', ok: !why, id, ...who, at: now });
      if (why) {
        fenced += 1;
        if (claims.delete(id) && !deliveredIds.has(id)) requeued.push(id);
        return json(res, 409, { error: why, fenced: true, highestEpoch });
      }
      claims.delete(id);
      if (deliveredIds.has(id)) {
        duplicates += 1;
        return json(res, 409, { error: `notification ${id} was already sent`, duplicate: true });
      }
      deliveredIds.add(id);
      delivered.push({ id, ...who, at: now });
      return json(res, 200, { ok: true });
    }
    json(res, 404, { error: 'no such route' });
  });
});

server.listen(port, host, () => console.log(`demo store listening on ${host}:${port}`));
for (const s of ['SIGTERM', 'SIGINT']) process.on(s, () => server.close(() => process.exit(0)));
