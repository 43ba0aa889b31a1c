/**
 * The reconciler's HTTP API as the dashboard uses it (contract: design.md, issue 7). The session
 * cookie is HttpOnly and travels by itself; every mutating request carries the CSRF token that
 * login/me handed out. Errors come back as ApiError with the server's RECON_ERR_… code.
 */
import type { ClusterStatus } from "../../../specs/api/status.js";
import type { HistoryEntry, HistoryPage } from "../../../specs/api/history.js";
import type { TagInfo, Tags as Tags200 } from "../../../specs/api/tags.js";
import type { Alert, Alerts } from "../../../specs/api/alerts.js";
import type { Role, UserEntry, Users, RemovedUser, Revoked, SetRoleResult } from "../../../specs/api/users.js";
import type { Session, SessionUser } from "../../../specs/api/auth.js";
import type { Committed, DryRun, JobsOwner, RetryTaskResult, StateDoc } from "../../../specs/api/state.js";
import type { State } from "../../../specs/state.js";
import type { Color } from "../../../specs/types.js";
import type { ApiLogRecord } from "../../../specs/logs.js";

export type { ClusterStatus, HistoryEntry, HistoryPage, TagInfo, Alert, Role, State, Color, UserEntry, Session, SessionUser, StateDoc, Committed, DryRun, JobsOwner };

export const API = "/api/v1";

/** The tag picker's source: never an empty list that looks real when the registry failed. */
export type Tags = { status: "loading" } | { status: "ok"; tags: TagInfo[] } | { status: "error"; message: string };

/** What each action button sends (besides dryRun). */
export type ActionRequest =
  | { kind: "deploy"; tag: string; color?: Color }
  | { kind: "promote"; confirm?: boolean }
  | { kind: "rollback"; confirm?: boolean }
  | { kind: "jobs"; owner: JobsOwner }
  | { kind: "restore"; commit: string }
  | { kind: "stop"; color: Color }
  | { kind: "start"; color: Color };

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    /** Seconds, from a 429's retry-after header. */
    readonly retryAfter: number | null = null,
  ) {
    super(message);
  }
}

let csrf = "";
let onUnauthorized: () => void = () => {};

/** Called when any request other than login/me answers 401: the session is gone. */
export function whenUnauthorized(fn: () => void): void {
  onUnauthorized = fn;
}

export async function me(): Promise<Session | null> {
  try {
    const s = await request<Session>("GET", "/auth/me", undefined, {}, false);
    csrf = s.csrf;
    return s;
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) return null;
    throw e;
  }
}

export async function login(username: string, password: string): Promise<Session> {
  const s = await request<Session>("POST", "/auth/login", { username, password }, {}, false);
  csrf = s.csrf;
  return s;
}

export async function logout(): Promise<void> {
  try {
    await request<void>("POST", "/auth/logout", undefined, {}, false);
  } finally {
    csrf = "";
  }
}

export const getStatus = () => request<ClusterStatus>("GET", "/status");
export const getState = () => request<StateDoc>("GET", "/state");
export const getTags = () => request<Tags200>("GET", "/tags");
export const getHistory = (limit = 50) => request<HistoryPage>("GET", `/history?limit=${limit}`);
export const getAlerts = () => request<Alerts>("GET", "/alerts");

/** Admins only: users with their role and API tokens (ids and dates, never a secret). */
/** Re-creates an idle colour's workloads so they read their secret files again (no commit). */
export const retryTask = (color: Color, task: string) => request<RetryTaskResult>("POST", "/actions/retry-task", { color, task });
export const restartColor = (color: Color) => request<{ color: Color; restartToken: number; message: string }>("POST", "/actions/restart", { color });
export const getUsers = () => request<Users>("GET", "/users");
export const setUserRole = (name: string, role: Role) => request<SetRoleResult>("PUT", `/users/${encodeURIComponent(name)}/role`, { role });
export const removeUser = (name: string) => request<RemovedUser>("DELETE", `/users/${encodeURIComponent(name)}`);
export const revokeToken = (name: string, id: string) => request<Revoked>("DELETE", `/users/${encodeURIComponent(name)}/tokens/${encodeURIComponent(id)}`);

/**
 * GET /logs: one service's log records on one node, the last `tail` lines then (with follow) live ones,
 * each passed to `onrecord` as it arrives. Resolves when the stream ends; `signal` stops it.
 */
export async function followLogs(node: string, service: string, tail: number, follow: boolean, onrecord: (r: ApiLogRecord) => void, signal: AbortSignal): Promise<void> {
  const q = new URLSearchParams({ node, service, tail: String(tail), ...(follow ? { follow: "true" } : {}) });
  const res = await fetch(`${API}/logs?${q}`, { headers: { accept: "application/x-ndjson" }, credentials: "same-origin", cache: "no-store", signal });
  if (!res.ok || !res.body) {
    const err = ((await res.json().catch(() => null)) as { error?: { code?: string; message?: string } } | null)?.error;
    if (res.status === 401) onUnauthorized();
    throw new ApiError(res.status, err?.code ?? `HTTP_${res.status}`, err?.message ?? `${res.status} ${res.statusText}`);
  }
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let buf = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buf += value;
    let i: number;
    while ((i = buf.indexOf("\n")) >= 0) {
      const text = buf.slice(0, i);
      buf = buf.slice(i + 1);
      if (text) onrecord(JSON.parse(text) as ApiLogRecord);
    }
  }
}

/** Stops the analysis after a switch (no automatic rollback for it); answers the API's message. */
export function abortAnalysis(): Promise<{ message: string }> {
  return request("POST", "/actions/abort-analysis");
}

export function runAction(a: ActionRequest, revision: string, dryRun: true): Promise<DryRun>;
export function runAction(a: ActionRequest, revision: string, dryRun: false): Promise<Committed>;
export function runAction(a: ActionRequest, revision: string, dryRun: boolean): Promise<DryRun | Committed> {
  const { kind, ...body } = a;
  return request("POST", `/actions/${kind}`, { ...body, dryRun }, { "if-match": revision });
}

async function request<T>(method: "GET" | "POST" | "PUT" | "DELETE", path: string, body?: unknown, headers: Record<string, string> = {}, signalUnauthorized = true): Promise<T> {
  const h: Record<string, string> = { accept: "application/json", ...headers };
  if (body !== undefined) h["content-type"] = "application/json";
  if (method !== "GET" && csrf) h["x-csrf-token"] = csrf;
  let res: Response;
  try {
    res = await fetch(API + path, { method, headers: h, body: body === undefined ? null : JSON.stringify(body), credentials: "same-origin", cache: "no-store" });
  } catch {
    throw new ApiError(0, "NETWORK", "The reconciler did not answer. Check that it is running and reachable, then try again.");
  }
  if (res.status === 204) return undefined as T;
  const data: unknown = await res.json().catch(() => null);
  if (res.ok) return data as T;
  const err = (data as { error?: { code?: string; message?: string } } | null)?.error;
  const retry = Number(res.headers.get("retry-after"));
  if (res.status === 401 && signalUnauthorized) onUnauthorized();
  throw new ApiError(res.status, err?.code ?? `HTTP_${res.status}`, err?.message ?? `${res.status} ${res.statusText}`, Number.isFinite(retry) && retry > 0 ? retry : null);
}
