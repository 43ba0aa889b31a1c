import { afterEach, describe, expect, it } from "vitest";
import { HealthProbe, probeOnce } from "../../node-agent/health.js";

const probes: HealthProbe[] = [];
afterEach(() => {
  for (const p of probes.splice(0)) p.stop();
});

describe("health probes never throw out of their loop", () => {
  it("a path Node refuses to send is a failed probe, not an exception", async () => {
    expect(await probeOnce({ host: "127.0.0.1", port: 1, path: "/healthz\u0100", timeoutSeconds: 1 })).toMatch(/^cannot probe GET "\/healthz\u0100": /);
    expect(await probeOnce({ host: "127.0.0.1", port: 1, path: "/healthz", timeoutSeconds: Number.NaN })).toMatch(/^cannot probe GET/);
  });

  it("a probe with settings that escaped validation keeps probing and reports unhealthy", async () => {
    let changes = 0;
    const p = new HealthProbe({ host: "127.0.0.1", port: 1, path: "/x\u0100", periodSeconds: 0.1, timeoutSeconds: Number.NaN, healthyThreshold: 1, unhealthyThreshold: 2 }, () => changes++);
    probes.push(p);
    p.start();
    for (let i = 0; i < 100 && p.health !== "unhealthy"; i++) await new Promise((r) => setTimeout(r, 20));
    expect(p.health).toBe("unhealthy");
    expect(p.lastError).toMatch(/cannot probe/);
    expect(changes).toBeGreaterThan(0);
  });
});
