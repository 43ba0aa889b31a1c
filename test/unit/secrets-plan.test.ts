import { describe, expect, it } from "vitest";
import { plan } from "../../reconciler/loop/plan.js";
import type { Desired } from "../../reconciler/loop/desired.js";
import type { NodeObservation } from "../../specs/observed.js";
import type { NodeSpec } from "../../specs/wire.js";
import { specEcho } from "../../specs/secrets.js";
import { secretsKeyId } from "../../specs/secrets-key-id.js";
import { NOW, cluster1x1, desired, ledger, node, router, summarize, world } from "../support/world.js";

const KEY = "c".repeat(64);
const OTHER_KEY = "d".repeat(64);

/** A node of `d` (blue v1 or green v2) whose agent understands secrets and holds `held` (its echo). */
function agentWith(d: Desired, name: string, tag: string, held: (spec: NodeSpec) => NodeSpec): NodeObservation {
  const obs = node(d, name, { tag }) as NodeObservation & { reachable: true };
  const spec = held(obs.status.spec!);
  return { ...obs, status: { ...obs.status, features: ["digest", "secrets"], spec: specEcho(spec, spec.secretsKey ? secretsKeyId(spec.secretsKey) : undefined) } };
}

function planFor(d: Desired, blue: (s: NodeSpec) => NodeSpec, green: (s: NodeSpec) => NodeSpec): string[] {
  const o = world({
    "blue-1": agentWith(d, "blue-1", "v1", blue),
    "green-1": agentWith(d, "green-1", "v2", green),
    "router-1": router(d, "router-1", { live: "blue" }),
  }, ledger({ epoch: 3, grants: { "blue-1": { epoch: 3, sentAtMs: NOW - 1_000, ttlMs: 10_000 } } }));
  // Only node specs and refusals matter here (the fixture holds no lease).
  return plan(d, o, NOW).map(summarize).filter((a) => !/^(renew|grant|revoke|wait)/.test(a));
}

describe("the fingerprint key and restart requests in node specs", () => {
  const base = { ...desired(cluster1x1()), secretsKey: KEY, secretsKeyId: secretsKeyId(KEY) };
  const withKey = (key: string) => (s: NodeSpec) => ({ ...s, secretsKey: key });

  it("an agent that echoes the key's id holds the same spec: nothing to send", () => {
    expect(planFor(base, withKey(KEY), withKey(KEY))).toEqual([]);
  });

  it("a new or changed key reaches the live colour as an update, never a refusal (it re-creates nothing)", () => {
    expect(planFor(base, (s) => s, withKey(OTHER_KEY))).toEqual(["update blue-1 v1", "update green-1 v2"]);
  });

  it("a restart request goes to the idle colour; a reconciler that forgot one never asks the live colour for less", () => {
    const asked = { ...base, restarts: { green: 7 } };
    const held = (token: number) => (s: NodeSpec) => ({ ...s, secretsKey: KEY, restartToken: token });
    expect(planFor(asked, held(5), held(5))).toEqual(["update green-1 v2"]);
    // Memory lost (no restarts): the nodes keep their tokens, no spec changes anywhere.
    expect(planFor(base, held(5), held(7))).toEqual([]);
    // A request for the live colour (made before it became live) is refused, not applied under traffic.
    expect(planFor({ ...base, restarts: { blue: 9 } }, held(5), held(5))).toEqual(["refuse LiveSpecChange blue"]);
  });
});
