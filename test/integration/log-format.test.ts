/**
 * Logs people can read (issue 19 item 4): `switchyard agent` (and reconciler, demo: same choice) prints
 * pino-pretty lines on a terminal and JSON lines otherwise (systemd's journal); --log-format overrides.
 * Real processes: piped stdout, and a pseudo-terminal from util-linux `script`.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { waitFor } from "../support/agent-bed.js";

const BIN = join(process.cwd(), "bin/switchyard.js");
const running: ChildProcess[] = [];

afterEach(() => {
  for (const p of running.splice(0)) if (p.exitCode === null && p.pid) process.kill(p.pid, "SIGTERM");
});

/** A router agent's folder (no runtime needed); the token is also put in a log-tempting place: nowhere. */
function agentDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "sy-logfmt-"));
  writeFileSync(join(dir, "token"), randomBytes(24).toString("hex") + "\n");
  writeFileSync(join(dir, "agent.yaml"), ["apiVersion: switchyard.dev/v1", "kind: Agent", "name: logfmt-r1", "listen: 127.0.0.1:0", "tokenFile: token", "role: router", "dataDir: data", "router: { listen: 127.0.0.1:0 }"].join("\n"));
  return dir;
}

/** Runs `cmd args` until its output holds "agent listening" (a log line), then stops it; returns the output. */
async function outputOf(cmd: string, args: string[], env: Record<string, string> = {}): Promise<string> {
  const p = spawn(cmd, args, { cwd: agentDir(), stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, VITEST: "", SWITCHYARD_LOG_LEVEL: "info", SWITCHYARD_LOG_FORMAT: "", ...env } });
  running.push(p);
  let out = "";
  p.stdout!.on("data", (d: Buffer) => (out += d));
  p.stderr!.on("data", (d: Buffer) => (out += d));
  await waitFor(`"agent listening" in the output (${out})`, async () => /agent listening/.test(out), 30_000);
  return out;
}

const logLines = (out: string) => out.split(/\r?\n/).filter((l) => /router listening|agent listening/.test(l));

describe("the agent's log format", () => {
  it("stdout not a terminal (systemd): one JSON object a line", async () => {
    const lines = logLines(await outputOf(process.execPath, [BIN, "agent", "--config", "agent.yaml"]));
    expect(lines.length).toBeGreaterThanOrEqual(2);
    for (const l of lines) expect(JSON.parse(l)).toMatchObject({ name: "switchyard-agent", node: "logfmt-r1" });
  });

  it("on a terminal: readable lines (time, level, message, fields), in colour", async () => {
    const out = await outputOf("script", ["-qec", `${process.execPath} ${BIN} agent --config agent.yaml`, "/dev/null"]);
    const line = logLines(out).find((l) => l.includes("agent listening"))!;
    expect(line).toMatch(/^\[\d\d:\d\d:\d\d\.\d{3}\] .*INFO.* \(switchyard-agent\): .*agent listening.* .*\{"node":"logfmt-r1",/);
    expect(line).toContain("\x1b[");
    expect(() => JSON.parse(line)).toThrow();
  });

  it("--log-format pretty without a terminal: readable lines without colour; --log-format json on a terminal: JSON", async () => {
    const pretty = logLines(await outputOf(process.execPath, [BIN, "agent", "--config", "agent.yaml", "--log-format", "pretty"]));
    expect(pretty.find((l) => l.includes("agent listening"))).toMatch(/^\[\d\d:\d\d:\d\d\.\d{3}\] INFO \(switchyard-agent\): agent listening \{"node":"logfmt-r1",/);
    const json = logLines(await outputOf("script", ["-qec", `${process.execPath} ${BIN} agent --config agent.yaml --log-format json`, "/dev/null"]));
    for (const l of json) expect(JSON.parse(l)).toMatchObject({ msg: expect.stringMatching(/listening/) });
  });

  it("a format that is neither json nor pretty: exit 2 with one line on stderr", async () => {
    for (const cmd of [["agent", "--config", "agent.yaml"], ["reconciler", "--dir", ".", "--data", "d"]]) {
      const p = spawn(process.execPath, [BIN, ...cmd, "--log-format", "xml"], { cwd: agentDir(), stdio: ["ignore", "pipe", "pipe"] });
      let err = "";
      p.stderr.on("data", (d: Buffer) => (err += d));
      const code = await new Promise<number | null>((r) => p.on("close", r));
      expect(code).toBe(2);
      expect(err.trim()).toMatch(/^switchyard (agent|reconciler): --log-format must be json or pretty, not "xml"$/);
    }
  });
});
