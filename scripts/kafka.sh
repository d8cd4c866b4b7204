#!/usr/bin/env bash
# Run a real single-node Apache Kafka broker (KRaft, broker+controller in one JVM)
# from its Maven Central jars, without Docker.
#   bash scripts/kafka.sh up|down|status|logs [-f]|topics <kafka-topics args>
# Listeners: PLAINTEXT on KAFKA_PORT; SASL_PLAINTEXT on KAFKA_SASL_PORT with PLAIN,
# SCRAM-SHA-256 and SCRAM-SHA-512 for the dev/test user geowindow / geowindow-secret.
# Env: KAFKA_PORT (9092), KAFKA_SASL_PORT (9094), KAFKA_CONTROLLER_PORT (9093),
#      KAFKA_START_TIMEOUT (90 s), GEOWINDOW_CACHE (~/.cache/geowindow),
#      KAFKA_HEAP_OPTS (-Xms256m -Xmx1g),
#      KAFKA_RUN_DIR (the cache's kafka-<version>/run): config, data, logs and pid file of
#        one broker. Another directory and other ports run a second, separate broker;
#        every command (down included) acts on the broker of its KAFKA_RUN_DIR only.
#      KAFKA_KEEP_DATA (false): with true, 'up' keeps the storage already formatted in
#        KAFKA_RUN_DIR (topics, offsets), so 'down' then 'up' restarts the same broker.
#      KAFKA_NODE_ID (1), KAFKA_CLUSTER_ID (random): the node id, and the cluster id its
#        storage is formatted with.
#      KAFKA_JOIN_CONTROLLER (unset): host:port of another instance's controller; this one
#        then runs as a broker only, in that instance's cluster (give it its own
#        KAFKA_RUN_DIR, ports and KAFKA_NODE_ID), e.g. for topics replicated on two brokers.
set -euo pipefail

KAFKA_VERSION=4.1.1     # keep in step with docker-compose.yml (apache/kafka image tag)
LOG4J_VERSION=2.24.3    # the log4j2 release Kafka 4.1 ships with
HOST=127.0.0.1
PORT=${KAFKA_PORT:-9092}
CONTROLLER_PORT=${KAFKA_CONTROLLER_PORT:-9093}
SASL_PORT=${KAFKA_SASL_PORT:-9094}
# Dev/test credentials of the SASL listener (test/integration/security.test.ts uses them).
SASL_USER=geowindow
SASL_PASSWORD=geowindow-secret
START_TIMEOUT=${KAFKA_START_TIMEOUT:-90}
HEAP_OPTS=${KAFKA_HEAP_OPTS:--Xms256m -Xmx1g}

CACHE=${GEOWINDOW_CACHE:-$HOME/.cache/geowindow}
KDIR=$CACHE/kafka-$KAFKA_VERSION
LIBS=$KDIR/libs
MARKER=$LIBS/.complete          # written only after a full, successful download
RUN=${KAFKA_RUN_DIR:-$KDIR/run}
KEEP_DATA=${KAFKA_KEEP_DATA:-false}
NODE_ID=${KAFKA_NODE_ID:-1}
CLUSTER_ID=${KAFKA_CLUSTER_ID:-}
JOIN_CONTROLLER=${KAFKA_JOIN_CONTROLLER:-}
PIDFILE=$RUN/kafka.pid
LOGFILE=$RUN/logs/server.log    # log4j2 output (the broker log)
OUTFILE=$RUN/logs/stdout.log    # JVM stdout/stderr (crashes before log4j starts)

log() { echo "[kafka] $*"; }
die() { echo "[kafka] ERROR: $*" >&2; exit 1; }

require_java() {
  command -v java >/dev/null 2>&1 ||
    die "'java' not found on PATH. Kafka $KAFKA_VERSION needs Java 17+.
  Install it: apt-get install -y openjdk-17-jre-headless   (or set PATH to a JDK 17+ bin/)"
  local v major
  v=$(java -version 2>&1 | sed -n 's/.*version "\([^"]*\)".*/\1/p' | head -n1)
  major=${v%%.*}; [[ $major == 1 ]] && major=$(cut -d. -f2 <<<"$v")   # "1.8.0_x" -> 8
  if ! [[ $major =~ ^[0-9]+$ ]] || (( major < 17 )); then
    die "Java ${v:-?} found at $(command -v java), but Kafka $KAFKA_VERSION needs Java 17+.
  Install it: apt-get install -y openjdk-17-jre-headless   (and put it first on PATH)"
  fi
}

# Download kafka_2.13 (broker) + kafka-tools (admin CLIs) + a log4j2 backend once.
fetch_libs() {
  [[ -f $MARKER ]] && return 0
  command -v mvn >/dev/null 2>&1 ||
    die "'mvn' not found on PATH; it is needed once to download Kafka $KAFKA_VERSION jars into $LIBS.
  Install it: apt-get install -y maven"
  log "downloading Kafka $KAFKA_VERSION and runtime deps from Maven Central into $LIBS ..."
  mkdir -p "$KDIR"
  cat >"$KDIR/pom.xml" <<EOF
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>local.geowindow</groupId><artifactId>kafka-runtime</artifactId><version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka_2.13</artifactId><version>$KAFKA_VERSION</version></dependency>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka-tools</artifactId><version>$KAFKA_VERSION</version></dependency>
    <!-- Kafka's poms leave the logging backend to the distribution; slf4j-api is 1.7.x there -->
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-core</artifactId><version>$LOG4J_VERSION</version></dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-slf4j-impl</artifactId><version>$LOG4J_VERSION</version></dependency>
  </dependencies>
  <build><plugins><plugin>
    <groupId>org.apache.maven.plugins</groupId><artifactId>maven-dependency-plugin</artifactId><version>3.8.1</version>
  </plugin></plugins></build>
</project>
EOF
  rm -rf "$LIBS.tmp"
  # mvn output goes to a file (Maven 3.8 emits colour codes even with -B); shown on failure
  mvn -B -f "$KDIR/pom.xml" dependency:copy-dependencies \
      -DincludeScope=runtime -DoutputDirectory="$LIBS.tmp" >"$KDIR/mvn.log" 2>&1 ||
    { tail -n 40 "$KDIR/mvn.log" >&2; die "Maven download failed (full log: $KDIR/mvn.log). Is Maven Central reachable?"; }
  rm -rf "$LIBS"; mv "$LIBS.tmp" "$LIBS"          # atomic-ish: no half-filled libs/
  date -u +%FT%TZ >"$MARKER"
  local jars=("$LIBS"/*.jar); log "downloaded ${#jars[@]} jars"
}

port_open() { (exec 3<>"/dev/tcp/$HOST/$1") 2>/dev/null; }

running_pid() {  # prints the pid only if the pid file points at our live broker JVM
  [[ -f $PIDFILE ]] || return 1
  local pid; pid=$(<"$PIDFILE")
  [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null &&
    tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q 'kafka\.Kafka' || return 1
  echo "$pid"
}

# Run a Kafka CLI main class against the cached jars (quiet logging on stderr).
kjava() {
  java -Xmx256m -Dlog4j2.configurationFile="$RUN/tools-log4j2.properties" \
       -cp "$LIBS/*" "$@"
}

write_config() {
  local roles=broker,controller listeners="PLAINTEXT://$HOST:$PORT,SASL_PLAINTEXT://$HOST:$SASL_PORT"
  local quorum=$HOST:$CONTROLLER_PORT
  if [[ -n $JOIN_CONTROLLER ]]; then roles=broker; quorum=$JOIN_CONTROLLER
  else listeners="$listeners,CONTROLLER://$HOST:$CONTROLLER_PORT"; fi
  mkdir -p "$RUN/logs"
  cat >"$RUN/server.properties" <<EOF
process.roles=$roles
node.id=$NODE_ID
listeners=$listeners
advertised.listeners=PLAINTEXT://$HOST:$PORT,SASL_PLAINTEXT://$HOST:$SASL_PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT,CONTROLLER:PLAINTEXT
# SASL for clients only (brokers and the controller talk PLAINTEXT). PLAIN users are
# the user_<name> entries below; SCRAM users are created when storage is formatted.
listener.name.sasl_plaintext.sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-256,SCRAM-SHA-512
listener.name.sasl_plaintext.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required user_$SASL_USER="$SASL_PASSWORD";
listener.name.sasl_plaintext.scram-sha-256.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.sasl_plaintext.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
# KIP-853 dynamic quorum; a controller's storage is formatted with --standalone
controller.quorum.bootstrap.servers=$quorum
log.dirs=$RUN/data
num.partitions=1
auto.create.topics.enable=false
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
# dev box: keep little on disk
log.retention.hours=24
log.retention.bytes=268435456
log.segment.bytes=67108864
EOF
  cat >"$RUN/log4j2.properties" <<EOF
status = warn
appender.file.type = File
appender.file.name = FILE
appender.file.fileName = $LOGFILE
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.file.ref = FILE
EOF
  cat >"$RUN/tools-log4j2.properties" <<'EOF'
status = warn
appender.err.type = Console
appender.err.name = STDERR
appender.err.target = SYSTEM_ERR
appender.err.layout.type = PatternLayout
appender.err.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = WARN
rootLogger.appenderRef.err.ref = STDERR
EOF
  printf 'request.timeout.ms=5000\ndefault.api.timeout.ms=10000\n' >"$RUN/admin.properties"
}

cluster_id() {  # Kafka Uuid = 16 random bytes, base64url, no padding; must not start with '-'
  local id
  while :; do
    id=$(head -c16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=')
    [[ $id != -* ]] && { echo "$id"; return; }
  done
}

wait_ready() {  # $1 = pid
  local deadline=$((SECONDS + START_TIMEOUT))
  while (( SECONDS < deadline )); do
    kill -0 "$1" 2>/dev/null || { fail_tail "broker process $1 exited during startup"; }
    if grep -q 'Kafka Server started' "$LOGFILE" 2>/dev/null && port_open "$PORT" && port_open "$SASL_PORT" &&
       kjava org.apache.kafka.tools.TopicCommand --bootstrap-server "$HOST:$PORT" \
             --command-config "$RUN/admin.properties" --list >/dev/null 2>&1; then
      return 0
    fi
    sleep 1
  done
  fail_tail "broker not ready on $HOST:$PORT (SASL $HOST:$SASL_PORT) after ${START_TIMEOUT}s (pid $1 still running; 'down' stops it)"
}

fail_tail() {
  echo "[kafka] ERROR: $1" >&2
  echo "----- first errors in $LOGFILE -----" >&2; grep -m5 ' ERROR ' "$LOGFILE" >&2 2>/dev/null || true
  echo "----- tail $LOGFILE -----" >&2; tail -n 30 "$LOGFILE" >&2 2>/dev/null || true
  echo "----- tail $OUTFILE -----" >&2; tail -n 20 "$OUTFILE" >&2 2>/dev/null || true
  exit 1
}

# A controller starts a cluster (with the SASL users); a broker joining one takes its cluster id.
format_storage() {
  if [[ -n $JOIN_CONTROLLER ]]; then
    local id=$CLUSTER_ID
    [[ -n $id ]] || id=$(kjava org.apache.kafka.tools.ClusterTool cluster-id --bootstrap-controller "$JOIN_CONTROLLER" |
                         sed -n 's/^Cluster ID: //p')
    [[ -n $id ]] || { echo "no cluster id from the controller at $JOIN_CONTROLLER"; return 1; }
    kjava kafka.tools.StorageTool format --no-initial-controllers --ignore-formatted -t "$id" -c "$RUN/server.properties"
  else
    kjava kafka.tools.StorageTool format --standalone --ignore-formatted \
          -t "${CLUSTER_ID:-$(cluster_id)}" -c "$RUN/server.properties" \
          --add-scram "SCRAM-SHA-256=[name=$SASL_USER,password=$SASL_PASSWORD]" \
          --add-scram "SCRAM-SHA-512=[name=$SASL_USER,password=$SASL_PASSWORD]"
  fi
}

cmd_up() {
  local t0=$SECONDS pid
  if pid=$(running_pid) && port_open "$PORT"; then
    log "already running (pid $pid) on $HOST:$PORT"
    port_open "$SASL_PORT" ||
      log "WARNING: no SASL listener on $HOST:$SASL_PORT (started by an older version of this script?); 'down' then 'up' adds it"
    return 0
  elif port_open "$PORT"; then
    log "something already answers on $HOST:$PORT (not started by this script); leaving it alone"; return 0
  fi
  require_java
  fetch_libs
  if pid=$(running_pid); then   # started earlier but not answering yet
    log "broker pid $pid exists but $HOST:$PORT is not answering yet; waiting ..."
  else
    write_config
    rm -f "$LOGFILE" "$OUTFILE"
    if [[ $KEEP_DATA == true && -f $RUN/data/meta.properties ]]; then
      log "keeping the storage in $RUN/data (KAFKA_KEEP_DATA=true)"
    else
      rm -rf "$RUN/data"      # fresh, disposable dev state each up
      log "formatting storage in $RUN/data ..."
      format_storage >"$RUN/logs/format.log" 2>&1 || { cat "$RUN/logs/format.log" >&2; die "storage format failed"; }
    fi
    log "starting broker $NODE_ID on $HOST:$PORT, SASL on $HOST:$SASL_PORT (controller ${JOIN_CONTROLLER:-$HOST:$CONTROLLER_PORT}) ..."
    # shellcheck disable=SC2086  # HEAP_OPTS is a list of JVM flags
    nohup java $HEAP_OPTS -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -Djava.awt.headless=true \
      -Dlog4j2.configurationFile="$RUN/log4j2.properties" -Dkafka.logs.dir="$RUN/logs" \
      -cp "$LIBS/*" kafka.Kafka "$RUN/server.properties" >"$OUTFILE" 2>&1 </dev/null &
    pid=$!
    echo "$pid" >"$PIDFILE"
  fi
  wait_ready "$pid"
  log "ready on $HOST:$PORT and SASL_PLAINTEXT $HOST:$SASL_PORT in $((SECONDS - t0))s (pid $pid, log: $LOGFILE)"
}

cmd_down() {
  local pid
  if ! pid=$(running_pid); then
    rm -f "$PIDFILE"; log "not running"; return 0
  fi
  log "stopping broker pid $pid ..."
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 30); do kill -0 "$pid" 2>/dev/null || break; sleep 1; done
  if kill -0 "$pid" 2>/dev/null; then
    log "still alive after 30s; sending SIGKILL"; kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$PIDFILE"
  log "stopped"
}

cmd_status() {
  local pid
  if pid=$(running_pid); then
    if port_open "$PORT"; then
      if port_open "$SASL_PORT"; then log "running (pid $pid) on $HOST:$PORT, SASL on $HOST:$SASL_PORT"
      else log "running (pid $pid) on $HOST:$PORT, but no SASL listener on $HOST:$SASL_PORT ('down' then 'up' adds it)"; fi
    else log "process running (pid $pid) but $HOST:$PORT not answering (starting?)"; fi
  elif port_open "$PORT"; then
    log "not started by this script, but something answers on $HOST:$PORT"
  else
    log "not running"; return 3
  fi
}

case "${1:-}" in
  up) cmd_up ;;
  down) cmd_down ;;
  status) cmd_status ;;
  logs) shift; [[ -f $LOGFILE ]] || die "no broker log yet at $LOGFILE"; tail -n 100 "$@" "$LOGFILE" ;;
  topics) shift; require_java; [[ -f $MARKER ]] || die "run 'up' first"
          kjava org.apache.kafka.tools.TopicCommand --bootstrap-server "$HOST:$PORT" "$@" ;;
  *) echo "usage: bash $0 up|down|status|logs [-f]|topics <kafka-topics args>" >&2; exit 2 ;;
esac
