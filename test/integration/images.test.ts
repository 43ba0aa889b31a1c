/**
 * An app of two images: web from the demo repository, api from its own (cluster.yaml services.api.image),
 * on the real Docker engine and registry. Deploy, preview, promote and roll back; the colour's tag runs every
 * service; the tag picker offers only tags both repositories have; content is pinned per repository.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { ClusterBed } from "../support/cluster-bed.js";
import { REPO, docker, waitFor } from "../support/agent-bed.js";
import type { ClusterStatus } from "../../reconciler/loop/status.js";

const API_REPO = process.env.SWITCHYARD_TEST_API_REPO ?? `${REPO.slice(0, REPO.lastIndexOf("/"))}/api`;
const bothReady = (s: ClusterStatus) => s.colors?.blue.phase === "Ready" && s.colors?.green.phase === "Ready";

/** What Docker runs for a node's service: the image reference its container was created from (ground truth). */
async function imageOf(node: string, service: string): Promise<string[]> {
  const list = await docker.listContainers({ filters: { label: [`dev.switchyard.node=${node}`, `dev.switchyard.service=${service}`] } });
  return Promise.all(list.map(async (c) => (await docker.getContainer(c.Id).inspect()).Config.Image));
}

async function registryDigest(repository: string, tag: string): Promise<string> {
  const path = repository.slice(repository.indexOf("/") + 1);
  const res = await fetch(`http://127.0.0.1:5000/v2/${path}/manifests/${tag}`, {
    method: "HEAD",
    headers: { accept: "application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json" },
  });
  return res.headers.get("docker-content-digest")!;
}

describe("an image per service (web and api of two repositories)", () => {
  const bed = new ClusterBed({ prefix: "img1", apiImage: API_REPO, git: true });
  let revision = "";
  const act = async (path: string, body: object) => {
    revision = ((await bed.api("/api/v1/state")) as { revision: string }).revision;
    return bed.api(path, { method: "POST", body: JSON.stringify(body), headers: { "if-match": revision } });
  };
  const version = async (host: string, path: string) => JSON.parse((await bed.viaRouter(host, path)).body) as { version: string; color: string };

  beforeAll(async () => {
    await bed.startAgents();
    await bed.startReconciler();
    await waitFor("blue v1 live, green v2 ready", async () => bothReady(await bed.status()), 90_000);
  }, 120_000);
  afterAll(() => bed.close());

  it("deploys each service from its own repository with the colour's tag, pinned per repository", async () => {
    expect(await imageOf(bed.names.blue, "web")).toEqual([`${REPO}:v1`]);
    expect(await imageOf(bed.names.blue, "api")).toEqual([`${API_REPO}:v1`]);
    expect(await imageOf(bed.names.green, "web")).toEqual([`${REPO}:v2`]);
    expect(await imageOf(bed.names.green, "api")).toEqual([`${API_REPO}:v2`]);
    // The reconciler pinned each repository's content of the tag (memory.json), as the registry serves it.
    const memory = JSON.parse(readFileSync(join(bed.dataDir, "memory.json"), "utf8"));
    expect(memory.pins.green).toMatchObject({ tag: "v2", digest: await registryDigest(REPO, "v2") });
    expect(memory.imagePins.green[API_REPO]).toMatchObject({ tag: "v2", digest: await registryDigest(API_REPO, "v2") });
    // Each node's status reports the api's digest in its own repository, and the spec carries its pin.
    const s = await bed.status();
    const greenApi = s.colors!.green.nodes.find((n) => n.name === bed.names.green)!.services.api!;
    expect(greenApi).toMatchObject({ tag: "v2", digest: await registryDigest(API_REPO, "v2") });
  });

  it("previews: the live host serves blue's web and api, the preview host green's", async () => {
    expect(await version("live.test", "/version")).toMatchObject({ version: "v1", color: "blue" });
    expect(await version("live.test", "/slow?ms=0")).toMatchObject({ version: "v1", color: "blue" });
    expect(await version("preview.test", "/version")).toMatchObject({ version: "v2", color: "green" });
    expect(await version("preview.test", "/slow?ms=0")).toMatchObject({ version: "v2", color: "green" });
  });

  it("the tag picker offers only tags every repository has, and a deploy of another is refused naming the repository", async () => {
    const tags = ((await bed.api("/api/v1/tags")) as { tags: { tag: string }[] }).tags.map((t) => t.tag);
    expect(tags).toEqual(expect.arrayContaining(["v1", "v2"]));
    expect(tags).not.toContain("v3"); // in the web repository only
    const refused = (await act("/api/v1/actions/deploy", { tag: "v3" })) as { error: { code: string; message: string } };
    expect(refused.error.code).toBe("RECON_ERR_INVALID_STATE");
    expect(refused.error.message).toContain(`tag v3 is not in ${API_REPO}`);
  });

  it("promotes (web and api switch together) and rolls back", async () => {
    const blueApi = await imageOf(bed.names.blue, "api");
    await act("/api/v1/actions/promote", {});
    await waitFor("green live", async () => (await bed.status()).router?.live === "green", 30_000);
    expect(await version("live.test", "/version")).toMatchObject({ version: "v2", color: "green" });
    expect(await version("live.test", "/slow?ms=0")).toMatchObject({ version: "v2", color: "green" });
    await act("/api/v1/actions/rollback", {});
    await waitFor("blue live again", async () => (await bed.status()).router?.live === "blue", 30_000);
    expect(await version("live.test", "/slow?ms=0")).toMatchObject({ version: "v1", color: "blue" });
    expect(await version("live.test", "/version")).toMatchObject({ version: "v1", color: "blue" });
    // A flip is routing only: blue's containers were never replaced.
    expect(await imageOf(bed.names.blue, "api")).toEqual(blueApi);
  });

  it("deploys a new tag to the idle colour: both services move to it", async () => {
    await act("/api/v1/actions/deploy", { tag: "v1", color: "green" });
    await waitFor("green ready on v1", async () => {
      const s = await bed.status();
      return s.colors?.green.tag === "v1" && s.colors.green.phase === "Ready";
    }, 60_000);
    expect(await imageOf(bed.names.green, "web")).toEqual([`${REPO}:v1`]);
    expect(await imageOf(bed.names.green, "api")).toEqual([`${API_REPO}:v1`]);
    expect(await version("preview.test", "/slow?ms=0")).toMatchObject({ version: "v1", color: "green" });
  });
});

describe("an agent whose allowedRepositories lack the api's repository", () => {
  const bed = new ClusterBed({ prefix: "img2", apiImage: API_REPO, apiNotAllowed: true });
  beforeAll(async () => {
    await bed.startAgents();
    await bed.startReconciler();
  }, 60_000);
  afterAll(() => bed.close());

  it("refuses the spec naming the repository, and runs nothing", async () => {
    const { url, token } = bed.agentApi(bed.names.green);
    // The agent's refusal (403 AGENT_ERR_IMAGE_NOT_ALLOWED) is the failed action's result in the event feed.
    const failed = await waitFor("the refusal in the event feed", async () => bed.reconciler!.events.recent({ type: "result", limit: 1000 })
      .find((e) => e.node === bed.names.green && e.ok === false), 30_000);
    expect(failed.message).toContain(`image repository ${API_REPO} is not in this agent's allowedRepositories; nothing was pulled or changed`);
    const own = await fetch(`${url}/v1/status`, { headers: { authorization: `Bearer ${token}` } }).then((r) => r.json()) as { observedGeneration: number };
    expect(own.observedGeneration).toBe(0);
    expect(await imageOf(bed.names.green, "web")).toEqual([]);
  });
});
