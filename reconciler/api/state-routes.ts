/**
 * The desired state over HTTP: read it, change it (If-Match on its revision, 409 when someone changed
 * it first), and the one-click actions — deploy, promote, roll back, move jobs, restore a revision —
 * which are only sugar that produce a new state.yaml. Nothing changes production except that file,
 * committed to git with the signed-in user as author.
 */
import type { FastifyInstance, FastifyRequest } from "fastify";
import { parseDocument } from "yaml";
import type { State } from "../../specs/state.js";
import { parseSpec } from "../../specs/load.js";
import { formatIssue } from "../../specs/source.js";
import { otherColor } from "../../specs/types.js";
import type { DesiredSource } from "../loop/desired-source.js";
import type { Controller } from "../loop/controller.js";
import type { StateRepo, Author } from "../history/state-repo.js";
import { describeChange } from "../history/describe-change.js";
import type { TagInfo } from "../tags/registry.js";
import { reconError } from "../errors.js";
import type { Principal } from "../auth/hook.js";
import { declareRoute } from "./route.js";
import type { RestartBody, RestartResult, RetryTaskBody, RetryTaskResult } from "../../specs/api/state.js";
import type { ColorBody, Committed, DeployBody, DryRun, JobsBody, PutStateBody, RestoreBody, StateDoc, SwitchBody } from "../../specs/api/state.js";
import type { HistoryEntry, HistoryQuery } from "../../specs/api/history.js";
import type { Analysis } from "../loop/analysis.js";
import type { Lifecycle } from "../notify/lifecycle.js";
import { revisionOf } from "../../specs/revision.js";
import type { AbortAnalysisResult } from "../../specs/api/state.js";

export interface StateApiOptions {
  source: DesiredSource;
  repo: StateRepo;
  controller: Controller;
  /** Where tags come from (the registry, or release dirs for the process runtime); null when nowhere. */
  registry: () => TagSource | null;
  /** Automatic rollback: its marks on tags and the running window. */
  analysis?: Analysis;
  /** Lifecycle notifications learn who made each change. */
  lifecycle?: Lifecycle;
}

/** The registry client, or the release dirs of the process runtime. */
export interface TagSource {
  tags(): Promise<TagInfo[]>;
  /** Why a deploy of an unknown tag is refused (default: not in the registry). */
  notFound?(tag: string, known: readonly TagInfo[]): string;
  /** The manifest digest a tag points at now (registries only). */
  digestOf?(tag: string): Promise<string>;
}

export function registerStateRoutes(app: FastifyInstance, o: StateApiOptions): void {
  /** The desired state: its text (comments and all), revision and parsed form. */
  declareRoute(app, "GET /api/v1/state", async () => current(o));

  /** Replace state.yaml. Needs If-Match: <revision>. */
  declareRoute(app, "PUT /api/v1/state", async (req) => {
    const body = req.body as PutStateBody;
    const cur = current(o);
    const next = parseState(body.text);
    const message = body.message?.trim() || describeChange(cur.state, next);
    return commit(o, req, req.principal!, body.text, message);
  });

  /** Tags that exist in the registry, newest first (with services of their own image: in every repository they run). */
  declareRoute(app, "GET /api/v1/tags", async () => {
    const reg = o.registry();
    if (!reg) throw reconError("RECON_ERR_UNAVAILABLE", "cluster.yaml names no registry (spec.image.registry.url), so tags cannot be listed");
    return { tags: await reg.tags() };
  });

  /** The git log of state.yaml, each commit with its diff. */
  declareRoute(app, "GET /api/v1/history", async (req) => {
    const q = req.query as HistoryQuery;
    const limit = q.limit !== undefined ? Number(q.limit) : 50;
    const { enabled, warning } = await o.repo.init();
    const entries: HistoryEntry[] = enabled ? await o.repo.history({ limit }) : [];
    return { enabled, ...(warning ? { warning } : {}), entries };
  });

  declareRoute(app, "POST /api/v1/actions/deploy", async (req) => {
    const body = req.body as DeployBody;
    const cur = current(o);
    const active = cur.state.spec.active;
    const color = body.color ?? otherColor(active);
    const tag = body.tag;
    if (color === active) throw reconError("RECON_ERR_INVALID_STATE", `${color} is live; deploy ${tag} to ${otherColor(color)} and promote it instead`);
    const reg = o.registry();
    if (reg) {
      const known = await reg.tags();
      if (!known.some((t) => t.tag === tag)) throw reconError("RECON_ERR_INVALID_STATE", reg.notFound?.(tag, known) ?? `tag ${tag} is not in the registry; push it first or pick one of ${known.slice(0, 5).map((t) => t.tag).join(", ")}`);
    }
    const text = edit(cur.text, (doc) => {
      doc.setIn(["spec", "colors", color, "tag"], tag);
      // A digest pinned the old tag's content; the new tag is pinned to what it is at this deploy.
      for (const key of ["stopped", "digest"]) if (doc.hasIn(["spec", "colors", color, key])) doc.deleteIn(["spec", "colors", color, key]);
    });
    return act(o, req, body, cur, text, `deploy ${tag} to ${color}`);
  });

  /** Roll out what a colour's tag points at now (after it was pushed again): pins the new digest in state.yaml. */
  declareRoute(app, "POST /api/v1/actions/redeploy", async (req) => {
    const body = req.body as ColorBody;
    const cur = current(o);
    const { color } = body;
    const want = cur.state.spec.colors[color];
    if (color === cur.state.spec.active) throw reconError("RECON_ERR_INVALID_STATE", `${color} is live; redeploy ${otherColor(color)} instead, or deploy ${want.tag ?? "the tag"} to ${otherColor(color)} and promote it`);
    if (want.tag === undefined || want.stopped) throw reconError("RECON_ERR_INVALID_STATE", `${color} ${want.stopped ? "is stopped" : "has no tag"}; deploy a tag to it instead`);
    const reg = o.registry();
    if (!reg?.digestOf) throw reconError("RECON_ERR_UNAVAILABLE", "a redeploy asks the registry what the tag points at now, and cluster.yaml names no registry (spec.image.registry.url)");
    const digest = await reg.digestOf(want.tag);
    const runs = o.controller.status().colors?.[color].digest ?? null;
    if (digest === want.digest || (want.digest === undefined && digest === runs)) {
      throw reconError("RECON_ERR_INVALID_STATE", `${color} already runs what ${want.tag} points at (${digest.slice(0, 19)}); nothing to redeploy`);
    }
    const text = edit(cur.text, (doc) => doc.setIn(["spec", "colors", color, "digest"], digest));
    return act(o, req, body, cur, text, `redeploy ${color} (${want.tag} is now ${digest.slice(0, 19)})`);
  });

  declareRoute(app, "POST /api/v1/actions/promote", async (req) => switchActive(o, req, "promote"));
  declareRoute(app, "POST /api/v1/actions/rollback", async (req) => switchActive(o, req, "rollback"));

  declareRoute(app, "POST /api/v1/actions/jobs", async (req) => {
    const body = req.body as JobsBody;
    const owner = body.owner;
    const cur = current(o);
    const text = edit(cur.text, (doc) => doc.setIn(["spec", "jobs", "owner"], owner));
    return act(o, req, body, cur, text, owner === "none" ? "stop all jobs" : `move jobs to ${owner}`);
  });

  /** Maintenance: stop a colour that is not live (its containers stop; its tag is kept for the start). */
  declareRoute(app, "POST /api/v1/actions/stop", async (req) => {
    const body = req.body as ColorBody;
    const cur = current(o);
    const { color } = body;
    if (color === cur.state.spec.active) throw reconError("RECON_ERR_INVALID_STATE", `${color} is live; promote ${otherColor(color)} first, then stop ${color}`);
    if (cur.state.spec.colors[color].stopped) throw reconError("RECON_ERR_INVALID_STATE", `${color} is already stopped`);
    const text = edit(cur.text, (doc) => doc.setIn(["spec", "colors", color, "stopped"], true));
    return act(o, req, body, cur, text, `stop ${color} for maintenance`);
  });

  declareRoute(app, "POST /api/v1/actions/start", async (req) => {
    const body = req.body as ColorBody;
    const cur = current(o);
    const { color } = body;
    const want = cur.state.spec.colors[color];
    if (!want.stopped) throw reconError("RECON_ERR_INVALID_STATE", `${color} is not stopped`);
    if (!want.tag) throw reconError("RECON_ERR_INVALID_STATE", `${color} has no tag to start with; deploy one to it instead`);
    const text = edit(cur.text, (doc) => doc.deleteIn(["spec", "colors", color, "stopped"]));
    return act(o, req, body, cur, text, `start ${color} (${want.tag})`);
  });

  /** Rotation: the colour's workloads are re-created and read their secret files again. Not a state change. */
  declareRoute(app, "POST /api/v1/actions/restart", async (req): Promise<RestartResult> => {
    const { color } = req.body as RestartBody;
    const r = await o.controller.restart(color, req.principal!.name);
    return { ...r, message: `restart ${color}: its workloads are re-created with the secrets on its nodes now; promote it once it is ready` };
  });

  /** A pre-promotion task's next attempt for a colour that is not live. Not a state change. */
  declareRoute(app, "POST /api/v1/actions/retry-task", async (req): Promise<RetryTaskResult> => {
    const { color, task } = req.body as RetryTaskBody;
    const r = await o.controller.retryTask(color, task, req.principal!.name);
    return { ...r, message: `task ${task} runs again for ${color} (${r.tag}), attempt ${r.attempt}; ${color} takes live traffic once every task succeeded` };
  });

  /** Stop the analysis after a switch: no automatic rollback for it. Not a state change. */
  declareRoute(app, "POST /api/v1/actions/abort-analysis", async (req): Promise<AbortAnalysisResult> => {
    const w = o.analysis?.abort(req.principal!.name);
    if (!w) throw reconError("RECON_ERR_INVALID_STATE", "no analysis is running: it starts when the routers switch to a new live colour and cluster.yaml has a rollback section");
    req.log.info({ user: req.principal!.name, color: w.color, tag: w.tag }, "analysis aborted");
    return { color: w.color, tag: w.tag, message: `analysis of ${w.color} (${w.tag}) aborted: it stays live, and Switchyard will not roll it back automatically` };
  });

  /** Roll back to a revision from history: a new commit that restores it. */
  declareRoute(app, "POST /api/v1/actions/restore", async (req) => {
    const body = req.body as RestoreBody;
    const cur = current(o);
    const old = await o.repo.textAt(body.commit);
    return act(o, req, body, cur, old.text, old.message);
  });
}

async function switchActive(o: StateApiOptions, req: FastifyRequest, intent: "promote" | "rollback") {
  const body = req.body as SwitchBody;
  const cur = current(o);
  const target = otherColor(cur.state.spec.active);
  const phase = o.controller.status().colors?.[target].phase;
  if (cur.state.spec.colors[target].stopped) throw reconError("RECON_ERR_INVALID_STATE", `${target} is stopped; deploy a tag to it first`);
  if (phase !== "Ready") {
    throw reconError("RECON_ERR_INVALID_STATE", `${target} is not ready (${phase ?? "unknown"}); it can take traffic once every node runs its tag healthy`);
  }
  const text = edit(cur.text, (doc) => doc.setIn(["spec", "active"], target));
  const tag = cur.state.spec.colors[target].tag ?? "";
  const mark = o.analysis?.marked(tag);
  if (mark && body.confirm !== true && body.dryRun !== true) {
    throw reconError("RECON_ERR_CONFIRM_REQUIRED", `${tag} was rolled back automatically at ${mark.at} (${mark.reason}); to make it live again anyway, send confirm: true (CLI: --yes)`, { tag, rolledBackAt: mark.at, reason: mark.reason });
  }
  const r = await act(o, req, body, cur, text, intent === "promote" ? `promote ${target} (${tag})` : `roll back to ${target} (${tag})`, intent);
  if (mark && "commit" in r) o.analysis?.unmark(tag);
  return r;
}

/** dryRun → the exact diff and message; otherwise the commit. */
async function act(o: StateApiOptions, req: FastifyRequest, body: SwitchBody, cur: Current, text: string, message: string, intent?: "promote" | "rollback"): Promise<DryRun | Committed> {
  parseState(text); // refuse before showing a diff that could never be committed
  if (body.dryRun === true) {
    return { message, diff: await o.repo.diffFor(text), revision: cur.revision };
  }
  return commit(o, req, req.principal!, text, message, intent);
}

async function commit(o: StateApiOptions, req: FastifyRequest, who: Principal, text: string, message: string, intent?: "promote" | "rollback"): Promise<Committed> {
  const expected = req.headers["if-match"];
  if (typeof expected !== "string" || !/^"?[0-9a-f]{12}"?$/.test(expected)) {
    throw reconError("RECON_ERR_BAD_REQUEST", "send If-Match: <revision> (from GET /api/v1/state) so that nobody's change is overwritten");
  }
  const author: Author = { name: who.name, email: `${who.name}@switchyard.local` };
  o.lifecycle?.note(revisionOf(text), { by: who.name, ...(intent ? { intent } : {}) });
  const r = await o.repo.commitState({ text, author, message, expectedRevision: expected.replace(/"/g, "") });
  await o.source.reload();
  req.log.info({ user: who.name, message, revision: r.revision, commit: r.commit }, "state changed");
  return { message, revision: r.revision, commit: r.commit };
}

interface Current {
  text: string;
  revision: string;
  state: State;
}

function current(o: StateApiOptions): Current & StateDoc {
  const snap = o.source.get();
  if (!snap) throw reconError("RECON_ERR_UNAVAILABLE", "the desired state is not loaded yet");
  return { text: snap.dir.state.text, revision: snap.stateRevision, state: snap.desired.state };
}

function parseState(text: string): State {
  if (text.length > 256 * 1024) throw reconError("RECON_ERR_PAYLOAD_TOO_LARGE", "state.yaml may be at most 256 KiB");
  const r = parseSpec("state.yaml", text, { expectKind: "State", checkFiles: false });
  if (!r.ok) throw reconError("RECON_ERR_INVALID_STATE", r.issues.map(formatIssue).join("; "), r.issues);
  return r.spec.value as State;
}

function edit(text: string, change: (doc: ReturnType<typeof parseDocument>) => void): string {
  const doc = parseDocument(text);
  change(doc);
  return doc.toString();
}
