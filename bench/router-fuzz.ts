/**
 * `npm run bench:router-fuzz -- [--cases N] [--seed S] [--first I] [--lanes L] [--notes]`: the router fuzzer of the
 * conformance suite (test/conformance/fuzz.ts) for as many cases as asked (default 1,000,000), printing
 * progress, cases per second and every invariant violation (desync, duplicate, cross-talk, parser
 * disagreement) with its seed, case index and bytes. Replay one case: --seed S --first I --cases 1.
 * --notes also prints samples of what is counted but allowed (valid requests refused, invalid ones accepted).
 * Needs /usr/bin/python3 with h11 (Debian: python3-h11). The last line is one JSON object.
 */
import { Rig } from "../test/conformance/rig.js";
import { h11Available } from "../test/conformance/h11.js";
import { runFuzz } from "../test/conformance/fuzz.js";

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return fallback;
  const v = Number(process.argv[i + 1]);
  if (!Number.isFinite(v)) throw new Error(`--${name} needs a number`);
  return v;
}

async function main(): Promise<void> {
  if (!h11Available()) throw new Error("/usr/bin/python3 has no h11: apt-get install -y python3-h11");
  const cases = arg("cases", 1_000_000);
  const seed = arg("seed", Date.now() % 1_000_000_007);
  const first = arg("first", 0);
  const lanes = arg("lanes", 48);
  const rig = await Rig.start();
  let lastAt = performance.now();
  let lastDone = 0;
  let shown = 0;
  try {
    console.log(`router fuzz: ${cases} cases from ${first}, seed ${seed}, ${lanes} lanes`);
    const r = await runFuzz(rig, {
      seed, cases, first, lanes,
      round: Math.min(2_000, cases),
      onRound: (done, findings, report) => {
        // Violations are printed as soon as a round finds them (a long run may be stopped early).
        for (const f of report.findings.slice(shown)) console.log(`FINDING [${f.kind}] seed ${f.seed} case ${f.index} (${f.mutations.join("; ")}): ${f.detail}\n  bytes: ${f.bytes}`);
        shown = report.findings.length;
        const now = performance.now();
        if (now - lastAt < 5_000 && done < cases) return;
        console.log(`  ${done} cases, ${Math.round((done - lastDone) / ((now - lastAt) / 1000))}/s, ${findings} findings`);
        lastAt = now;
        lastDone = done;
      },
    });
    if (process.argv.includes("--notes")) for (const n of r.notes) console.log(`note [${n.kind}] case ${n.index} (${n.mutations.join("; ")}): ${n.detail}\n  bytes: ${n.bytes}`);
    const rate = Math.round(r.cases / (r.ms / 1000));
    console.log(`${r.cases} cases in ${(r.ms / 1000).toFixed(1)} s: ${rate} cases/s; ${r.findings.length} invariant violations; ${JSON.stringify(r.stats)}`);
    console.log(JSON.stringify({ cases: r.cases, seed, casesPerSecond: rate, desyncs: r.findings.length, stats: r.stats }));
    process.exitCode = r.findings.length > 0 ? 1 : 0;
  } finally {
    await rig.close();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(2);
});
