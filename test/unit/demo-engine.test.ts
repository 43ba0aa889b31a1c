import { existsSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { chooseEngine } from "../../cli/demo/engine.js";

const saved = process.env.DOCKER_HOST;
afterEach(() => {
  if (saved === undefined) delete process.env.DOCKER_HOST;
  else process.env.DOCKER_HOST = saved;
});

function dirs() {
  const root = mkdtempSync(join(tmpdir(), "sy-engine-"));
  return { root, releasesDir: join(root, "releases") };
}

describe("switchyard demo picks its runtime (README: Docker when one answers, plain processes otherwise, and says which)", () => {
  it("auto, with no Docker engine answering: the process runtime, with the reason said and the releases written", async () => {
    process.env.DOCKER_HOST = `unix://${join(tmpdir(), "sy-no-such-docker.sock")}`;
    const said: string[] = [];
    const { root, releasesDir } = dirs();
    const e = await chooseEngine({ want: "auto", root, releasesDir, say: (l) => said.push(l) });
    expect(e.runtime).toBe("process");
    expect(e.reason).toMatch(/^no Docker engine answers at .*sy-no-such-docker\.sock$/);
    expect(said.join("\n")).toMatch(/^Docker: no Docker engine answers at .*; using the process runtime instead$/m);
    expect(existsSync(join(releasesDir, "v1"))).toBe(true);
  });

  it("auto, with DOCKER_HOST that is not a unix socket: the process runtime, saying why", async () => {
    process.env.DOCKER_HOST = "tcp://127.0.0.1:2375";
    const said: string[] = [];
    const { root, releasesDir } = dirs();
    const e = await chooseEngine({ want: "auto", root, releasesDir, say: (l) => said.push(l) });
    expect(e.runtime).toBe("process");
    expect(said.join("\n")).toContain("DOCKER_HOST=tcp://127.0.0.1:2375 is not a unix socket");
  });

  it("docker asked for and none answering: a clear error, not the process runtime", async () => {
    process.env.DOCKER_HOST = `unix://${join(tmpdir(), "sy-no-such-docker.sock")}`;
    const { root, releasesDir } = dirs();
    await expect(chooseEngine({ want: "docker", root, releasesDir, say: () => undefined })).rejects.toThrow(/^cannot use Docker: no Docker engine answers at /);
    expect(existsSync(releasesDir)).toBe(false);
  });
});
