#!/usr/bin/env bash
# Build every image of the compose stack from this machine's own files: no registry is used.
#
#   bash compose/build-offline.sh          # idempotent: an image whose inputs did not change
#                                          # is kept (seconds on a second run)
#   CHAOS_OFFLINE_FORCE=1 bash ...         # rebuild all four
#
# Images (the names compose/docker-compose.offline.yml uses):
#   chaos-offline/toxiproxy:2.12.0  static toxiproxy-server + toxiproxy-cli (CGO_ENABLED=0)
#   chaos-offline/redis:7           Debian's redis-server/redis-cli + their shared libraries
#   chaos-offline/python:3.11       this machine's Python + chaos-drills' runtime deps + libs
#   chaos-offline/testbed:local     this checkout's chaos/ package on chaos-offline/python
# Each image carries the sha256 of its build context in the label org.chaos.inputs.
# Also makes sure a compose tool exists (`docker compose` v2, else Debian's docker-compose).
set -euo pipefail

TOXIPROXY_VERSION="2.12.0"
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(dirname "$HERE")"
CACHE="${CHAOS_CACHE:-$HOME/.cache/chaos}/offline"
PYTHON="${CHAOS_OFFLINE_PYTHON:-python3}"
export DOCKER_BUILDKIT=0  # the classic builder: no buildx plugin, no BuildKit frontend image to pull
mkdir -p "$CACHE"

log() { printf 'build-offline: %s\n' "$*" >&2; }
have() { command -v "$1" >/dev/null 2>&1; }
if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi

# --- a compose tool ----------------------------------------------------------------------
if ! docker compose version >/dev/null 2>&1 && ! have docker-compose; then
  log "no compose tool: installing Debian's docker-compose"
  $SUDO apt-get -o DPkg::Lock::Timeout=300 update -qq >&2
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get -o DPkg::Lock::Timeout=300 install -y -qq \
    --no-install-recommends docker-compose >&2
fi
if [ ! -x /bin/busybox ]; then
  log "installing busybox-static (healthchecks and /bin/sh in scratch images)"
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get -o DPkg::Lock::Timeout=300 install -y -qq \
    --no-install-recommends busybox-static >&2
fi

# build IMAGE CONTEXT_DIR DOCKERFILE [extra digest input [docker build args...]]: skipped when
# the image's org.chaos.inputs label equals the digest of the context (and the extra input)
build() {
  local image="$1" ctx="$2" dockerfile="$3" extra="${4:-}"
  shift 3; shift || true
  cp "$dockerfile" "$ctx/Dockerfile"
  local digest
  digest="$( { "$PYTHON" "$HERE/offline/stage_rootfs.py" digest "$ctx"; printf '%s' "$extra"; } | sha256sum | cut -d' ' -f1)"
  local have_digest
  have_digest="$(docker image inspect -f '{{index .Config.Labels "org.chaos.inputs"}}' "$image" 2>/dev/null || true)"
  if [ -z "${CHAOS_OFFLINE_FORCE:-}" ] && [ "$have_digest" = "$digest" ]; then
    log "$image is up to date"
    return
  fi
  log "building $image"
  local out
  # stderr kept quiet unless the build fails (the classic builder prints a deprecation notice)
  if ! out="$(docker build -q "$@" --label "org.chaos.inputs=$digest" -t "$image" "$ctx" 2>&1)"; then
    printf '%s\n' "$out" >&2
    log "building $image failed"
    exit 1
  fi
}

# --- toxiproxy ---------------------------------------------------------------------------
tp_bin="$CACHE/gobin-$TOXIPROXY_VERSION"
if [ ! -x "$tp_bin/server" ] || [ ! -x "$tp_bin/cli" ]; then
  have go || { log "Go is required to build toxiproxy (CGO_ENABLED=0)"; exit 1; }
  log "building toxiproxy $TOXIPROXY_VERSION server and cli with go install (static)"
  GOBIN="$tp_bin" CGO_ENABLED=0 go install \
    -ldflags "-X github.com/Shopify/toxiproxy/v2.Version=$TOXIPROXY_VERSION" \
    "github.com/Shopify/toxiproxy/v2/cmd/server@v$TOXIPROXY_VERSION" \
    "github.com/Shopify/toxiproxy/v2/cmd/cli@v$TOXIPROXY_VERSION" >&2
fi
ctx="$CACHE/toxiproxy"
rm -rf "$ctx" && mkdir -p "$ctx/rootfs/bin"
install -m 0755 "$tp_bin/server" "$ctx/rootfs/toxiproxy"
install -m 0755 "$tp_bin/cli" "$ctx/rootfs/toxiproxy-cli"
install -m 0755 /bin/busybox "$ctx/rootfs/bin/busybox"
ln -s busybox "$ctx/rootfs/bin/sh"
ln -s busybox "$ctx/rootfs/bin/wget"
build "chaos-offline/toxiproxy:$TOXIPROXY_VERSION" "$ctx" "$HERE/offline/toxiproxy.Dockerfile"

# --- redis -------------------------------------------------------------------------------
ctx="$CACHE/redis"
"$PYTHON" "$HERE/offline/stage_rootfs.py" redis "$ctx/rootfs"
build "chaos-offline/redis:7" "$ctx" "$HERE/offline/redis.Dockerfile"

# --- python ------------------------------------------------------------------------------
ctx="$CACHE/python"
"$PYTHON" "$HERE/offline/stage_rootfs.py" python "$ctx/rootfs"
build "chaos-offline/python:3.11" "$ctx" "$HERE/offline/python.Dockerfile"

# --- testbed -----------------------------------------------------------------------------
ctx="$CACHE/testbed"
rm -rf "$ctx" && mkdir -p "$ctx"
(cd "$ROOT" && tar --exclude=__pycache__ -cf - chaos) | tar -xf - -C "$ctx"
version="$(cd "$ROOT" && "$PYTHON" -c 'import tomllib; print(tomllib.load(open("pyproject.toml", "rb"))["project"]["version"])')"
python_id="$(docker image inspect -f '{{.Id}}' chaos-offline/python:3.11)"
build "chaos-offline/testbed:local" "$ctx" "$HERE/offline/testbed.Dockerfile" "$python_id $version" \
  --build-arg "VERSION=$version"

log "images ready: chaos-offline/{toxiproxy:$TOXIPROXY_VERSION,redis:7,python:3.11,testbed:local}"
