#!/usr/bin/env bash
# The whole test suite: build, then every vitest suite. Used by `npm test` and by .ci/run.
# Extra arguments go to vitest (e.g. `npm test -- test/unit`).
set -euo pipefail
cd "$(dirname "$0")/.."

npm run --silent build
mkdir -p test-results

# Integration tests need a Docker engine, a registry on 127.0.0.1:5000 and the demo images.
# The test bed installs and starts what is missing (as root) and removes leftovers of earlier runs.
if [ "${SWITCHYARD_SKIP_BED:-0}" != 1 ]; then
  bash test/bed/setup.sh >test-results/bed.env
fi
status=0
npx vitest run --reporter=default --reporter=json --outputFile.json=test-results/vitest.json "$@" || status=$?

# One plain closing line that any CI can read.
node -e '
  const r = JSON.parse(require("fs").readFileSync("test-results/vitest.json", "utf8"));
  console.log(`vitest: ${r.numPassedTests} passed, ${r.numFailedTests} failed, ${r.numPendingTests + r.numTodoTests} skipped`);
' || true
exit "$status"
