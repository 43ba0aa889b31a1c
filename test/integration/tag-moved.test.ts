/**
 * A tag pushed again (issue 20, item 4): each colour runs the content its tag had when it was deployed,
 * a node that pulls later pulls that content by digest, the moved tag raises TagMoved, and only an
 * explicit redeploy (a commit to state.yaml) rolls the new content out. Real engine, registry and git.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { execFileSync } from "node:child_process";
import { ClusterBed } from "../support/cluster-bed.js";
import { REPO, docker, waitFor } from "../support/agent-bed.js";

const TAG = `moving-${process.pid}`;

/** Pushes `from`'s content as TAG; returns the manifest digest the registry now serves for TAG. */
function pushAs(from: string): string {
  execFileSync("docker", ["tag", `${REPO}:${from}`, `${REPO}:${TAG}`]);
  const out = execFileSync("docker", ["push", `${REPO}:${TAG}`], { encoding: "utf8" });
  const digest = /digest: (sha256:[0-9a-f]{64})/.exec(out)?.[1];
  if (!digest) throw new Error(`no digest in docker push output: ${out}`);
  return digest;
}

async function imageOf(ref: string): Promise<string> {
  return (await docker.getImage(ref).inspect()).Id;
}

describe("a tag pushed again", () => {
  let bed: ClusterBed;
  let d1 = "";
  let d2 = "";

  beforeAll(async () => {
    d1 = pushAs("v1");
    bed = new ClusterBed({ prefix: "tm", git: true, registryRecheckSeconds: 1, state: { blue: "v1", green: TAG } });
    await bed.startAgents();
    await bed.startReconciler();
  }, 120_000);

  afterAll(async () => {
    await bed?.close();
    execFileSync("docker", ["rmi", "-f", `${REPO}:${TAG}`], { stdio: "ignore" });
  }, 60_000);

  const greenContainer = async () => (await docker.listContainers({ filters: { label: [`dev.switchyard.node=${bed.names.green}`, "dev.switchyard.service=web"] } }))[0];
  const greenVersion = async () => JSON.parse((await bed.viaRouter("green.test")).body).version as string;

  it("pins the deployed content, keeps it when the tag moves, and raises TagMoved", async () => {
    await waitFor("green ready and pinned to the content it was deployed with", async () => {
      const s = await bed.status();
      return s.colors?.green.phase === "Ready" && s.colors.green.digest === d1 && s;
    }, 90_000);
    const v1Version = await greenVersion();
    d2 = pushAs("v2");
    expect(d2).not.toBe(d1);
    const alert = await waitFor("TagMoved fires for green", async () => {
      const a = await bed.api<{ alerts: { name: string; state: string; summary: string; labels: Record<string, string> }[] }>("/api/v1/alerts");
      return a.alerts.find((x) => x.name === "TagMoved" && x.state === "firing" && x.labels.color === "green");
    }, 30_000);
    expect(alert.summary).toContain(d2.slice(0, 19));
    expect(alert.summary).toContain("switchyard redeploy green");
    // Green still runs the deployed content, and says so.
    expect((await greenContainer())!.ImageID).toBe(await imageOf(`${REPO}@${d1}`));
    expect(await greenVersion()).toBe(v1Version);
    const s = await bed.status();
    expect(s.colors?.green.digest).toBe(d1);
    expect(Object.values(s.colors!.green.nodes[0]!.services).find((x) => x.tag === TAG)?.digest).toBe(d1);
  }, 150_000);

  it("a node that pulls again (its container and image gone) pulls the pinned content, not the moved tag", async () => {
    const c = (await greenContainer())!;
    await docker.getContainer(c.Id).remove({ force: true });
    execFileSync("docker", ["rmi", "-f", `${REPO}:${TAG}`, `${REPO}@${d1}`], { stdio: "ignore" });
    await waitFor("green healed", async () => {
      const now = await greenContainer();
      return now && now.Id !== c.Id && now.State === "running" && (await bed.status()).colors?.green.phase === "Ready" && now;
    }, 90_000);
    expect((await greenContainer())!.ImageID).toBe(await imageOf(`${REPO}@${d1}`));
    expect(await imageOf(`${REPO}:${TAG}`)).toBe(await imageOf(`${REPO}@${d1}`)); // the local tag names the pinned content
  }, 150_000);

  it("only a redeploy rolls the new content out: a commit, then green runs it and the alert resolves", async () => {
    const doc = await bed.api<{ revision: string }>("/api/v1/state");
    const live = await bed.api<{ error: { message: string } }>("/api/v1/actions/redeploy", { method: "POST", body: JSON.stringify({ color: "blue" }), headers: { "if-match": doc.revision } });
    expect(live.error.message).toMatch(/blue is live/);
    const r = await bed.api<{ message: string; commit: string }>("/api/v1/actions/redeploy", { method: "POST", body: JSON.stringify({ color: "green" }), headers: { "if-match": doc.revision } });
    expect(r.message).toContain("redeploy green");
    expect(execFileSync("git", ["-C", bed.deployDir, "log", "-1", "--format=%s"], { encoding: "utf8" })).toContain("redeploy green");
    expect(execFileSync("git", ["-C", bed.deployDir, "show", "HEAD:state.yaml"], { encoding: "utf8" })).toContain(`digest: ${d2}`);
    await waitFor("green runs the new content", async () => {
      const s = await bed.status();
      const c = await greenContainer();
      return s.colors?.green.phase === "Ready" && s.colors.green.digest === d2 && c?.ImageID === (await imageOf(`${REPO}@${d2}`)) && s;
    }, 90_000);
    await waitFor("TagMoved resolved", async () => {
      const a = await bed.api<{ alerts: { name: string; state: string }[] }>("/api/v1/alerts");
      return !a.alerts.some((x) => x.name === "TagMoved" && x.state === "firing");
    }, 30_000);
    // Blue, the live colour, never changed.
    expect((await bed.viaRouter()).color).toBe("blue");
  }, 150_000);
});
