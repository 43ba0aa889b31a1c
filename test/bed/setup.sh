#!/usr/bin/env bash
# Switchyard test bed: a Docker engine, a registry on 127.0.0.1 and the demo app's images in it.
#
#   test/bed/setup.sh
#
# Idempotent and cheap to run again: it reuses an engine and a registry that already answer, and
# rebuilds no image whose sources did not change. On a fresh Debian machine (root) it installs
# docker.io and docker-registry from apt and starts both in the background; they stay up after
# the script ends (test/bed/teardown.sh leaves them running too).
#
# Environment (all optional):
#   SWITCHYARD_BED_DIR         state and logs                        (default /tmp/switchyard-bed)
#   SWITCHYARD_REGISTRY_PORT   registry port on 127.0.0.1            (default 5000)
#   SWITCHYARD_DEMO_REPO       repository for the demo images        (default 127.0.0.1:PORT/switchyard-demo/app)
#   SWITCHYARD_DEMO_TAGS       tags to build                         (default "v1 v2 v3 v4")
#   SWITCHYARD_DOCKERD_FLAGS   extra dockerd flags, replacing the automatic choice
#
# Progress goes to stderr; stdout gets only KEY=value lines at the end (DOCKER_HOST, REGISTRY,
# REGISTRY_URL, REPO, TAGS, BED_DIR, ...), so a caller can `eval "$(test/bed/setup.sh)"` or parse them.
set -euo pipefail
trap 'echo "setup.sh: failed (exit $?) at line $LINENO: $BASH_COMMAND" >&2' ERR

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
bed="${SWITCHYARD_BED_DIR:-/tmp/switchyard-bed}"
reg_port="${SWITCHYARD_REGISTRY_PORT:-5000}"
registry="127.0.0.1:$reg_port"
repo="${SWITCHYARD_DEMO_REPO:-$registry/switchyard-demo/app}"
read -r -a tags <<<"${SWITCHYARD_DEMO_TAGS:-v1 v2 v3 v4}"
mkdir -p "$bed"

t0="${EPOCHREALTIME/[.,]/}"
log() {
  local ms=$(((${EPOCHREALTIME/[.,]/} - t0) / 1000))
  printf 'setup.sh [%3d.%ds] %s\n' $((ms / 1000)) $((ms % 1000 / 100)) "$*" >&2
}
die() { echo "setup.sh: error: $*" >&2; exit 1; }

# ---------------------------------------------------------------------------------------------
# apt: install only what is missing; never let a package's maintainer script start a service
# (we start our own, with our own config), and run `apt-get update` only when an install needs it.
apt_install() {
  [ "$(id -u)" = 0 ] || die "need root to apt-get install $*"
  command -v apt-get >/dev/null || die "no apt-get here: install $* by hand"
  log "apt-get install $*"
  local added_policy=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod +x /usr/sbin/policy-rc.d
    added_policy=1
  fi
  local ok=0
  export DEBIAN_FRONTEND=noninteractive
  if apt-get install -y -q --no-install-recommends "$@" >"$bed/apt.log" 2>&1; then
    ok=1
  else
    log "apt-get install failed; running apt-get update and trying again"
    if apt-get update -q >>"$bed/apt.log" 2>&1 && apt-get install -y -q --no-install-recommends "$@" >>"$bed/apt.log" 2>&1; then
      ok=1
    fi
  fi
  [ "$added_policy" = 0 ] || rm -f /usr/sbin/policy-rc.d
  [ "$ok" = 1 ] || { tail -20 "$bed/apt.log" >&2; die "apt-get install $* failed (log: $bed/apt.log)"; }
}

wait_for() { # seconds, command...
  local deadline=$((SECONDS + $1))
  shift
  until "$@" >/dev/null 2>&1; do
    [ $SECONDS -lt $deadline ] || return 1
    sleep 0.2
  done
}

# A process that runs, not a zombie: PID 1 here (and in some containers) reaps orphans late, so a
# killed dockerd can linger as a zombie that `kill -0` and pgrep still see.
alive() { # pid [name]
  local stat
  stat="$(cat "/proc/$1/stat" 2>/dev/null)" || return 1
  [ "$(echo "${stat##*) }" | cut -d' ' -f1)" != Z ] || return 1
  [ -z "${2:-}" ] || [ "$(cat "/proc/$1/comm" 2>/dev/null)" = "$2" ]
}
running_dockerd() { local p; for p in $(pgrep -x dockerd); do alive "$p" dockerd && echo "$p"; done; true; }

docker_ok() { timeout 10 docker info >/dev/null 2>&1; }
registry_ok() { curl -fsS --max-time 2 -o /dev/null "http://$registry/v2/" 2>/dev/null; }

# ---------------------------------------------------------------------------------------------
need=()
if ! docker_ok; then
  command -v dockerd >/dev/null || need+=(docker.io)
  command -v docker >/dev/null || need+=(docker.io)
fi
if ! registry_ok && ! command -v docker-registry >/dev/null; then need+=(docker-registry); fi
command -v curl >/dev/null || need+=(curl)
command -v git >/dev/null || need+=(git)
# The dashboard's browser test drives Debian's Chromium (with fonts for readable screenshots).
[ -x "${CHROMIUM_PATH:-/usr/bin/chromium}" ] || need+=(chromium fonts-dejavu-core)
# The router conformance suite reads what the router forwards with a second parser: Python's h11.
/usr/bin/python3 -c 'import h11' 2>/dev/null || need+=(python3-h11)
# HTTPS at the router: Let's Encrypt's test CA and its DNS test server (one package), openssl for test
# certificates, and nginx for the HTTPS comparison in bench:router.
{ command -v pebble >/dev/null && command -v pebble-challtestsrv >/dev/null; } || need+=(pebble)
command -v openssl >/dev/null || need+=(openssl)
command -v nginx >/dev/null || need+=(nginx)
# promtool checks every part's /metrics and the example alerting rules (Debian ships it in prometheus;
# policy-rc.d above keeps the package's own server from starting).
command -v promtool >/dev/null || need+=(prometheus)
# The five-VM guide's firewall files are loaded with the real nft (vm-firewall, vm-guide-walk); docker.io
# installed without its recommends does not bring it.
command -v nft >/dev/null || need+=(nftables)
if [ ${#need[@]} -gt 0 ]; then
  mapfile -t need < <(printf '%s\n' "${need[@]}" | sort -u)
  apt_install "${need[@]}"
fi

# ---------------------------------------------------------------------------------------------
# Docker engine
start_dockerd() { # flags...
  local pidfile=/var/run/docker.pid
  # A pid file left by a dockerd that died (or whose pid now belongs to another process) stops a new one.
  if [ -f "$pidfile" ] && ! alive "$(cat "$pidfile" 2>/dev/null || echo 0)" dockerd; then rm -f "$pidfile"; fi
  # Likewise the containerd that dockerd manages: with its pid still taken (say by a zombie) dockerd
  # waits 15 s for a socket that never answers.
  local cpid=/var/run/docker/containerd/containerd.pid
  if [ -f "$cpid" ] && ! alive "$(cat "$cpid" 2>/dev/null || echo 0)" containerd; then rm -f "$cpid"; fi
  log "starting dockerd ${*:-with default flags} (log: $bed/dockerd.log)"
  echo "=== $(date -Is) dockerd $*" >>"$bed/dockerd.log"
  setsid nohup dockerd "$@" >>"$bed/dockerd.log" 2>&1 </dev/null &
  local pid=$!
  local deadline=$((SECONDS + 30))
  while [ $SECONDS -lt $deadline ]; do
    if docker_ok; then echo "${*:-(defaults)}" >"$bed/dockerd.flags"; return 0; fi
    alive "$pid" || break
    sleep 0.3
  done
  log "dockerd $* did not come up; last lines of its log:"
  tail -5 "$bed/dockerd.log" | sed 's/^/    /' >&2
  kill "$pid" 2>/dev/null || true
  local _
  for _ in $(seq 50); do alive "$pid" || break; sleep 0.2; done
  ! alive "$pid" || kill -9 "$pid" 2>/dev/null || true
  return 1
}

if docker_ok; then
  log "Docker engine answers: $(docker version -f '{{.Server.Version}}' 2>/dev/null)"
else
  [ -z "${DOCKER_HOST:-}" ] || die "DOCKER_HOST=$DOCKER_HOST does not answer; unset it to let this script start a local engine"
  live="$(running_dockerd)"
  if [ -n "$live" ]; then
    log "a dockerd runs (pid $live) but does not answer yet; waiting"
    wait_for 30 docker_ok || die "the running dockerd (pid $live) does not answer; stop it or see its log"
  elif [ -n "${SWITCHYARD_DOCKERD_FLAGS:-}" ]; then
    # shellcheck disable=SC2086
    start_dockerd $SWITCHYARD_DOCKERD_FLAGS || die "dockerd did not start (log: $bed/dockerd.log)"
  else
    # Defaults first (bridge network, iptables, userland proxy: `-p 127.0.0.1:X:Y` works);
    # fall back step by step for kernels or sandboxes without iptables/nat or overlayfs.
    start_dockerd ||
      start_dockerd --iptables=false --ip-masq=false ||
      start_dockerd --iptables=false --ip-masq=false --storage-driver=vfs ||
      die "dockerd did not start with any flags (log: $bed/dockerd.log)"
  fi
  log "Docker engine up: $(docker version -f '{{.Server.Version}}' 2>/dev/null)"
fi

# ---------------------------------------------------------------------------------------------
# Registry on 127.0.0.1:$reg_port (Debian's docker-registry = distribution 2.x), storage in the bed.
if registry_ok; then
  log "registry answers at http://$registry/v2/"
else
  if curl -sS --max-time 2 -o /dev/null "http://$registry/" 2>/dev/null; then
    die "something other than a registry listens on $registry"
  fi
  regdir="$bed/registry-$reg_port"
  mkdir -p "$regdir/data"
  cat >"$regdir/config.yml" <<EOF
version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $regdir/data
  delete:
    enabled: true
  cache:
    blobdescriptor: inmemory
http:
  addr: $registry
  headers:
    X-Content-Type-Options: [nosniff]
EOF
  log "starting docker-registry on $registry (log: $regdir/registry.log)"
  setsid nohup docker-registry serve "$regdir/config.yml" >>"$regdir/registry.log" 2>&1 </dev/null &
  echo $! >"$regdir/registry.pid"
  wait_for 20 registry_ok || { tail -5 "$regdir/registry.log" >&2; die "registry did not answer at http://$registry/v2/"; }
fi

# ---------------------------------------------------------------------------------------------
# pebble (ACME test CA) and pebble-challtestsrv (its DNS: every name is 127.0.0.1), on loopback. The
# ACME tests start their own pair on free ports (pebble's httpPort must be the router under test); these
# daemons serve manual runs and the examples: directory https://127.0.0.1:14000/dir, HTTP-01 on port 5002.
pebbledir="$bed/pebble"
pebble_ok() { curl -fsS --max-time 1 --cacert "$pebbledir/ca.crt" https://127.0.0.1:14000/dir >/dev/null 2>&1; }
if ! pebble_ok; then
  mkdir -p "$pebbledir"
  if [ ! -f "$pebbledir/cert.pem" ]; then
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 3650 -subj "/CN=Switchyard bed CA" \
      -keyout "$pebbledir/ca.key" -out "$pebbledir/ca.crt" 2>/dev/null
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj /CN=localhost \
      -keyout "$pebbledir/key.pem" -out "$pebbledir/csr.pem" 2>/dev/null
    printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' >"$pebbledir/ext.cnf"
    openssl x509 -req -in "$pebbledir/csr.pem" -CA "$pebbledir/ca.crt" -CAkey "$pebbledir/ca.key" -CAcreateserial -days 3650 \
      -extfile "$pebbledir/ext.cnf" -out "$pebbledir/cert.pem" 2>/dev/null
  fi
  printf '%s\n' "{ \"pebble\": { \"listenAddress\": \"127.0.0.1:14000\", \"managementListenAddress\": \"127.0.0.1:15000\"," \
    "  \"certificate\": \"$pebbledir/cert.pem\", \"privateKey\": \"$pebbledir/key.pem\", \"httpPort\": 5002, \"tlsPort\": 5001," \
    "  \"ocspResponderURL\": \"\", \"externalAccountBindingRequired\": false } }" >"$pebbledir/pebble.json"
  for d in challtestsrv pebble; do
    pidf="$pebbledir/$d.pid"
    if [ -f "$pidf" ] && alive "$(cat "$pidf")" "${d:0:15}"; then kill "$(cat "$pidf")" 2>/dev/null || true; fi
  done
  log "starting pebble on 127.0.0.1:14000 and pebble-challtestsrv on 127.0.0.1:8053 (logs: $pebbledir)"
  setsid nohup pebble-challtestsrv -defaultIPv4 127.0.0.1 -defaultIPv6 "" -dns01 127.0.0.1:8053 -http01 "" -https01 "" -tlsalpn01 "" \
    -management 127.0.0.1:8055 >>"$pebbledir/challtestsrv.log" 2>&1 </dev/null &
  echo $! >"$pebbledir/challtestsrv.pid"
  PEBBLE_VA_NOSLEEP=1 setsid nohup pebble -config "$pebbledir/pebble.json" -dnsserver 127.0.0.1:8053 \
    >>"$pebbledir/pebble.log" 2>&1 </dev/null &
  echo $! >"$pebbledir/pebble.pid"
  wait_for 20 pebble_ok || { tail -5 "$pebbledir/pebble.log" >&2; die "pebble did not answer at https://127.0.0.1:14000/dir"; }
fi

# ---------------------------------------------------------------------------------------------
# Leftovers of earlier runs: every container (and network) the deployer labelled, and bed probes.
leftovers="$( { docker ps -aq --filter label=dev.switchyard.app; docker ps -aq --filter label=dev.switchyard.bed; } | sort -u)"
if [ -n "$leftovers" ]; then
  log "removing $(echo "$leftovers" | wc -l) leftover container(s)"
  # agent-unremovable.test.ts makes a container's hostname file immutable; a run killed before its cleanup leaves it so.
  for id in $leftovers; do
    f="$(docker inspect -f '{{.HostnamePath}}' "$id" 2>/dev/null || true)"
    [ -z "$f" ] || chattr -i "$f" 2>/dev/null || true
  done
  echo "$leftovers" | xargs docker rm -f >/dev/null
fi
nets="$(docker network ls -q --filter label=dev.switchyard.app)"
[ -z "$nets" ] || echo "$nets" | xargs docker network rm >/dev/null 2>&1 || true

# ---------------------------------------------------------------------------------------------
# Demo images
log "building demo images ${tags[*]} into $repo"
SWITCHYARD_DEMO_REGISTRY_URL="http://$registry" "$root/examples/demo-app/build.sh" "$repo" "${tags[@]}"
# A second repository from the same app, for an app of two images (web and api): v1 and v2 only, so the
# tags both repositories have are v1 and v2 (v3 exists in the first only).
api_repo="${repo%/*}/api"
log "building demo images v1 v2 into $api_repo"
SWITCHYARD_DEMO_REGISTRY_URL="http://$registry" "$root/examples/demo-app/build.sh" "$api_repo" v1 v2

# ---------------------------------------------------------------------------------------------
# Probe: a container publishing on 127.0.0.1 answers through that port, as the agent's will.
probe_port="$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')"
probe_name="switchyard-bed-probe-$$"
docker run -d --name "$probe_name" --label dev.switchyard.bed=probe -p "127.0.0.1:$probe_port:8080" "$repo:${tags[0]}" >/dev/null
if wait_for 15 curl -fsS --max-time 1 "http://127.0.0.1:$probe_port/version"; then
  docker rm -f "$probe_name" >/dev/null
  log "probe: $repo:${tags[0]} answered on 127.0.0.1:$probe_port"
else
  docker logs "$probe_name" 2>&1 | tail -5 >&2 || true
  docker rm -f "$probe_name" >/dev/null 2>&1 || true
  die "probe container published on 127.0.0.1:$probe_port did not answer"
fi

# ---------------------------------------------------------------------------------------------
docker_host="${DOCKER_HOST:-$(docker context inspect -f '{{.Endpoints.docker.Host}}' 2>/dev/null || echo unix:///var/run/docker.sock)}"
log "bed ready"
cat <<EOF
DOCKER_HOST=$docker_host
DOCKER_SOCKET=${docker_host#unix://}
DOCKER_SERVER_VERSION=$(docker version -f '{{.Server.Version}}' 2>/dev/null)
REGISTRY=$registry
REGISTRY_URL=http://$registry
REPO=$repo
API_REPO=$api_repo
TAGS="${tags[*]}"
BED_DIR=$bed
PEBBLE_DIRECTORY_URL=https://127.0.0.1:14000/dir
PEBBLE_CA_FILE=$pebbledir/ca.crt
EOF
