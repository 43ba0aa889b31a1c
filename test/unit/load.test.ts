import { describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { parseSpec, loadDeployDir, loadSpecFile } from "../../specs/load.js";
import { formatIssue } from "../../specs/source.js";
import { MAX_ISSUE_MESSAGE_CHARS, MAX_SPEC_ISSUES, MAX_YAML_BYTES } from "../../specs/defaults.js";

/** Parse text as if it were `name`; return the formatted issues (empty when valid). */
function issues(text: string | Buffer, name = "t.yaml", checkFiles = false): string[] {
  const r = parseSpec(name, text, { checkFiles });
  return r.ok ? [] : r.issues.map(formatIssue);
}

const STATE = `apiVersion: switchyard.dev/v1
kind: State
spec:
  active: blue
  colors:
    blue: { tag: v1 }
    green: { tag: v2 }
`;

const CLUSTER = readFileSync("examples/local/cluster.yaml", "utf8");

describe("valid files", () => {
  it("accepts the local example and fills in defaults", async () => {
    const r = await loadSpecFile("examples/local/cluster.yaml");
    expect(r.ok).toBe(true);
    if (!r.ok) throw new Error("the local example must load");
    expect(r.spec.kind).toBe("Cluster");
    const c = r.spec.value as import("../../specs/cluster.js").Cluster;
    expect(c.spec.jobs.leaseTtlSeconds).toBe(10);
    expect(c.spec.deploy.timeoutSeconds).toBe(120);
    expect(c.spec.services.worker!.health.path).toBe("/healthz");
    expect(c.spec.nodes[2]!.role).toBe("router");
  });

  it("loads a deploy dir with the cross-file rules", async () => {
    const r = await loadDeployDir("examples/local");
    expect(r.ok).toBe(true);
  });

  it("defaults jobs.owner to active", () => {
    const r = parseSpec("s.yaml", STATE);
    expect(r.ok && (r.spec.value as { spec: { jobs: { owner: string } } }).spec.jobs.owner).toBe("active");
  });
});

describe("schema errors, each at its exact line and column", () => {
  it("an unknown colour is reported at the value", () => {
    const text = STATE.replace("active: blue", "active: purple");
    expect(issues(text)).toEqual(['t.yaml:4:11: spec.active: must be one of blue, green (got "purple")']);
  });

  it("a misspelt field gets a did-you-mean, at the key, without a second 'missing' error", () => {
    const text = STATE.replace("active: blue", "actve: blue");
    expect(issues(text)).toEqual(['t.yaml:4:3: spec.actve: unknown field "actve" (did you mean "active"?)']);
  });

  it("reports every error, not only the first", () => {
    const text = readFileSync("examples/broken/state-three-errors.yaml", "utf8");
    const got = issues(text, "examples/broken/state-three-errors.yaml");
    expect(got).toHaveLength(4);
    expect(got[0]).toMatch(/:4:3: spec\.actvie: unknown field .*did you mean "active"/);
    expect(got[1]).toMatch(/:6:18: spec\.colors\.blue\.tag: "v1 beta" is not a Docker image tag/);
    expect(got[2]).toMatch(/:7:23: spec\.colors\.green\.stoped: unknown field .*did you mean "stopped"/);
    expect(got[3]).toMatch(/:8:18: spec\.jobs\.owner: must be one of active, blue, green, none \(got "everyone"\)/);
  });

  it("a missing required field points at its parent key", () => {
    expect(issues(STATE.replace("    green: { tag: v2 }\n", ""))).toEqual(['t.yaml:5:3: spec.colors: missing required field "green"']);
  });

  it("a list where a mapping is expected", () => {
    expect(issues(STATE.replace("  colors:\n    blue: { tag: v1 }\n    green: { tag: v2 }", "  colors: [blue, green]"))).toEqual([
      "t.yaml:5:11: spec.colors: must be a mapping (got a list)",
    ]);
  });

  it("a wrong type names what it got", () => {
    expect(issues(CLUSTER.replace("port: 8080", "port: eighty"), "c.yaml")).toContainEqual(
      'c.yaml:12:13: spec.services.web.port: must be a whole number (got the text "eighty")',
    );
  });

  it("a wrong apiVersion", () => {
    expect(issues(STATE.replace("switchyard.dev/v1", "switchyard.dev/v2"))).toEqual([
      't.yaml:1:13: apiVersion: must be "switchyard.dev/v1" (got "switchyard.dev/v2")',
    ]);
  });

  it("an unknown or missing kind", () => {
    expect(issues(STATE.replace("kind: State", "kind: Stat"))).toEqual(['t.yaml:2:7: kind: unknown kind "Stat" (did you mean "State"?)']);
    expect(issues(STATE.replace("kind: State\n", ""))).toEqual(['t.yaml:1:1: missing field "kind": expected one of Cluster, State, Agent']);
  });

  it("a bad service name is reported at the key", () => {
    const got = issues(CLUSTER.replace("    worker:\n", "    Worker_1:\n"), "c.yaml");
    expect(got[0]).toMatch(/^c\.yaml:18:5: spec\.services\.Worker_1: "Worker_1" is not a name of lowercase letters/);
  });
});

describe("hostile input is refused cleanly", () => {
  it("YAML syntax errors", () => {
    expect(issues("kind: State\nspec: [1, 2\n")[0]).toMatch(/^t\.yaml:\d+:\d+: YAML syntax error: /);
  });

  it("duplicate keys", () => {
    expect(issues(STATE.replace("  active: blue\n", "  active: blue\n  active: green\n"))).toEqual([
      't.yaml:5:3: duplicate key "active": each key may appear once in a mapping',
    ]);
  });

  it("alias bombs", () => {
    const bomb = ["a: &a [x, x, x, x, x, x, x, x, x, x]"];
    for (let i = 0; i < 8; i++) bomb.push(`${"bcdefghij"[i]}: &${"bcdefghij"[i]} [${Array(10).fill(`*${"abcdefghij"[i]}`).join(", ")}]`);
    const started = Date.now();
    expect(issues(bomb.join("\n") + "\n")).toEqual([
      "t.yaml:1:1: cannot resolve YAML aliases: Excessive alias count indicates a resource exhaustion attack",
    ]);
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it("huge files, by size, before parsing", () => {
    const big = STATE + "# " + "x".repeat(MAX_YAML_BYTES) + "\n";
    expect(issues(big)[0]).toMatch(/^t\.yaml:1:1: file is \d+ bytes; the limit is 262144 bytes/);
  });

  it("binary garbage", () => {
    expect(issues(Buffer.from([0x6b, 0x3a, 0x20, 0x00, 0xff]))).toEqual(["t.yaml:1:4: file contains a NUL byte: it looks binary, not YAML text"]);
    expect(issues(Buffer.from([0x6b, 0x3a, 0x20, 0xc3, 0x28]))).toEqual(["t.yaml:1:1: file is not valid UTF-8 text: save it as UTF-8"]);
  });

  it("a list at the top, a scalar, an empty file, several documents", () => {
    expect(issues("- a\n- b\n")).toEqual(["t.yaml:1:1: expected a mapping with apiVersion, kind and spec, got a list"]);
    expect(issues("hello\n")).toEqual(['t.yaml:1:1: expected a mapping with apiVersion, kind and spec, got the string "hello"']);
    expect(issues("")).toEqual(["t.yaml:1:1: file is empty: expected a mapping with apiVersion, kind and spec"]);
    expect(issues(STATE + "---\n" + STATE)[0]).toMatch(/^t\.yaml:\d+:1: YAML syntax error: .*multiple documents/i);
  });

  it("a 250 KiB file of ~26,000 unknown keys: at most 50 issues and a count of the rest (linear, not quadratic)", () => {
    let text = STATE;
    let n = 0;
    while (text.length < 250 * 1024 - 20) text += `  x${(n++).toString(36)}: 1\n`;
    const got = issues(text);
    expect(got).toHaveLength(MAX_SPEC_ISSUES + 1);
    expect(got[0]).toMatch(/^t\.yaml:8:3: spec\.x0: unknown field "x0"/);
    expect(got.at(-1)).toBe(`t.yaml:${8 + MAX_SPEC_ISSUES}:3: … and ${n - MAX_SPEC_ISSUES} more issues in this file (fix the ones above first)`);
    expect(Buffer.byteLength(got.join("\n"))).toBeLessThan(16 * 1024);
  });

  it("thousands of duplicate keys and YAML errors are capped the same way, in order", () => {
    const dups = STATE + Array.from({ length: 15_000 }, () => "  active: green\n").join("");
    const got = issues(dups);
    expect(got).toHaveLength(MAX_SPEC_ISSUES + 1);
    expect(got[0]).toBe('t.yaml:8:3: duplicate key "active": each key may appear once in a mapping');
    expect(got.at(-1)).toMatch(/… and 14950 more issues in this file/);
  });

  it("keys that differ only in their YAML type are duplicates (they would overwrite each other)", () => {
    expect(issues(STATE + "  1: a\n  '1': b\n")).toContain('t.yaml:9:3: duplicate key "1": each key may appear once in a mapping');
  });

  it("a very long key name is cut in the message", () => {
    const got = issues(STATE + `  ${"k".repeat(100_000)}: 1\n`);
    expect(got).toHaveLength(1);
    expect(got[0]!.length).toBeLessThan(MAX_ISSUE_MESSAGE_CHARS + 20);
  });

  it("unknown YAML tags", () => {
    expect(issues(STATE.replace("active: blue", "active: !!js/function blue"))[0]).toMatch(/^t\.yaml:4:11: YAML syntax error: /);
  });
});

describe("cross-field rules", () => {
  const rules: [string, (s: string) => string, RegExp][] = [
    ["unique node names", (s) => s.replace("name: green-1", "name: blue-1"), /:24:15: spec\.nodes\[1\]\.name: node name "blue-1" is already used by spec\.nodes\[0\]/],
    ["every colour has a node", (s) => s.replace(/    - \{ name: green-1.*\n/, ""), /spec\.nodes: there is no green node/],
    ["at least one router", (s) => s.replace(/    - \{ name: router-1.*\n/, ""), /spec\.nodes: there is no router node/],
    ["exposed service has a port on every colour node", (s) => s.replace("ports: { web: 18082 }", "ports: {}"), /:24:\d+: spec\.nodes\[1\]\.ports: node "green-1" has no host port for exposed service "web"/],
    ["ports name real services", (s) => s.replace("ports: { web: 18082 }", "ports: { web: 18082, wbe: 1 }"), /spec\.nodes\[1\]\.ports\.wbe: "wbe" is not a service of this cluster \(did you mean "web"\?\)/],
    ["host ports do not collide", (s) => s.replace("web: 18082", "web: 18081"), /spec\.nodes\[1\]\.ports\.web: host port 18081 on 127\.0\.0\.1 is already taken by node "blue-1"/],
    ["exposed and job", (s) => s.replace("    worker:\n      job: true", "    worker:\n      port: 9000\n      expose: { pathPrefix: /jobs }\n      job: true"), /spec\.services\.worker\.job: service "worker" is exposed and a job/],
    ["a colour node has a colour", (s) => s.replace("color: green, ", ""), /spec\.nodes\[1\]: node "green-1" needs a color/],
    ["a router has no colour", (s) => s.replace("role: router,", "role: router, color: blue,"), /spec\.nodes\[2\]\.color: a router node has no colour/],
    ["reserved env names", (s) => s.replace("LOG_LEVEL: info", "SWITCHYARD_COLOR: x"), /spec\.services\.web\.env\.SWITCHYARD_COLOR: .*reserved|set by Switchyard itself/],
    ["a host belongs to one route class", (s) => s.replace("preview: [preview.localhost]", "preview: [localhost]"), /spec\.router\.hosts\.preview\[0\]: host localhost is already in router\.hosts\.live/],
  ];
  it.each(rules)("%s", (_n, edit, re) => {
    const got = issues(edit(CLUSTER), "c.yaml");
    expect(got.some((g) => re.test(g)), got.join("\n")).toBe(true);
  });

  it("the active colour is not stopped; a running colour has a tag; the owner is not stopped", () => {
    const text = STATE.replace("blue: { tag: v1 }", "blue: { stopped: true }").replace("green: { tag: v2 }", "green: {}") + "  jobs: { owner: blue }\n";
    expect(issues(text)).toEqual([
      "t.yaml:6:22: spec.colors.blue.stopped: blue is the active colour and cannot be stopped; make the other colour active first",
      "t.yaml:7:5: spec.colors.green: green has no tag; give it a tag or set stopped: true",
      "t.yaml:8:18: spec.jobs.owner: blue is stopped and cannot own the jobs; choose active, the other colour or none",
    ]);
  });

  it("referenced files must exist, relative to the file", () => {
    const got = issues(CLUSTER.replace("secrets/green-1.token", "secrets/nope.token"), "examples/local/cluster.yaml", true);
    expect(got).toEqual(["examples/local/cluster.yaml:24:80: spec.nodes[1].tokenFile: file secrets/nope.token does not exist (paths are relative to examples/local)"]);
  });

  it("agent rules: a node agent needs allowed repositories", () => {
    const agent = "apiVersion: switchyard.dev/v1\nkind: Agent\nname: blue-1\ntokenFile: t\ndataDir: /tmp/x\n";
    expect(issues(agent)).toEqual([
      "t.yaml:1:1: allowedRepositories: a node agent needs at least one allowed image repository; it refuses every other image",
    ]);
    expect(issues(agent + "role: router\n")).toEqual([]);
    expect(issues(agent + "role: router\nrouter: { allowedUpstreams: [10.0.0.0/8, \"fc00::/7\"] }\n")).toEqual([]);
    expect(issues(agent + "role: router\nrouter: { allowedUpstreams: [10.0.0.0/8, 10.0.0.0/33] }\n")).toEqual([
      't.yaml:7:42: router.allowedUpstreams[1]: "10.0.0.0/33" is not a CIDR such as 10.0.0.0/8 or fc00::/7',
    ]);
    expect(issues(agent + "allowedRepositories: [127.0.0.1:5000/shop/app]\nprivileged: true\n")[0]).toMatch(/t\.yaml:7:1: privileged: unknown field "privileged"/);
  });
});

describe("the wire schemas leave no way to ask for privileges", () => {
  it("node service specs accept only the documented fields", async () => {
    const { nodeServiceSpecSchema } = await import("../../specs/wire.js");
    expect(Object.keys(nodeServiceSpecSchema.properties).sort()).toEqual(["capabilities", "command", "digest", "env", "health", "hostPort", "image", "job", "limits", "port", "secrets", "stopTimeoutSeconds"]);
    // A service's own image is a repository like the spec's, which agent.yaml allowedRepositories bounds.
    expect(nodeServiceSpecSchema.properties.image).toBe((await import("../../specs/common.js")).repositorySchema);
    // Secrets are names only: no '/' or '.', so a spec can never point the agent at a file outside secretsDir.
    expect(nodeServiceSpecSchema.properties.secrets.items.pattern).toBe("^[a-z0-9][a-z0-9_-]{0,62}$");
    // Capabilities: Docker's default set at most, never one that gives the host away.
    expect(nodeServiceSpecSchema.properties.capabilities.items.enum).not.toContain("SYS_ADMIN");
    expect(nodeServiceSpecSchema.properties.capabilities.items.enum).not.toContain("NET_ADMIN");
    expect(nodeServiceSpecSchema.additionalProperties).toBe(false);
  });
});

