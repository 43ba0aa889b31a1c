/**
 * A stopped container the Docker engine cannot remove (CI's chaos soak: "failed to remove root filesystem ...
 * device or resource busy", a mount of it leaked into another mount namespace) must not keep its service down:
 * the agent starts the replacement beside it, does not count it as the service's workload, and removes it once
 * the engine can. The failed removal is made real here with an immutable file in the container's directory
 * (chattr +i): on this kernel a mount copied into another namespace (`unshare --mount`) is detached when
 * Docker removes the mount point, so that recipe no longer makes the removal fail. The engine answers both
 * the same way (HTTP 500, the container left "dead"), and the agent must handle any such failure.
 */
import { execFileSync } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { REPO, demoSpec, docker, httpGet, startTestAgent, stopTestAgent, waitFor, type AgentHandle } from "../support/agent-bed.js";
import { LEFTOVER_REMOVAL_RETRY_MS } from "../../specs/defaults.js";

const NODE = "t-agent-unremovable";

/** A container whose removal the engine refuses (an immutable file in its directory) and that file, made removable again. */
interface Stuck {
  id: string;
  pinned: string;
}

/** Lets the engine remove the container again and removes it (what the test made unremovable never outlives it). */
async function release(stuck: Stuck | undefined): Promise<void> {
  if (!stuck) return;
  execFileSync("chattr", ["-i", stuck.pinned]);
  await docker.getContainer(stuck.id).remove({ force: true }).catch(() => undefined);
}
const PORT = 19391;

describe("a stopped container Docker cannot remove", () => {
  let h: AgentHandle;
  const logLines: string[] = [];
  let stuck: Stuck | undefined;
  beforeAll(async () => {
    h = await startTestAgent({ name: NODE, logLines });
  });
  afterAll(async () => {
    await release(stuck);
    await stopTestAgent(h);
  });

  it("does not keep its service down: the replacement starts beside it, it is no workload of the service, and it is removed once it can be", async () => {
    await h.api.putSpec(demoSpec({ node: NODE, tag: "v1", generation: 1, hostPort: PORT }));
    const old = await waitFor("v1 healthy", async () => {
      const st = await h.api.status();
      return st.services.web?.health === "healthy" && st.services.web.containerId;
    }) as string;
    const info = await docker.getContainer(old).inspect();
    await docker.getContainer(old).kill();
    await waitFor("the container down", async () => !(await docker.getContainer(old).inspect()).State.Running);
    execFileSync("chattr", ["+i", info.HostnamePath]);
    stuck = { id: old, pinned: info.HostnamePath };
    // The reconciler heals a dead web service with a new generation; the agent must remove the old one first.
    await h.api.putSpec(demoSpec({ node: NODE, tag: "v1", generation: 2, hostPort: PORT }));
    const healed = await waitFor("a new v1 container, healthy", async () => {
      const st = await h.api.status();
      const web = st.services.web;
      if (web?.health === "healthy" && web.containerId !== old && !st.converging) return st;
      throw new Error(`web is ${web?.state} (${web?.containerId?.slice(0, 12)}): ${web?.error}`);
    }, 30_000);
    // The engine really refused: the old container is still there, stopped.
    const left = await docker.getContainer(old).inspect();
    expect(left.State.Running).toBe(false);
    // It gave its name to the replacement.
    expect(left.Name).toBe(`/sy-sytest-${NODE}-web-unremovable-${old.slice(0, 12)}`);
    expect((await docker.getContainer(healed.services.web!.containerId!).inspect()).Name).toBe(`/sy-sytest-${NODE}-web`);
    expect(logLines.join("")).toMatch(/is stopped but Docker cannot remove it \(.*unable to remove filesystem/);
    const web = healed.services.web!;
    expect(web.state).toBe("running");
    expect(web.error ?? null).toBeNull();
    expect(web.drift).toBeUndefined();
    expect((await httpGet(`http://127.0.0.1:${PORT}/healthz`)).status).toBe(200);
    const deaths = web.restarts?.count ?? 0;
    // It stays so: the leftover is no second instance, no death and no drift (two retries of its removal pass).
    await new Promise((r) => setTimeout(r, 2 * LEFTOVER_REMOVAL_RETRY_MS + 1000));
    const later = await h.api.status();
    expect(later.services.web!.containerId).toBe(web.containerId);
    expect(later.services.web!.state).toBe("running");
    expect(later.services.web!.error ?? null).toBeNull();
    expect(later.services.web!.restarts?.count ?? 0).toBe(deaths);
    expect(await docker.getContainer(old).inspect().then(() => true, () => false)).toBe(true);
    // The engine can remove it again: the agent does, by itself.
    execFileSync("chattr", ["-i", stuck.pinned]);
    await waitFor("the leftover removed", async () => docker.getContainer(old).inspect().then(() => false, (e: { statusCode?: number }) => e.statusCode === 404), 3 * LEFTOVER_REMOVAL_RETRY_MS);
    stuck = undefined;
    expect((await h.api.status()).services.web!.containerId).toBe(web.containerId);
  }, 90_000);
});

describe("a container Docker could not remove before the agent started (found dead)", () => {
  const NODE2 = "t-agent-unremovable2";
  const PORT2 = 19393;
  let h: AgentHandle;
  let stuck: Stuck | undefined;
  beforeAll(async () => {
    // What an earlier agent left: its web container, killed, whose removal the engine refused.
    const c = await docker.createContainer({
      name: `sy-sytest-${NODE2}-web`, Image: `${REPO}:v1`,
      Labels: { "dev.switchyard.app": "sytest", "dev.switchyard.node": NODE2, "dev.switchyard.service": "web", "dev.switchyard.kind": "web", "dev.switchyard.tag": "v1" },
    });
    await c.start();
    await c.kill();
    const info = await c.inspect();
    execFileSync("chattr", ["+i", info.HostnamePath]);
    stuck = { id: c.id, pinned: info.HostnamePath };
    await expect(c.remove({ force: true })).rejects.toThrow(/unable to remove filesystem/);
    h = await startTestAgent({ name: NODE2 });
  });
  afterAll(async () => {
    await release(stuck);
    await stopTestAgent(h);
  });

  it("is no workload: the service starts under its own name, the dead one set aside, and it is removed once it can be", async () => {
    const old = stuck!.id;
    await h.api.putSpec(demoSpec({ node: NODE2, tag: "v1", generation: 1, hostPort: PORT2 }));
    const st = await waitFor("v1 healthy", async () => {
      const s = await h.api.status();
      if (s.services.web?.health === "healthy" && !s.converging) return s;
      throw new Error(`web is ${s.services.web?.state}: ${s.services.web?.error}`);
    });
    const web = st.services.web!;
    expect(web.containerId).not.toBe(old);
    expect([web.state, web.error ?? null, web.drift, web.restarts]).toEqual(["running", null, undefined, undefined]);
    expect((await docker.getContainer(web.containerId!).inspect()).Name).toBe(`/sy-sytest-${NODE2}-web`);
    expect((await docker.getContainer(old).inspect()).Name).toBe(`/sy-sytest-${NODE2}-web-unremovable-${old.slice(0, 12)}`);
    execFileSync("chattr", ["-i", stuck!.pinned]);
    await waitFor("the leftover removed", async () => docker.getContainer(old).inspect().then(() => false, (e: { statusCode?: number }) => e.statusCode === 404), 3 * LEFTOVER_REMOVAL_RETRY_MS);
    stuck = undefined;
  }, 60_000);
});
