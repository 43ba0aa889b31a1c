#!/usr/bin/env bash
# Build the Switchyard demo app's images offline and push them to a registry.
#
#   examples/demo-app/build.sh [--force] [--no-push] [REPOSITORY] [TAG...]
#
#   REPOSITORY  default $SWITCHYARD_DEMO_REPO or 127.0.0.1:5000/switchyard-demo/app
#               (the first argument is taken as the repository when it contains a '/')
#   TAG...      default: v1 v2 v3 v4. The tag is the app's version (APP_VERSION): v1 and v2 look
#               different, v3 is deliberately unhealthy, v4 is healthy but answers 500 on every other
#               path, any other tag is a plain healthy version.
#   --force     rebuild and push even when the registry already has an identical image
#   --no-push   build local images only
#
# No image is pulled from anywhere: the base is a root filesystem made here (this machine's node
# binary plus the shared libraries that ldd names) and brought in with `docker import`; each tag then
# adds one small layer with the app files (docker create + cp + commit), so all tags share the base
# layer and pushing or pulling another tag moves only a few kilobytes.
#
# A tag is skipped when the local image was built from the same sources (label
# org.opencontainers.image.revision) and the registry serves that very image under the tag.
set -euo pipefail
trap 'echo "build.sh: failed (exit $?) at line $LINENO: $BASH_COMMAND" >&2' ERR

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
force=0
push=1
repo="${SWITCHYARD_DEMO_REPO:-127.0.0.1:5000/switchyard-demo/app}"
tags=()
first=1
while [ $# -gt 0 ]; do
  case "$1" in
    --force) force=1 ;;
    --no-push) push=0 ;;
    -h|--help) sed -n '2,21p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "build.sh: unknown option $1" >&2; exit 2 ;;
    *)
      if [ "$first" = 1 ] && [[ "$1" == */* ]]; then repo="$1"; else tags+=("$1"); fi
      first=0
      ;;
  esac
  shift
done
[ ${#tags[@]} -gt 0 ] || tags=(v1 v2 v3 v4)

log() { echo "build.sh: $*" >&2; }
die() { echo "build.sh: error: $*" >&2; exit 1; }

command -v docker >/dev/null || die "docker CLI not found"
docker info >/dev/null 2>&1 || die "no Docker engine answers (run test/bed/setup.sh)"
node_bin="$(readlink -f "${NODE_BIN:-$(command -v node || true)}")"
[ -x "$node_bin" ] || die "node binary not found (set NODE_BIN)"
for t in "${tags[@]}"; do
  [[ "$t" =~ ^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$ ]] || die "invalid tag: $t"
done

registry_host="${repo%%/*}"
repo_path="${repo#*/}"
[ "$registry_host" != "$repo" ] || die "repository must be HOST[:PORT]/NAME, got $repo"
registry_url="${SWITCHYARD_DEMO_REGISTRY_URL:-http://$registry_host}"

app_files=(server.js worker.js migrate.js store.js version.js package.json)
sha() { sha256sum | cut -c1-64; }

tmp="$(mktemp -d "${TMPDIR:-/tmp}/switchyard-demo-build.XXXXXX")"
cid=""
cleanup() {
  [ -z "$cid" ] || docker rm -f "$cid" >/dev/null 2>&1 || true
  rm -rf "$tmp"
}
trap cleanup EXIT

# Digest the registry serves for a tag, or nothing.
registry_digest() {
  curl -fsS -o /dev/null -D - --max-time 10 -I \
    -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' \
    -H 'Accept: application/vnd.oci.image.manifest.v1+json' \
    "$registry_url/v2/$repo_path/manifests/$1" 2>/dev/null |
    tr -d '\r' | awk 'tolower($1)=="docker-content-digest:" {print $2}' || true
}
local_label() { docker image inspect -f '{{index .Config.Labels "org.opencontainers.image.revision"}}' "$1" 2>/dev/null || true; }
local_has_digest() { docker image inspect -f '{{range .RepoDigests}}{{println .}}{{end}}' "$1" 2>/dev/null | grep -qxF "$repo@$2"; }

base_done=0
build_base() { # once per run, and only when a tag needs building
  [ "$base_done" = 0 ] || return 0
  base_done=1
  if [ "$force" = 0 ] && docker image inspect "$base_ref" >/dev/null 2>&1; then return; fi
  log "importing base image $base_ref (node $node_version from $node_bin)"
  local root="$tmp/rootfs"
  mkdir -p "$root/usr/local/bin" "$root/app" "$root/etc" "$root/tmp" "$root/proc" "$root/sys" "$root/dev"
  chmod 1777 "$root/tmp"
  cp "$node_bin" "$root/usr/local/bin/node"
  # The shared libraries node needs, at the paths the dynamic loader looks for them.
  local lib
  if ldd "$node_bin" >/dev/null 2>&1; then
    for lib in $(ldd "$node_bin" | awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\// {print $1}' | sort -u); do
      mkdir -p "$root$(dirname "$lib")"
      cp -L "$lib" "$root$lib"
    done
  fi
  printf 'root:x:0:0:root:/root:/bin/false\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$root/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' >"$root/etc/group"
  printf 'hosts: files dns\n' >"$root/etc/nsswitch.conf"
  # Reproducible tar (fixed order, owners and times): a re-import yields the very same layer.
  tar -C "$root" --sort=name --mtime=@0 --numeric-owner --owner=0 --group=0 -c . |
    docker import \
      --change 'ENV PATH=/usr/local/bin:/usr/bin:/bin' \
      --change 'WORKDIR /app' \
      --change 'CMD ["node"]' \
      - "$base_ref" >/dev/null
  rm -rf "$root"
}

build_tag() {
  local tag="$1" ref="$repo:$1"
  local rev
  rev="$(printf '%s %s' "$src_hash" "$tag" | sha)"
  rev="${rev:0:20}"

  if [ "$force" = 0 ]; then
    if [ "$(local_label "$ref")" = "$rev" ]; then
      if [ "$push" = 0 ]; then log "$ref: up to date locally"; return; fi
      local digest
      digest="$(registry_digest "$tag")"
      if [ -n "$digest" ] && local_has_digest "$ref" "$digest"; then
        log "$ref: up to date (registry has $digest)"
        return
      fi
      log "$ref: built already, pushing"
      docker push "$ref" >/dev/null
      return
    fi
    # Not here, but perhaps in the registry from an earlier run: pulling is cheaper than building.
    if [ "$push" = 1 ] && [ -n "$(registry_digest "$tag")" ] && docker pull -q "$ref" >/dev/null 2>&1 &&
      [ "$(local_label "$ref")" = "$rev" ]; then
      log "$ref: pulled from the registry, up to date"
      return
    fi
  fi

  log "$ref: building"
  local old_id
  old_id="$(docker image inspect -f '{{.Id}}' "$ref" 2>/dev/null || true)"
  local stage="$tmp/app-$tag"
  mkdir -p "$stage"
  for f in "${app_files[@]}"; do cp "$here/$f" "$stage/$f"; done
  printf '%s\n' "$tag" >"$stage/VERSION"
  chmod 0644 "$stage"/*
  build_base
  cid="$(docker create "$base_ref" node)"
  docker cp "$stage/." "$cid:/app"
  docker commit \
    --change "ENV APP_VERSION=$tag" \
    --change 'ENV NODE_ENV=production' \
    --change 'ENV PORT=8080' \
    --change 'WORKDIR /app' \
    --change 'EXPOSE 8080/tcp' \
    --change 'CMD ["node", "server.js"]' \
    --change "LABEL org.opencontainers.image.title=switchyard-demo-app org.opencontainers.image.version=$tag org.opencontainers.image.revision=$rev" \
    "$cid" "$ref" >/dev/null
  docker rm "$cid" >/dev/null
  cid=""
  # The image this tag named before is now untagged: drop it unless a container still uses it.
  if [ -n "$old_id" ] && [ -z "$(docker image inspect -f '{{join .RepoTags ""}}' "$old_id" 2>/dev/null)" ]; then
    docker rmi "$old_id" >/dev/null 2>&1 || true
  fi
  if [ "$push" = 1 ]; then
    log "$ref: pushing"
    docker push "$ref" >/dev/null || die "push of $ref failed (is a registry listening at $registry_url?)"
  fi
}

# What the images are made of (node, app files, the two functions above): any change means a rebuild.
node_version="$("$node_bin" --version)"
base_hash="$( { echo "$node_version"; sha256sum "$node_bin" | cut -c1-64; declare -f build_base; } | sha)"
base_ref="switchyard-demo/base:${node_version}-${base_hash:0:12}"
src_hash="$( { echo "$base_hash"; for f in "${app_files[@]}"; do echo "$f"; cat "$here/$f"; done; declare -f build_tag; } | sha)"

if [ "$push" = 1 ]; then
  curl -fsS --max-time 5 -o /dev/null "$registry_url/v2/" || die "no registry answers at $registry_url/v2/ (run test/bed/setup.sh)"
fi
for t in "${tags[@]}"; do build_tag "$t"; done
log "done: ${tags[*]/#/$repo:}"
