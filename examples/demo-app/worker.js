// Switchyard demo app: the background job (run the image with the command `node worker.js`).
//
// Every 500 ms (JOB_INTERVAL_MS) it "processes a job". With RECORDER_URL set it POSTs
//   {"color","node","tag","epoch","pid","at","seq","version","host"}
// to that URL (errors are ignored: the recorder is a test fixture, not a dependency); without it, it
// logs one line per job. `epoch` is SWITCHYARD_JOBS_EPOCH, the lease epoch the agent started it with,
// so a recorder can tell whether two workers ever ran under different owners at the same time. In a
// container pid is 1, so `host` (the container's hostname, its short id by default) tells workers apart.
//
// Runs as PID 1 in its container: SIGTERM and SIGINT stop it at once (a POST still in flight is
// aborted), well within a second.

import { hostname } from 'node:os';
import { color, node, tag, version } from './version.js';

const recorderUrl = process.env.RECORDER_URL || '';
const intervalMs = Number(process.env.JOB_INTERVAL_MS || 500);
const epochRaw = process.env.SWITCHYARD_JOBS_EPOCH;
const epoch = epochRaw === undefined || epochRaw === '' ? null : Number.isNaN(Number(epochRaw)) ? epochRaw : Number(epochRaw);

const who = `demo-worker ${version}${color ? ` ${color}` : ''}${node ? `/${node}` : ''} pid ${process.pid}`;
const log = (msg) => console.log(`${new Date().toISOString()} [${who}] ${msg}`);

let seq = 0;
let stopping = false;
const inflight = new Set();

const storeUrl = (process.env.STORE_URL || '').replace(/\/+$/, '');

/** With a store: claim a notification, "send" it, report it sent, always under our epoch (the fence). */
async function processFromStore() {
  const ac = new AbortController();
  const timeout = setTimeout(() => ac.abort(), Math.max(intervalMs * 2, 1000));
  inflight.add(ac);
  const me = { epoch, color, node, host: hostname() };
  try {
    const post = (path, body) => fetch(storeUrl + path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), signal: ac.signal });
    const claim = await post('/claim', me);
    const c = await claim.json();
    if (claim.status === 409) return log(`fenced: ${c.error}`);
    if (!claim.ok) return log(`claim failed: ${claim.status}`);
    seq += 1;
    const sent = await post('/sent', { ...me, id: c.id });
    const r = await sent.json();
    if (sent.status === 409) log(`not sent: ${r.error}`);
  } catch (err) {
    if (!stopping) log(`store unreachable: ${err.message}`);
  } finally {
    clearTimeout(timeout);
    inflight.delete(ac);
  }
}

async function processJob() {
  if (storeUrl) return processFromStore();
  seq += 1;
  const job = { color, node, tag, epoch, pid: process.pid, at: new Date().toISOString(), seq, version, host: hostname() };
  if (!recorderUrl) {
    log(`processed job ${seq} (epoch ${epoch ?? 'none'})`);
    return;
  }
  const ac = new AbortController();
  const timeout = setTimeout(() => ac.abort(), Math.max(intervalMs * 2, 1000));
  inflight.add(ac);
  try {
    const res = await fetch(recorderUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(job),
      signal: ac.signal,
    });
    await res.arrayBuffer().catch(() => {});
  } catch {
    // ignored on purpose
  } finally {
    clearTimeout(timeout);
    inflight.delete(ac);
  }
}

const timer = setInterval(() => {
  if (!stopping) processJob();
}, intervalMs);

log(`started: job every ${intervalMs} ms, epoch ${epoch ?? 'none'}, ${storeUrl ? `taking jobs from ${storeUrl}` : recorderUrl ? `recording to ${recorderUrl}` : 'logging only'}`);

function stop(signal) {
  if (stopping) process.exit(1);
  stopping = true;
  clearInterval(timer);
  for (const ac of inflight) ac.abort();
  log(`${signal}: stopped after ${seq} jobs`);
  process.exit(0);
}

process.on('SIGTERM', () => stop('SIGTERM'));
process.on('SIGINT', () => stop('SIGINT'));
