/** When an ACME certificate is renewed, and which host names it carries (issue 15). */
import { describe, expect, it } from "vitest";
import { acmeHosts, renewAt } from "../../reconciler/acme/manager.js";
import type { Cluster } from "../../specs/cluster.js";

const DAY = 86_400_000;

function cluster(hosts: Partial<Cluster["spec"]["router"]["hosts"]>, acmeHostsList?: string[]): Cluster {
  return {
    apiVersion: "switchyard.dev/v1", kind: "Cluster", metadata: { name: "shop" },
    spec: {
      router: { hosts: { live: [], preview: [], blue: [], green: [], ...hosts } },
      acme: { directoryUrl: "https://acme.test/dir", email: "ops@example.com", ...(acmeHostsList ? { hosts: acmeHostsList } : {}) },
    },
  } as unknown as Cluster;
}

describe("ACME renewal", () => {
  it("starts at two thirds of the lifetime", () => {
    expect(renewAt({ notBefore: 0, notAfter: 90 * DAY })).toBe(60 * DAY);
    expect(renewAt({ notBefore: 1000, notAfter: 1000 + 6 * DAY })).toBe(1000 + 4 * DAY);
  });
});

describe("ACME host names", () => {
  it("default to every live, preview and colour host, lowercased, once each, wildcards left out", () => {
    expect(acmeHosts(cluster({ live: ["Shop.example.com", "*.shop.example.com"], preview: ["preview.shop.example.com"], blue: ["blue.shop.example.com", "shop.example.com"], green: ["green.shop.example.com"] })))
      .toEqual(["shop.example.com", "preview.shop.example.com", "blue.shop.example.com", "green.shop.example.com"]);
  });
  it("are cluster.yaml acme.hosts when listed", () => {
    expect(acmeHosts(cluster({ live: ["a.test"] }, ["b.test", "B.test"]))).toEqual(["b.test"]);
  });
});
