/**
 * The soak's Docker side: a Docker engine of its own (test/support/private-engine.ts: own socket, data root,
 * containerd and bridge) that runs the Docker node of each colour, so restarting it never touches the test
 * bed's engine; and the `crash` image (the demo app with a command that exits at once) in the bed's registry,
 * which the soak's Docker nodes pull through a relay the soak controls.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { PrivateEngine } from "../../../test/support/private-engine.js";
import { LABEL } from "../../../node-agent/runtime.js";
import { freeBase } from "./netns.js";

/** The test bed's registry and the demo app's repository in it (test/bed/setup.sh builds v1 v2 v3 there). */
export const BED_REGISTRY = "127.0.0.1:5000";
export const DEMO_REPO_PATH = "switchyard-demo/app";

/** A running container of a node, as the soak's leftovers and stray-workload checks see it. */
export interface EngineContainer {
  node: string;
  service: string;
  tag: string;
}

export class SoakEngine {
  readonly engine: PrivateEngine;
  /** The bridge's /24 (first three octets): containers get addresses in it. */
  readonly subnet: string;
  readonly bridge: string;

  constructor(readonly dir: string, tag: string) {
    this.bridge = `sy${tag.slice(-6)}d0`;
    this.subnet = `10.86.${freeBase(1, "10.86")}`;
    this.engine = new PrivateEngine(dir, this.bridge, this.subnet);
  }

  get socket(): string {
    return this.engine.socket;
  }

  start(): Promise<void> {
    return this.engine.start();
  }

  /** SIGTERM, as `systemctl restart docker` does: the engine stops every container, then exits. */
  stop(): Promise<void> {
    return this.engine.stop();
  }

  /** Stops the engine and removes everything of it: containers, images, data root, bridge. */
  remove(): Promise<void> {
    return this.engine.remove();
  }

  /**
   * Removes every image of `repository` no container uses, so the next deploy of those tags must pull
   * (an engine keeps what it pulled; without this a registry outage would go unnoticed).
   */
  async dropUnusedImages(repository: string): Promise<string[]> {
    const images = await this.engine.docker.listImages().catch(() => []);
    const dropped: string[] = [];
    for (const img of images) {
      for (const ref of img.RepoTags ?? []) {
        if (!ref.startsWith(repository + ":")) continue;
        const gone = await this.engine.docker.getImage(ref).remove().then(() => true, () => false);
        if (gone) dropped.push(ref.slice(repository.length + 1));
      }
    }
    return dropped;
  }

  /** The running containers the agents made, by node label. */
  async running(app: string): Promise<EngineContainer[]> {
    const list = await this.engine.docker.listContainers({ filters: { label: [`${LABEL.app}=${app}`] } });
    return list.map((c) => ({ node: c.Labels[LABEL.node] ?? "", service: c.Labels[LABEL.service] ?? "", tag: c.Labels[LABEL.tag] ?? "" }));
  }

  /** What of the engine is still on the machine (after remove): its processes, its bridge, its mounts. */
  leftovers(): string[] {
    const out: string[] = [];
    for (const d of readdirSync("/proc")) {
      if (!/^\d+$/.test(d) || Number(d) === process.pid) continue;
      let cmd = "";
      try {
        cmd = readFileSync(`/proc/${d}/cmdline`, "utf8").replace(/\0/g, " ").trim();
      } catch {
        continue;
      }
      // dockerd, containerd and the shims name the engine's dir; docker-proxy names a container address.
      if (cmd.includes(this.dir) || cmd.includes(`-container-ip ${this.subnet}.`)) out.push(`engine process ${d} (${cmd.slice(0, 100)})`);
    }
    if (spawnSync("ip", ["link", "show", this.bridge]).status === 0) out.push(`engine bridge ${this.bridge}`);
    out.push(...readFileSync("/proc/mounts", "utf8").split("\n").map((l) => l.split(" ")[1] ?? "").filter((m) => m.startsWith(this.dir + "/") || m === this.dir).map((m) => `engine mount ${m}`));
    return out;
  }
}

/**
 * Puts `<bed registry>/<demo repo>:crash` in the bed's registry unless it is there: v1 with a command that
 * exits at once (status 3), made with `docker create` + `docker commit` on the bed's engine, as
 * examples/demo-app/build.sh makes the tags. Only the image's config changes, so no layer is pushed.
 */
export async function ensureCrashImage(crashTag: string): Promise<void> {
  const url = `http://${BED_REGISTRY}/v2/${DEMO_REPO_PATH}/manifests/${crashTag}`;
  const accept = "application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json";
  const have = await fetch(url, { method: "HEAD", headers: { accept } }).then((r) => r.ok, () => false);
  if (have) return;
  const base = `${BED_REGISTRY}/${DEMO_REPO_PATH}`;
  const docker = (...args: string[]) => execFileSync("docker", args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }).trim();
  const inspect = spawnSync("docker", ["image", "inspect", `${base}:v1`], { stdio: "ignore" });
  if (inspect.status !== 0) docker("pull", "-q", `${base}:v1`);
  const cid = docker("create", "--label", "dev.switchyard.bed=soak-crash", `${base}:v1`);
  try {
    docker("commit", "--change", 'CMD ["node", "-e", "console.error(\'crash: this image exits at once\'); process.exit(3)"]', "--change", `ENV APP_VERSION=${crashTag}`, cid, `${base}:${crashTag}`);
  } finally {
    docker("rm", "-f", cid);
  }
  docker("push", "-q", `${base}:${crashTag}`);
  docker("rmi", `${base}:${crashTag}`);
}

/** The engine's data lives under the soak's dir. */
export function engineDir(clusterDir: string): string {
  return join(clusterDir, "engine");
}
