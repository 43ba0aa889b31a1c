#!/usr/bin/env bash
# Remove what tests left behind in the Switchyard test bed: every container (and network) labelled
# dev.switchyard.app, and the bed's own probe containers. The Docker engine, the registry and the
# images stay, so the next test/bed/setup.sh is quick. Safe to run at any time, also with no engine.
set -euo pipefail

if ! timeout 10 docker info >/dev/null 2>&1; then
  echo "teardown.sh: no Docker engine answers; nothing to do" >&2
  exit 0
fi
ids="$( { docker ps -aq --filter label=dev.switchyard.app; docker ps -aq --filter label=dev.switchyard.bed; } | sort -u)"
if [ -n "$ids" ]; then
  echo "teardown.sh: removing $(echo "$ids" | wc -l) container(s)" >&2
  echo "$ids" | xargs docker rm -f >/dev/null
fi
nets="$(docker network ls -q --filter label=dev.switchyard.app)"
[ -z "$nets" ] || echo "$nets" | xargs docker network rm >/dev/null 2>&1 || true
echo "teardown.sh: done (dockerd and the registry keep running)" >&2
