#!/usr/bin/env bash
# Make sure a Docker engine answers on this machine: install Debian's docker.io
# if there is no dockerd, start dockerd in the background if `docker info` does
# not answer, and wait until it does. Idempotent: a running engine is left alone.
#   bash scripts/docker-engine.sh
# Needs root (as CI and the dev machines run). The daemon's output goes to
# $GEOWINDOW_CACHE/dockerd.log; it keeps running after this script exits.
# Env: GEOWINDOW_CACHE (~/.cache/geowindow), DOCKER_START_TIMEOUT (60 s).
set -euo pipefail

START_TIMEOUT=${DOCKER_START_TIMEOUT:-60}
CACHE=${GEOWINDOW_CACHE:-$HOME/.cache/geowindow}
LOGFILE=$CACHE/dockerd.log
PIDFILE=$CACHE/dockerd.pid

log() { echo "[docker-engine] $*"; }
die() { echo "[docker-engine] ERROR: $*" >&2; exit 1; }

answers() { docker info >/dev/null 2>&1; }

install_engine() {
  command -v dockerd >/dev/null 2>&1 && return 0
  (( EUID == 0 )) || die "dockerd is not installed and this is not root; install it: sudo apt-get install -y docker.io"
  log "installing Debian's docker.io (dockerd, containerd, runc) with apt-get ..."
  local t0=$SECONDS
  # The package's start scripts fail without systemd; the daemon is started below instead.
  DEBIAN_FRONTEND=noninteractive apt-get update -qq >"$CACHE/apt-docker.log" 2>&1 &&
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends docker.io >>"$CACHE/apt-docker.log" 2>&1 ||
    { tail -n 30 "$CACHE/apt-docker.log" >&2; die "apt-get install docker.io failed (full log: $CACHE/apt-docker.log)"; }
  command -v dockerd >/dev/null 2>&1 || die "docker.io is installed but there is no dockerd on PATH"
  log "installed $(dockerd --version) in $((SECONDS - t0))s"
}

daemon_pid() {  # the pid of the dockerd this script started, if it still runs
  [[ -f $PIDFILE ]] || return 1
  local pid; pid=$(<"$PIDFILE")
  [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null && [[ $(cat "/proc/$pid/comm" 2>/dev/null) == dockerd ]] || return 1
  echo "$pid"
}

start_daemon() {
  local pid
  if pid=$(daemon_pid); then
    log "dockerd (pid $pid) is running but not answering yet; waiting ..."
    return 0
  fi
  if pgrep -x dockerd >/dev/null 2>&1; then
    log "a dockerd not started by this script is running but not answering; waiting for it ..."
    return 0
  fi
  (( EUID == 0 )) || die "no Docker engine answers and this is not root, so dockerd cannot be started here"
  log "starting dockerd (log: $LOGFILE) ..."
  # setsid: the daemon outlives this script and the shell that ran it.
  setsid nohup dockerd >"$LOGFILE" 2>&1 </dev/null &
  echo $! >"$PIDFILE"
}

wait_answering() {
  local deadline=$((SECONDS + START_TIMEOUT)) pid
  while (( SECONDS < deadline )); do
    answers && return 0
    if pid=$(<"$PIDFILE") 2>/dev/null && [[ -n $pid ]] && ! kill -0 "$pid" 2>/dev/null && ! pgrep -x dockerd >/dev/null 2>&1; then
      echo "----- tail $LOGFILE -----" >&2; tail -n 30 "$LOGFILE" >&2 || true
      die "dockerd exited during start-up (see above)"
    fi
    sleep 1
  done
  echo "----- tail $LOGFILE -----" >&2; tail -n 30 "$LOGFILE" >&2 || true
  die "no answer from 'docker info' after ${START_TIMEOUT}s"
}

mkdir -p "$CACHE"
command -v docker >/dev/null 2>&1 || install_engine   # docker.io brings the client too
if answers; then
  log "engine answers: $(docker info --format '{{.ServerVersion}}, {{.Driver}}, cgroup v{{.CgroupVersion}}')"
  exit 0
fi
t0=$SECONDS
install_engine
start_daemon
wait_answering
log "engine answers after $((SECONDS - t0))s: $(docker info --format '{{.ServerVersion}}, {{.Driver}}, cgroup v{{.CgroupVersion}}')"
