/** Prometheus' own linter on a /metrics answer: `promtool check metrics` (Debian's prometheus package). */
import { spawnSync } from "node:child_process";

export const PROMTOOL = process.env.PROMTOOL ?? "promtool";

/** promtool's complaints about `text` ("" when it passes); throws when promtool cannot run. */
export function promtoolProblems(text: string): string {
  const r = spawnSync(PROMTOOL, ["check", "metrics"], { input: text, encoding: "utf8", timeout: 30_000 });
  if (r.error) throw new Error(`cannot run ${PROMTOOL} (apt-get install prometheus; test/bed/setup.sh installs it): ${r.error.message}`);
  const out = `${r.stdout}${r.stderr}`.trim();
  return r.status === 0 ? out : out || `promtool exited ${r.status}`;
}
