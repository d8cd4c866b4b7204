#!/usr/bin/env bash
# Build the Dockerfile's base image locally, for machines that reach no image
# registry: a minimal Debian bookworm root (debootstrap, with tini and
# ca-certificates), the pinned Node.js 24 binary (scripts/node24.sh), npm from
# the npm registry (the Dockerfile's build stages run `npm ci`) and the `node`
# user (uid/gid 1000, as in the official node images), imported with
# `docker import`. Prints the image tag on stdout; use it as
#   docker build --build-arg NODE_IMAGE="$(bash scripts/docker-base.sh)" .
# Idempotent and cached: an existing tag is kept (`--rebuild` replaces it); the
# debootstrap root is kept in $GEOWINDOW_CACHE, so a rebuild takes seconds.
# Needs root and a Docker engine (scripts/docker-engine.sh).
# Env: GEOWINDOW_CACHE (~/.cache/geowindow), DEBIAN_MIRROR (the first URI of
# /etc/apt/sources.list.d/debian.sources, else http://deb.debian.org/debian).
set -euo pipefail
cd "$(dirname "$0")/.."

SUITE=bookworm
PACKAGES=tini,ca-certificates   # tini is the image's PID 1; ca-certificates for npm over TLS
NPM_VERSION=11.21.2             # npm of the Node.js 24 line; the build stages run it
NPM_INTEGRITY='sha512-7HPApk+AflMUavSseL1Pm6CnYqMIHk53x+KmuhqmTDqPkjPMgxIpTPcTqsE91EKNw4gFBJV9fnXiSdGm1DXq9A=='
NODE_UID=1000                   # the Dockerfile's USER 1000:1000

CACHE=${GEOWINDOW_CACHE:-$HOME/.cache/geowindow}
ROOTFS=$CACHE/debootstrap-$SUITE-minbase    # pristine debootstrap root, never changed once complete
NPM_TGZ=$CACHE/npm-$NPM_VERSION.tgz

log() { echo "[docker-base] $*" >&2; }
die() { echo "[docker-base] ERROR: $*" >&2; exit 1; }

debian_mirror() {
  if [[ -n ${DEBIAN_MIRROR:-} ]]; then echo "$DEBIAN_MIRROR"; return; fi
  local uri
  uri=$(sed -n 's/^URIs:[[:space:]]*\([^[:space:]]*\).*/\1/p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | grep -v security | head -n1 || true)
  echo "${uri:-http://deb.debian.org/debian}"
}

ensure_debootstrap_root() {
  [[ -f $ROOTFS/.complete ]] && { log "debootstrap root cached in $ROOTFS"; return 0; }
  command -v debootstrap >/dev/null 2>&1 || {
    log "installing debootstrap with apt-get ..."
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null 2>&1 ||
      { apt-get update -qq >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null; } ||
      die "could not install debootstrap: apt-get install -y debootstrap"
  }
  local mirror t0=$SECONDS
  mirror=$(debian_mirror)
  log "debootstrap $SUITE (minbase + $PACKAGES) from $mirror into $ROOTFS (a few minutes; log: $CACHE/debootstrap.log) ..."
  rm -rf "$ROOTFS.tmp"
  mkdir -p "$CACHE"
  debootstrap --variant=minbase --include="$PACKAGES" "$SUITE" "$ROOTFS.tmp" "$mirror" >"$CACHE/debootstrap.log" 2>&1 ||
    { tail -n 30 "$CACHE/debootstrap.log" >&2; die "debootstrap failed (full log: $CACHE/debootstrap.log)"; }
  date -u +%FT%TZ >"$ROOTFS.tmp/.complete"
  rm -rf "$ROOTFS"; mv "$ROOTFS.tmp" "$ROOTFS"
  log "debootstrap done in $((SECONDS - t0))s ($(du -sh "$ROOTFS" | cut -f1))"
}

ensure_npm_tarball() {
  [[ -f $NPM_TGZ ]] && return 0
  log "fetching npm@$NPM_VERSION from the npm registry ..."
  local tmp got
  tmp=$(mktemp -d)
  (cd "$tmp" && npm pack "npm@$NPM_VERSION" --json --silent >pack.json)
  got=$(node -e 'console.log(JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"))[0].integrity)' "$tmp/pack.json")
  [[ $got == "$NPM_INTEGRITY" ]] || { rm -rf "$tmp"; die "integrity of npm@$NPM_VERSION is $got, expected $NPM_INTEGRITY"; }
  mv "$tmp/npm-$NPM_VERSION.tgz" "$NPM_TGZ"
  rm -rf "$tmp"
}

# The image's root: the debootstrap root plus node, npm, the node user, and this
# machine's extra CA certificates (a proxy that re-signs TLS, as here, must be
# trusted inside the build stages too, or `npm ci` cannot reach the registry).
stage_root() {  # $1 = staging dir, $2 = node binary
  local stage=$1 node=$2 ca
  cp -a "$ROOTFS" "$stage"
  rm -f "$stage/.complete"
  install -m 0755 "$node" "$stage/usr/local/bin/node"
  mkdir -p "$stage/usr/local/lib/node_modules/npm"
  tar -xzf "$NPM_TGZ" -C "$stage/usr/local/lib/node_modules/npm" --strip-components=1 --no-same-owner
  ln -s ../lib/node_modules/npm/bin/npm-cli.js "$stage/usr/local/bin/npm"
  ln -s ../lib/node_modules/npm/bin/npx-cli.js "$stage/usr/local/bin/npx"
  for ca in /usr/local/share/ca-certificates/*.crt; do
    [[ -f $ca ]] || continue
    log "trusting this machine's CA certificate $(basename "$ca") in the image"
    install -m 0644 "$ca" "$stage/usr/local/share/ca-certificates/"
  done
  chroot "$stage" update-ca-certificates >/dev/null 2>&1
  # npm's global config (prefix /usr/local): the system's CAs, extra ones included.
  mkdir -p "$stage/usr/local/etc"
  printf 'cafile=/etc/ssl/certs/ca-certificates.crt\nupdate-notifier=false\nfund=false\naudit=false\n' >"$stage/usr/local/etc/npmrc"
  chroot "$stage" groupadd --gid "$NODE_UID" node
  chroot "$stage" useradd --uid "$NODE_UID" --gid node --shell /bin/bash --create-home node
  # Man pages stay: packages installed on top (a JRE) link theirs into /usr/share/man/man1.
  rm -rf "$stage"/var/lib/apt/lists/* "$stage"/var/cache/apt/*.bin "$stage"/var/cache/apt/archives/*.deb "$stage"/var/log/*.log
}

rebuild=false
[[ ${1:-} == --rebuild ]] && rebuild=true
docker info >/dev/null 2>&1 || die "no Docker engine answers; start one first: bash scripts/docker-engine.sh"
(( EUID == 0 )) || die "debootstrap and chroot need root"

node=$(bash scripts/node24.sh)
version=$("$node" --version)
TAG=geowindow-base:node${version#v}-$SUITE

if ! $rebuild && docker image inspect "$TAG" >/dev/null 2>&1; then
  log "$TAG exists (--rebuild replaces it)"
  echo "$TAG"
  exit 0
fi

t0=$SECONDS
ensure_debootstrap_root
ensure_npm_tarball
stage=$(mktemp -d "$CACHE/base-stage.XXXXXX")
trap 'rm -rf "$stage"' EXIT
rmdir "$stage"
log "staging the image root (node $version, npm $NPM_VERSION, user node $NODE_UID:$NODE_UID) ..."
stage_root "$stage" "$node"
log "importing $(du -sh "$stage" | cut -f1) as $TAG ..."
tar --numeric-owner --exclude='./proc/*' --exclude='./sys/*' --exclude='./dev/*' -C "$stage" -c . |
  docker import \
    -c 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    -c "ENV NODE_VERSION=${version#v}" \
    -c 'CMD ["node"]' \
    -m "debian $SUITE minbase, tini, node $version, npm $NPM_VERSION, user node $NODE_UID (scripts/docker-base.sh)" \
    - "$TAG" >/dev/null
# What the Dockerfile relies on: node, npm, tini at /usr/bin/tini, uid 1000.
check=$(docker run --rm "$TAG" sh -c 'node --version && npm --version && /usr/bin/tini --version && id -u node') ||
  die "$TAG does not run node, npm and tini"
log "$TAG built in $((SECONDS - t0))s: $(echo "$check" | tr '\n' ' ')"
echo "$TAG"
