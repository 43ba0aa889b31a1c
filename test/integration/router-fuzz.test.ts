/**
 * The router fuzzer in the test suite (issue 11): 10,000 seeded cases through the real data plane, holding the
 * conformance invariant (see test/conformance/fuzz.ts). A failure prints the seed, the case index and its
 * bytes; replay one case with `npm run bench:router-fuzz -- --seed S --first I --cases 1`.
 * SWITCHYARD_FUZZ_SEED picks another seed (the default is fixed so a run is reproducible).
 */
import { afterAll, beforeAll, expect, it } from "vitest";
import { Rig } from "../conformance/rig.js";
import { h11Available } from "../conformance/h11.js";
import { runFuzz } from "../conformance/fuzz.js";

const SEED = Number(process.env.SWITCHYARD_FUZZ_SEED ?? 20261129);
const CASES = 10_000;

let rig: Rig;
beforeAll(async () => {
  if (!h11Available()) throw new Error("python3-h11 is missing: apt-get install -y python3-h11 (test/bed/setup.sh installs it)");
  rig = await Rig.start();
});
afterAll(async () => {
  await rig?.close();
});

it(`${CASES} generated requests and responses keep the invariant (seed ${SEED})`, async () => {
  const r = await runFuzz(rig, { seed: SEED, cases: CASES });
  const rate = Math.round(r.cases / (r.ms / 1000));
  console.log(`router fuzz: ${r.cases} cases in ${Math.round(r.ms)} ms (${rate}/s), seed ${SEED}; ${JSON.stringify(r.stats)}`);
  const byKind = new Map<string, number>();
  for (const f of r.findings) byKind.set(f.kind, (byKind.get(f.kind) ?? 0) + 1);
  const shown = r.findings.slice(0, 12).map((f) => `  [${f.kind}] seed ${f.seed} case ${f.index} (${f.mutations.join("; ")}): ${f.detail}\n    bytes: ${f.bytes.slice(0, 700)}`);
  expect(r.cases).toBe(CASES);
  expect(r.findings.length, `${r.findings.length} findings (${JSON.stringify(Object.fromEntries(byKind))}):\n${shown.join("\n")}`).toBe(0);
}, 300_000);
