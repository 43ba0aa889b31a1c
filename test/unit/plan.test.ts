import { describe, expect, it } from "vitest";
import { plan } from "../../reconciler/loop/plan.js";
import type { Observed } from "../../specs/observed.js";
import { deepFreeze as freeze } from "../../common/values.js";
import { nodeSpecFor, type Desired } from "../../reconciler/loop/desired.js";
import {
  NOW, TTL, cluster1x1, cluster2x2, desired, down, ledger, node, router, summarize, world,
} from "../support/world.js";

const c1 = cluster1x1();
const c2 = cluster2x2();
const MARGIN = 2_000;
/** examples/local/cluster.yaml: the worker's stopTimeoutSeconds (its only job service). */
const JOB_STOP = 5_000;

/** Jobs held by blue-1 at epoch 3, last renewed a second ago: the quiet steady state. */
const blueOwns = { epoch: 3 };
const blueLedger = ledger({ epoch: 3, grants: { "blue-1": { epoch: 3, sentAtMs: NOW - 1_000, ttlMs: TTL } } });

interface Row {
  name: string;
  d: Desired;
  o: Observed;
  expect: string[];
}

const d = desired(c1); // active blue, blue v1, green v2, owner active
const dGreen = desired(c1, { active: "green" });

const rows: Row[] = [
  {
    name: "first deploy: agents empty, router without a table",
    d,
    o: world({ "blue-1": node(d, "blue-1"), "green-1": node(d, "green-1"), "router-1": router(d, "router-1", { fresh: true }) }),
    expect: ["deploy blue-1 v1", "deploy green-1 v2", "update router-1 live=none", "wait WaitingForHealth blue"],
  },
  {
    name: "first deploy: blue became ready, green still converging → switch to blue",
    d,
    o: world({ "blue-1": node(d, "blue-1", { tag: "v1" }), "green-1": node(d, "green-1", { tag: "v2", converging: true, web: "pulling" }), "router-1": router(d, "router-1", { live: null }) }),
    expect: ["switch router-1 live=blue"],
  },
  {
    name: "steady state with a fresh lease: nothing to do",
    d,
    o: world({ "blue-1": node(d, "blue-1", { tag: "v1", lease: blueOwns }), "green-1": node(d, "green-1", { tag: "v2" }), "router-1": router(d, "router-1", { live: "blue" }) }, blueLedger),
    expect: [],
  },
  {
    name: "steady state, a third of the TTL passed: renew the lease",
    d,
    o: world({ "blue-1": node(d, "blue-1", { tag: "v1", lease: blueOwns }), "green-1": node(d, "green-1", { tag: "v2" }), "router-1": router(d, "router-1", { live: "blue" }) },
      ledger({ epoch: 3, grants: { "blue-1": { epoch: 3, sentAtMs: NOW - 3_400, ttlMs: TTL } } })),
    expect: ["renew blue-1 epoch 3"],
  },
  {
    name: "both colours on the same tag: nothing to do",
    d: desired(c1, { blue: "v1", green: "v1" }),
    o: (() => { const x = desired(c1, { blue: "v1", green: "v1" }); return world({ "blue-1": node(x, "blue-1", { tag: "v1", lease: blueOwns }), "green-1": node(x, "green-1", { tag: "v1" }), "router-1": router(x, "router-1", { live: "blue" }) }, blueLedger); })(),
    expect: [],
  },
  {
    name: "new tag for the idle colour: deploy it there only",
    d: desired(c1, { green: "v3" }),
    o: world({ "blue-1": node(d, "blue-1", { tag: "v1", lease: blueOwns }), "green-1": node(d, "green-1", { tag: "v2" }), "router-1": router(d, "router-1", { live: "blue" }) }, blueLedger),
    expect: ["deploy green-1 v3"],
  },
  {
    name: "desired changes in the middle of a deploy: the newest tag wins",
    d: desired(c1, { green: "v4" }),
    o: world({ "blue-1": node(d, "blue-1", { tag: "v1", lease: blueOwns }), "green-1": node(d, "green-1", { tag: "v3", converging: true, web: "pulling" }), "router-1": router(d, "router-1", { live: "blue" }) }, blueLedger),
    expect: ["deploy green-1 v4"],
  },
  {
    name: "promote: green ready → switch; jobs stay with blue until the switch is observed",
    d: dGreen,
    o: world({ "blue-1": node(dGreen, "blue-1", { tag: "v1", lease: blueOwns }), "green-1": node(dGreen, "green-1", { tag: "v2" }), "router-1": router(dGreen, "router-1", { live: "blue" }) }, blueLedger),
    expect: ["switch router-1 live=green"],
  },
  {
    name: "owner active while the switch has not happened: switch, and keep renewing the old owner",
    d: dGreen,
    o: world({ "blue-1": node(dGreen, "blue-1", { tag: "v1", lease: blueOwns }), "green-1": node(dGreen, "green-1", { tag: "v2" }), "router-1": router(dGreen, "router-1", { live: "blue" }) },
      ledger({ epoch: 3, grants: { "blue-1": { epoch: 3, sentAtMs: NOW - 4_000, ttlMs: TTL } } })),
    expect: ["switch router-1 live=green", "renew blue-1 epoch 3"],
  },
  {
    name: "the router's own health checks do not see the target healthy yet: the switch waits",
    d: dGreen,
    o: world({ "blue-1": node(dGreen, "blue-1", { tag: "v1", lease: blueOwns }), "green-1": node(dGreen, "green-1", { tag: "v2" }), "router-1": router(dGreen, "router-1", { live: "blue", upstreams: [{ color: "green", node: "green-1", health: "unhealthy" }] }) }, blueLedger),
    expect: ["wait WaitingForHealth green"],
  },
  {
    name: "switch observed: revoke the old owner first, grant nothing yet",
    d: dGreen,
    o: world({ "blue-1": node(dGreen, "blue-1", { tag: "v1", lease: blueOwns }), "green-1": node(dGreen, "green-1", { tag: "v2" }), "router-1": router(dGreen, "router-1", { live: "green" }) }, blueLedger),
    expect: ["revoke blue-1", "wait LeaseRevocation blue-1"],
  },
  {
    name: "old owner confirmed its jobs stopped: grant the new owner a higher epoch",
    d: dGreen,
    o: world({ "blue-1": node(dGreen, "blue-1", { tag: "v1", lease: { epoch: 3, state: "revoked" } }), "green-1": node(dGreen, "green-1", { tag: "v2" }), "router-1": router(dGreen, "router-1", { live: "green" }) }, ledger({ epoch: 3 })),
    expect: ["grant green-1 epoch 4"],
  },
  {
    name: "lease revoked but a job container still runs: keep revoking",
    d: dGreen,
    o: world({ "blue-1": node(dGreen, "blue-1", { tag: "v1", lease: { epoch: 3, state: "revoked" }, worker: "running" }), "green-1": node(dGreen, "green-1", { tag: "v2" }), "router-1": router(dGreen, "router-1", { live: "green" }) }, ledger({ epoch: 3 })),
    expect: ["revoke blue-1", "wait LeaseRevocation blue-1"],
  },
  {
    name: "target colour unhealthy: no switch, say why",
    d: dGreen,
    o: world({ "blue-1": node(dGreen, "blue-1", { tag: "v1", lease: blueOwns }), "green-1": node(dGreen, "green-1", { tag: "v2", web: "unhealthy" }), "router-1": router(dGreen, "router-1", { live: "blue" }) }, blueLedger),
    expect: ["wait WaitingForHealth green"],
  },
  {
    name: "target colour running but not probed yet (health unknown): no switch",
    d: dGreen,
    o: world({ "blue-1": node(dGreen, "blue-1", { tag: "v1", lease: blueOwns }), "green-1": node(dGreen, "green-1", { tag: "v2", web: "unprobed" }), "router-1": router(dGreen, "router-1", { live: "blue" }) }, blueLedger),
    expect: ["wait WaitingForHealth green"],
  },
  {
    name: "first deploy: a colour running but not probed yet gets no traffic",
    d,
    o: world({ "blue-1": node(d, "blue-1", { tag: "v1", web: "unprobed" }), "green-1": node(d, "green-1", { tag: "v2" }), "router-1": router(d, "router-1", { live: null }) }),
    expect: ["wait WaitingForHealth blue"],
  },
  {
    name: "a new tag for the live colour without switching away is refused",
    d: desired(c1, { blue: "v5" }),
    o: world({ "blue-1": node(d, "blue-1", { tag: "v1", lease: blueOwns }), "green-1": node(d, "green-1", { tag: "v2" }), "router-1": router(d, "router-1", { live: "blue" }) }, blueLedger),
    expect: ["refuse WouldReplaceLive blue"],
  },
  {
    name: "changed service settings on the live colour are refused (they roll out by deploy + switch)",
    d,
    o: world({ "blue-1": node(d, "blue-1", { tag: "v1", lease: blueOwns, env: { LOG_LEVEL: "debug" } }), "green-1": node(d, "green-1", { tag: "v2" }), "router-1": router(d, "router-1", { live: "blue" }) }, blueLedger),
    expect: ["refuse LiveSpecChange blue"],
  },
  {
    name: "switch away and stop the old colour: switch first, the stop waits",
    d: desired(c1, { active: "green", blue: null, owner: "green" }),
    o: (() => { const x = desired(c1, { active: "green", blue: null, owner: "green" }); return world({ "blue-1": node(x, "blue-1", { tag: "v1" }), "green-1": node(x, "green-1", { tag: "v2", lease: { epoch: 4 } }), "router-1": router(x, "router-1", { live: "blue" }) }, ledger({ epoch: 4, grants: { "green-1": { epoch: 4, sentAtMs: NOW - 500, ttlMs: TTL } } })); })(),
    expect: ["switch router-1 live=green", "wait SwitchFirst blue-1"],
  },
  {
    name: "maintenance: once green is live, blue is stopped",
    d: desired(c1, { active: "green", blue: null, owner: "green" }),
    o: (() => { const x = desired(c1, { active: "green", blue: null, owner: "green" }); return world({ "blue-1": node(x, "blue-1", { tag: "v1" }), "green-1": node(x, "green-1", { tag: "v2", lease: { epoch: 4 } }), "router-1": router(x, "router-1", { live: "green" }) }, ledger({ epoch: 4, grants: { "green-1": { epoch: 4, sentAtMs: NOW - 500, ttlMs: TTL } } })); })(),
    expect: ["stop blue-1"],
  },
  {
    name: "a stopped colour that runs nothing: nothing to do",
    d: desired(c1, { active: "green", blue: null, owner: "green" }),
    o: (() => { const x = desired(c1, { active: "green", blue: null, owner: "green" }); return world({ "blue-1": node(x, "blue-1", { tag: null }), "green-1": node(x, "green-1", { tag: "v2", lease: { epoch: 4 } }), "router-1": router(x, "router-1", { live: "green" }) }, ledger({ epoch: 4, grants: { "green-1": { epoch: 4, sentAtMs: NOW - 500, ttlMs: TTL } } })); })(),
    expect: [],
  },
  {
    name: "a stopped colour whose web container still runs (or starts, or is unhealthy) is healed, i.e. stopped again",
    d: desired(c1, { active: "green", blue: null, owner: "green" }),
    o: (() => { const x = desired(c1, { active: "green", blue: null, owner: "green" }); return world({ "blue-1": node(x, "blue-1", { tag: null, web: { tag: "v1" } }), "green-1": node(x, "green-1", { tag: "v2", lease: { epoch: 4 } }), "router-1": router(x, "router-1", { live: "green" }) }, ledger({ epoch: 4, grants: { "green-1": { epoch: 4, sentAtMs: NOW - 500, ttlMs: TTL } } })); })(),
    expect: ["heal blue-1"],
  },
  {
    name: "a stopped colour whose web container is starting is healed too",
    d: desired(c1, { active: "green", blue: null, owner: "green" }),
    o: (() => { const x = desired(c1, { active: "green", blue: null, owner: "green" }); return world({ "blue-1": node(x, "blue-1", { tag: null, web: "starting" }), "green-1": node(x, "green-1", { tag: "v2", lease: { epoch: 4 } }), "router-1": router(x, "router-1", { live: "green" }) }, ledger({ epoch: 4, grants: { "green-1": { epoch: 4, sentAtMs: NOW - 500, ttlMs: TTL } } })); })(),
    expect: ["heal blue-1"],
  },
  {
    name: "a stopped colour whose web container is unhealthy is healed too",
    d: desired(c1, { active: "green", blue: null, owner: "green" }),
    o: (() => { const x = desired(c1, { active: "green", blue: null, owner: "green" }); return world({ "blue-1": node(x, "blue-1", { tag: null, web: "unhealthy" }), "green-1": node(x, "green-1", { tag: "v2", lease: { epoch: 4 } }), "router-1": router(x, "router-1", { live: "green" }) }, ledger({ epoch: 4, grants: { "green-1": { epoch: 4, sentAtMs: NOW - 500, ttlMs: TTL } } })); })(),
    expect: ["heal blue-1"],
  },
  {
    name: "a stopped colour whose container exited: nothing to heal",
    d: desired(c1, { active: "green", blue: null, owner: "green" }),
    o: (() => { const x = desired(c1, { active: "green", blue: null, owner: "green" }); return world({ "blue-1": node(x, "blue-1", { tag: null, web: "exited" }), "green-1": node(x, "green-1", { tag: "v2", lease: { epoch: 4 } }), "router-1": router(x, "router-1", { live: "green" }) }, ledger({ epoch: 4, grants: { "green-1": { epoch: 4, sentAtMs: NOW - 500, ttlMs: TTL } } })); })(),
    expect: [],
  },
  {
    name: "a live container still converging is not healed twice",
    d,
    o: world({ "blue-1": node(d, "blue-1", { tag: "v1", web: "exited", converging: true, lease: blueOwns }), "green-1": node(d, "green-1", { tag: "v2" }), "router-1": router(d, "router-1", { live: "blue" }) }, blueLedger),
    expect: [],
  },
  {
    name: "the switched-away colour serves open WebSockets only: its redeploy waits for them",
    d: desired(c1, { active: "green", blue: "v3", owner: "green" }),
    o: (() => { const r = router(dGreen, "router-1", { live: "green" }); if (r.reachable && r.status.router) r.status.router.websockets.blue = 2; return world({ "blue-1": node(d, "blue-1", { tag: "v1" }), "green-1": node(dGreen, "green-1", { tag: "v2", lease: { epoch: 4 } }), "router-1": r },
      ledger({ epoch: 4, grants: { "green-1": { epoch: 4, sentAtMs: NOW - 500, ttlMs: TTL } } })); })(),
    expect: ["wait Draining blue-1"],
  },
  {
    name: "a stopped colour brought back with a new tag: start it",
    d: desired(c1, { active: "green", blue: "v4", owner: "green" }),
    o: (() => { const x = desired(c1, { active: "green", blue: null, owner: "green" }); return world({ "blue-1": node(x, "blue-1", { tag: null }), "green-1": node(x, "green-1", { tag: "v2", lease: { epoch: 4 } }), "router-1": router(x, "router-1", { live: "green" }) }, ledger({ epoch: 4, grants: { "green-1": { epoch: 4, sentAtMs: NOW - 500, ttlMs: TTL } } })); })(),
    expect: ["start blue-1 v4", "update router-1 live=green"], // preview points at blue again
  },
  {
    name: "router unreachable: no deploy anywhere, jobs held where they are",
    d: desired(c1, { green: "v3" }),
    o: world({ "blue-1": node(d, "blue-1", { tag: "v1", lease: blueOwns }), "green-1": node(d, "green-1", { tag: "v2" }), "router-1": down() },
      ledger({ epoch: 3, grants: { "blue-1": { epoch: 3, sentAtMs: NOW - 4_000, ttlMs: TTL } } })),
    expect: ["renew blue-1 epoch 3", "wait RouterUnreachable green-1", "wait RouterUnreachable"],
  },
  {
    name: "router unreachable: healing a live container in place is still allowed",
    d,
    o: world({ "blue-1": node(d, "blue-1", { tag: "v1", web: "exited", lease: blueOwns }), "green-1": node(d, "green-1", { tag: "v2" }), "router-1": down() }, blueLedger),
    expect: ["heal blue-1 v1", "wait RouterUnreachable"],
  },
  {
    name: "target colour's node unreachable: no switch",
    d: dGreen,
    o: world({ "blue-1": node(dGreen, "blue-1", { tag: "v1", lease: blueOwns }), "green-1": down(), "router-1": router(dGreen, "router-1", { live: "blue" }) }, blueLedger),
    expect: ["wait NodeUnreachable green-1", "wait WaitingForHealth green"],
  },
  {
    name: "owner none: revoke the holder",
    d: desired(c1, { owner: "none" }),
    o: world({ "blue-1": node(d, "blue-1", { tag: "v1", lease: blueOwns }), "green-1": node(d, "green-1", { tag: "v2" }), "router-1": router(d, "router-1", { live: "blue" }) }, blueLedger),
    expect: ["revoke blue-1", "wait LeaseRevocation blue-1"],
  },
  {
    name: "owner none and nobody holds: nothing to do",
    d: desired(c1, { owner: "none" }),
    o: world({ "blue-1": node(d, "blue-1", { tag: "v1" }), "green-1": node(d, "green-1", { tag: "v2" }), "router-1": router(d, "router-1", { live: "blue" }) }, ledger({ epoch: 3 })),
    expect: [],
  },
  {
    name: "owner green (explicit) while blue is live: jobs move without a switch",
    d: desired(c1, { owner: "green" }),
    o: world({ "blue-1": node(d, "blue-1", { tag: "v1", lease: blueOwns }), "green-1": node(d, "green-1", { tag: "v2" }), "router-1": router(d, "router-1", { live: "blue" }) }, blueLedger),
    expect: ["revoke blue-1", "wait LeaseRevocation blue-1"],
  },
  {
    name: "old owner unreachable, lease may still run: wait until TTL + margin after the last grant",
    d: desired(c1, { owner: "green" }),
    o: world({ "blue-1": down(), "green-1": node(d, "green-1", { tag: "v2" }), "router-1": router(d, "router-1", { live: "blue" }) },
      ledger({ epoch: 3, grants: { "blue-1": { epoch: 3, sentAtMs: NOW - 3_000, ttlMs: TTL } } })),
    expect: ["wait NodeUnreachable blue-1", "wait LeaseExpiry blue-1"],
  },
  {
    name: "old owner unreachable, lease expired + margin but its worker may still be in its stop timeout: wait",
    d: desired(c1, { owner: "green" }),
    o: world({ "blue-1": down(), "green-1": node(d, "green-1", { tag: "v2" }), "router-1": router(d, "router-1", { live: "blue" }) },
      ledger({ epoch: 3, grants: { "blue-1": { epoch: 3, sentAtMs: NOW - TTL - MARGIN, ttlMs: TTL } } })),
    expect: ["wait NodeUnreachable blue-1", "wait LeaseExpiry blue-1"],
  },
  {
    name: "old owner unreachable, its lease expired and its jobs certainly stopped (TTL + stop timeout + margin): grant the new owner",
    d: desired(c1, { owner: "green" }),
    o: world({ "blue-1": down(), "green-1": node(d, "green-1", { tag: "v2" }), "router-1": router(d, "router-1", { live: "blue" }) },
      ledger({ epoch: 3, grants: { "blue-1": { epoch: 3, sentAtMs: NOW - TTL - JOB_STOP - MARGIN, ttlMs: TTL } } })),
    expect: ["grant green-1 epoch 4", "wait NodeUnreachable blue-1"],
  },
  {
    name: "restarted reconciler without a grant record: an unreachable node blocks grants for TTL + margin",
    d: desired(c1, { owner: "green" }),
    o: world({ "blue-1": down(), "green-1": node(d, "green-1", { tag: "v2" }), "router-1": router(d, "router-1", { live: "blue" }) },
      ledger({ epoch: 3, startedAtMs: NOW - 5_000 })),
    expect: ["wait NodeUnreachable blue-1", "wait LeaseExpiry blue-1"],
  },
  {
    name: "an agent has seen a higher epoch than the ledger: the next grant goes above it",
    d: desired(c1, { owner: "green" }),
    o: world({ "blue-1": node(d, "blue-1", { tag: "v1", lease: { epoch: 9, state: "expired" } }), "green-1": node(d, "green-1", { tag: "v2" }), "router-1": router(d, "router-1", { live: "blue" }) }, ledger({ epoch: 2 })),
    expect: ["grant green-1 epoch 10"],
  },
  {
    name: "drift: a live container stopped by hand is restarted in place (policy heal)",
    d,
    o: world({ "blue-1": node(d, "blue-1", { tag: "v1", web: "exited", lease: blueOwns }), "green-1": node(d, "green-1", { tag: "v2" }), "router-1": router(d, "router-1", { live: "blue" }) }, blueLedger),
    expect: ["heal blue-1 v1"],
  },
  {
    name: "drift with policy alert: reported elsewhere, nothing converged",
    d: { ...d, cluster: { ...c1, spec: { ...c1.spec, drift: { policy: "alert" } } } },
    o: world({ "blue-1": node(d, "blue-1", { tag: "v1", web: "exited", lease: blueOwns }), "green-1": node(d, "green-1", { tag: "v2" }), "router-1": router(d, "router-1", { live: "blue" }) }, blueLedger),
    expect: [],
  },
  {
    name: "drift: a wrong-tag container on the idle colour is healed",
    d,
    o: world({ "blue-1": node(d, "blue-1", { tag: "v1", lease: blueOwns }), "green-1": node(d, "green-1", { tag: "v2", web: { tag: "v1" } }), "router-1": router(d, "router-1", { live: "blue" }) }, blueLedger),
    expect: ["heal green-1 v2"],
  },
  {
    name: "drift: the router points at the wrong colour and the active one is ready → switch back",
    d,
    o: world({ "blue-1": node(d, "blue-1", { tag: "v1", lease: blueOwns }), "green-1": node(d, "green-1", { tag: "v2" }), "router-1": router(d, "router-1", { live: "green" }) }, blueLedger),
    expect: ["revoke blue-1", "switch router-1 live=blue", "wait LeaseRevocation blue-1"],
  },
  {
    name: "deploy timed out: the colour is Failed, live untouched, no retry loop",
    d: desired(c1, { green: "v3" }),
    o: world({ "blue-1": node(d, "blue-1", { tag: "v1", lease: blueOwns }), "green-1": node(d, "green-1", { tag: "v3", web: "unhealthy" }), "router-1": router(d, "router-1", { live: "blue" }) }, blueLedger,
      { green: { tag: "v3", startedAtMs: NOW - 121_000 } }),
    expect: ["refuse DeployFailed green"],
  },
  {
    name: "deploy still within its timeout: nothing to do but wait",
    d: desired(c1, { green: "v3" }),
    o: world({ "blue-1": node(d, "blue-1", { tag: "v1", lease: blueOwns }), "green-1": node(d, "green-1", { tag: "v3", web: "unhealthy" }), "router-1": router(d, "router-1", { live: "blue" }) }, blueLedger,
      { green: { tag: "v3", startedAtMs: NOW - 60_000 } }),
    expect: [],
  },
  {
    name: "the colour just switched away still serves requests: its redeploy waits for the drain",
    d: desired(c1, { active: "green", blue: "v3", owner: "green" }),
    o: world({ "blue-1": node(d, "blue-1", { tag: "v1" }), "green-1": node(dGreen, "green-1", { tag: "v2", lease: { epoch: 4 } }), "router-1": router(dGreen, "router-1", { live: "green", inFlight: { blue: 4 } }) },
      ledger({ epoch: 4, grants: { "green-1": { epoch: 4, sentAtMs: NOW - 500, ttlMs: TTL } } })),
    expect: ["wait Draining blue-1"],
  },
  {
    name: "the live colour's agent lost its spec but still runs the desired tag: give it back (heal)",
    d,
    o: world({ "blue-1": node(d, "blue-1", { web: { tag: "v1" } }), "green-1": node(d, "green-1", { tag: "v2" }), "router-1": router(d, "router-1", { live: "blue" }) }, ledger({ epoch: 3 })),
    expect: ["heal blue-1 v1", "grant blue-1 epoch 4"],
  },
  {
    name: "the live colour's agent lost its spec and runs another tag: refused, never a heal onto live",
    d,
    o: world({ "blue-1": node(d, "blue-1", { web: { tag: "v0" } }), "green-1": node(d, "green-1", { tag: "v2" }), "router-1": router(d, "router-1", { live: "blue" }) }, ledger({ epoch: 3 })),
    expect: ["refuse WouldReplaceLive blue", "grant blue-1 epoch 4"],
  },
];

/** A node observation with its status edited (states the builders do not offer). */
function edited(o: ReturnType<typeof node>, edit: (s: Extract<ReturnType<typeof node>, { reachable: true }>["status"]) => void): ReturnType<typeof node> {
  if (o.reachable) edit(o.status);
  return o;
}

const missing = (tag: string) => `AGENT_ERR_TAG_MISSING: tag ${tag} does not exist in 127.0.0.1:5000/app; push it first or pick an existing tag`;
rows.push(
  {
    name: "the new tag is missing on the idle colour's node: refused as TagMissing at once, not after the deploy timeout",
    d: desired(c1, { green: "v9" }),
    o: world({ "blue-1": node(d, "blue-1", { tag: "v1", lease: blueOwns }),
      "green-1": edited(node(d, "green-1", { tag: "v9", web: { tag: "v2" } }), (s) => { s.services.web!.error = missing("v9"); }),
      "router-1": router(d, "router-1", { live: "blue" }) }, blueLedger, { green: { tag: "v9", startedAtMs: NOW - 1_000 } }),
    expect: ["refuse TagMissing green"],
  },
  {
    name: "a pull error other than a missing tag is healed (the pull tried again) until the deploy timeout, as before",
    d: desired(c1, { green: "v9" }),
    o: world({ "blue-1": node(d, "blue-1", { tag: "v1", lease: blueOwns }),
      "green-1": edited(node(d, "green-1", { tag: "v9", web: { tag: "v2" } }), (s) => { s.services.web!.error = "cannot reach the registry 127.0.0.1:5000 (connection refused); is it running and reachable from this VM?"; }),
      "router-1": router(d, "router-1", { live: "blue" }) }, blueLedger, { green: { tag: "v9", startedAtMs: NOW - 1_000 } }),
    expect: ["heal green-1 v9"],
  },
  {
    name: "a missing-tag error of an older spec (v3 wanted now) is not TagMissing: v3 is deployed",
    d: desired(c1, { green: "v3" }),
    o: world({ "blue-1": node(d, "blue-1", { tag: "v1", lease: blueOwns }),
      "green-1": edited(node(d, "green-1", { tag: "v9", web: { tag: "v2" } }), (s) => { s.services.web!.error = missing("v9"); }),
      "router-1": router(d, "router-1", { live: "blue" }) }, blueLedger, { green: { tag: "v3", startedAtMs: NOW - 1_000 } }),
    expect: ["deploy green-1 v3"],
  },
  {
    name: "a desired stop of the live colour is refused once, not once per node",
    d: desired(c2, { blue: null }),
    o: (() => { const x = desired(c2); return world({
      "blue-1": node(x, "blue-1", { tag: "v1", lease: { epoch: 2 } }), "blue-2": node(x, "blue-2", { tag: "v1", lease: { epoch: 2 } }),
      "green-1": node(x, "green-1", { tag: "v2" }), "green-2": node(x, "green-2", { tag: "v2" }),
      "router-1": router(x, "router-1", { live: "blue" }), "router-2": router(x, "router-2", { live: "blue" }),
    }, ledger({ epoch: 2, grants: { "blue-1": { epoch: 2, sentAtMs: NOW, ttlMs: TTL }, "blue-2": { epoch: 2, sentAtMs: NOW, ttlMs: TTL } } })); })(),
    expect: ["refuse WouldStopLive blue"],
  },
  {
    name: "target colour's web container exited: healed, and no switch",
    d: dGreen,
    o: world({ "blue-1": node(dGreen, "blue-1", { tag: "v1", lease: blueOwns }), "green-1": node(dGreen, "green-1", { tag: "v2", web: "exited" }), "router-1": router(dGreen, "router-1", { live: "blue" }) }, blueLedger),
    expect: ["heal green-1 v2", "wait WaitingForHealth green"],
  },
  {
    name: "target colour's web container missing: healed, and no switch",
    d: dGreen,
    o: world({ "blue-1": node(dGreen, "blue-1", { tag: "v1", lease: blueOwns }), "green-1": node(dGreen, "green-1", { tag: "v2", web: "missing" }), "router-1": router(dGreen, "router-1", { live: "blue" }) }, blueLedger),
    expect: ["heal green-1 v2", "wait WaitingForHealth green"],
  },
  {
    name: "target colour still starting: no switch",
    d: dGreen,
    o: world({ "blue-1": node(dGreen, "blue-1", { tag: "v1", lease: blueOwns }), "green-1": node(dGreen, "green-1", { tag: "v2", web: "starting" }), "router-1": router(dGreen, "router-1", { live: "blue" }) }, blueLedger),
    expect: ["wait WaitingForHealth green"],
  },
  {
    name: "target colour healthy but its agent still converging: no switch",
    d: dGreen,
    o: world({ "blue-1": node(dGreen, "blue-1", { tag: "v1", lease: blueOwns }), "green-1": node(dGreen, "green-1", { tag: "v2", converging: true }), "router-1": router(dGreen, "router-1", { live: "blue" }) }, blueLedger),
    expect: ["wait WaitingForHealth green"],
  },
  {
    name: "target unhealthy and doubted by the router: the wait names the node's own problem",
    d: dGreen,
    o: world({ "blue-1": node(dGreen, "blue-1", { tag: "v1", lease: blueOwns }), "green-1": node(dGreen, "green-1", { tag: "v2", web: "unhealthy" }), "router-1": router(dGreen, "router-1", { live: "blue", upstreams: [{ color: "green", node: "green-1", health: "unhealthy" }] }) }, blueLedger),
    expect: ["wait WaitingForHealth green"],
  },
  {
    name: "the router doubts only the other colour, or is merely unsure: the switch goes ahead",
    d: dGreen,
    o: world({ "blue-1": node(dGreen, "blue-1", { tag: "v1", lease: blueOwns }), "green-1": node(dGreen, "green-1", { tag: "v2" }), "router-1": router(dGreen, "router-1", { live: "blue", upstreams: [{ color: "blue", node: "blue-1", health: "unhealthy" }, { color: "green", node: "green-1", health: "unknown" }] }) }, blueLedger),
    expect: ["switch router-1 live=green"],
  },
  {
    name: "routers disagree while blue holds the jobs: the holder keeps them, nothing is revoked",
    d: desired(c2), o: (() => { const x = desired(c2); return world({
      "blue-1": node(x, "blue-1", { tag: "v1", lease: { epoch: 3 } }), "blue-2": node(x, "blue-2", { tag: "v1", lease: { epoch: 3 } }),
      "green-1": node(x, "green-1", { tag: "v2" }), "green-2": node(x, "green-2", { tag: "v2" }),
      "router-1": router(x, "router-1", { live: "blue" }), "router-2": router(x, "router-2", { live: "green" }),
    }, ledger({ epoch: 3, grants: { "blue-1": { epoch: 3, sentAtMs: NOW, ttlMs: TTL }, "blue-2": { epoch: 3, sentAtMs: NOW, ttlMs: TTL } } })); })(),
    expect: ["switch router-2 live=blue"],
  },
  {
    name: "router unreachable: a holder of an older epoch is not renewed",
    d,
    o: world({ "blue-1": node(d, "blue-1", { tag: "v1", lease: { epoch: 2 } }), "green-1": node(d, "green-1", { tag: "v2" }), "router-1": down() },
      ledger({ epoch: 3, grants: { "blue-1": { epoch: 3, sentAtMs: NOW - 4_000, ttlMs: TTL } } })),
    expect: ["wait RouterUnreachable"],
  },
  {
    name: "a fresh grant whose agent reports little time left (it restarted or its clock jumped): renew",
    d,
    o: world({ "blue-1": node(d, "blue-1", { tag: "v1", lease: { epoch: 3, remainingMs: 1_000 } }), "green-1": node(d, "green-1", { tag: "v2" }), "router-1": router(d, "router-1", { live: "blue" }) }, blueLedger),
    expect: ["renew blue-1 epoch 3"],
  },
  {
    name: "a held lease with no job container running is still revoked when the owner changes",
    d: dGreen,
    o: world({ "blue-1": node(dGreen, "blue-1", { tag: "v1", lease: blueOwns, worker: "missing" }), "green-1": node(dGreen, "green-1", { tag: "v2" }), "router-1": router(dGreen, "router-1", { live: "green" }) }, blueLedger),
    expect: ["revoke blue-1", "wait LeaseRevocation blue-1"],
  },
  {
    name: "changed settings on the idle colour: update it in place",
    d,
    o: world({ "blue-1": node(d, "blue-1", { tag: "v1", lease: blueOwns }), "green-1": node(d, "green-1", { tag: "v2", env: { LOG_LEVEL: "debug" } }), "router-1": router(d, "router-1", { live: "blue" }) }, blueLedger),
    expect: ["update green-1 v2"],
  },
  {
    name: "the live colour's agent lost its spec and runs the desired tag and another: refused",
    d,
    o: world({ "blue-1": edited(node(d, "blue-1", { web: { tag: "v1" } }), (st) => { st.services.worker = { ...st.services.worker!, tag: "v0", state: "running" }; }), "green-1": node(d, "green-1", { tag: "v2" }), "router-1": router(d, "router-1", { live: "blue" }) }, ledger({ epoch: 3 })),
    expect: ["refuse WouldReplaceLive blue", "grant blue-1 epoch 4"],
  },
);
for (const state of ["starting", "stopping", "unhealthy"] as const) {
  rows.push({
    name: `a revoked node whose job container is ${state}: keep revoking`,
    d: dGreen,
    o: world({ "blue-1": edited(node(dGreen, "blue-1", { tag: "v1", lease: { epoch: 3, state: "revoked" } }), (st) => { st.services.worker = { ...st.services.worker!, tag: "v1", state }; }), "green-1": node(dGreen, "green-1", { tag: "v2" }), "router-1": router(dGreen, "router-1", { live: "green" }) }, ledger({ epoch: 3 })),
    expect: ["revoke blue-1", "wait LeaseRevocation blue-1"],
  });
}

const d2 = desired(c2, { active: "green" });
const ready2 = (extra: Record<string, ReturnType<typeof node>>) =>
  world({
    "blue-1": node(d2, "blue-1", { tag: "v1" }), "blue-2": node(d2, "blue-2", { tag: "v1" }),
    "green-1": node(d2, "green-1", { tag: "v2" }), "green-2": node(d2, "green-2", { tag: "v2" }),
    "router-1": router(d2, "router-1", { live: "blue" }), "router-2": router(d2, "router-2", { live: "blue" }),
    ...extra,
  }, ledger({ epoch: 0 }));

rows.push(
  {
    name: "two nodes per colour, all ready: both routers switch, jobs follow later",
    d: d2, o: ready2({}),
    expect: ["switch router-1 live=green", "switch router-2 live=green", "grant blue-1 epoch 1", "grant blue-2 epoch 1"],
  },
  {
    name: "one node of the target colour unhealthy: no switch on either router",
    d: d2, o: ready2({ "green-2": node(d2, "green-2", { tag: "v2", web: "unhealthy" }) }),
    expect: ["grant blue-1 epoch 1", "grant blue-2 epoch 1", "wait WaitingForHealth green"],
  },
  {
    name: "one router down: the other still switches; the down one waits",
    d: d2, o: ready2({ "router-2": down() }),
    expect: ["switch router-1 live=green", "grant blue-1 epoch 1", "grant blue-2 epoch 1", "wait NodeUnreachable router-2"],
  },
  {
    name: "a router that lost its table gets the live one back",
    d: desired(c2), o: (() => { const x = desired(c2); return world({
      "blue-1": node(x, "blue-1", { tag: "v1", lease: { epoch: 2 } }), "blue-2": node(x, "blue-2", { tag: "v1", lease: { epoch: 2 } }),
      "green-1": node(x, "green-1", { tag: "v2" }), "green-2": node(x, "green-2", { tag: "v2" }),
      "router-1": router(x, "router-1", { live: "blue" }), "router-2": router(x, "router-2", { fresh: true }),
    }, ledger({ epoch: 2, grants: { "blue-1": { epoch: 2, sentAtMs: NOW, ttlMs: TTL }, "blue-2": { epoch: 2, sentAtMs: NOW, ttlMs: TTL } } })); })(),
    expect: ["switch router-2 live=blue"],
  },
  {
    name: "routers disagree and the active colour is not ready: leave them, hold the jobs",
    d: d2, o: ready2({ "green-1": node(d2, "green-1", { tag: "v2", web: "starting" }), "router-2": router(d2, "router-2", { live: "green" }) }),
    expect: [],
  },
  {
    name: "a node of the owner colour joined late: it gets the epoch its colour already holds",
    d: desired(c2), o: (() => { const x = desired(c2); return world({
      "blue-1": node(x, "blue-1", { tag: "v1", lease: { epoch: 7 } }), "blue-2": node(x, "blue-2", { tag: "v1" }),
      "green-1": node(x, "green-1", { tag: "v2" }), "green-2": node(x, "green-2", { tag: "v2" }),
      "router-1": router(x, "router-1", { live: "blue" }), "router-2": router(x, "router-2", { live: "blue" }),
    }, ledger({ epoch: 7, grants: { "blue-1": { epoch: 7, sentAtMs: NOW, ttlMs: TTL } } })); })(),
    expect: ["grant blue-2 epoch 7"],
  },
  {
    // Soak seed 366646395: blue-2 was revoked at epoch 7 while blue-1, unreachable then, kept holding it. A grant of
    // 7 is refused there for good (AGENT_ERR_STALE_EPOCH), so the colour moves to a new epoch, holders included.
    name: "a node of the owner colour revoked at the epoch its colour holds: every owner node moves to a new epoch",
    d: desired(c2), o: (() => { const x = desired(c2); return world({
      "blue-1": node(x, "blue-1", { tag: "v1", lease: { epoch: 7 } }), "blue-2": node(x, "blue-2", { tag: "v1", lease: { epoch: 7, state: "revoked" } }),
      "green-1": node(x, "green-1", { tag: "v2" }), "green-2": node(x, "green-2", { tag: "v2" }),
      "router-1": router(x, "router-1", { live: "blue" }), "router-2": router(x, "router-2", { live: "blue" }),
    }, ledger({ epoch: 7, grants: { "blue-1": { epoch: 7, sentAtMs: NOW, ttlMs: TTL } } })); })(),
    expect: ["grant blue-1 epoch 8", "grant blue-2 epoch 8"],
  },
  {
    name: "a restarted agent of the owner colour that revoked the epoch its colour holds: every owner node moves to a new epoch",
    d: desired(c2), o: (() => { const x = desired(c2); return world({
      "blue-1": node(x, "blue-1", { tag: "v1", lease: { epoch: 7 } }), "blue-2": node(x, "blue-2", { tag: "v1", lease: { epoch: 7, state: "none", revokedThrough: 7 } }),
      "green-1": node(x, "green-1", { tag: "v2" }), "green-2": node(x, "green-2", { tag: "v2" }),
      "router-1": router(x, "router-1", { live: "blue" }), "router-2": router(x, "router-2", { live: "blue" }),
    }, ledger({ epoch: 7, grants: { "blue-1": { epoch: 7, sentAtMs: NOW, ttlMs: TTL } } })); })(),
    expect: ["grant blue-1 epoch 8", "grant blue-2 epoch 8"],
  },
  {
    name: "a node of the owner colour whose lease at that epoch only expired gets it again; the holder keeps it",
    d: desired(c2), o: (() => { const x = desired(c2); return world({
      "blue-1": node(x, "blue-1", { tag: "v1", lease: { epoch: 7 } }), "blue-2": node(x, "blue-2", { tag: "v1", lease: { epoch: 7, state: "expired", revokedThrough: 3 } }),
      "green-1": node(x, "green-1", { tag: "v2" }), "green-2": node(x, "green-2", { tag: "v2" }),
      "router-1": router(x, "router-1", { live: "blue" }), "router-2": router(x, "router-2", { live: "blue" }),
    }, ledger({ epoch: 7, grants: { "blue-1": { epoch: 7, sentAtMs: NOW, ttlMs: TTL } } })); })(),
    expect: ["grant blue-2 epoch 7"],
  },
  {
    name: "one router down while the switched-away colour redeploys: the other router's counts decide the drain",
    d: desired(c2, { active: "green", blue: "v3" }), o: (() => { const x = desired(c2, { active: "green", blue: "v3" }); return world({
      "blue-1": node(d2, "blue-1", { tag: "v1" }), "blue-2": node(d2, "blue-2", { tag: "v1" }),
      "green-1": node(x, "green-1", { tag: "v2" }), "green-2": node(x, "green-2", { tag: "v2" }),
      "router-1": router(x, "router-1", { live: "green" }), "router-2": down(),
    }, ledger({ epoch: 0 })); })(),
    expect: ["deploy blue-1 v3", "deploy blue-2 v3", "grant green-1 epoch 1", "grant green-2 epoch 1", "wait NodeUnreachable router-2"],
  },
  {
    name: "a node not observed yet: wait for it, change nothing there",
    d: d2, o: (() => { const w = ready2({}); delete (w.nodes as Record<string, unknown>)["green-2"]; return w; })(),
    expect: ["grant blue-1 epoch 1", "grant blue-2 epoch 1", "wait NodeUnreachable green-2", "wait WaitingForHealth green"],
  },
  {
    name: "deploy timeout reached to the millisecond: Failed",
    d: desired(c1, { green: "v3" }),
    o: world({ "blue-1": node(d, "blue-1", { tag: "v1", lease: blueOwns }), "green-1": node(d, "green-1", { tag: "v3", web: "unhealthy" }), "router-1": router(d, "router-1", { live: "blue" }) }, blueLedger,
      { green: { tag: "v3", startedAtMs: NOW - 120_000 } }),
    expect: ["refuse DeployFailed green"],
  },
  {
    name: "one node of the owner colour unreachable: the others get the lease, nobody waits for it",
    d: desired(c2), o: (() => { const x = desired(c2); return world({
      "blue-1": node(x, "blue-1", { tag: "v1" }), "blue-2": down(),
      "green-1": node(x, "green-1", { tag: "v2" }), "green-2": node(x, "green-2", { tag: "v2" }),
      "router-1": router(x, "router-1", { live: "blue" }), "router-2": router(x, "router-2", { live: "blue" }),
    }, ledger({ epoch: 0 })); })(),
    expect: ["grant blue-1 epoch 1", "wait NodeUnreachable blue-2"],
  },
  {
    name: "a router not observed yet: the other one decides",
    d: d2, o: (() => { const w = ready2({}); delete (w.nodes as Record<string, unknown>)["router-2"]; return w; })(),
    expect: ["switch router-1 live=green", "grant blue-1 epoch 1", "grant blue-2 epoch 1", "wait NodeUnreachable router-2"],
  },
);

describe("plan(desired, observed, now)", () => {
  it("has a table of at least 30 situations", () => {
    expect(rows.length).toBeGreaterThanOrEqual(30);
  });

  it.each(rows.map((r) => [r.name, r] as const))("%s", (_name, row) => {
    const actions = plan(row.d, freeze(row.o), NOW);
    expect(actions.map(summarize)).toEqual(row.expect);
  });

  // What operators read: every refusal and wait says why, in words pinned here (test/unit/__snapshots__).
  it("says why, in full, in every row", () => {
    const said = rows.map((r) => ({
      row: r.name,
      why: plan(r.d, freeze(r.o), NOW).flatMap((a) => (a.type === "wait" || a.type === "refuse" ? [`${summarize(a)}: ${a.message}${a.type === "wait" && a.untilMs !== undefined ? ` (until ${a.untilMs - NOW})` : ""}`] : [])),
    }));
    expect(said).toMatchSnapshot();
  });
});

describe("plan details", () => {
  const o = world({ "blue-1": node(d, "blue-1", { tag: "v1", lease: blueOwns, gen: 7 }), "green-1": node(d, "green-1", { tag: "v2", gen: 4 }), "router-1": router(d, "router-1", { live: "blue", gen: 9 }) }, blueLedger);

  it("sends the next generation and the full node spec", () => {
    const [a] = plan(desired(c1, { green: "v3" }), o, NOW);
    expect(a).toMatchObject({ type: "applyNodeSpec", node: "green-1", reason: "deploy", spec: { generation: 5, tag: "v3", color: "green", app: "demo", repository: "127.0.0.1:5000/switchyard-demo/app" } });
    if (a?.type !== "applyNodeSpec") throw new Error("unreachable");
    expect(a.spec.services.web).toMatchObject({ port: 8080, hostPort: 18082, job: false });
    expect(a.spec.services.worker).toMatchObject({ job: true, command: ["node", "worker.js"] });
    expect(a.spec.services.worker).not.toHaveProperty("hostPort");
  });

  it("switch carries the whole table: preview is the other colour, upstreams per colour", () => {
    const g = world({ ...o.nodes, "router-1": router(dGreen, "router-1", { live: "blue", gen: 9 }) }, blueLedger);
    const a = plan(dGreen, g, NOW).find((x) => x.type === "applyRouterSpec");
    if (a?.type !== "applyRouterSpec") throw new Error("expected a router action");
    expect(a.spec).toMatchObject({ generation: 10, live: "green", preview: "blue", listen: "127.0.0.1:8000" });
    expect(a.spec.upstreams.green).toEqual([
      { service: "web", pathPrefix: "/", health: expect.any(Object), nodes: [{ node: "green-1", address: "127.0.0.1", port: 18082 }] },
    ]);
  });

  it("waits for an unreachable holder exactly until its last grant + TTL + the job stop timeout + margin", () => {
    const sent = NOW - 3_000;
    const w = plan(desired(c1, { owner: "green" }), world({ "blue-1": down(), "green-1": node(d, "green-1", { tag: "v2" }), "router-1": router(d, "router-1", { live: "blue" }) },
      ledger({ epoch: 3, grants: { "blue-1": { epoch: 3, sentAtMs: sent, ttlMs: TTL } } })), NOW).find((x) => x.type === "wait" && x.reason === "LeaseExpiry");
    expect(w).toMatchObject({ untilMs: sent + TTL + JOB_STOP + MARGIN });
  });

  it("the wait covers the longest stopTimeoutSeconds of all job services (design rule 12)", () => {
    const cl = cluster1x1();
    cl.spec.services.worker!.stopTimeoutSeconds = 30;
    cl.spec.services.mailer = { ...cl.spec.services.worker!, command: ["node", "mailer.js"], stopTimeoutSeconds: 12 };
    cl.spec.services.web!.stopTimeoutSeconds = 120; // not a job: the lapse never waits for it
    const dj = desired(cl, { owner: "green" });
    const sent = NOW - 1_000;
    const o2 = world({ "blue-1": down(), "green-1": node(dj, "green-1", { tag: "v2" }), "router-1": router(dj, "router-1", { live: "blue" }) },
      ledger({ epoch: 3, grants: { "blue-1": { epoch: 3, sentAtMs: sent, ttlMs: TTL } } }));
    expect(plan(dj, o2, NOW).find((x) => x.type === "wait" && x.reason === "LeaseExpiry")).toMatchObject({ untilMs: sent + TTL + 30_000 + MARGIN });
    expect(plan(dj, o2, sent + TTL + 30_000 + MARGIN - 1).some((a) => a.type === "grantLease")).toBe(false);
    expect(plan(dj, o2, sent + TTL + 30_000 + MARGIN).some((a) => a.type === "grantLease")).toBe(true);
  });

  it("never grants while any other colour may hold the lease or still stop its jobs, whatever the timing", () => {
    for (let ago = 0; ago <= TTL + JOB_STOP + MARGIN + 1000; ago += 500) {
      const acts = plan(desired(c1, { owner: "green" }), world({ "blue-1": down(), "green-1": node(d, "green-1", { tag: "v2" }), "router-1": router(d, "router-1", { live: "blue" }) },
        ledger({ epoch: 3, grants: { "blue-1": { epoch: 3, sentAtMs: NOW - ago, ttlMs: TTL } } })), NOW);
      const granted = acts.some((a) => a.type === "grantLease");
      expect(granted).toBe(ago >= TTL + JOB_STOP + MARGIN);
    }
  });

  it("is pure: frozen input, same answer twice, input unchanged", () => {
    const frozen = freeze(structuredClone(o));
    const before = JSON.stringify(frozen);
    const a = plan(dGreen, frozen, NOW);
    const b = plan(dGreen, frozen, NOW);
    expect(a).toEqual(b);
    expect(JSON.stringify(frozen)).toBe(before);
  });

  it("says why in every refusal and wait", () => {
    const acts = plan(desired(c1, { blue: "v5" }), o, NOW);
    const refusal = acts.find((x) => x.type === "refuse");
    expect(refusal).toMatchObject({ reason: "WouldReplaceLive" });
    expect(refusal?.type === "refuse" ? refusal.message : "").toMatch(/Deploy v5 to green and make it active/);
  });
});

describe("digests: a tag pinned to its content", () => {
  const D1 = `sha256:${"1".repeat(64)}`;
  const D2 = `sha256:${"2".repeat(64)}`;
  const pinned = (digest: string): Desired => ({ ...d, pins: { blue: { tag: "v1", digest }, green: { tag: "v2", digest } } });
  const running = (x: Desired, name: string, tag: string, digest: string, lease?: { epoch: number }) =>
    edited(node(x, name, { tag, ...(lease ? { lease } : {}) }), (s) => { s.services.web!.digest = digest; });
  const steady = (digest: string) => world({
    "blue-1": running(d, "blue-1", "v1", digest, blueOwns), "green-1": running(d, "green-1", "v2", digest), "router-1": router(d, "router-1", { live: "blue" }),
  }, blueLedger);

  it("the pin of a tag goes into its colour's node spec; state.yaml's digest wins; a pin of another tag does not", () => {
    const cn = c1.spec.nodes.find((n) => n.name === "green-1")!;
    expect(nodeSpecFor(pinned(D1), cn, 1).digest).toBe(D1);
    expect(nodeSpecFor({ ...d, pins: { green: { tag: "v1", digest: D1 } } }, cn, 1).digest).toBeUndefined();
    const st = structuredClone(d.state);
    st.spec.colors.green.digest = D2;
    expect(nodeSpecFor({ ...d, state: st, pins: { green: { tag: "v2", digest: D1 } } }, cn, 1).digest).toBe(D2);
  });

  it("pinning the live colour to the content it already runs is an update, not a refusal", () => {
    expect(plan(pinned(D1), steady(D1), NOW).map(summarize)).toEqual(["update blue-1 v1", "update green-1 v2"]);
  });

  it("an agent from before digests (no 'digest' in its features) gets specs without one: nothing to send, nothing refused", () => {
    const o = steady(D1);
    for (const n of ["blue-1", "green-1"]) { const x = o.nodes[n]!; if (x.reachable) delete x.status.features; }
    expect(plan(pinned(D2), o, NOW).map(summarize)).toEqual([]);
  });

  it("pinning the live colour to other content than it runs is refused (a re-pushed tag never reaches live by itself)", () => {
    const acts = plan(pinned(D2), steady(D1), NOW).map(summarize);
    expect(acts).toContain("refuse LiveSpecChange blue");
    expect(acts).not.toContain("update blue-1 v1");
    expect(acts).toContain("update green-1 v2"); // the idle colour converges on the pinned content
  });
});
