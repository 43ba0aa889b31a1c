// Switchyard demo app: the web service. Node builtins only.
//
//   GET /          an HTML page naming the version, colour and node (text/plain with ?format=text)
//   GET /healthz   200 "ok" (v3: 500 "v3 is deliberately unhealthy")
//   (v4: every path but /healthz answers 500 "v4 fails on purpose", while its health check passes)
//   GET /version   {"version","color","node","tag"}
//   GET /events    server-sent events: a tick every 200 ms (?limit=N ends the stream after N ticks)
//   GET /slow      answers after ?ms=N milliseconds (default 1000, at most 60000): an in-flight request
//
// Runs as PID 1 in its container, so SIGTERM and SIGINT are handled explicitly: stop accepting,
// let in-flight requests finish (event streams get a final "bye" event), then exit 0. A request that
// is still running after SHUTDOWN_TIMEOUT_MS (default 20000) is cut and the process exits 1.

import http from 'node:http';
import { color, database, flavour, node, tag, version } from './version.js';

const port = Number(process.env.PORT || 8080);
const host = process.env.HOST || '0.0.0.0';
const shutdownTimeoutMs = Number(process.env.SHUTDOWN_TIMEOUT_MS || 20000);
const tickMs = 200;
const verbose = (process.env.LOG_LEVEL || '').toLowerCase() === 'debug';
const startedAt = new Date().toISOString();

const who = `demo-app ${version}${color ? ` ${color}` : ''}${node ? `/${node}` : ''} pid ${process.pid}`;
const log = (msg) => console.log(`${new Date().toISOString()} [${who}] ${msg}`);

const escapeHtml = (s) =>
  String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);

function page() {
  const e = escapeHtml;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Switchyard demo ${e(version)}</title>
<style>
  body { font-family: system-ui, sans-serif; margin: 0; background: ${flavour.background}; color: #1f2328; }
  main { max-width: 40rem; margin: 4rem auto; padding: 2rem; background: #fff; border-top: 0.75rem solid ${flavour.accent}; border-radius: 0.5rem; box-shadow: 0 1px 4px #0002; }
  h1 { color: ${flavour.accent}; margin-top: 0; }
  dl { display: grid; grid-template-columns: max-content 1fr; gap: 0.25rem 1rem; }
  dt { font-weight: 600; }
  .color { display: inline-block; padding: 0 0.5rem; border-radius: 0.25rem; color: #fff; background: ${color === 'green' ? '#1a7f37' : color === 'blue' ? '#1f6feb' : '#6e7781'}; }
</style>
</head>
<body>
<main data-version="${e(version)}" data-color="${e(color)}" data-node="${e(node)}">
  <h1 id="title">${e(flavour.title)}</h1>
  <p id="motto">${e(flavour.motto)}</p>
  <dl>
    <dt>version</dt><dd id="version">${e(version)}</dd>
    <dt>tag</dt><dd id="tag">${e(tag)}</dd>
    <dt>colour</dt><dd><span class="color" id="color">${e(color || 'none')}</span></dd>
    <dt>node</dt><dd id="node">${e(node || 'none')}</dd>
    <dt>database</dt><dd id="database">${e(database)}</dd>
    <dt>started</dt><dd>${e(startedAt)}</dd>
  </dl>
</main>
</body>
</html>
`;
}

let shuttingDown = false;
const streams = new Set(); // open /events responses

function send(res, status, type, body) {
  const headers = { 'content-type': type, 'cache-control': 'no-store', 'x-demo-version': version };
  if (color) headers['x-demo-color'] = color;
  if (node) headers['x-demo-node'] = node;
  if (shuttingDown) headers.connection = 'close';
  res.writeHead(status, headers);
  res.end(body);
}

function events(req, res, url) {
  const limit = Number(url.searchParams.get('limit') || 0);
  res.writeHead(200, {
    'content-type': 'text/event-stream',
    'cache-control': 'no-store',
    connection: 'keep-alive',
    'x-accel-buffering': 'no',
    'x-demo-version': version,
  });
  res.flushHeaders();
  let n = 0;
  const stream = {
    end(reason) {
      clearInterval(timer);
      streams.delete(stream);
      if (!res.writableEnded) {
        res.write(`event: bye\ndata: ${JSON.stringify({ reason, n, version, color, node })}\n\n`);
        res.end();
      }
    },
  };
  const tick = () => {
    n += 1;
    res.write(`id: ${n}\ndata: ${JSON.stringify({ n, version, color, node, at: new Date().toISOString() })}\n\n`);
    if (limit > 0 && n >= limit) stream.end('limit');
  };
  const timer = setInterval(tick, tickMs);
  streams.add(stream);
  res.write(`retry: 1000\n: ${version} ${color} ${node}\n\n`);
  req.on('close', () => {
    clearInterval(timer);
    streams.delete(stream);
  });
}

const server = http.createServer((req, res) => {
  const url = new URL(req.url || '/', 'http://localhost');
  if (verbose) log(`${req.method} ${req.url}`);
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.setHeader('allow', 'GET, HEAD');
    return send(res, 405, 'text/plain; charset=utf-8', 'method not allowed\n');
  }
  if (flavour.failing && url.pathname !== '/healthz') {
    return send(res, 500, 'text/plain; charset=utf-8', `${version} fails on purpose\n`);
  }
  switch (url.pathname) {
    case '/':
      if (url.searchParams.get('format') === 'text') {
        return send(res, 200, 'text/plain; charset=utf-8', `${flavour.title}: version=${version} color=${color} node=${node} tag=${tag}\n`);
      }
      return send(res, 200, 'text/html; charset=utf-8', page());
    case '/healthz':
      if (shuttingDown) return send(res, 503, 'text/plain; charset=utf-8', 'shutting down\n');
      if (!flavour.healthy) return send(res, 500, 'text/plain; charset=utf-8', `${version} is deliberately unhealthy\n`);
      return send(res, 200, 'text/plain; charset=utf-8', 'ok\n');
    case '/version':
      return send(res, 200, 'application/json', JSON.stringify({ version, color, node, tag }) + '\n');
    case '/events':
      return events(req, res, url);
    case '/slow': {
      const ms = Math.min(Math.max(Number(url.searchParams.get('ms') || 1000) || 0, 0), 60000);
      const timer = setTimeout(() => send(res, 200, 'application/json', JSON.stringify({ version, color, node, tag, waitedMs: ms }) + '\n'), ms);
      req.on('close', () => { if (!res.writableEnded) clearTimeout(timer); });
      return;
    }
    default:
      return send(res, 404, 'text/plain; charset=utf-8', 'not found\n');
  }
});

// Outlive a proxy's idle upstream connections, so the proxy never reuses a socket we are closing.
server.keepAliveTimeout = 65000;
server.headersTimeout = 66000;

server.on('error', (err) => {
  log(`server error: ${err.message}`);
  process.exit(1);
});

server.listen(port, host, () => {
  log(`listening on ${host}:${port} (healthy: ${flavour.healthy})`);
});

function shutdown(signal) {
  if (shuttingDown) {
    log(`${signal} again: exiting now`);
    process.exit(1);
  }
  shuttingDown = true;
  log(`${signal}: stop accepting, finishing in-flight requests`);
  const force = setTimeout(() => {
    log(`still busy after ${shutdownTimeoutMs} ms: exiting anyway`);
    process.exit(1);
  }, shutdownTimeoutMs);
  force.unref();
  server.close(() => {
    log('all connections closed: bye');
    process.exit(0);
  });
  for (const s of [...streams]) s.end('shutdown');
  // A keep-alive socket that finishes its request after close() would otherwise idle on until
  // keepAliveTimeout: close idle sockets now and again until none is left.
  server.closeIdleConnections();
  setInterval(() => server.closeIdleConnections(), 50).unref();
}

process.on('SIGTERM', () => shutdown('SIGTERM'));
process.on('SIGINT', () => shutdown('SIGINT'));
