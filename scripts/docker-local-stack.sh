#!/usr/bin/env bash
# docker compose with images built here (deploy/compose.local.yml), for
# machines that reach no image registry: builds the Kafka image from the jars
# scripts/kafka.sh downloaded and Debian's JRE, and Prometheus from Debian, on
# the local base image, then runs docker-compose with the arguments given.
#   bash scripts/docker-local-stack.sh up -d     (then ps, logs, down ...)
# Needs a Docker engine (scripts/docker-engine.sh), Debian's docker-compose
# (v1), the base image (scripts/docker-base.sh) and the Kafka jars (bash scripts/kafka.sh up, once).
# Env: GEOWINDOW_CACHE (~/.cache/geowindow); LOCAL_STACK_HOST_PORTS=0 publishes no
# port on the host (needed while scripts/kafka.sh's broker holds 9092).
set -euo pipefail
cd "$(dirname "$0")/.."

KAFKA_VERSION=4.1.1          # scripts/kafka.sh and docker-compose.yml
PROMETHEUS_TAG=2.42          # Debian bookworm's prometheus
CACHE=${GEOWINDOW_CACHE:-$HOME/.cache/geowindow}
LIBS=$CACHE/kafka-$KAFKA_VERSION/libs

log() { echo "[local-stack] $*" >&2; }
die() { echo "[local-stack] ERROR: $*" >&2; exit 1; }

command -v docker-compose >/dev/null 2>&1 || die "no docker-compose; install Debian's: apt-get install -y docker-compose"
[[ -f $LIBS/.complete ]] || die "no Kafka jars in $LIBS; download them once with: bash scripts/kafka.sh up"
base=$(bash scripts/docker-base.sh)

build_image() {  # $1 = tag, $2 = deploy/local/<dir>, $3 = extra context dir (optional)
  docker image inspect "$1" >/dev/null 2>&1 && { log "$1 exists"; return 0; }
  local context t0=$SECONDS
  context=$(mktemp -d)
  cp -a "$2"/. "$context"/
  [[ -n ${3:-} ]] && cp -al "$3" "$context/libs"
  log "building $1 (log: $CACHE/build-${1//[\/:]/-}.log) ..."
  DOCKER_BUILDKIT=0 docker build --build-arg BASE_IMAGE="$base" -t "$1" "$context" >"$CACHE/build-${1//[\/:]/-}.log" 2>&1 ||
    { tail -n 30 "$CACHE/build-${1//[\/:]/-}.log" >&2; rm -rf "$context"; die "could not build $1"; }
  rm -rf "$context"
  log "built $1 in $((SECONDS - t0))s"
}

build_image "geowindow-local/kafka:$KAFKA_VERSION" deploy/local/kafka "$LIBS"
build_image "geowindow-local/prometheus:$PROMETHEUS_TAG" deploy/local/prometheus
export GEOWINDOW_BASE_IMAGE=$base
files=(-f docker-compose.yml -f deploy/compose.local.yml)
if [[ ${LOCAL_STACK_HOST_PORTS:-1} == 0 ]]; then
  # Compose v1 cannot take a published port away in an override file, so the
  # merged configuration is written without any and run from there.
  merged=$CACHE/compose.local.no-host-ports.yml
  docker-compose "${files[@]}" config |
    python3 -c 'import sys, yaml; d = yaml.safe_load(sys.stdin); [s.pop("ports", None) for s in d["services"].values()]; yaml.safe_dump(d, sys.stdout)' >"$merged"
  log "host ports left out (LOCAL_STACK_HOST_PORTS=0): reach the services inside the compose network"
  files=(-f "$merged")
elif [[ ${1:-} == up ]] && (exec 3<>/dev/tcp/127.0.0.1/9092) 2>/dev/null; then
  die "something (scripts/kafka.sh's broker?) holds port 9092, which the compose file publishes for its broker;
  stop it (bash scripts/kafka.sh down), or run without host ports: LOCAL_STACK_HOST_PORTS=0 bash $0 $*"
fi
exec docker-compose -p geowindow "${files[@]}" "$@"
