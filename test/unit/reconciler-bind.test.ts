import { existsSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { DEFAULT_RECONCILER_LISTEN } from "../../specs/defaults.js";
import { startReconciler } from "../../reconciler/main.js";
import { serverUrl } from "../../cli/client.js";

describe("the reconciler API binds to loopback by default (README: Security model)", () => {
  it("the default listen address is loopback, and the CLI talks to it by default", () => {
    expect(DEFAULT_RECONCILER_LISTEN).toMatch(/^127\.0\.0\.1:\d+$/);
    const saved = process.env.SWITCHYARD_SERVER;
    delete process.env.SWITCHYARD_SERVER;
    try {
      expect(serverUrl(undefined)).toBe(`http://${DEFAULT_RECONCILER_LISTEN}`);
    } finally {
      if (saved !== undefined) process.env.SWITCHYARD_SERVER = saved;
    }
  });

  it.each(["0.0.0.0:7000", "[::]:7000", "10.0.0.5:7000", "192.168.1.2:7000"])("refuses %s without --public, before it takes its lock or touches the data dir", async (listen) => {
    const root = mkdtempSync(join(tmpdir(), "sy-bind-"));
    const dataDir = join(root, "data");
    await expect(startReconciler({ dir: join(root, "deploy"), dataDir, listen })).rejects.toThrow(/is not a loopback address; put a reverse proxy with TLS in front and pass --public/);
    expect(existsSync(dataDir)).toBe(false);
  });
});
