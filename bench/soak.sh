#!/usr/bin/env bash
# A soak of geowindow beside the recipe's Python consumer, on the same topic
# and the same fleet, with the results written to bench/results/soak-<date>/.
#   bash bench/soak.sh [rate] [seconds]          (default 10000 rec/s for 600 s)
# Environment: MEMORY_LIMIT_MB (512), WORKERS (2), KAFKA_BROKERS (127.0.0.1:9092).
set -euo pipefail
cd "$(dirname "$0")/.."

RATE=${1:-10000}
DURATION=${2:-600}
export KAFKA_BROKERS=${KAFKA_BROKERS:-127.0.0.1:9092}
export MEMORY_LIMIT_MB=${MEMORY_LIMIT_MB:-512} WORKERS=${WORKERS:-2}
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
OUT=bench/results/soak-$STAMP
TOPIC=soak-$STAMP-in
mkdir -p "$OUT"

[[ -f dist/src/cli.js ]] || npm run build
python3 -c 'import confluent_kafka, numpy, psutil' 2>/dev/null || {
  echo "the recipe consumer needs: pip install confluent-kafka numpy psutil" >&2; exit 1; }
bash scripts/kafka.sh topics --create --if-not-exists --topic "$TOPIC" --partitions 6 >/dev/null

echo "[soak] $RATE rec/s for ${DURATION}s, budget ${MEMORY_LIMIT_MB} MB, $WORKERS workers; topic $TOPIC"
python3 bench/recipe/recipe_consumer.py --brokers "$KAFKA_BROKERS" --topic "$TOPIC" \
  --memory-limit-mb "$MEMORY_LIMIT_MB" --rss-csv "$OUT/recipe-rss.csv" --idle-exit 30 \
  > "$OUT/recipe.json" 2> "$OUT/recipe.log" &
RECIPE=$!

set +e
node dist/src/cli.js soak --rate "$RATE" --duration "$DURATION" --topic "$TOPIC" --out "$OUT" \
  --max-peak-mb "$MEMORY_LIMIT_MB" > "$OUT/geowindow.json"
VERDICT=$?
set -e
wait $RECIPE || echo "[soak] the recipe consumer failed (see $OUT/recipe.log)" >&2
echo "[soak] geowindow: $(tr -d '\n ' < "$OUT/geowindow.json")"
echo "[soak] recipe:    $(cat "$OUT/recipe.json")"
echo "[soak] results in $OUT"
exit $VERDICT
