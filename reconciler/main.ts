/**
 * Starting the reconciler: the locks, its memory, the desired-state watcher, the alert sinks and event
 * log, the loop, and the API.
 */
import { AcmeManager } from "./acme/manager.js";
import { isLoopbackAddress } from "../common/values.js";
import { readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import type { FastifyInstance } from "fastify";
import { makeLogger, type Logger } from "../common/log.js";
import { DEFAULT_RECONCILER_LISTEN } from "../specs/defaults.js";
import { lockReconciler } from "./lock.js";
import { loadSecretsKey } from "./loop/secrets-key.js";
import { Memory } from "./loop/memory.js";
import { DesiredSource, type DesiredSnapshot } from "./loop/desired-source.js";
import { Controller } from "./loop/controller.js";
import { AlertManager } from "./notify/alerts.js";
import { EventLog } from "./notify/events.js";
import { WebhookSink } from "./notify/webhooks.js";
import { buildApi } from "./api/server.js";
import { formatIssue, summarizeIssues } from "../specs/source.js";
import { splitListen } from "../common/values.js";
import { Users } from "./auth/users.js";
import { LoginLimiter, Sessions } from "./auth/sessions.js";
import { StateRepo } from "./history/state-repo.js";
import { historyConditions, reportNotRecorded, reportPush } from "./history/report.js";
import { RegistryClient } from "./tags/registry.js";
import { ImageTags } from "./tags/images.js";
import { clusterRepositories } from "../specs/images.js";
import { ReleaseDirTags } from "./tags/releases.js";
import { dashboardRoot } from "./api/static.js";
import { Analysis } from "./loop/analysis.js";
import { SWITCHYARD_AUTHOR } from "./history/state-repo.js";
import { parseDocument } from "yaml";
import { Lifecycle } from "./notify/lifecycle.js";
import { revisionOf } from "../specs/revision.js";

export interface ReconcilerOptions {
  dir: string;
  dataDir: string;
  listen?: string;
  logger?: Logger;
  /** Allow a listen address other than loopback (put a TLS-terminating proxy in front). */
  allowPublic?: boolean;
  /** The address people use for the dashboard and API (through the proxy); https makes the session cookie Secure. */
  publicUrl?: string;
  /** Push every state commit to this git remote. */
  gitRemote?: string;
  /** Folder of the built dashboard (default: dist/dashboard of this package). */
  dashboardRoot?: string | null;
  /** For agents on the process runtime: tags are the release directories here, not a registry's. */
  releasesDir?: string;
  /** Called on the API server before its routes are declared (tests check answers against the contract). */
  apiSetup?: (app: FastifyInstance) => void;
}

export interface RunningReconciler {
  url: string;
  controller: Controller;
  memory: Memory;
  source: DesiredSource;
  alerts: AlertManager;
  events: EventLog;
  server: FastifyInstance;
  close(): Promise<void>;
}

export async function startReconciler(o: ReconcilerOptions): Promise<RunningReconciler> {
  const logger = o.logger ?? makeLogger("switchyard-reconciler");
  const listen = o.listen ?? DEFAULT_RECONCILER_LISTEN;
  const [host, port] = splitListen(listen);
  if (!o.allowPublic && !isLoopbackAddress(host)) {
    throw new Error(`--listen ${listen} is not a loopback address; put a reverse proxy with TLS in front and pass --public to confirm`);
  }
  const secureCookie = o.publicUrl !== undefined && publicUrlIsHttps(o.publicUrl);
  const lock = lockReconciler(o.dir, o.dataDir);
  const cleanups: (() => Promise<void> | void)[] = [() => lock.release()];
  try {
    const memory = new Memory(o.dataDir);
    await memory.load();
    const secretsKey = await loadSecretsKey(o.dataDir);
    const events = new EventLog({ dir: join(o.dataDir, "events"), logger });
    await events.open();
    cleanups.unshift(() => events.close());
    let controller: Controller | undefined;
    let acme: AcmeManager | undefined;
    let alerts: AlertManager | undefined;
    let webhooks: WebhookSinks | undefined;
    const lifecycle = new Lifecycle({ logger, emit: (e) => webhooks?.notify(e) });
    const hasJobs = (s: DesiredSnapshot) => Object.values(s.desired.cluster.spec.services).some((x) => x.job === true);
    // History first: the watcher acts on a state.yaml only once it is a commit (a hand edit is recorded).
    const repo = new StateRepo({
      dir: o.dir,
      logger,
      ...(o.gitRemote ? { remote: o.gitRemote } : {}),
      sign: () => source.get()?.desired.cluster.spec.history.signCommits === true,
      onPush: (r) => {
        reportPush(alerts, r);
        controller?.queue();
      },
    });
    const git = await repo.init();
    const source: DesiredSource = new DesiredSource({
      dir: o.dir,
      logger,
      record: (text) => repo.recordIfUncommitted(text),
      onRecording: () => controller?.queue(),
      onNotRecorded: (problem) => {
        reportNotRecorded(alerts, problem);
        controller?.queue();
      },
      onChange: (s) => {
        webhooks?.sync(s);
        lifecycle.onDesired(s.desired.state, s.stateRevision, hasJobs(s));
        events.append({ type: "spec", message: `desired state ${s.revision}: active ${s.desired.state.spec.active}, blue ${s.desired.state.spec.colors.blue.tag ?? "stopped"}, green ${s.desired.state.spec.colors.green.tag ?? "stopped"}, jobs ${s.desired.state.spec.jobs.owner}`, revision: s.revision });
        controller?.queue();
        acme?.queue();
      },
      onInvalid: (issues) => {
        if (issues.length === 0) {
          alerts?.clear("SpecInvalid");
          events.append({ type: "spec", message: "desired state valid again" });
        } else {
          alerts?.raise({ fingerprint: "SpecInvalid", name: "SpecInvalid", severity: "critical", summary: `${summarizeIssues(issues.map(formatIssue))} — the last valid desired state stays in force`, labels: {} });
          events.append({ type: "spec", message: `desired state invalid: ${summarizeIssues(issues.map(formatIssue))}`, issues: issues.length });
        }
        controller?.queue();
      },
    });
    await source.start();
    cleanups.unshift(() => source.close());
    const snap = source.get()!;
    lifecycle.onDesired(snap.desired.state, snap.stateRevision, hasJobs(snap));
    alerts = new AlertManager({ sinks: [], logger, events });
    webhooks = new WebhookSinks(alerts, logger);
    webhooks.sync(snap, true);
    alerts.restore(firingBeforeRestart(events));
    cleanups.unshift(() => alerts!.close());
    let registry: RegistryClient | ImageTags | null = null;
    let registryKey = "";
    const releases = o.releasesDir ? new ReleaseDirTags(resolve(o.releasesDir)) : null;
    const registryFor = () => {
      if (releases) return releases;
      const c = source.get()!.desired.cluster;
      const reg = c.spec.image.registry;
      if (!reg) return null;
      // Read each time: a new password in the file applies at the next tag listing, like the rest of cluster.yaml.
      const password = reg.passwordFile ? readFileSync(resolve(dirname(resolve(snap.dir.cluster.file)), reg.passwordFile), "utf8").trim() : undefined;
      const repositories = clusterRepositories(c);
      const key = JSON.stringify([reg, c.spec.image.repository, repositories, password ?? null]);
      if (key !== registryKey) {
        const opts = { url: reg.url, logger, ...(reg.username ? { username: reg.username } : {}), ...(password ? { password } : {}) };
        // One repository: its own client (spec.image.repository's, as before); several: the tags all of them have.
        registry = repositories.length === 1 && repositories[0] === c.spec.image.repository
          ? new RegistryClient({ ...opts, repository: c.spec.image.repository })
          : new ImageTags(repositories, opts);
        registryKey = key;
      }
      return registry;
    };
    const analysis = new Analysis({
      dataDir: o.dataDir, logger, events, alerts,
      routers: () => controller?.routerClients() ?? [],
      onChange: () => controller?.queue(),
      // Switchyard's own decision is a commit like any other (rule 11), on the revision it judged.
      switchBack: async (color, message) => {
        const cur = source.get()!;
        const doc = parseDocument(cur.dir.state.text);
        doc.setIn(["spec", "active"], color);
        const text = doc.toString();
        lifecycle.note(revisionOf(text), { by: SWITCHYARD_AUTHOR.name, intent: "rollback", reason: message });
        await repo.commitState({ text, author: SWITCHYARD_AUTHOR, message, expectedRevision: cur.stateRevision });
        await source.reload();
      },
    });
    await analysis.load();
    cleanups.unshift(() => analysis.close());
    controller = new Controller({
      source, memory, alerts, events, logger, secretsKey, analysis, lifecycle,
      digestOf: () => {
        let r: ReturnType<typeof registryFor> = null;
        try {
          r = registryFor();
        } catch {
          return null; // an unreadable password file: the tag list says so; pins then come from the nodes
        }
        if (r instanceof ImageTags) return (tag, repository) => r.digestOf(tag, repository);
        return r instanceof RegistryClient ? (tag) => r.digestOf(tag) : null;
      },
      acme: () => acme?.status() ?? null,
      history: () => historyConditions({ enabled: git.enabled, remote: !!o.gitRemote, notRecorded: source.notRecordedProblem(), recording: source.recordingHandEdit(), push: repo.pushProblem() }),
    });
    reportNotRecorded(alerts, source.notRecordedProblem());
    if (o.gitRemote && git.enabled) {
      reportPush(alerts, { ok: true, remote: "" }); // a failure from before a restart is checked again by this push
      repo.pushNow();
    }
    cleanups.unshift(() => controller!.close());
    controller.onStatus((st) => lifecycle.onStatus(st));
    controller.start();
    const ctl = controller;
    acme = new AcmeManager({
      dir: join(o.dataDir, "acme"),
      cluster: () => {
        const s = source.get();
        return s ? { cluster: s.desired.cluster, file: s.dir.cluster.file } : null;
      },
      routers: () => ctl.routerClients(),
      logger: logger.child({ component: "acme" }),
      onChange: () => ctl.queue(),
    });
    acme.start();
    cleanups.unshift(() => acme!.stop());
    const users = new Users({ file: join(o.dataDir, "users.json"), onUnreadable: (message) => logger.error({ file: join(o.dataDir, "users.json") }, message) });
    await users.load();
    if (!git.enabled) logger.warn({ dir: o.dir }, git.warning ?? "the deploy dir is not a git repository: history is off");
    const server = buildApi({
      controller, alerts, events, logger,
      auth: { users, sessions: new Sessions(), limiter: new LoginLimiter(), secureCookie },
      state: { source, repo, registry: registryFor, analysis, lifecycle },
      dashboardRoot: o.dashboardRoot === undefined ? dashboardRoot() : o.dashboardRoot,
      ...(o.apiSetup ? { setup: o.apiSetup } : {}),
    });
    await server.listen({ host, port });
    cleanups.unshift(() => server.close());
    const addr = server.server.address();
    const url = `http://${host.includes(":") ? `[${host}]` : host}:${typeof addr === "object" && addr ? addr.port : port}`;
    logger.info({ url, dir: o.dir, dataDir: o.dataDir }, "reconciler listening");
    let closing: Promise<void> | undefined;
    return {
      url, controller, memory, source, alerts, events, server,
      close: () => (closing ??= runAll(cleanups)),
    };
  } catch (err) {
    await runAll(cleanups);
    throw err;
  }
}

/**
 * The webhook sinks cluster.yaml asks for, kept in step with it: a sink whose URL, format and secret are
 * unchanged keeps its queue; a removed one is closed; a new one starts. A secret file that cannot be
 * read stops the start, and later keeps the previous sinks (with an error in the log).
 */
class WebhookSinks {
  private readonly byKey = new Map<string, WebhookSink>();

  constructor(private readonly alerts: AlertManager, private readonly logger: Logger) {}

  sync(snap: DesiredSnapshot, starting = false): void {
    const d = snap.desired;
    const base = dirname(resolve(snap.dir.cluster.file));
    const wanted = new Map<string, () => WebhookSink>();
    try {
      for (const w of d.cluster.spec.alerts.webhooks) {
        const secret = w.secretFile ? readFileSync(resolve(base, w.secretFile), "utf8").trim() : undefined;
        const events = w.events ?? ["alerts"];
        const key = JSON.stringify([w.url, w.format, secret ?? null, d.cluster.metadata.name, events]);
        wanted.set(key, () => new WebhookSink({ url: w.url, format: w.format, logger: this.logger, cluster: d.cluster.metadata.name, events, ...(secret ? { secret } : {}) }));
      }
    } catch (err) {
      if (starting) throw err;
      this.logger.error({ err: (err as Error).message }, "webhook settings not applied; the previous webhooks stay");
      return;
    }
    for (const [key, sink] of [...this.byKey]) {
      if (wanted.has(key)) continue;
      this.byKey.delete(key);
      void sink.close();
    }
    for (const [key, make] of wanted) if (!this.byKey.has(key)) this.byKey.set(key, make());
    this.alerts.setSinks([...this.byKey.values()]);
  }

  /** A lifecycle event to every sink (each keeps the types it subscribed to). */
  notify(e: import("../specs/lifecycle.js").LifecycleEvent): void {
    for (const sink of this.byKey.values()) sink.sendEvent(e);
  }
}

/** Alerts whose last recorded transition was "firing" (the files are valid now, so SpecInvalid is over). */
function firingBeforeRestart(events: EventLog): import("./notify/alerts.js").Alert[] {
  const last = new Map<string, import("./notify/alerts.js").Alert>();
  for (const r of events.recent({ type: "alert", limit: 1000 })) {
    const a = r as unknown as import("./notify/alerts.js").Alert & { alert: string };
    if (typeof a.fingerprint !== "string") continue;
    last.set(a.fingerprint, { fingerprint: a.fingerprint, name: a.alert, severity: a.severity, summary: a.summary, labels: a.labels ?? {}, state: a.state, startsAt: a.startsAt, endsAt: a.endsAt ?? null });
  }
  return [...last.values()].filter((a) => a.state === "firing" && a.fingerprint !== "SpecInvalid");
}

async function runAll(fns: (() => Promise<void> | void)[]): Promise<void> {
  for (const f of fns) {
    try {
      await f();
    } catch {
      /* keep closing the rest */
    }
  }
}

/** True for an https URL, false for http; anything else is refused. */
function publicUrlIsHttps(url: string): boolean {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new Error(`--public-url ${JSON.stringify(url.slice(0, 200))} is not a URL; give the address people use, like https://deploy.example.com`);
  }
  if (u.protocol !== "https:" && u.protocol !== "http:") throw new Error(`--public-url must be an http or https URL, not ${u.protocol}`);
  return u.protocol === "https:";
}


