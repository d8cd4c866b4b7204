#!/usr/bin/env bash
# The whole product in one command: a local Kafka broker, the synthetic fleet,
# the service, and the aggregates it wrote.
#   npm run demo                 (DEMO_SECONDS=20 DEMO_RATE=5000 to change the load)
set -euo pipefail
cd "$(dirname "$0")/.."

SECONDS_TO_RUN=${DEMO_SECONDS:-20}
RATE=${DEMO_RATE:-5000}
export KAFKA_BROKERS=${KAFKA_BROKERS:-127.0.0.1:9092}
RUN=$(date +%s)
export INPUT_TOPIC=demo-readings-$RUN OUTPUT_TOPIC=demo-aggregates-$RUN DLQ_TOPIC=demo-readings-$RUN.dlq
export GROUP_ID=geowindow-demo-$RUN WINDOW_IDLE_MS=${WINDOW_IDLE_MS:-2000} LOG_LEVEL=${LOG_LEVEL:-warn}
export METRICS_PORT=${METRICS_PORT:-9464}

say() { echo "[demo] $*"; }

[[ -f dist/src/cli.js ]] || npm run build
if [[ $KAFKA_BROKERS == 127.0.0.1:9092 ]]; then bash scripts/kafka.sh up; fi

say "creating topics $INPUT_TOPIC (6 partitions), $OUTPUT_TOPIC (3), $DLQ_TOPIC (1)"
for spec in "$INPUT_TOPIC:6" "$OUTPUT_TOPIC:3" "$DLQ_TOPIC:1"; do
  bash scripts/kafka.sh topics --create --if-not-exists --topic "${spec%:*}" --partitions "${spec##*:}" >/dev/null
done

say "starting the service (metrics on http://127.0.0.1:$METRICS_PORT/metrics)"
node dist/src/cli.js run &
SERVICE=$!
trap 'kill -TERM $SERVICE 2>/dev/null || true' EXIT

say "fleet: 200 devices, $RATE readings/s for ${SECONDS_TO_RUN}s, 1% bad records"
node dist/src/cli.js produce --topic "$INPUT_TOPIC" --devices 200 --rate "$RATE" \
  --duration "$SECONDS_TO_RUN" --bad-ratio 0.01 --seed "$RUN"

say "waiting for the last partial windows (WINDOW_IDLE_MS=$WINDOW_IDLE_MS)"
sleep $(( WINDOW_IDLE_MS / 1000 + 3 ))
say "metrics:"
curl -fsS "http://127.0.0.1:$METRICS_PORT/metrics" |
  grep -E '^geowindow_(records_in_total|records_aggregated_total|windows_emitted_total|records_dead_lettered_total)' |
  grep -v ' 0$' || true

kill -TERM $SERVICE
wait $SERVICE || true
trap - EXIT
say "the last aggregates in $OUTPUT_TOPIC:"
node scripts/print-aggregates.mjs "$OUTPUT_TOPIC" 12
say "done. The broker keeps running (npm run kafka:down stops it)."
