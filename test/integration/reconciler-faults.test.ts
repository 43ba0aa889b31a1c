/**
 * The reconciler under faults of its own machine: a data dir that cannot be written (no crash; a
 * Degraded condition and an alert; recovery once it can be written again), event-log write failures in
 * the log, and the last-resort handler for an error nothing handled. No agents run: nodes are unreachable.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawn } from "node:child_process";
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startReconciler, type RunningReconciler } from "../../reconciler/main.js";
import { makeLogger } from "../../common/log.js";
import { waitFor } from "../support/agent-bed.js";
import { makeUnwritable } from "../support/unwritable.js";
import { DATA_DIR_ALERT } from "../../reconciler/loop/controller.js";
import { EXIT_INTERNAL_ERROR } from "../../cli/main.js";

describe("a data dir that cannot be written", () => {
  const root = mkdtempSync(join(tmpdir(), "sy-faults-"));
  const deploy = join(root, "deploy");
  const data = join(root, "data");
  const lines: string[] = [];
  const rejections: unknown[] = [];
  const onRejection = (err: unknown) => void rejections.push(err);
  let r: RunningReconciler;
  let restore: (() => void) | undefined;

  beforeAll(async () => {
    process.on("unhandledRejection", onRejection);
    cpSync("examples/local", deploy, { recursive: true });
    const logger = makeLogger("faults", { level: "warn" }, { write: (line: string) => void lines.push(line) });
    r = await startReconciler({ dir: deploy, dataDir: data, listen: "127.0.0.1:0", dashboardRoot: null, logger });
  });
  afterAll(async () => {
    restore?.();
    process.off("unhandledRejection", onRejection);
    await r?.close();
    rmSync(root, { recursive: true, force: true });
  });

  const remembered = () => (JSON.parse(readFileSync(join(data, "memory.json"), "utf8")) as { routerLive: string | null }).routerLive;
  const degraded = () => r.controller.status().conditions.find((c) => c.type === "Degraded")!;

  it("raises Degraded and an alert, logs event-log write failures, keeps running, and recovers", async () => {
    const first = await waitFor("the first reconcile", async () => r.controller.status().revision);

    restore = makeUnwritable(data);
    // What the executor writes ahead of a switch (no agents run here, so nothing else writes memory.json).
    await expect(r.memory.recordRouterLive("green")).rejects.toThrow();
    const text = readFileSync(join(deploy, "state.yaml"), "utf8");
    writeFileSync(join(deploy, "state.yaml"), text.replace("owner: active", "owner: none"));
    const down = await waitFor("Degraded", async () => (degraded().status === "True" && degraded().reason === DATA_DIR_ALERT ? degraded() : undefined), 15_000);
    expect(down.message).toMatch(/cannot write .*memory\.json/);
    expect(r.alerts.firing().map((a) => a.name)).toContain(DATA_DIR_ALERT);
    await waitFor("the event-log write failure in the log", async () => lines.some((l) => l.includes('"msg":"event log write failed"')), 10_000);
    const changed = r.controller.status().revision;
    expect(changed).not.toBe(first);

    restore();
    restore = undefined;
    // Unreachable nodes (no agents run here) keep Degraded true for their own reason.
    await waitFor("recovery", async () => degraded().reason !== DATA_DIR_ALERT, 15_000);
    expect(r.alerts.firing().map((a) => a.name)).not.toContain(DATA_DIR_ALERT);
    expect(r.alerts.recent().find((a) => a.name === DATA_DIR_ALERT)?.state).toBe("resolved");
    expect(existsSync(join(data, "memory.json")) && remembered()).toBe("green");
    expect(rejections).toEqual([]);
  });
});

describe("the last resort", () => {
  it("an unhandled rejection is reported on stderr and the process exits non-zero, releasing its lock", async () => {
    const root = mkdtempSync(join(tmpdir(), "sy-last-resort-"));
    try {
      cpSync("examples/local", join(root, "deploy"), { recursive: true });
      const inject = `data:text/javascript,setTimeout(()=>Promise.reject(new Error("injected fault")),1500)`;
      const child = spawn(process.execPath, ["--import", inject, "bin/switchyard.js", "reconciler", "--dir", join(root, "deploy"), "--data", join(root, "data"), "--listen", "127.0.0.1:0"], {
        stdio: ["ignore", "pipe", "pipe"],
        env: { ...process.env, SWITCHYARD_LOG_LEVEL: "silent" },
      });
      let stderr = "";
      child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
      const code = await new Promise<number | null>((resolve) => child.on("exit", (c) => resolve(c)));
      expect(stderr).toMatch(/^switchyard: internal error \(unhandled promise rejection\), exiting: Error: injected fault/m);
      expect(code).toBe(EXIT_INTERNAL_ERROR);
      expect(existsSync(join(root, "data", "reconciler.lock"))).toBe(false);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
