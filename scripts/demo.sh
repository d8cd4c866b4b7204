#!/usr/bin/env bash
# The whole product in one command: a local Kafka broker, a synthetic fleet
# placed in the 3,231 U.S. counties, the service folding it into one-minute
# event-time windows per county, a few of the closed windows, and a map of
# the last one.
#   npm run demo                 (DEMO_SECONDS=20 DEMO_RATE=5000 to change the load)
set -euo pipefail
cd "$(dirname "$0")/.."

SECONDS_TO_RUN=${DEMO_SECONDS:-20}
RATE=${DEMO_RATE:-5000}
# Event time is fast-forwarded so that this many one-minute windows pass during the run.
WINDOWS=5
# Four devices per county (a weather station, a river probe, an air monitor and a tracker).
DEVICES=12920
export KAFKA_BROKERS=${KAFKA_BROKERS:-127.0.0.1:9092}
RUN=$(date +%s)
export INPUT_TOPIC=demo-readings-$RUN OUTPUT_TOPIC=demo-aggregates-$RUN DLQ_TOPIC=demo-readings-$RUN.dlq
export GROUP_ID=geowindow-demo-$RUN LOG_LEVEL=${LOG_LEVEL:-warn}
export METRICS_PORT=${METRICS_PORT:-9464}
export WINDOW=tumbling WINDOW_SIZE=1m WINDOW_GRACE=10s KEY_BY=zone IDLE_PARTITION_MS=5s OUTPUT_SCHEMA=v2
WORK=$(mktemp -d "${TMPDIR:-/tmp}/geowindow-demo-$RUN-XXXX")
export ZONES_FILE=$WORK/us-counties.geojson
MAP=$WORK/map.html

say() { echo "[demo] $*"; }

# Build when there is no build, or when a source file is newer than it.
if [[ ! -f dist/src/cli.js ]] || [[ -n $(find src workers -name '*.ts' -newer dist/src/cli.js -print -quit) ]]; then
  npm run build
fi
if [[ $KAFKA_BROKERS == 127.0.0.1:9092 ]]; then bash scripts/kafka.sh up; fi

say "writing the U.S. counties (us-atlas, public domain) to $ZONES_FILE"
node dist/src/cli.js zones us-counties --out "$ZONES_FILE" >/dev/null

say "creating topics $INPUT_TOPIC (6 partitions), $OUTPUT_TOPIC (3), $DLQ_TOPIC (1)"
for spec in "$INPUT_TOPIC:6" "$OUTPUT_TOPIC:3" "$DLQ_TOPIC:1"; do
  bash scripts/kafka.sh topics --create --if-not-exists --topic "${spec%:*}" --partitions "${spec##*:}" >/dev/null
done

say "starting the service: $WINDOW windows of $WINDOW_SIZE per county, grace $WINDOW_GRACE (metrics on http://127.0.0.1:$METRICS_PORT/metrics)"
node dist/src/cli.js run &
SERVICE=$!
trap 'kill -TERM $SERVICE 2>/dev/null || true' EXIT

# Event time runs from a whole minute some minutes ago, WINDOWS minutes in all, so windows close
# by the watermark while the fleet runs, and the last ones by the idle partitions' wall clock after.
COUNT=$(( RATE * SECONDS_TO_RUN ))
SPAN_MS=$(( WINDOWS * 60000 ))
STEP_MS=$(awk -v span="$SPAN_MS" -v count="$COUNT" 'BEGIN { printf "%.6f", span / count }')
START_MS=$(( ( $(date +%s) * 1000 - SPAN_MS - 120000 ) / 60000 * 60000 ))
say "fleet: $DEVICES devices in the counties, $COUNT readings at $RATE/s, event time from $(date -u -d "@$(( START_MS / 1000 ))" +%H:%M:%SZ 2>/dev/null || echo "$START_MS ms")"
say "       ${STEP_MS} ms apart (${WINDOWS} minutes in ${SECONDS_TO_RUN}s), shuffled by up to 2 s; 1% bad, 1% an hour late"
node dist/src/cli.js produce --topic "$INPUT_TOPIC" --devices "$DEVICES" --rate "$RATE" --count "$COUNT" \
  --zones "$ZONES_FILE" --start-ts "$START_MS" --step-ms "$STEP_MS" --disorder-ms 2000 \
  --late-ratio 0.01 --bad-ratio 0.01 --seed "$RUN"

# Every reading ends in a closed window, in the dead-letter topic (bad or late) or in the unzoned count.
accounted() {
  curl -fsS "http://127.0.0.1:$METRICS_PORT/metrics" 2>/dev/null |
    awk '/^geowindow_(records_aggregated_total|records_dead_lettered_total|records_unzoned_total)[{ ]/ { n += $NF } END { printf "%d", n }'
}
say "waiting for the idle partitions to close the last windows (IDLE_PARTITION_MS=$IDLE_PARTITION_MS)"
for _ in $(seq 60); do
  (( $(accounted) >= COUNT )) && break
  sleep 1
done
say "metrics ($(accounted) of $COUNT readings accounted for):"
curl -fsS "http://127.0.0.1:$METRICS_PORT/metrics" |
  grep -E '^geowindow_(records_in_total|records_aggregated_total|records_dead_lettered_total|records_late_total|records_unzoned_total|aggregates_written_total|idle_partition_advances_total)' |
  grep -v ' 0$' || true

kill -TERM $SERVICE
wait $SERVICE || true
trap - EXIT
say "the last closed county windows in $OUTPUT_TOPIC (one line per window, county and input partition):"
node scripts/print-aggregates.mjs "$OUTPUT_TOPIC" 12
say "drawing the map of the last closed window"
node dist/src/cli.js map --zones "$ZONES_FILE" --topic "$OUTPUT_TOPIC" --reading pm25 --out "$MAP" >/dev/null
say "map: $MAP (open it in a browser)"
say "done. The broker keeps running (npm run kafka:down stops it)."
