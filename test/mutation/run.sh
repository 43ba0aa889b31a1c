#!/usr/bin/env bash
# npm run mutate [-- --mutate <file>]: Stryker over the safety core, then the per-file summary.
set -euo pipefail
cd "$(dirname "$0")/../.."
npx stryker run test/mutation/stryker.config.mjs "$@"
node test/mutation/summary.mjs
