/**
 * A pre-promotion task on the process runtime (real child processes, no Docker): the run is a process of the
 * release with the service's env and secrets, labelled with its id in the process book; its exit code and last
 * output lines (secret values redacted) are recorded, and a second request for the same id starts nothing.
 */
import { mkdtempSync, mkdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import { afterAll, describe, expect, it } from "vitest";
import { ProcessRuntime } from "../../node-agent/process-runtime.js";
import { TaskRunner } from "../../node-agent/node/tasks.js";
import type { NodeSpec } from "../../specs/wire.js";
import { waitFor } from "../support/agent-bed.js";

const SECRET = "s3cr3t-value-for-tasks";

describe("a task on the process runtime", () => {
  const dir = mkdtempSync(join(tmpdir(), "sy-tasks-process-"));
  const releases = join(dir, "releases");
  mkdirSync(join(releases, "v2"), { recursive: true });
  writeFileSync(join(releases, "v2", "migrate.js"), `console.log("migrating with", process.env.DB_PASSWORD, "as", process.env.SWITCHYARD_TASK);\nconsole.error("step 2 failed");\nprocess.exit(Number(process.env.EXIT_CODE ?? 0));\n`);
  const secretsDir = join(dir, "secrets");
  mkdirSync(secretsDir, { mode: 0o700 });
  writeFileSync(join(secretsDir, "database.env"), `DB_PASSWORD=${SECRET}\n`, { mode: 0o600 });
  const runtime = new ProcessRuntime({ releasesDir: releases, dataDir: join(dir, "data"), logger: pino({ level: "silent" }) });
  const spec = {
    kind: "NodeSpec", app: "shop", node: "green-1", color: "green", generation: 2, repository: "shop/app", tag: "v2", stopped: false,
    services: { web: { port: 8080, hostPort: 18099, env: { EXIT_CODE: "4" }, secrets: ["database"], job: false } },
  } as unknown as NodeSpec;
  const runner = new TaskRunner({ node: "green-1", dataDir: join(dir, "data"), runtime, publishAddress: "127.0.0.1", secretsDir, logger: pino({ level: "silent" }), spec: () => spec, changed: () => undefined });

  afterAll(async () => {
    runner.close();
    await runtime.close();
  });

  it("runs the release's script once with the service's env and secrets; exit code and redacted output recorded", async () => {
    await runner.start();
    const id = "b".repeat(32);
    const req = { id, name: "migrate", service: "web", color: "green" as const, tag: "v2", command: ["node", "migrate.js"], timeoutSeconds: 30 };
    await runner.run(req);
    await runner.run(req);
    const done = await waitFor("the task ended", async () => runner.get(id).state !== "running" && runner.get(id), 20_000);
    expect(done).toMatchObject({ state: "failed", exitCode: 4, error: null, node: "green-1" });
    expect(done.output).toEqual(["migrating with [redacted] as migrate", "step 2 failed"]);
    expect(await runtime.list("shop", "green-1", "tasks")).toEqual([]);
    expect(await runtime.list("shop", "green-1")).toEqual([]);
  });
});
