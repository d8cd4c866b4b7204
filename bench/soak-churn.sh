#!/usr/bin/env bash
# A soak with key churn: the fleet's devices placed in the U.S. counties (GPS
# trackers walk, so zones and H3 cells come and go), the service on event-time
# windows keyed by zone, H3 cell and device, its memory, records and windows
# sampled every second. Results go to bench/results/soak-churn-<date>/:
# soak.csv, soak.svg, soak.json (the summary), soak.log (the service's log lines).
#   bash bench/soak-churn.sh [rate] [seconds]       (default 20000 rec/s for 1200 s)
# Environment, with its defaults: MEMORY_LIMIT_MB (512), WORKERS (2), WINDOW (tumbling),
# WINDOW_SIZE (10s), WINDOW_GRACE (2s), KEY_BY (zone,h3,device), H3_RESOLUTION (9),
# ZONES_FILE (bench/out/us-counties.geojson, written if missing), DEVICES (20000),
# WARMUP (the soak's: a fifth of the run, at most 120 s), MAX_SLOPE (20 MB/h),
# KAFKA_BROKERS (127.0.0.1:9092), KEEP_TOPICS (unset: the run's topics are deleted at the end).
# Any other variable the service reads (CHUNK_SIZE, WINDOW_MAX_KEYS, ...) passes through to it.
# Exits with the soak's code: 1 when the verdict fails.
set -euo pipefail
cd "$(dirname "$0")/.."

RATE=${1:-20000}
DURATION=${2:-1200}
DEVICES=${DEVICES:-20000}
MAX_SLOPE=${MAX_SLOPE:-20}
export KAFKA_BROKERS=${KAFKA_BROKERS:-127.0.0.1:9092}
export MEMORY_LIMIT_MB=${MEMORY_LIMIT_MB:-512} WORKERS=${WORKERS:-2}
export WINDOW=${WINDOW:-tumbling} WINDOW_SIZE=${WINDOW_SIZE:-10s} WINDOW_GRACE=${WINDOW_GRACE:-2s}
export KEY_BY=${KEY_BY:-zone,h3,device} H3_RESOLUTION=${H3_RESOLUTION:-9}
export ZONES_FILE=${ZONES_FILE:-bench/out/us-counties.geojson}
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
OUT=bench/results/soak-churn-$STAMP
TOPIC=soak-churn-$STAMP-in
mkdir -p "$OUT"

# Always build: a stale dist/ would run another checkout's soak.
npm run --silent build || { echo "[soak-churn] npm run build failed" >&2; exit 1; }
if [[ ! -f $ZONES_FILE ]]; then
  mkdir -p "$(dirname "$ZONES_FILE")"
  node dist/src/cli.js zones us-counties --out "$ZONES_FILE" >/dev/null
fi
ZONES_FILE=$(realpath "$ZONES_FILE")

echo "[soak-churn] $RATE rec/s for ${DURATION}s, $DEVICES devices in $(basename "$ZONES_FILE"); budget ${MEMORY_LIMIT_MB} MB," \
  "$WORKERS workers; $WINDOW $WINDOW_SIZE windows (grace $WINDOW_GRACE) by $KEY_BY, H3 resolution $H3_RESOLUTION; topic $TOPIC"
set +e
node dist/src/cli.js soak --rate "$RATE" --duration "$DURATION" --devices "$DEVICES" --zones "$ZONES_FILE" \
  --topic "$TOPIC" --out "$OUT" --max-peak-mb "$MEMORY_LIMIT_MB" --max-slope "$MAX_SLOPE" ${WARMUP:+--warmup "$WARMUP"} \
  > "$OUT/soak.log"
VERDICT=$?
set -e

if [[ -z ${KEEP_TOPICS:-} ]]; then
  for topic in "$TOPIC" "$TOPIC-aggregates" "$TOPIC-dlq"; do
    bash scripts/kafka.sh topics --delete --if-exists --topic "$topic" >/dev/null 2>&1 ||
      echo "[soak-churn] could not delete topic $topic" >&2
  done
fi
if [[ -f $OUT/soak.json ]]; then
  node -e '
    const r = JSON.parse(require("node:fs").readFileSync(process.argv[1], "utf8"));
    const range = (x, unit = "") => (x === null ? "-" : `${x.min}${unit} to ${x.max}${unit}`);
    console.log(`[soak-churn] ${r.verdict}${r.reasons.length ? ": " + r.reasons.join("; ") : ""}`);
    console.log(`[soak-churn] read ${r.recordsIn} of ${r.produced} records, ${r.recordsPerSecond} rec/s after the ${r.warmupSeconds} s warm-up`);
    console.log(`[soak-churn] RSS ${r.rssAtWarmupEndMb} MB at the warm-up end, ${r.rssAtEndMb} MB at the end, peak ${r.peakRssMb} of ${r.budgetMb} MB;` +
      ` slope ${r.slopeMbPerHour} MB/h = ${r.growthMbPer100MRecords} MB per 100M records; ${r.pauses} pauses`);
    console.log(`[soak-churn] windows emitted ${r.windowsEmitted} ${JSON.stringify(r.windowsEmittedByClosedBy)}, ${r.aggregatesWritten} aggregates;` +
      ` after the warm-up ${range(r.windowsOpen)} open, state ${range(r.windowStateMb, " MB")}`);
  ' "$OUT/soak.json"
else
  echo "[soak-churn] no summary: see $OUT/soak.log" >&2
fi
echo "[soak-churn] results in $OUT"
exit $VERDICT
