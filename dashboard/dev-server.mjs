#!/usr/bin/env node
/**
 * A tiny in-memory mock of the reconciler's /api/v1, ONLY for developing and screenshotting the
 * dashboard (no test uses it). It serves dist/dashboard (run `npm run build:dashboard` first) and
 * simulates a cluster of two colours with two nodes each: a deploy pulls, starts and turns healthy
 * over about ten seconds, and a promote flips the router once the colour is Ready.
 *
 *   node dashboard/dev-server.mjs            # http://127.0.0.1:8790, users admin/admin, deployer/deployer, viewer/viewer
 *   PORT=0 MOCK_TAGS_FAIL=1 node dashboard/dev-server.mjs
 *
 * Dev-only helpers: POST /__mock/deploy?tag=v2 starts a deploy as "alice" (something to watch),
 * POST /__mock/external-commit changes state.yaml behind the dashboard's back (to see a 409).
 */
import http from "node:http";
import { createHash, randomBytes } from "node:crypto";
import { readFile } from "node:fs/promises";
import { extname, join, normalize } from "node:path";
import { fileURLToPath } from "node:url";

const DIST = fileURLToPath(new URL("../dist/dashboard/", import.meta.url));
const PORT = Number(process.env.PORT ?? 8790);
const COLORS = ["blue", "green"];
const SERVICES = ["web", "api", "worker"];
const LEASE_TTL_MS = 10_000;
const PULL_MS = 6000;
const START_MS = 3000;
const IMAGE_BYTES = 148_000_000;

const USERS = { admin: ["admin", "admin"], deployer: ["deployer", "deployer"], viewer: ["viewer", "viewer"], alice: ["alice", "deployer"] };
const TAGS = ["v5", "v4", "v3", "v2", "v1"].map((tag, i) => ({ tag, created: new Date(Date.now() - (i * 3 + 1) * 86_400_000 - i * 3_600_000).toISOString() }));

// ---- desired state (state.yaml) and its git history --------------------------------------------
let state = { active: "blue", colors: { blue: { tag: "v1" }, green: { tag: "v1" } }, jobs: { owner: "active" } };
let extraComment = 0;
const history = [];
seedHistory();

// ---- simulated observation -----------------------------------------------------------------------
const start = Date.now();
const nodes = {};
for (const c of COLORS) for (const i of [1, 2]) nodes[`${c}-${i}`] = { color: c, tag: "v1", deploy: null, since: iso(start - 3_600_000) };
let routerLive = "blue";
let epoch = 7;
let ownerColorSeen = "blue";
let leaseGrantedAt = Date.now();
const conditionsSince = {};
const events = [];
let seq = 100;
const alerts = [
  { fingerprint: "a1", name: "ExtraContainer", severity: "warning", summary: "green-2 runs a container Switchyard did not start (shop-debug); it is left alone. Remove it or add it to cluster.yaml.", labels: { node: "green-2", container: "shop-debug" }, state: "firing", startsAt: iso(Date.now() - 25 * 60_000), endsAt: null },
  { fingerprint: "a2", name: "NodeUnreachable", severity: "critical", summary: "blue-2's agent did not answer for 40 s; the router sent its traffic to blue-1. Check the VM and its agent.", labels: { node: "blue-2", color: "blue" }, state: "resolved", startsAt: iso(Date.now() - 5 * 3_600_000), endsAt: iso(Date.now() - 5 * 3_600_000 + 95_000) },
];

// ---- sessions ----------------------------------------------------------------------------------------
const sessions = new Map();
let failures = [];

const server = http.createServer((req, res) => {
  handle(req, res).catch((err) => {
    console.error(err);
    send(res, 500, { error: { code: "RECON_ERR_INTERNAL", message: "internal error" } });
  });
});
server.listen(PORT, "127.0.0.1", () => console.log(`mock reconciler on http://127.0.0.1:${server.address().port}/ (users: admin/admin, deployer/deployer, viewer/viewer)`));

const streams = new Set();
let lastKey = "";
let lastSent = 0;
setInterval(() => {
  const s = status();
  const key = JSON.stringify({ ...s, lastReconcileAt: 0, jobs: { ...s.jobs, holders: s.jobs.holders.map((h) => h.node) }, colors: strip(s.colors) });
  if (key === lastKey && Date.now() - lastSent < 5000) return;
  lastKey = key;
  lastSent = Date.now();
  for (const res of streams) res.write(`event: status\ndata: ${JSON.stringify(s)}\n\n`);
}, 250).unref();

async function handle(req, res) {
  const url = new URL(req.url, "http://x");
  const p = url.pathname;
  if (!p.startsWith("/api/") && !p.startsWith("/__mock/")) return serveFile(p, res);
  const body = req.method === "POST" ? await readBody(req) : undefined;
  if (p === "/__mock/deploy") {
    try {
      return send(res, 200, commit(applyDeploy(url.searchParams.get("tag") ?? "v2", null), "alice"));
    } catch (e) {
      return send(res, 422, err("RECON_ERR_REFUSED", e.message));
    }
  }
  if (p === "/__mock/external-commit") {
    const before = stateText(state);
    extraComment++;
    return send(res, 200, commit({ next: state, message: "tidy state.yaml (by hand)" }, "bob", before));
  }

  if (p === "/api/v1/auth/login" && req.method === "POST") {
    failures = failures.filter((t) => Date.now() - t < 60_000);
    if (failures.length >= 5) return send(res, 429, err("RECON_ERR_RATE_LIMITED", "too many login attempts; try again later"), { "retry-after": "60" });
    const u = USERS[body?.username];
    if (!u || u[0] !== body?.password) {
      failures.push(Date.now());
      return send(res, 401, err("RECON_ERR_UNAUTHORIZED", "wrong user name or password"));
    }
    const id = randomBytes(16).toString("hex");
    const s = { user: { name: body.username, role: u[1] }, csrf: randomBytes(16).toString("hex") };
    sessions.set(id, s);
    return send(res, 200, s, { "set-cookie": `sy_session=${id}; HttpOnly; SameSite=Strict; Path=/` });
  }
  const session = sessions.get(/(?:^|;\s*)sy_session=([0-9a-f]+)/.exec(req.headers.cookie ?? "")?.[1]);
  if (!session) return send(res, 401, err("RECON_ERR_UNAUTHORIZED", "sign in first"));
  if (req.method === "POST" && req.headers["x-csrf-token"] !== session.csrf) return send(res, 403, err("RECON_ERR_CSRF", "missing or wrong CSRF token"));

  if (p === "/api/v1/auth/me") return send(res, 200, session);
  if (p === "/api/v1/auth/logout") {
    for (const [k, v] of sessions) if (v === session) sessions.delete(k);
    res.writeHead(204, { "set-cookie": "sy_session=; Max-Age=0; Path=/" }).end();
    return;
  }
  if (p === "/api/v1/status") return send(res, 200, status());
  if (p === "/api/v1/state") return send(res, 200, { text: stateText(state), revision: revision(), state: { apiVersion: "switchyard.dev/v1", kind: "State", spec: state } });
  if (p === "/api/v1/tags") {
    await sleep(300);
    if (process.env.MOCK_TAGS_FAIL) return send(res, 502, err("RECON_ERR_REGISTRY", "registry http://127.0.0.1:5000 did not answer within 10 s"));
    return send(res, 200, { tags: TAGS });
  }
  if (p === "/api/v1/history") return send(res, 200, { enabled: true, entries: history.slice(0, Number(url.searchParams.get("limit") ?? 50)) });
  if (p === "/api/v1/alerts") return send(res, 200, { alerts });
  if (p === "/api/v1/events") {
    res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-store" });
    for (const r of events.slice(-50)) res.write(`id: ${r.seq}\nevent: event\ndata: ${JSON.stringify(r)}\n\n`);
    res.write(`event: status\ndata: ${JSON.stringify(status())}\n\n`);
    streams.add(res);
    req.on("close", () => streams.delete(res));
    return;
  }
  const action = /^\/api\/v1\/actions\/(deploy|promote|rollback|jobs|restore)$/.exec(p)?.[1];
  if (action && req.method === "POST") {
    if (session.user.role === "viewer") return send(res, 403, err("RECON_ERR_FORBIDDEN", "viewers may not change the state"));
    if (req.headers["if-match"] !== revision())
      return send(res, 409, err("RECON_ERR_CONFLICT", `state.yaml changed since you loaded it (your revision ${req.headers["if-match"]}, now ${revision()}); nothing was written. Reload and try again`));
    let change;
    try {
      change = plan(action, body ?? {});
    } catch (e) {
      return send(res, 422, err("RECON_ERR_REFUSED", e.message));
    }
    if (body?.dryRun) {
      await sleep(250);
      return send(res, 200, { message: change.message, diff: unifiedDiff(stateText(state), stateText(change.next)), revision: revision() });
    }
    return send(res, 200, commit(change, session.user.name));
  }
  return send(res, 404, err("RECON_ERR_NOT_FOUND", `no route ${req.method} ${p}`));
}

// ---- actions -------------------------------------------------------------------------------------
function plan(action, b) {
  const idle = other(state.active);
  switch (action) {
    case "deploy":
      if (!TAGS.some((t) => t.tag === b.tag)) throw new Error(`unknown tag ${JSON.stringify(b.tag)}: it is not in the registry`);
      return applyDeploy(b.tag, b.color ?? null);
    case "promote": {
      const ready = colorStatus(idle).phase === "Ready";
      if (!ready) throw new Error(`${idle} is not Ready; nothing was changed`);
      return { next: { ...state, active: idle }, message: `promote ${idle} (${state.colors[idle].tag})` };
    }
    case "rollback":
      if (!state.colors[idle].tag) throw new Error(`${idle} has no tag to roll back to`);
      return { next: { ...state, active: idle }, message: `roll back to ${idle} (${state.colors[idle].tag})` };
    case "jobs":
      if (!["active", "blue", "green", "none"].includes(b.owner)) throw new Error("owner must be active, blue, green or none");
      return { next: { ...state, jobs: { owner: b.owner } }, message: `move jobs to ${b.owner}` };
    case "restore": {
      const h = history.find((e) => e.commit.startsWith(b.commit ?? "-"));
      if (!h) throw new Error(`no commit ${b.commit} in the history of state.yaml`);
      return { next: structuredClone(h.state), message: `roll back to revision ${h.commit.slice(0, 7)} (${h.message})` };
    }
  }
  throw new Error("unknown action");
}

function applyDeploy(tag, color) {
  const c = color ?? other(state.active);
  if (c === state.active) throw new Error(`${c} is live; deploy to the idle colour and promote it instead`);
  return { next: { ...state, colors: { ...state.colors, [c]: { tag } } }, message: `deploy ${tag} to ${c}` };
}

function commit({ next, message }, author, before = stateText(state)) {
  const prev = state;
  state = structuredClone(next);
  const text = stateText(state);
  const entry = { commit: sha(text + Date.now() + Math.random()), author, email: `${author}@example.com`, date: iso(Date.now()), message, diff: unifiedDiff(before, text), revision: revision(), state: structuredClone(state) };
  history.unshift(entry);
  for (const c of COLORS) {
    if (state.colors[c].tag !== prev.colors[c].tag) for (const n of Object.values(nodes)) if (n.color === c) n.deploy = { tag: state.colors[c].tag, at: Date.now() + (n === nodes[`${c}-2`] ? 800 : 0) };
  }
  event("action", "state.yaml committed", { user: author, commit: entry.commit.slice(0, 7), summary: message });
  return { message, revision: entry.revision, commit: entry.commit };
}

// ---- status ----------------------------------------------------------------------------------------
function status() {
  const now = Date.now();
  advance(now);
  const colors = Object.fromEntries(COLORS.map((c) => [c, colorStatus(c)]));
  const preview = state.colors[other(routerLive)].tag ? other(routerLive) : null;
  colors[routerLive].live = true;
  if (preview) colors[preview].preview = true;
  const ownerColor = state.jobs.owner === "none" ? null : state.jobs.owner === "active" ? routerLive : state.jobs.owner;
  const holders = [];
  if (ownerColor) for (const [name, n] of Object.entries(nodes)) if (n.color === ownerColor) holders.push({ node: name, color: ownerColor, epoch, remainingMs: leaseLeft(now) });
  for (const c of COLORS) for (const n of colors[c].nodes) n.lease = ownerColor === c ? { state: "held", epoch, remainingMs: leaseLeft(now) } : { state: "none", epoch, remainingMs: 0 };
  const deploying = COLORS.filter((c) => colors[c].phase === "Deploying");
  const activeReady = colors[state.active].phase === "Ready" && routerLive === state.active;
  const pending = deploying.map((c) => ({ type: "wait", reason: "Deploying", color: c, message: `waiting for ${c} to pull and start ${state.colors[c].tag} on every node` }));
  if (state.active !== routerLive) pending.push({ type: "wait", reason: "WaitingForReady", color: state.active, message: `the router flips to ${state.active} once it is Ready` });
  const drift = alerts.filter((a) => a.state === "firing");
  const conditions = [
    cond("Ready", activeReady ? "True" : "False", activeReady ? "Live" : "NotReady", activeReady ? `${state.active} serves live traffic with ${state.colors[state.active].tag}` : `${state.active} is not live yet`),
    cond("Progressing", pending.length ? "True" : "False", pending[0]?.reason ?? "Idle", pending[0]?.message ?? "nothing to do"),
    cond("Degraded", "False", "AsExpected", "no critical problem"),
    cond("Drifted", drift.length ? "True" : "False", drift[0]?.name ?? "InSync", drift[0]?.summary ?? "reality matches the desired state"),
    cond("SpecInvalid", "False", "Valid", "cluster.yaml and state.yaml are valid"),
  ];
  return {
    app: "shop", revision: sha("cluster" + stateText(state)).slice(0, 12), actedRevision: null, specErrors: [], conditions, active: state.active, colors,
    router: { live: routerLive, preview, nodes: [{ name: "router-1", reachable: true, live: routerLive, preview, error: null, inFlight: { blue: routerLive === "blue" ? 12 : 0, green: routerLive === "green" ? 12 : 1 } }] },
    jobs: { owner: state.jobs.owner, ownerColor, epoch, holders }, pending, lastReconcileAt: iso(now),
  };
}

function colorStatus(c) {
  const now = Date.now();
  const want = state.colors[c].tag;
  const ns = Object.entries(nodes).filter(([, n]) => n.color === c).map(([name, n]) => nodeSummary(name, n, now));
  const ready = ns.every((n) => n.ready);
  const phase = !want ? "Empty" : ready ? "Ready" : "Deploying";
  const message = ready ? "" : ns.filter((n) => !n.ready).map((n) => `${n.name}: ${Object.values(n.services).some((s) => s.state === "pulling") ? `pulling ${want}` : `waiting for web to turn healthy`}`).join("; ");
  return { phase, tag: want ?? null, stopped: false, live: false, preview: false, message, nodes: ns };
}

function nodeSummary(name, n, now) {
  const services = {};
  const d = n.deploy;
  const t = d ? now - d.at : Infinity;
  const ownerColor = state.jobs.owner === "none" ? null : state.jobs.owner === "active" ? routerLive : state.jobs.owner;
  for (const s of SERVICES) {
    const job = s === "worker";
    if (job && ownerColor !== n.color) {
      services[s] = { state: "exited", health: "unknown", tag: n.tag, error: "container exited (0)", since: n.since };
      continue;
    }
    if (d && t < PULL_MS) {
      const speed = name.endsWith("2") ? 0.8 : 1;
      services[s] = { state: "pulling", health: "unknown", tag: null, error: null, since: iso(d.at), pull: { currentBytes: Math.round(IMAGE_BYTES * Math.min(1, Math.max(0, (t * speed) / PULL_MS))), totalBytes: IMAGE_BYTES } };
    } else if (d && t < PULL_MS + START_MS) {
      services[s] = { state: job ? "running" : "starting", health: "unknown", tag: d.tag, error: job ? null : "GET /healthz: connection refused", since: iso(d.at + PULL_MS) };
    } else services[s] = { state: "running", health: job ? "unknown" : "healthy", tag: d?.tag ?? n.tag, error: null, since: d ? iso(d.at + PULL_MS + START_MS) : n.since };
  }
  const ready = Object.entries(services).every(([k, s]) => k === "worker" || (s.state === "running" && s.health === "healthy"));
  return { name, reachable: true, error: null, generation: history.length, converging: !!d && t < PULL_MS + START_MS, tag: d?.tag ?? n.tag, ready, services, lease: null };
}

/** Moves the simulation on: finished deploys settle, the router flips to a Ready active colour, jobs follow. */
function advance(now) {
  for (const [name, n] of Object.entries(nodes)) {
    if (n.deploy && now - n.deploy.at >= PULL_MS + START_MS) {
      n.tag = n.deploy.tag;
      n.since = iso(now);
      n.deploy = null;
      event("result", "node converged", { node: name, tag: n.tag });
    }
  }
  if (routerLive !== state.active && Object.values(nodes).filter((n) => n.color === state.active).every((n) => !n.deploy && n.tag === state.colors[state.active].tag)) {
    event("result", "router flipped", { from: routerLive, to: state.active });
    routerLive = state.active;
  }
  const ownerColor = state.jobs.owner === "none" ? null : state.jobs.owner === "active" ? routerLive : state.jobs.owner;
  if (ownerColor !== ownerColorSeen) {
    ownerColorSeen = ownerColor;
    epoch++;
    leaseGrantedAt = now;
    event("result", "jobs lease granted", { color: ownerColor ?? "none", epoch });
  }
  if (now - leaseGrantedAt > 3000) leaseGrantedAt = now; // renewals
}

function leaseLeft(now) {
  return Math.max(0, LEASE_TTL_MS - (now - leaseGrantedAt));
}

function cond(type, st, reason, message) {
  const prev = conditionsSince[type];
  if (!prev || prev.status !== st) conditionsSince[type] = { status: st, at: iso(prev ? Date.now() : start - 40 * 60_000) };
  return { type, status: st, reason, message, observedRevision: null, lastTransitionTime: conditionsSince[type].at };
}

function event(type, message, extra) {
  const r = { seq: ++seq, ts: iso(Date.now()), type, message, ...extra };
  events.push(r);
  if (events.length > 200) events.shift();
  for (const res of streams) res.write(`id: ${r.seq}\nevent: event\ndata: ${JSON.stringify(r)}\n\n`);
}

// ---- helpers -----------------------------------------------------------------------------------------
function stateText(s) {
  const color = (c) => `    ${c}:${" ".repeat(6 - c.length)}{ tag: ${s.colors[c].tag}${s.colors[c].stopped ? ", stopped: true" : ""} }`;
  return [
    "apiVersion: switchyard.dev/v1",
    "kind: State",
    ...(extraComment ? [`# tidied by hand (${extraComment})`] : []),
    "spec:",
    `  active: ${s.active}`,
    "  colors:",
    color("blue"),
    color("green"),
    `  jobs: { owner: ${s.jobs.owner} }`,
    "",
  ].join("\n");
}

function seedHistory() {
  const steps = [
    [{ active: "blue", colors: { blue: { tag: "v1" }, green: { tag: "v1" } }, jobs: { owner: "active" } }, "initial state", "carol", 9 * 86_400_000],
    [{ active: "blue", colors: { blue: { tag: "v1" }, green: { tag: "v2" } }, jobs: { owner: "active" } }, "deploy v2 to green", "alice", 3 * 86_400_000],
    [{ active: "blue", colors: { blue: { tag: "v1" }, green: { tag: "v1" } }, jobs: { owner: "active" } }, "deploy v1 to green", "alice", 2 * 86_400_000 + 3_600_000],
  ];
  let prevText = "";
  for (const [s, message, author, age] of steps) {
    const text = stateText(s);
    history.unshift({ commit: sha(message + age), author, email: `${author}@example.com`, date: iso(Date.now() - age), message, diff: prevText ? unifiedDiff(prevText, text) : unifiedDiff("", text), revision: sha(text).slice(0, 12), state: s });
    prevText = text;
  }
}

function revision() {
  return sha(stateText(state)).slice(0, 12);
}

/** A unified diff (3 lines of context) of two small texts, by longest common subsequence. */
function unifiedDiff(a, b) {
  const x = a ? a.replace(/\n$/, "").split("\n") : [];
  const y = b ? b.replace(/\n$/, "").split("\n") : [];
  const L = Array.from({ length: x.length + 1 }, () => new Array(y.length + 1).fill(0));
  for (let i = x.length - 1; i >= 0; i--) for (let j = y.length - 1; j >= 0; j--) L[i][j] = x[i] === y[j] ? L[i + 1][j + 1] + 1 : Math.max(L[i + 1][j], L[i][j + 1]);
  const ops = [];
  let i = 0;
  let j = 0;
  while (i < x.length || j < y.length) {
    if (i < x.length && j < y.length && x[i] === y[j]) ops.push([" ", x[i++], i, ++j]);
    else if (i < x.length && (j === y.length || L[i + 1][j] >= L[i][j + 1])) ops.push(["-", x[i++], i, j]);
    else ops.push(["+", y[j++], i, j]);
  }
  if (!ops.some((o) => o[0] !== " ")) return "";
  const out = ["--- a/state.yaml", "+++ b/state.yaml"];
  let k = 0;
  while (k < ops.length) {
    while (k < ops.length && ops[k][0] === " ") k++;
    if (k >= ops.length) break;
    let s = Math.max(0, k - 3);
    let e = k;
    while (e < ops.length) {
      if (ops[e][0] !== " ") e++;
      else {
        let run = 0;
        while (e + run < ops.length && ops[e + run][0] === " ") run++;
        if (e + run >= ops.length || run > 6) {
          e = Math.min(ops.length, e + 3);
          break;
        }
        e += run;
      }
    }
    const hunk = ops.slice(s, e);
    const aStart = hunk.filter((o) => o[0] !== "+").length ? countBefore(ops, s, "+") + 1 : countBefore(ops, s, "+");
    const bStart = hunk.filter((o) => o[0] !== "-").length ? countBefore(ops, s, "-") + 1 : countBefore(ops, s, "-");
    out.push(`@@ -${aStart},${hunk.filter((o) => o[0] !== "+").length} +${bStart},${hunk.filter((o) => o[0] !== "-").length} @@`);
    for (const o of hunk) out.push(o[0] + o[1]);
    k = e;
  }
  return out.join("\n") + "\n";
}

function countBefore(ops, end, skip) {
  let n = 0;
  for (let i = 0; i < end; i++) if (ops[i][0] !== skip) n++;
  return n;
}

async function serveFile(p, res) {
  const rel = normalize(decodeURIComponent(p)).replace(/^(\.\.[/\\])+/, "").replace(/^\/+/, "") || "index.html";
  const types = { ".html": "text/html; charset=utf-8", ".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml", ".png": "image/png" };
  try {
    const data = await readFile(join(DIST, rel));
    res.writeHead(200, { "content-type": types[extname(rel)] ?? "application/octet-stream", "cache-control": rel.startsWith("assets/") ? "public, max-age=31536000, immutable" : "no-cache" }).end(data);
  } catch {
    const index = await readFile(join(DIST, "index.html")).catch(() => null);
    if (!index) return send(res, 404, err("RECON_ERR_NOT_FOUND", "dist/dashboard is missing: run npm run build:dashboard"));
    res.writeHead(200, { "content-type": types[".html"] }).end(index);
  }
}

function send(res, code, body, headers = {}) {
  res.writeHead(code, { "content-type": "application/json", ...headers }).end(JSON.stringify(body));
}

function err(code, message) {
  return { error: { code, message } };
}

async function readBody(req) {
  let s = "";
  for await (const chunk of req) s += chunk;
  try {
    return s ? JSON.parse(s) : {};
  } catch {
    return {};
  }
}

function strip(colors) {
  return Object.fromEntries(Object.entries(colors).map(([c, v]) => [c, { ...v, nodes: v.nodes.map((n) => ({ ...n, lease: n.lease?.state })) }]));
}

function other(c) {
  return c === "blue" ? "green" : "blue";
}

function sha(s) {
  return createHash("sha1").update(s).digest("hex");
}

function iso(ms) {
  return new Date(ms).toISOString();
}

function sleep(ms) {
  return new Promise((r) => setTimeout(r, ms));
}
