import { describe, expect, it } from "vitest";
import { driftOf, type ContainerFacts } from "../../node-agent/container-judge.js";
import type { WorkloadDef } from "../../node-agent/runtime.js";

const MiB = 1024 * 1024;
const def: WorkloadDef = {
  app: "shop", node: "blue-1", color: "blue", service: "web", repository: "reg:5000/shop/app", tag: "v2", kind: "web", specHash: "h",
  env: {}, port: 8080, hostPort: 18081, publishAddress: "127.0.0.1", memoryBytes: 512 * MiB, pidsLimit: 512, capabilities: ["NET_BIND_SERVICE"],
};
const asMade: ContainerFacts = {
  imageId: "sha256:" + "b".repeat(64),
  portBindings: { "8080/tcp": [{ HostIp: "127.0.0.1", HostPort: "18081" }] },
  capAdd: ["CAP_NET_BIND_SERVICE"], capDrop: ["ALL"], securityOpt: ["no-new-privileges"], mounts: [], privileged: false,
  sharedNamespaces: [], devices: 0, memoryBytes: 512 * MiB, pidsLimit: 512,
};
const want = "sha256:" + "b".repeat(64);

describe("driftOf: a container judged by what it is", () => {
  it("as the agent made it: no drift", () => {
    expect(driftOf(asMade, def, want)).toEqual([]);
  });

  it("every difference, in words", () => {
    const table: [Partial<ContainerFacts>, string][] = [
      [{ imageId: "sha256:" + "a".repeat(64) }, "runs image aaaaaaaaaaaa, not reg:5000/shop/app:v2 (bbbbbbbbbbbb)"],
      [{ portBindings: { "8080/tcp": [{ HostIp: "0.0.0.0", HostPort: "18081" }] } }, "publishes 8080/tcp 0.0.0.0:18081 instead of 8080/tcp 127.0.0.1:18081"],
      [{ capDrop: [] }, "does not drop all capabilities"],
      [{ capAdd: ["NET_BIND_SERVICE", "NET_RAW"] }, "adds capabilities NET_BIND_SERVICE, NET_RAW instead of NET_BIND_SERVICE"],
      [{ securityOpt: [] }, "has security options none instead of no-new-privileges"],
      [{ securityOpt: ["no-new-privileges", "seccomp=unconfined"] }, "has security options no-new-privileges, seccomp=unconfined instead of no-new-privileges"],
      [{ mounts: ["/etc:/host-etc"] }, "mounts /etc:/host-etc"],
      [{ privileged: true }, "is privileged"],
      [{ sharedNamespaces: ["network=host"] }, "shares network=host"],
      [{ devices: 1 }, "has 1 device(s)"],
      [{ memoryBytes: 0 }, "has a memory limit of none instead of 512 MiB"],
      [{ pidsLimit: 0 }, "has a pids limit of none instead of 512"],
    ];
    for (const [change, words] of table) expect(driftOf({ ...asMade, ...change }, def, want), words).toEqual([words]);
    expect(driftOf(asMade, def, undefined)).toEqual(["runs image bbbbbbbbbbbb, and reg:5000/shop/app:v2 is not on this node"]);
  });

  it("a container of an earlier spec: held to its image and to what every container has, not to the new ports and limits", () => {
    const earlier = { ...asMade, portBindings: { "8080/tcp": [{ HostIp: "127.0.0.1", HostPort: "18099" }] }, memoryBytes: 256 * MiB, pidsLimit: 128, capAdd: ["NET_BIND_SERVICE", "CHOWN"] };
    expect(driftOf(earlier, def, want, false)).toEqual([]);
    expect(driftOf({ ...earlier, mounts: ["/:/host"], memoryBytes: 0 }, def, want, false)).toEqual(["mounts /:/host", "has no memory limit"]);
    expect(driftOf({ ...earlier, capAdd: ["SYS_ADMIN"] }, def, want, false)).toEqual(["adds capabilities SYS_ADMIN instead of NET_BIND_SERVICE"]);
  });
});
