# syntax=docker/dockerfile:1
# Node.js 24 LTS on Debian slim. Pin further (a patch tag or @sha256 digest)
# with `docker build --build-arg NODE_IMAGE=node:24.x.y-bookworm-slim@sha256:...`.
# Without an image registry: --build-arg NODE_IMAGE="$(bash scripts/docker-base.sh)".
ARG NODE_IMAGE=node:24-bookworm-slim

# Build stage: compile TypeScript with the dev dependencies.
FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts: package.json's `prepare` runs the build, and the sources
# are not here yet. No dependency of geowindow needs an install script.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src src
COPY workers workers
RUN npm run build

# Production dependencies only, installed from the lock file. --ignore-scripts
# is what makes --omit=dev work: without it npm runs `prepare`, which needs
# tsc, a dev dependency that is not installed.
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund
# The one install script geowindow needs: kafkajs 2.2.4 patched (the idle
# request-queue timer, a 1 ms wake-up loop; and the cost of encoding produce
# requests and decoding fetches). See the script's header.
COPY scripts/patch-kafkajs.mjs scripts/
RUN node scripts/patch-kafkajs.mjs

# Runtime stage: compiled code and production dependencies, no npm run, no
# tsc, as the image's unprivileged `node` user (numeric, so Kubernetes can
# check runAsNonRoot).
FROM ${NODE_IMAGE}
# A base that has tini already (scripts/docker-base.sh builds one) needs no apt.
RUN [ -x /usr/bin/tini ] || { apt-get update && apt-get install -y --no-install-recommends tini && rm -rf /var/lib/apt/lists/*; }
# MALLOC_ARENA_MAX=2: fewer glibc malloc arenas for the main thread and the
# workers; MALLOC_MMAP_THRESHOLD_=131072: large blocks (fetches, produce
# requests) always mapped on their own and returned when freed. Both keep
# less retained memory (src/memory/malloc-settings.ts).
ENV NODE_ENV=production METRICS_PORT=9464 MALLOC_ARENA_MAX=2 MALLOC_MMAP_THRESHOLD_=131072
WORKDIR /app
COPY package.json ./
COPY --from=deps /app/node_modules node_modules
COPY --from=build /app/dist/src dist/src
COPY --from=build /app/dist/workers dist/workers
COPY schema schema
USER 1000:1000
EXPOSE 9464
# Docker and compose only; Kubernetes ignores it and uses the Deployment's probes.
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+process.env.METRICS_PORT+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# tini is PID 1: it forwards SIGTERM to node (which writes open windows and
# commits within SHUTDOWN_GRACE_MS) and reaps zombies.
# --expose-gc lets the memory guard collect once while paused.
# --max-semi-space-size=16: the main thread's young generation as the memory
# plan counts it (without it, `run` restarts itself once with the flag).
ENTRYPOINT ["/usr/bin/tini", "--", "node", "--expose-gc", "--max-semi-space-size=16", "dist/src/cli.js"]
CMD ["run"]
