/** Certificate alerts (issue 15): 14 days before expiry, a certificate that does not load, a failed ACME renewal. */
import { describe, expect, it } from "vitest";
import { detectDrift } from "../../reconciler/loop/drift.js";
import { plan } from "../../reconciler/loop/plan.js";
import { NOW, cluster1x1, desired, ledger, node, router, world } from "../support/world.js";
import type { CertificateInfo } from "../../specs/wire.js";
import type { NodeObservation } from "../../specs/observed.js";

const DAY = 86_400_000;
const d = desired(cluster1x1());

function withCerts(certs: CertificateInfo[]): NodeObservation {
  const r = structuredClone(router(d, "router-1", { live: "blue" })) as NodeObservation & { status: { router: { tls?: unknown } } };
  r.status.router.tls = { listen: "127.0.0.1:8443", certificates: certs };
  return r;
}

function cert(notAfterMs: number, error: string | null = null): CertificateInfo {
  return { source: "acme", hosts: ["shop.example.com"], issuer: "R3", notBefore: new Date(NOW - 60 * DAY).toISOString(), notAfter: new Date(notAfterMs).toISOString(), error };
}

function alerts(r: NodeObservation, acme: { hosts: string[]; failures: number; lastError: string | null } | null = null): string[] {
  const o = world({ "blue-1": node(d, "blue-1", { tag: "v1", lease: { epoch: 3 } }), "green-1": node(d, "green-1", { tag: "v2" }), "router-1": r }, ledger({ epoch: 3 }));
  return detectDrift({ desired: d, observed: o, actions: plan(d, o, NOW), routerLive: "blue", now: NOW, acme }).map((a) => `${a.name} ${a.severity}`);
}

describe("certificate alerts", () => {
  it("none for a certificate with more than 14 days left", () => {
    expect(alerts(withCerts([cert(NOW + 15 * DAY)]))).toEqual([]);
  });
  it("a warning 14 days before expiry, critical in the last 3 days", () => {
    expect(alerts(withCerts([cert(NOW + 13 * DAY)]))).toEqual(["CertificateExpiring warning"]);
    expect(alerts(withCerts([cert(NOW + 2 * DAY)]))).toEqual(["CertificateExpiring critical"]);
  });
  it("a certificate whose files do not load", () => {
    expect(alerts(withCerts([cert(NOW + 60 * DAY, "/etc/x.crt: ENOENT")]))).toEqual(["CertificateNotLoaded warning"]);
  });
  it("a failed ACME renewal, until an order succeeds", () => {
    expect(alerts(withCerts([cert(NOW + 60 * DAY)]), { hosts: ["shop.example.com"], failures: 2, lastError: "rateLimited" })).toEqual(["CertificateRenewalFailed warning"]);
    expect(alerts(withCerts([cert(NOW + 60 * DAY)]), { hosts: ["shop.example.com"], failures: 0, lastError: null })).toEqual([]);
  });
});
