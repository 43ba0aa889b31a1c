/** Which Switchyard runs: --version, the reconciler's status, each agent's status and /metrics say the same. */
import { describe, expect, it } from "vitest";
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { VERSION } from "../../common/version.js";
import { buildStatus } from "../../reconciler/loop/status.js";
import { plan } from "../../reconciler/loop/plan.js";
import { NOW, cluster1x1, desired, ledger, node, router, world } from "../support/world.js";

const pkg = JSON.parse(readFileSync("package.json", "utf8")) as { version: string };

describe("the version", () => {
  it("is package.json's, with the commit the build was made from when it recorded one", () => {
    const info = JSON.parse(readFileSync("dist/build-info.json", "utf8")) as { commit?: string };
    expect(VERSION).toBe(info.commit ? `${pkg.version}+${info.commit}` : pkg.version);
  });

  it("is what switchyard --version prints", () => {
    expect(execFileSync(process.execPath, ["bin/switchyard.js", "--version"], { encoding: "utf8" }).trim()).toBe(VERSION);
  });

  it("is in the reconciler's status, next to each agent's", () => {
    const d = desired(cluster1x1());
    const blue = node(d, "blue-1", { tag: "v1", lease: { epoch: 3 } });
    if (blue.reachable) blue.status.version = "0.0.9";
    const o = world({ "blue-1": blue, "green-1": node(d, "green-1", { tag: "v2" }), "router-1": router(d, "router-1", { live: "blue" }) }, ledger({ epoch: 3 }));
    const s = buildStatus({ desired: d, revision: "r", stateRevision: "s", observed: o, actions: plan(d, o, NOW), drift: [], specErrors: [], busy: false, now: new Date(NOW) }, []);
    expect(s.version).toBe(VERSION);
    expect(s.colors?.blue.nodes[0]?.version).toBe("0.0.9");
    expect(s.colors?.green.nodes[0]?.version).toBeUndefined();
  });
});
