/**
 * Containers are hard by default, on the real Docker engine: every capability dropped but NET_BIND_SERVICE,
 * no-new-privileges, memory and pids limits, rotating json-file logs, the image's own user (with a warning
 * when that is root); limits and capabilities a service asks for are bounded by agent.yaml.
 */
import { execFileSync } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { demoSpec, docker, httpGet, startTestAgent, stopTestAgent, waitFor, type AgentHandle } from "../support/agent-bed.js";
import type { NodeSpec } from "../../specs/wire.js";

const NODE = "t-agent-hard";
const PORT = 19341;
const MiB = 1024 * 1024;

/** Capability names as Docker reports them, without the CAP_ prefix some engines add. */
const caps = (l: string[] | null | undefined) => (l ?? []).map((c) => c.replace(/^CAP_/, "")).sort();

function withService(spec: NodeSpec, extra: Record<string, unknown>): NodeSpec {
  return { ...spec, services: { ...spec.services, web: { ...spec.services.web!, ...extra } } } as NodeSpec;
}

describe("hardened containers", () => {
  let h: AgentHandle;
  const logLines: string[] = [];
  beforeAll(async () => {
    h = await startTestAgent({ name: NODE, logLines, extra: "containers: { maxMemoryMiB: 1024, maxPids: 1000, allowedCapabilities: [CHOWN, SETUID, SETGID] }" });
  });
  afterAll(() => stopTestAgent(h));

  it("by default: no capabilities but NET_BIND_SERVICE, no-new-privileges, memory, pids and log limits; the demo app runs", async () => {
    await h.api.putSpec(demoSpec({ node: NODE, tag: "v1", generation: 1, hostPort: PORT }));
    const id = await waitFor("v1 healthy", async () => {
      const st = await h.api.status();
      return (st.services.web?.health === "healthy" && st.services.web.containerId) || undefined;
    });
    const info = await docker.getContainer(id).inspect();
    const hc = info.HostConfig;
    expect(caps(hc.CapDrop)).toEqual(["ALL"]);
    expect(caps(hc.CapAdd)).toEqual(["NET_BIND_SERVICE"]);
    expect(hc.SecurityOpt).toContain("no-new-privileges");
    expect(hc.Privileged).toBe(false);
    expect(hc.Memory).toBe(512 * MiB);
    expect(hc.MemorySwap).toBe(512 * MiB);
    expect(hc.PidsLimit).toBe(512);
    expect(hc.LogConfig).toEqual({ Type: "json-file", Config: { "max-size": "10m", "max-file": "3" } });
    // What the process really holds: CAP_NET_BIND_SERVICE (bit 10) in its bounding set, and nothing else.
    const status = execFileSync("docker", ["exec", id, "node", "-e", "process.stdout.write(require('fs').readFileSync('/proc/1/status', 'utf8'))"], { encoding: "utf8" });
    expect(/^CapBnd:\s*([0-9a-f]+)$/m.exec(status)?.[1]).toBe("0000000000000400");
    expect(/^NoNewPrivs:\s*(\d)$/m.exec(status)?.[1]).toBe("1");
    expect((await httpGet(`http://127.0.0.1:${PORT}/healthz`)).status).toBe(200);
    // The demo image has no USER line: the agent says so.
    expect(logLines.some((l) => l.includes('"service":"web"') && l.includes("the image runs as root"))).toBe(true);
  });

  it("a service's own limits and added capabilities, within the agent's bounds", async () => {
    const spec = withService(demoSpec({ node: NODE, tag: "v1", generation: 2, hostPort: PORT }), { limits: { memoryMiB: 256, pids: 128 }, capabilities: ["SETUID", "SETGID"] });
    expect((await h.api.putSpec(spec)).status).toBe(202);
    const info = await waitFor("the container recreated with the new limits", async () => {
      const st = await h.api.status();
      const id = st.services.web?.health === "healthy" && !st.converging && st.services.web.containerId;
      const i = id ? await docker.getContainer(id).inspect() : undefined;
      return i?.HostConfig.PidsLimit === 128 && i;
    });
    expect(info.HostConfig.Memory).toBe(256 * MiB);
    expect(caps(info.HostConfig.CapAdd)).toEqual(["NET_BIND_SERVICE", "SETGID", "SETUID"]);
  });

  it("refuses limits or capabilities beyond agent.yaml, and capabilities beyond Docker's defaults", async () => {
    const base = demoSpec({ node: NODE, tag: "v1", generation: 3, hostPort: PORT });
    for (const extra of [{ limits: { memoryMiB: 2048 } }, { limits: { pids: 5000 } }, { capabilities: ["NET_RAW"] }]) {
      const r = await h.api.putSpec(withService(base, extra));
      expect(r.status, JSON.stringify(extra)).toBe(403);
      expect(r.json.error.code).toBe("AGENT_ERR_LIMIT_NOT_ALLOWED");
      expect(r.json.error.message).toContain("nothing was changed");
    }
    for (const extra of [{ capabilities: ["SYS_ADMIN"] }, { limits: { memoryMiB: 1 } }]) {
      const r = await h.api.putSpec(withService(base, extra));
      expect(r.status, JSON.stringify(extra)).toBe(422);
    }
    expect((await h.api.status()).observedGeneration).toBe(2);
  });
});
