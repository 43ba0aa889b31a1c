/**
 * The webhook signature contract, checked against an HMAC computed here (not the product's own
 * verifier): `sha256=` + hex HMAC-SHA256(secret, `${timestamp}.${body}`).
 */
import { describe, expect, it } from "vitest";
import { createHmac } from "node:crypto";
import { safeTarget } from "../../reconciler/notify/webhooks.js";
import { DEFAULT_SIGNATURE_TOLERANCE_SECONDS, signPayload, verifySignature } from "../../reconciler/notify/webhook-signing.js";

const secret = "s3cret-key";
const body = '{"version":1,"alert":{"name":"NodeUnreachable"}}';
const ts = "1767225600";
const independent = (k: string, t: string, b: string) => "sha256=" + createHmac("sha256", k).update(t + "." + b, "utf8").digest("hex");
const at = (seconds: number) => () => seconds * 1000;

describe("webhook signatures", () => {
  it("signs `timestamp.body` with HMAC-SHA256, as the README tells receivers", () => {
    expect(signPayload(secret, ts, body)).toBe(independent(secret, ts, body));
    expect(signPayload(secret, ts, body)).toMatch(/^sha256=[0-9a-f]{64}$/);
    // The separator matters: "12.3{…}" and "1.23{…}" must not sign alike.
    expect(signPayload(secret, "12", "3" + body)).not.toBe(signPayload(secret, "1", "23" + body));
    expect(signPayload(secret, ts, "é")).toBe(independent(secret, ts, "é"));
  });

  it("verifySignature accepts exactly the independent signature within the tolerance", () => {
    const sig = independent(secret, ts, body);
    const now = at(Number(ts));
    expect(verifySignature(secret, ts, body, sig, { now })).toBe(true);
    expect(verifySignature(secret, ts, body, sig.toUpperCase(), { now })).toBe(false);
    expect(verifySignature(secret, ts, body, sig.slice(0, -1), { now })).toBe(false);
    expect(verifySignature(secret, ts, body, sig + "0", { now })).toBe(false);
    expect(verifySignature(secret, ts, body, sig.replace("sha256=", ""), { now })).toBe(false);
    expect(verifySignature(secret, ts, body + " ", sig, { now })).toBe(false);
    expect(verifySignature("other", ts, body, sig, { now })).toBe(false);
    expect(verifySignature(secret, ts, body, independent(secret, ts + "0", body), { now })).toBe(false);
  });

  it("refuses timestamps that are not plain digits", () => {
    for (const t of ["", "-1", "1.5", " 1767225600", "1767225600 ", "0x10", "1234567890123456", "1e9"]) {
      expect(verifySignature(secret, t, body, independent(secret, t, body), { toleranceSeconds: Infinity }), JSON.stringify(t)).toBe(false);
    }
    expect(verifySignature(secret, "123456789012345", body, independent(secret, "123456789012345", body), { toleranceSeconds: Infinity })).toBe(true);
    expect(verifySignature(secret, "0", body, independent(secret, "0", body), { toleranceSeconds: Infinity })).toBe(true);
  });

  it("refuses a timestamp beyond the tolerance either way, accepts one at its edge", () => {
    const sig = independent(secret, ts, body);
    const t = Number(ts);
    const d = DEFAULT_SIGNATURE_TOLERANCE_SECONDS;
    expect(d).toBe(300);
    expect(verifySignature(secret, ts, body, sig, { now: at(t + d) })).toBe(true);
    expect(verifySignature(secret, ts, body, sig, { now: at(t - d) })).toBe(true);
    expect(verifySignature(secret, ts, body, sig, { now: at(t + d + 1) })).toBe(false);
    expect(verifySignature(secret, ts, body, sig, { now: at(t - d - 1) })).toBe(false);
    expect(verifySignature(secret, ts, body, sig, { now: at(t + 10), toleranceSeconds: 9 })).toBe(false);
    expect(verifySignature(secret, ts, body, sig, { now: at(t + 10), toleranceSeconds: 10 })).toBe(true);
    expect(verifySignature(secret, ts, body, sig, { now: at(t + 1e9), toleranceSeconds: Infinity })).toBe(true);
    // Without `now`, the real clock: a signature from 1970 is refused, one from now accepted.
    expect(verifySignature(secret, "1", body, independent(secret, "1", body))).toBe(false);
    const nowTs = String(Math.floor(Date.now() / 1000));
    expect(verifySignature(secret, nowTs, body, independent(secret, nowTs, body))).toBe(true);
  });
});

describe("safeTarget", () => {
  it("keeps origin and path, drops query, fragment and credentials, masks segments of 16 characters or more", () => {
    expect(safeTarget("https://user:pw@hooks.example:8443/a/b?token=x#f")).toBe("https://hooks.example:8443/a/b");
    expect(safeTarget(new URL("https://hooks.slack.com/services/T000/B000/XXXXXXXXXXXXXXXXXXXXXXXX"))).toBe("https://hooks.slack.com/services/T000/B000/***");
    expect(safeTarget("http://h/123456789012345/1234567890123456")).toBe("http://h/123456789012345/***");
  });
});
