/** describeChange: the commit message a person reads for each kind of change, as a table. */
import { describe, expect, it } from "vitest";
import { describeChange } from "../../reconciler/history/describe-change.js";
import { parseSpec } from "../../specs/load.js";
import type { State } from "../../specs/state.js";

type C = { tag?: string; stopped?: boolean; digest?: string };
function st(active: "blue" | "green", blue: C, green: C, owner = "active"): State {
  const yaml = `apiVersion: switchyard.dev/v1\nkind: State\nspec:\n  active: ${active}\n  colors:\n    blue: ${JSON.stringify(blue)}\n    green: ${JSON.stringify(green)}\n  jobs: { owner: ${owner} }\n`;
  const r = parseSpec("state.yaml", yaml, { expectKind: "State", checkFiles: false });
  if (!r.ok) throw new Error(r.issues.map((i) => i.message).join("; "));
  return r.spec.value as State;
}

const base = st("blue", { tag: "v1" }, { tag: "v2" });

describe("describeChange", () => {
  const rows: [string, State, State, string][] = [
    ["deploy to the idle colour", base, st("blue", { tag: "v1" }, { tag: "v3" }), "deploy v3 to green"],
    ["promote", base, st("green", { tag: "v1" }, { tag: "v2" }), "promote green (v2)"],
    ["redeploy (a digest pins the tag's new content)", base, st("blue", { tag: "v1" }, { tag: "v2", digest: `sha256:${"ab".repeat(32)}` }), "redeploy green (v2 as sha256:abababababab)"],
    ["switch back to an older version", st("green", { tag: "v1" }, { tag: "v2" }), base, "roll back to blue (v1)"],
    ["v10 is newer than v9", st("blue", { tag: "v9" }, { tag: "v10" }), st("green", { tag: "v9" }, { tag: "v10" }), "promote green (v10)"],
    ["deploy and promote at once", base, st("green", { tag: "v1" }, { tag: "v3" }), "deploy v3 to green, promote green (v3)"],
    ["stop the idle colour", base, st("blue", { tag: "v1" }, { tag: "v2", stopped: true }), "stop green"],
    ["start it again", st("blue", { tag: "v1" }, { tag: "v2", stopped: true }), base, "start green (v2)"],
    ["start with a new tag", st("blue", { tag: "v1" }, { stopped: true }), base, "deploy v2 to green"],
    ["move jobs", base, st("blue", { tag: "v1" }, { tag: "v2" }, "green"), "move jobs to green"],
    ["jobs follow the active colour", st("blue", { tag: "v1" }, { tag: "v2" }, "green"), base, "move jobs to the active colour (blue)"],
    ["no jobs", base, st("blue", { tag: "v1" }, { tag: "v2" }, "none"), "stop jobs (owner none)"],
    ["promote and stop the old colour", base, st("green", { tag: "v1", stopped: true }, { tag: "v2" }), "promote green (v2), stop blue"],
    ["nothing", base, st("blue", { tag: "v1" }, { tag: "v2" }), "no change"],
  ];
  for (const [name, before, after, message] of rows) {
    it(name, () => expect(describeChange(before, after)).toBe(message));
  }

  it("takes the caller's intent over the version heuristic", () => {
    expect(describeChange(base, st("green", { tag: "v1" }, { tag: "v2" }), { intent: "rollback" })).toBe("roll back to green (v2)");
    const shaTags = [st("blue", { tag: "sha-b" }, { tag: "sha-a" }), st("green", { tag: "sha-b" }, { tag: "sha-a" })] as const;
    expect(describeChange(shaTags[0], shaTags[1])).toBe("promote green (sha-a)");
    expect(describeChange(shaTags[0], shaTags[1], { intent: "rollback" })).toBe("roll back to green (sha-a)");
  });
});
