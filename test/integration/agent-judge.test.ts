/**
 * Containers judged by what they are, on the real Docker engine: a container run by hand with copied labels
 * is drift, not "tag v2, healthy"; a job is a job because the spec says so, and revocation stops every
 * container of the app the spec does not explain.
 */
import { afterEach, describe, expect, it } from "vitest";
import { REPO, demoSpec, docker, startTestAgent, stopTestAgent, waitFor, type AgentHandle } from "../support/agent-bed.js";

let h: AgentHandle | undefined;
afterEach(async () => {
  await stopTestAgent(h); // removes every container labelled with the node, the hand-run ones too
  h = undefined;
});

/** Runs a container by hand, the way an intruder or a hurried operator would. */
async function handRun(name: string, o: { image: string; labels: Record<string, string>; env: string[]; cmd?: string[]; binds?: string[]; ports?: Record<string, { HostIp: string; HostPort: string }[]> }): Promise<string> {
  await docker.getContainer(name).remove({ force: true }).catch(() => undefined);
  const c = await docker.createContainer({
    name,
    Image: o.image,
    Labels: o.labels,
    Env: o.env,
    ...(o.cmd ? { Cmd: o.cmd } : {}),
    ...(o.ports ? { ExposedPorts: Object.fromEntries(Object.keys(o.ports).map((p) => [p, {}])) } : {}),
    HostConfig: { ...(o.binds ? { Binds: o.binds } : {}), ...(o.ports ? { PortBindings: o.ports } : {}) },
  });
  await c.start();
  return c.id;
}

describe("containers judged by what they are", () => {
  it("a hand-run container with copied labels but image v1 and a bind mount is drift, not v2 healthy; a heal replaces it", async () => {
    const NODE = "t-judge-drift";
    const PORT = 19351;
    h = await startTestAgent({ name: NODE });
    await h.api.putSpec(demoSpec({ node: NODE, tag: "v2", generation: 1, hostPort: PORT }));
    const ours = await waitFor("v2 healthy", async () => {
      const st = await h!.api.status();
      return (st.services.web?.health === "healthy" && st.services.web.containerId) || undefined;
    });
    const info = await docker.getContainer(ours).inspect();
    await docker.getContainer(ours).remove({ force: true });
    const forged = await handRun(`t-judge-forged-${process.pid}`, {
      image: `${REPO}:v1`,
      labels: info.Config.Labels,
      env: info.Config.Env,
      binds: ["/etc:/host-etc:ro"],
      ports: { "8080/tcp": [{ HostIp: "127.0.0.1", HostPort: String(PORT) }] },
    });
    const s = await waitFor("the forged container judged", async () => {
      const st = await h!.api.status();
      return st.services.web?.containerId === forged && st.services.web.state === "running" && st.services.web.drift ? st : undefined;
    });
    const web = s.services.web!;
    expect(web.tag).toBeNull();
    expect(web.drift!.some((r) => /^runs image [0-9a-f]{12}, not 127\.0\.0\.1:5000\/switchyard-demo\/app:v2 \([0-9a-f]{12}\)$/.test(r))).toBe(true);
    expect(web.drift).toContain("mounts /etc:/host-etc");
    expect(web.drift).toContain("does not drop all capabilities");
    expect(web.drift!.some((r) => r.startsWith("has security options"))).toBe(true);
    expect(web.error).toMatch(/^the container is not what the spec asks for: it runs image/);

    // What a heal sends (the same spec, next generation) replaces it with what the spec asks for.
    await h.api.putSpec(demoSpec({ node: NODE, tag: "v2", generation: 2, hostPort: PORT }));
    const healed = await waitFor("healed", async () => {
      const st = await h!.api.status();
      const w = st.services.web;
      return !st.converging && w?.tag === "v2" && w.health === "healthy" && w.containerId !== forged ? st : undefined;
    });
    expect(healed.services.web!.drift).toBeUndefined();
    expect(await docker.getContainer(forged).inspect().then(() => "still there", () => "gone")).toBe("gone");
  }, 90_000);

  it("a hand-run worker without the kind label is stopped on revocation", async () => {
    const NODE = "t-judge-worker";
    h = await startTestAgent({ name: NODE });
    await h.api.putSpec(demoSpec({ node: NODE, tag: "v1", generation: 1, hostPort: 19361, withWorker: true }));
    expect((await h.api.req("PUT", "/v1/lease", { epoch: 1, ttlMs: 60_000 })).status).toBe(200);
    const worker = await waitFor("the worker running", async () => {
      const st = await h!.api.status();
      return (st.services.worker?.state === "running" && st.services.worker.containerId) || undefined;
    });
    const info = await docker.getContainer(worker).inspect();
    const { "dev.switchyard.kind": _kind, ...labels } = info.Config.Labels;
    const stray = await handRun(`t-judge-stray-${process.pid}`, { image: `${REPO}:v1`, labels, env: info.Config.Env, cmd: ["node", "worker.js"] });
    expect((await docker.getContainer(stray).inspect()).State.Running).toBe(true);

    const del = await h.api.req("DELETE", "/v1/lease");
    expect(del.status).toBe(200);
    for (const id of [worker, stray]) {
      const running = await docker.getContainer(id).inspect().then((i) => i.State.Running, () => false);
      expect(running, id === stray ? "the hand-run worker" : "the agent's worker").toBe(false);
    }
  }, 90_000);
});
