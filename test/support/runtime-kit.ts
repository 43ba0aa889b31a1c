/**
 * What the shared agent suites need to know about a runtime to check it from outside the agent: how to
 * configure an agent for it, how to look at and interfere with a workload, and how to clean up after a
 * node. One kit for Docker (the engine's own view), one for processes (/proc and the bookkeeping files).
 */
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "vitest";
import { REPO, docker, removeNodeContainers } from "./agent-bed.js";
import { isZombie, killProcsOfNode, procsOfNode, waitGone } from "./procs.js";
import { writeDemoReleases } from "../../cli/demo/releases.js";
import type { ProcessRecord } from "../../node-agent/process-book.js";

export interface RuntimeKit {
  kind: "docker" | "process";
  /** The process runtime's release dirs (the reconciler lists tags from them). */
  releasesDir?: string;
  /** Extra agent.yaml lines. */
  agentYaml(): string;
  /** Removes everything an agent of this node left running. */
  cleanupNode(node: string): Promise<void>;
  /** The workload's labels, from the runtime's own records (Docker labels, or the process record). */
  labels(agentDir: string, id: string): Promise<Record<string, string>>;
  /** The workload's environment as KEY=value lines. */
  env(agentDir: string, id: string): Promise<string[]>;
  /** When the workload last started, as the runtime says. */
  startedAt(agentDir: string, id: string): Promise<string>;
  /** Stops a workload behind the agent's back (docker stop / kill); resolves once it is down. */
  stopByHand(agentDir: string, id: string): Promise<void>;
  exists(agentDir: string, id: string): Promise<boolean>;
  /** Tags of this node's workloads as the machine sees them. */
  tagsOnNode(node: string): Promise<string[]>;
  /** Shape checks: restart policy, privileges, where it listens. */
  checkShape(agentDir: string, id: string, o: { kind: "web" | "job"; hostPort?: number }): Promise<void>;
  /** The error a node reports for a tag that does not exist. */
  unknownTagError(tag: string): string;
}

export const dockerKit: RuntimeKit = {
  kind: "docker",
  agentYaml: () => "",
  cleanupNode: removeNodeContainers,
  labels: async (_d, id) => (await docker.getContainer(id).inspect()).Config.Labels,
  env: async (_d, id) => (await docker.getContainer(id).inspect()).Config.Env,
  startedAt: async (_d, id) => (await docker.getContainer(id).inspect()).State.StartedAt,
  stopByHand: async (_d, id) => {
    await docker.getContainer(id).stop({ t: 1 });
  },
  exists: (_d, id) => docker.getContainer(id).inspect().then(() => true, () => false),
  tagsOnNode: async (node) => (await docker.listContainers({ all: true, filters: { label: [`dev.switchyard.node=${node}`] } })).map((c) => c.Labels["dev.switchyard.tag"]!),
  checkShape: async (_d, id, o) => {
    const info = await docker.getContainer(id).inspect();
    expect(info.HostConfig.RestartPolicy?.Name, "the agent owns restarts (crash-loop backoff)").toBe("no");
    expect(info.HostConfig.Privileged).toBe(false);
    expect(info.HostConfig.SecurityOpt).toEqual(["no-new-privileges"]);
    expect(info.HostConfig.CapDrop).toEqual(["ALL"]);
    expect(info.HostConfig.CapAdd ?? []).toEqual(["NET_BIND_SERVICE"]);
    expect(info.HostConfig.Binds ?? []).toEqual([]);
    expect(info.HostConfig.NetworkMode).not.toBe("host");
    if (o.hostPort !== undefined) expect(info.HostConfig.PortBindings?.["8080/tcp"]).toEqual([{ HostIp: "127.0.0.1", HostPort: String(o.hostPort) }]);
  },
  unknownTagError: (tag) => `AGENT_ERR_TAG_MISSING: tag ${tag} does not exist in ${REPO}; push it first or pick an existing tag`,
};

/** Release dirs v1, v2, v3 of the demo app, written once per test file. */
export async function processKit(): Promise<RuntimeKit> {
  const releasesDir = await writeDemoReleases(join(mkdtempSync(join(tmpdir(), "sy-releases-")), "releases"));
  const record = (agentDir: string, id: string): ProcessRecord => JSON.parse(readFileSync(join(agentDir, "data", "processes", `${id}.json`), "utf8")) as ProcessRecord;
  const environ = (pid: number) => readFileSync(`/proc/${pid}/environ`, "latin1").split("\0").filter(Boolean);
  return {
    kind: "process",
    releasesDir,
    agentYaml: () => `runtime: process\nprocess: { releasesDir: ${releasesDir} }`,
    cleanupNode: killProcsOfNode,
    labels: async (d, id) => record(d, id).labels,
    env: async (d, id) => environ(record(d, id).identity.pid),
    startedAt: async (d, id) => record(d, id).startedAt,
    stopByHand: async (d, id) => {
      const pid = record(d, id).identity.pid;
      process.kill(pid, "SIGTERM");
      await waitGone(pid);
    },
    exists: async (d, id) => {
      try {
        return !isZombie(record(d, id).identity.pid);
      } catch {
        return false;
      }
    },
    tagsOnNode: async (node) => procsOfNode(node).map((p) => p.env.SWITCHYARD_TAG!),
    checkShape: async (d, id, o) => {
      const r = record(d, id);
      const raw = readFileSync(`/proc/${r.identity.pid}/stat`, "utf8");
      const stat = raw.slice(raw.lastIndexOf(")") + 2).split(" ");
      expect(Number(stat[2]), "own process group").toBe(r.identity.pid); // pgrp
      expect(Number(stat[3]), "own session (setsid)").toBe(r.identity.pid); // session
      expect(r.cwd).toBe(join(releasesDir, r.labels["dev.switchyard.tag"]!));
      const env = environ(r.identity.pid);
      expect(env.filter((e) => /^(VITEST|HOME|npm_)/.test(e)), "nothing inherited from the agent").toEqual([]);
      if (o.hostPort !== undefined) expect(env).toEqual(expect.arrayContaining([`PORT=${o.hostPort}`, "HOST=127.0.0.1"]));
    },
    unknownTagError: (tag) => `AGENT_ERR_TAG_MISSING: release ${tag} does not exist in ${releasesDir}; copy it there first or pick an existing release`,
  };
}
