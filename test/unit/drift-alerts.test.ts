/**
 * Drift alerts as whole objects (mutation testing, issue 22): the fingerprint that makes one problem fire
 * and resolve once, the labels operators route on, every wording variant, and the cases where nothing
 * fires. drift.test.ts reads names, severities and summaries; this file pins the rest.
 */
import { describe, expect, it } from "vitest";
import { crashLooping, detectDrift, type DriftInput } from "../../reconciler/loop/drift.js";
import { cluster1x1, desired, down, ledger, node, router, world } from "../support/world.js";
import type { NodeObservation } from "../../specs/observed.js";
import type { CertificateInfo, ServiceStatus } from "../../specs/wire.js";

const T = Date.parse("2026-01-01T00:10:00Z");
const DAY = 86_400_000;
const d = desired(cluster1x1());
const steady = (): Record<string, NodeObservation> => ({
  "blue-1": node(d, "blue-1", { tag: "v1", lease: { epoch: 3 } }),
  "green-1": node(d, "green-1", { tag: "v2" }),
  "router-1": router(d, "router-1", { live: "blue" }),
});
const drift = (nodes: Record<string, NodeObservation>, o: Partial<DriftInput> = {}) =>
  detectDrift({ desired: d, observed: world(nodes, ledger({ epoch: 3 })), actions: [], routerLive: "blue", now: T, ...o });
/** A node observation whose status the test may edit. */
function edit(n: NodeObservation, f: (s: Extract<NodeObservation, { reachable: true }>["status"]) => void): NodeObservation {
  if (!n.reachable) throw new Error("the builder made an unreachable node");
  f(n.status);
  return n;
}
const green = (f: Parameters<typeof edit>[1], o: Parameters<typeof node>[2] = { tag: "v2" }) => ({ ...steady(), "green-1": edit(node(d, "green-1", o), f) });
const labels = (n: string, service: string) => ({ node: n, color: n.startsWith("blue") ? "blue" : "green", service });
const restarts = (count: number, nextRestartAt: string | null) => ({ count, lastExit: "exited (3)", exitCode: 3, lastExitAt: "2026-01-01T00:09:50Z", nextRestartAt, logTail: [] });

describe("colour-node alerts: keyed and labelled by node, colour and service", () => {
  it("ContainerDown (with the runtime's error, or without), WrongImage (also with no tag), ContainerDrifted, ExtraContainer", () => {
    expect(drift({ ...steady(), "blue-1": node(d, "blue-1", { tag: "v1", web: "exited", lease: { epoch: 3 } }) })).toEqual([
      { fingerprint: "ContainerDown/blue-1/web", name: "ContainerDown", severity: "critical", summary: "web on blue-1 (blue) is exited: exited with code 1", labels: labels("blue-1", "web") },
    ]);
    expect(drift(green((s) => void (s.services.web!.state = "missing")))).toEqual([
      { fingerprint: "ContainerDown/green-1/web", name: "ContainerDown", severity: "warning", summary: "web on green-1 (green) is missing", labels: labels("green-1", "web") },
    ]);
    expect(drift(green((s) => void delete s.services.web))).toEqual([
      { fingerprint: "ContainerDown/green-1/web", name: "ContainerDown", severity: "warning", summary: "web on green-1 (green) is missing", labels: labels("green-1", "web") },
    ]);
    expect(drift(green((s) => void (s.services.web!.tag = "v1")))).toEqual([
      { fingerprint: "WrongImage/green-1/web", name: "WrongImage", severity: "warning", summary: "web on green-1 runs v1 instead of v2", labels: labels("green-1", "web") },
    ]);
    expect(drift(green((s) => void (s.services.web!.tag = null)))[0]!.summary).toBe("web on green-1 runs an unknown tag instead of v2");
    expect(drift(green((s) => void (s.services.web!.drift = ["mounts /etc:/host-etc"])))).toEqual([
      { fingerprint: "ContainerDrifted/green-1/web", name: "ContainerDrifted", severity: "warning", summary: "web on green-1 (green) is not what the spec asks for: it mounts /etc:/host-etc", labels: labels("green-1", "web") },
    ]);
    const liveDrift = edit(node(d, "blue-1", { tag: "v1", lease: { epoch: 3 } }), (s) => void (s.services.web!.drift = ["a", "b"]));
    expect(drift({ ...steady(), "blue-1": liveDrift }).map((a) => [a.severity, a.summary])).toEqual([["critical", "web on blue-1 (blue) is not what the spec asks for: it a; b"]]);
    const extra: ServiceStatus = { tag: "v2", containerId: "c0ffee", state: "running", health: "unknown", since: "2026-01-01T00:00:00Z", error: null };
    expect(drift(green((s) => void (s.services.cron = extra)))).toEqual([
      { fingerprint: "ExtraContainer/green-1/cron", name: "ExtraContainer", severity: "warning", summary: "green-1 runs cron, which is not a service of this cluster", labels: labels("green-1", "cron") },
    ]);
  });

  it("jobs: JobWithoutLease (running, starting or unhealthy; a revoked lease waits out the job's stop timeout), JobDown", () => {
    const without = { fingerprint: "JobWithoutLease/green-1/worker", name: "JobWithoutLease", severity: "critical", summary: "job worker runs on green-1 without a lease", labels: labels("green-1", "worker") };
    for (const state of ["running", "starting", "unhealthy"] as const) {
      expect(drift(green((s) => void (s.services.worker!.state = state))), state).toEqual([without]);
    }
    // grace 10 s (the default) + the worker's stopTimeoutSeconds 5 in examples/local/cluster.yaml
    expect(drift(green((s) => void (s.services.worker!.state = "running"), { tag: "v2", lease: { epoch: 3, state: "revoked" } }))).toEqual([{ ...without, forMs: 15_000 }]);
    const dead = edit(node(d, "blue-1", { tag: "v1", lease: { epoch: 3 }, worker: "exited" }), (s) => void (s.services.worker!.restarts = restarts(1, null)));
    expect(drift({ ...steady(), "blue-1": dead })).toEqual([
      { fingerprint: "JobDown/blue-1/worker", name: "JobDown", severity: "critical", summary: "job worker on blue-1 (blue) is down: it stopped with exited (3); the agent starts it again now", labels: labels("blue-1", "worker") },
    ]);
    // a job down under the held lease that the agent has no restart record for: nothing to say yet
    expect(drift({ ...steady(), "blue-1": node(d, "blue-1", { tag: "v1", lease: { epoch: 3 }, worker: "exited" }) })).toEqual([]);
    // the same death on a node without the lease: the job is not meant to run there
    expect(drift(green((s) => Object.assign(s.services.worker!, { state: "exited", restarts: restarts(1, null) })))).toEqual([]);
    // a job whose status the agent does not list: nothing to say, nothing thrown
    expect(drift(green((s) => void delete s.services.worker))).toEqual([]);
    expect(drift({ ...steady(), "blue-1": edit(node(d, "blue-1", { tag: "v1", lease: { epoch: 3 } }), (s) => void delete s.services.worker) })).toEqual([]);
  });

  it("CrashLooping: waiting for its backoff, being started, or up but not long enough; critical on the live colour", () => {
    const looping = (state: ServiceStatus["state"], next: string | null, n = "green-1") => {
      const o = node(d, n, n === "blue-1" ? { tag: "v1", lease: { epoch: 3 } } : { tag: "v2" });
      return { ...steady(), [n]: edit(o, (s) => void Object.assign(s.services.web!, { state, since: "2026-01-01T00:09:45Z", restarts: restarts(4, next) })) };
    };
    const alert = (summaryTail: string, n = "green-1", severity = "warning") => ({
      fingerprint: `CrashLooping/${n}/web`, name: "CrashLooping", severity, labels: labels(n, "web"),
      summary: `web on ${n} (${n.startsWith("blue") ? "blue" : "green"}) keeps stopping: 4 times, last exited (3)${summaryTail}. Fix the cause (its last log lines are in status) or deploy another tag`,
    });
    expect(drift(looping("crashLooping", "2026-01-01T00:10:08Z"))).toEqual([alert("; the agent starts it again at 2026-01-01T00:10:08Z")]);
    expect(drift(looping("crashLooping", null))).toEqual([alert("; the agent is starting it again")]);
    expect(drift(looping("running", null))).toEqual([alert("; it runs again since 2026-01-01T00:09:45Z")]);
    expect(drift(looping("running", null, "blue-1"))).toEqual([alert("; it runs again since 2026-01-01T00:09:45Z", "blue-1", "critical")]);
  });

  it("a container-down alert being healed keeps its key and labels; a crash loop being healed is no container-down", () => {
    const healing = (state: ServiceStatus["state"] | null) => green((s) => {
      s.converging = true;
      if (state === null) delete s.services.web;
      else Object.assign(s.services.web!, { state }, state === "crashLooping" ? { restarts: restarts(4, null) } : {});
    });
    const firing = new Set(["ContainerDown/green-1/web", "ContainerDown/green-1/worker"]);
    expect(drift(healing(null), { firing })).toEqual([
      { fingerprint: "ContainerDown/green-1/web", name: "ContainerDown", severity: "warning", summary: "web on green-1 (green) is missing; healing", labels: labels("green-1", "web") },
    ]);
    expect(drift(healing("crashLooping"), { firing }).map((a) => a.name)).toEqual(["CrashLooping"]);
    expect(drift(healing("exited"), { firing: new Set(["ContainerDown/green-1/worker"]) })).toEqual([]);
  });

  it("nothing from a node the observer has no entry for, a stopped colour's crash loop (only ContainerRunning), or a node still on another spec", () => {
    const { "green-1": _gone, ...rest } = steady();
    expect(drift(rest)).toEqual([]);
    const dd = desired(cluster1x1(), { active: "green", blue: null, owner: "green" });
    const stopped = edit(node(dd, "blue-1", { tag: null, web: { tag: "v1" } }), (s) => void Object.assign(s.services.web!, { restarts: restarts(4, null), since: "2026-01-01T00:09:55Z" }));
    const o = world({ "blue-1": stopped, "green-1": node(dd, "green-1", { tag: "v2", lease: { epoch: 4 } }), "router-1": router(dd, "router-1", { live: "green" }) }, ledger({ epoch: 4 }));
    expect(detectDrift({ desired: dd, observed: o, actions: [], routerLive: "green", now: T }).map((a) => a.name)).toEqual(["ContainerRunning"]);
    // green-1 still reports the spec of v1 (a deploy of v2 in flight): its crash loop and a firing container-down are not judged yet
    const old = edit(node(d, "green-1", { tag: "v1" }), (s) => {
      s.converging = true;
      Object.assign(s.services.web!, { state: "crashLooping", restarts: restarts(4, null) });
    });
    expect(drift({ ...steady(), "green-1": old }, { firing: new Set(["ContainerDown/green-1/web"]) })).toEqual([]);
    const oldDown = edit(node(d, "green-1", { tag: "v1", web: "exited", converging: true }), () => undefined);
    expect(drift({ ...steady(), "green-1": oldDown }, { firing: new Set(["ContainerDown/green-1/web"]) })).toEqual([]);
  });
});

describe("router alerts", () => {
  it("an unreachable router and one that points elsewhere, labelled by node (and the colour it serves)", () => {
    expect(drift({ ...steady(), "router-1": down("timeout") })).toEqual([
      { fingerprint: "NodeUnreachable/router-1", name: "NodeUnreachable", severity: "critical", summary: "router router-1 is unreachable: timeout", labels: { node: "router-1" } },
    ]);
    expect(drift({ ...steady(), "router-1": router(d, "router-1", { live: "green" }) })).toEqual([
      { fingerprint: "RouterElsewhere/router-1", name: "RouterElsewhere", severity: "critical", summary: "router router-1 sends live traffic to green, but Switchyard last set blue", labels: { node: "router-1", color: "green" } },
    ]);
    const { "router-1": _r, ...noRouter } = steady();
    expect(drift(noRouter)).toEqual([]);
    expect(drift({ ...steady(), "router-1": edit(router(d, "router-1", { live: "blue" }), (s) => void delete s.router) })).toEqual([]);
  });

  const withCerts = (certs: CertificateInfo[]) => ({ ...steady(), "router-1": edit(structuredClone(router(d, "router-1", { live: "blue" })), (s) => void (s.router!.tls = { listen: "127.0.0.1:8443", certificates: certs })) });
  const cert = (left: number, o: Partial<CertificateInfo> = {}): CertificateInfo =>
    ({ source: "acme", hosts: ["shop.example.com"], issuer: "R3", notBefore: new Date(T - 60 * DAY).toISOString(), notAfter: new Date(T + left).toISOString(), error: null, ...o });

  it("certificates: keyed by router and host (or file), expiring from 14 days, critical under 3, never negative days", () => {
    const expiring = (left: number, severity: string, days: number) => ({
      fingerprint: "CertificateExpiring/router-1/shop.example.com", name: "CertificateExpiring", severity, labels: { node: "router-1", host: "shop.example.com" },
      summary: `the certificate for shop.example.com on router router-1 expires ${new Date(T + left).toISOString()} (${days} days left)`,
    });
    expect(drift(withCerts([cert(14 * DAY)]))).toEqual([]);
    expect(drift(withCerts([cert(14 * DAY - 1)]))).toEqual([expiring(14 * DAY - 1, "warning", 13)]);
    expect(drift(withCerts([cert(3 * DAY)]))).toEqual([expiring(3 * DAY, "warning", 3)]);
    expect(drift(withCerts([cert(3 * DAY - 1)]))).toEqual([expiring(3 * DAY - 1, "critical", 2)]);
    expect(drift(withCerts([cert(-DAY - 1)]))).toEqual([expiring(-DAY - 1, "critical", 0)]);
    expect(drift(withCerts([cert(DAY, { hosts: ["a.example.com", "b.example.com"] })]))[0]!.summary).toMatch(/^the certificate for a\.example\.com, b\.example\.com on router router-1/);
    expect(drift(withCerts([cert(60 * DAY, { error: "/etc/x.crt: ENOENT" })]))).toEqual([
      { fingerprint: "CertificateNotLoaded/router-1/shop.example.com", name: "CertificateNotLoaded", severity: "warning", labels: { node: "router-1", host: "shop.example.com" },
        summary: "router router-1 could not load a certificate (/etc/x.crt: ENOENT); it serves the one loaded before, if any" },
    ]);
    // no host: named by its file, or "?"; and no expiry alert for a certificate that names no host
    expect(drift(withCerts([cert(-DAY, { hosts: [], certFile: "/etc/x.crt", error: "bad" })])).map((a) => [a.fingerprint, a.labels.host])).toEqual([["CertificateNotLoaded/router-1//etc/x.crt", "/etc/x.crt"]]);
    expect(drift(withCerts([cert(-DAY, { hosts: [], error: "bad" })])).map((a) => a.fingerprint)).toEqual(["CertificateNotLoaded/router-1/?"]);
  });

  it("a failed ACME renewal: keyed by its first host (or 'acme'), the last error or 'unknown'", () => {
    expect(drift(steady(), { acme: { hosts: ["shop.example.com", "www.example.com"], failures: 2, lastError: "rateLimited" } })).toEqual([
      { fingerprint: "CertificateRenewalFailed/shop.example.com", name: "CertificateRenewalFailed", severity: "warning", labels: { host: "shop.example.com" },
        summary: "ordering the ACME certificate for shop.example.com, www.example.com failed 2 time(s): rateLimited; the current certificate stays served, retrying with backoff" },
    ]);
    expect(drift(steady(), { acme: { hosts: [], failures: 1, lastError: null } })).toEqual([
      { fingerprint: "CertificateRenewalFailed/acme", name: "CertificateRenewalFailed", severity: "warning", labels: { host: "" },
        summary: "ordering the ACME certificate for  failed 1 time(s): unknown; the current certificate stays served, retrying with backoff" },
    ]);
  });
});

describe("refusals and crashLooping()", () => {
  it("a refusal is keyed by its colour (or 'all') and labelled with it", () => {
    expect(drift(steady(), { actions: [{ type: "refuse", reason: "WouldReplaceLive", color: "blue", message: "m1" }, { type: "refuse", reason: "DeployFailed", message: "m2" }] })).toEqual([
      { fingerprint: "WouldReplaceLive/blue", name: "WouldReplaceLive", severity: "warning", summary: "m1", labels: { color: "blue" } },
      { fingerprint: "DeployFailed/all", name: "DeployFailed", severity: "critical", summary: "m2", labels: {} },
    ]);
  });

  it("crashLooping: waiting to restart; or restarted twice or more and not up, or up for less than the settle time", () => {
    const s = (state: ServiceStatus["state"], count: number | null, since: string | null = "2026-01-01T00:09:59Z"): ServiceStatus =>
      ({ tag: "v1", containerId: null, state, health: "unknown", since, error: null, ...(count === null ? {} : { restarts: restarts(count, null) }) }) as ServiceStatus;
    expect(crashLooping(s("crashLooping", null), T)).toBe(true);
    expect(crashLooping(s("exited", null), T)).toBe(false);
    expect(crashLooping(s("exited", 1), T)).toBe(false);
    expect(crashLooping(s("exited", 2), T)).toBe(true);
    for (const up of ["running", "unhealthy", "starting"] as const) {
      expect(crashLooping(s(up, 2), T), up).toBe(true);
      expect(crashLooping(s(up, 2, "2025-12-31T00:00:00Z"), T), up).toBe(false);
    }
    expect(crashLooping(s("exited", 2, "2025-12-31T00:00:00Z"), T)).toBe(true);
    // no since: counted from the last exit (00:09:50, under the settle time before 00:10:00)
    expect(crashLooping(s("running", 2, null), T)).toBe(true);
  });
});
