#!/bin/bash
# Writes server.properties from the KAFKA_* environment, formats the storage
# once (KRaft, static quorum from KAFKA_CONTROLLER_QUORUM_VOTERS), runs the broker.
set -euo pipefail
PROPS=/opt/kafka/config/server.properties
: >"$PROPS"
for var in $(compgen -e | grep '^KAFKA_' || true); do
  case $var in KAFKA_HEAP_OPTS | KAFKA_OPTS) continue ;; esac
  key=${var#KAFKA_}; key=${key,,}; key=${key//_/.}
  echo "$key=${!var}" >>"$PROPS"
done
grep -q '^log\.dirs=' "$PROPS" || echo 'log.dirs=/var/lib/kafka/data' >>"$PROPS"
cluster_id=${CLUSTER_ID:-$(head -c16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=' | sed 's/^-/A/')}
java -Xmx256m -cp '/opt/kafka/libs/*' -Dlog4j2.configurationFile=/opt/kafka/config/log4j2.properties \
  kafka.tools.StorageTool format --ignore-formatted -t "$cluster_id" -c "$PROPS"
# shellcheck disable=SC2086  # KAFKA_HEAP_OPTS and KAFKA_OPTS are lists of JVM flags
exec java ${KAFKA_HEAP_OPTS:--Xms256m -Xmx1g} ${KAFKA_OPTS:-} -XX:+UseG1GC -Djava.awt.headless=true \
  -Dlog4j2.configurationFile=/opt/kafka/config/log4j2.properties -cp '/opt/kafka/libs/*' kafka.Kafka "$PROPS"
