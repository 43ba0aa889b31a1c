import { chmodSync, linkSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { SecretError, fingerprint, fingerprintLabel, loadSecrets, parseFingerprintLabel } from "../../node-agent/node/secrets.js";
import { specEcho } from "../../specs/secrets.js";
import { secretsKeyId } from "../../specs/secrets-key-id.js";
import type { NodeSpec } from "../../specs/wire.js";

const dir = mkdtempSync(join(tmpdir(), "sy-secrets-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const KEY = "a".repeat(64);
const VALUE = "postgres://app:hunter2-unit@db/shop";

function put(name: string, text: string, mode = 0o600): string {
  const file = join(dir, `${name}.env`);
  writeFileSync(file, text);
  chmodSync(file, mode);
  return file;
}

async function refusal(names: string[], d: string | null = dir): Promise<SecretError> {
  const err = await loadSecrets(d ?? undefined, "web", names, KEY).then(() => null, (e: unknown) => e);
  expect(err).toBeInstanceOf(SecretError);
  return err as SecretError;
}

describe("a service's secrets on its node", () => {
  it("reads the variables and fingerprints them with the key (equal values, equal fingerprints; never the value)", async () => {
    put("database", `DATABASE_URL=${VALUE}\n`);
    put("copy", `# same value, other file\nDATABASE_URL="${VALUE}"\n`);
    const a = await loadSecrets(dir, "web", ["database"], KEY);
    expect(a.env).toEqual({ DATABASE_URL: VALUE });
    const b = await loadSecrets(dir, "web", ["copy"], KEY);
    expect(b.fingerprints[0]!.fingerprint).toBe(a.fingerprints[0]!.fingerprint);
    expect(a.fingerprints[0]!.fingerprint).toMatch(/^[0-9a-f]{12}$/);
    expect(fingerprint("b".repeat(64), { DATABASE_URL: VALUE })).not.toBe(a.fingerprints[0]!.fingerprint);
    expect(fingerprint(KEY, { DATABASE_URL: `${VALUE}x` })).not.toBe(a.fingerprints[0]!.fingerprint);
    const label = fingerprintLabel(a.fingerprints);
    expect(label).not.toContain("hunter2");
    expect(parseFingerprintLabel(label)).toEqual(a.fingerprints);
  });

  it("refuses a missing file, a missing secretsDir, group- or world-readable files, bad dotenv and reserved names with coded errors without values", async () => {
    const missing = await refusal(["nothere"]);
    expect(missing.code).toBe("AGENT_ERR_SECRET_MISSING");
    expect(missing.message).toContain(join(dir, "nothere.env"));
    expect((await refusal(["database"], null)).message).toMatch(/^AGENT_ERR_SECRET_MISSING: .*no secretsDir/);
    for (const mode of [0o640, 0o604, 0o660]) {
      const file = put("loose", `DATABASE_URL=${VALUE}\n`, mode);
      const e = await refusal(["loose"]);
      expect(e.code).toBe("AGENT_ERR_SECRET_INSECURE");
      expect(e.message).toContain(`chmod 600 ${file}`);
    }
    put("broken", `A=1\nDATABASE_URL='${VALUE}\n`);
    const bad = await refusal(["broken"]);
    expect(bad.message).toMatch(new RegExp(`^AGENT_ERR_SECRET_INVALID: ${join(dir, "broken.env")}:2: `));
    put("reserved", `SWITCHYARD_COLOR=${VALUE}\n`);
    expect((await refusal(["reserved"])).code).toBe("AGENT_ERR_SECRET_INVALID");
    put("twice", `DATABASE_URL=${VALUE}\n`);
    expect((await refusal(["database", "twice"])).message).toMatch(/DATABASE_URL is set by both secrets database and twice/);
    for (const e of [missing, bad]) expect(e.message).not.toContain("hunter2");
  });

  it("refuses a symbolic link and a hard-linked file: the secret is the file in secretsDir itself", async () => {
    const elsewhere = mkdtempSync(join(tmpdir(), "sy-secrets-other-"));
    try {
      const target = join(elsewhere, "other-app.env");
      writeFileSync(target, `DATABASE_URL=${VALUE}\n`, { mode: 0o600 });
      symlinkSync(target, join(dir, "via-symlink.env"));
      const sym = await refusal(["via-symlink"]);
      expect(sym.code).toBe("AGENT_ERR_SECRET_MISSING");
      expect(sym.message).toMatch(/is a symbolic link/);
      linkSync(target, join(dir, "via-hardlink.env"));
      const hard = await refusal(["via-hardlink"]);
      expect(hard.code).toBe("AGENT_ERR_SECRET_INSECURE");
      expect(hard.message).toMatch(/other hard links/);
      for (const e of [sym, hard]) expect(e.message).not.toContain("hunter2");
    } finally {
      rmSync(elsewhere, { recursive: true, force: true });
    }
  });

  it("an agent echoes the key's id in its status, never the key", () => {
    const spec = { kind: "NodeSpec", generation: 1, app: "a", node: "n", color: "blue", repository: "r", stopped: false, services: {}, secretsKey: KEY } as NodeSpec;
    const echo = specEcho(spec, secretsKeyId(KEY));
    expect(JSON.stringify(echo)).not.toContain(KEY);
    expect(echo.secretsKeyId).toMatch(/^[0-9a-f]{12}$/);
  });
});
