#!/usr/bin/env bash
# Make the real components available: redis-server, toxiproxy-server, a Docker engine,
# and this package with its dev tools. Idempotent; a second run takes seconds.
#
#   bash scripts/setup.sh            # everything
#   CHAOS_SKIP_DOCKER=1 bash ...     # no Docker engine (the Docker tests then fail, by design)
#
# Writes $CHAOS_CACHE/components.env (CHAOS_DOCKER_UNAVAILABLE=<reason> when an installed
# and started engine still cannot run) and prints one line naming what is available.
set -euo pipefail

TOXIPROXY_VERSION="2.12.0"
CHAOS_CACHE="${CHAOS_CACHE:-$HOME/.cache/chaos}"
mkdir -p "$CHAOS_CACHE"
cd "$(dirname "$0")/.."

log() { printf 'setup: %s\n' "$*" >&2; }
have() { command -v "$1" >/dev/null 2>&1; }

if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
BIN_DIR="/usr/local/bin"
if [ -n "$SUDO" ] && ! have sudo; then BIN_DIR="$HOME/.local/bin"; SUDO=""; mkdir -p "$BIN_DIR"; fi

apt_updated=0
apt_install() {
  if ! have apt-get; then log "apt-get not found; install $* by hand"; return 1; fi
  if [ "$apt_updated" = 0 ]; then $SUDO apt-get -o DPkg::Lock::Timeout=300 update -qq >&2; apt_updated=1; fi
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends "$@" >&2
}

# --- redis-server (Debian package) ---------------------------------------------------
need_pkgs=()
have redis-server || need_pkgs+=(redis-server)
# static busybox: healthchecks and tools inside locally built FROM-scratch images
[ -x /bin/busybox ] || need_pkgs+=(busybox-static)
# Debian's chromium: tests/report/test_html.py loads report.html in it (headless, over CDP)
have chromium || need_pkgs+=(chromium)
# Debian's prometheus: tests/observe/test_exporter.py scrapes the drill's own metrics with a real one
have prometheus || need_pkgs+=(prometheus)
# a C compiler and Python's headers: pip builds the load driver's OpenAI fast path (setup.py)
have cc || need_pkgs+=(gcc)
python3 -c 'import os, sysconfig, sys; sys.exit(not os.path.exists(os.path.join(sysconfig.get_paths()["include"], "Python.h")))' \
  || need_pkgs+=(python3-dev)
if [ -z "${CHAOS_SKIP_DOCKER:-}" ]; then
  have dockerd || need_pkgs+=(docker.io)
  # compose v2 plugin when present, else Debian's docker-compose (compose/README.md)
  docker compose version >/dev/null 2>&1 || have docker-compose || need_pkgs+=(docker-compose)
fi
if [ "${#need_pkgs[@]}" -gt 0 ]; then
  log "installing Debian packages: ${need_pkgs[*]}"
  apt_install "${need_pkgs[@]}"
fi
# The Debian package starts a system redis on 6379 where systemd runs; tests use their own.

# --- toxiproxy-server (the real Go server, built static so scratch images can use it) --
tp_ok=0
if have toxiproxy-server && toxiproxy-server -version 2>/dev/null | grep -q "$TOXIPROXY_VERSION"; then
  tp_ok=1
fi
if [ "$tp_ok" = 0 ]; then
  if ! have go; then log "Go is required to build toxiproxy-server (Go >= 1.23)"; exit 1; fi
  log "building toxiproxy-server $TOXIPROXY_VERSION with go install"
  GOBIN="$CHAOS_CACHE/gobin" CGO_ENABLED=0 go install \
    -ldflags "-X github.com/Shopify/toxiproxy/v2.Version=$TOXIPROXY_VERSION" \
    "github.com/Shopify/toxiproxy/v2/cmd/server@v$TOXIPROXY_VERSION" >&2
  # `go install` names the binary after its package directory: "server".
  $SUDO install -m 0755 "$CHAOS_CACHE/gobin/server" "$BIN_DIR/toxiproxy-server"
fi

# --- Python package and dev tools ----------------------------------------------------
stamp="$CHAOS_CACHE/pip.stamp"
want="$(cat pyproject.toml setup.py chaos/protocols/_scan.c chaos/load/_wire.c chaos/load/llhttp/*.[ch] | sha256sum | cut -d' ' -f1) $(python3 -c 'import sys; print(sys.version)') $PWD"
installed_at="$(cd / && python3 -c 'import chaos, os; print(os.path.dirname(os.path.dirname(chaos.__file__)))' 2>/dev/null || true)"
built="$(cd / && python3 -c 'import chaos.protocols._scan, chaos.load._wire' >/dev/null 2>&1 && echo yes || true)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ] || [ "$installed_at" != "$PWD" ] || [ -z "$built" ]; then
  log "installing the package with its dev extra"
  python3 -m pip install -q --disable-pip-version-check -e ".[dev]" >&2
  printf '%s' "$want" > "$stamp"
fi

# --- Ray: the optional ray extra (load.backend: ray; tests/load/ray start a real cluster) --
if ! python3 -c 'import ray' >/dev/null 2>&1; then
  log "installing the ray extra"
  python3 -m pip install -q --disable-pip-version-check -e ".[ray]" >&2 \
    || log "the ray extra did not install: the Ray tests will skip, saying so"
fi

# --- Docker engine -------------------------------------------------------------------
docker_reason=""
docker_version=""
if [ -z "${CHAOS_SKIP_DOCKER:-}" ]; then
  if ! docker info >/dev/null 2>&1; then
    log "starting dockerd"
    $SUDO sh -c 'nohup dockerd >/var/log/chaos-dockerd.log 2>&1 &' || true
    for _ in $(seq 1 60); do
      docker info >/dev/null 2>&1 && break
      sleep 0.5
    done
  fi
  if docker_version="$(docker version --format '{{.Server.Version}}' 2>/dev/null)"; then
    :
  else
    docker_reason="$( (docker info 2>&1 || true; tail -n 3 /var/log/chaos-dockerd.log 2>/dev/null || true) | grep -iE 'error|fail|cannot' | head -n 1 | tr -d '\r')"
    docker_reason="${docker_reason:-docker engine did not answer after start}"
  fi
else
  docker_reason="skipped by CHAOS_SKIP_DOCKER"
fi

{
  if [ -n "$docker_reason" ]; then printf 'CHAOS_DOCKER_UNAVAILABLE=%q\n' "$docker_reason"; fi
} > "$CHAOS_CACHE/components.env"

redis_v="$(redis-server --version | sed -E 's/.* v=([^ ]+).*/\1/')"
tp_v="$(toxiproxy-server -version 2>/dev/null | awk '{print $NF}')"
if [ -n "$docker_reason" ]; then
  printf 'DOCKER ENGINE UNAVAILABLE: %s\n' "$docker_reason"
  printf 'real components: redis-server %s, toxiproxy-server %s, docker engine UNAVAILABLE\n' "$redis_v" "$tp_v"
else
  printf 'real components: redis-server %s, toxiproxy-server %s, docker engine %s\n' "$redis_v" "$tp_v" "$docker_version"
fi
