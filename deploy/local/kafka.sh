#!/usr/bin/env bash
# Single-node Apache Kafka (KRaft: broker + controller in one JVM) on 127.0.0.1, without Docker.
# The broker jars come from Maven Central (kafka-pom.xml) and are cached between runs.
#
#   deploy/local/kafka.sh start|stop|status|fetch
#
# Environment: BAKEPLAN_STATE_DIR (default .bakeplan-local), BAKEPLAN_KAFKA_PORT (default 9092),
# BAKEPLAN_KAFKA_CONTROLLER_PORT (default 9093), BAKEPLAN_KAFKA_CACHE (jar cache, default ~/.cache/bakeplan/kafka).
#
# BAKEPLAN_KAFKA_SECURE=1 acts on the secure broker instead (state in kafka-secure/, ports
# BAKEPLAN_KAFKA_SECURE_PORT, default 9094, and BAKEPLAN_KAFKA_SECURE_CONTROLLER_PORT, default 9095): one
# SASL_SSL listener (SCRAM-SHA-512) for clients, the controller's own SASL_SSL (PLAIN) listener, the
# StandardAuthorizer with no access where no ACL allows it, and the admin as the only super user.
# `bakeplan stack up --secure` writes its certificates (kafka-secure/tls/) and one password file per
# principal (kafka-secure/passwords/) first; the SCRAM users are made from them when the storage is
# formatted (docs/security.md).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
secure="${BAKEPLAN_KAFKA_SECURE:-0}"
if [ "$secure" = 1 ]; then
  state="${BAKEPLAN_STATE_DIR:-$here/../../.bakeplan-local}/kafka-secure"
  port="${BAKEPLAN_KAFKA_SECURE_PORT:-9094}"
  cport="${BAKEPLAN_KAFKA_SECURE_CONTROLLER_PORT:-9095}"
else
  state="${BAKEPLAN_STATE_DIR:-$here/../../.bakeplan-local}/kafka"
  port="${BAKEPLAN_KAFKA_PORT:-9092}"
  cport="${BAKEPLAN_KAFKA_CONTROLLER_PORT:-9093}"
fi
user_prefix="${BAKEPLAN_KAFKA_USER_PREFIX:-bakeplan-}"
admin_user="${user_prefix}admin"
version="$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$here/kafka-pom.xml")"
libs="${BAKEPLAN_KAFKA_CACHE:-$HOME/.cache/bakeplan/kafka}/$version/libs"
pidfile="$state/kafka.pid"
log="$state/server.log"

fetch() {
  if [ -f "$libs/.complete" ]; then return 0; fi
  command -v mvn >/dev/null || { echo "kafka.sh: Maven (mvn) is needed to fetch the broker: apt-get install maven" >&2; exit 1; }
  command -v java >/dev/null || { echo "kafka.sh: Java 17+ is needed to run the broker: apt-get install openjdk-17-jre-headless" >&2; exit 1; }
  echo "kafka.sh: resolving org.apache.kafka:kafka_2.13:$version from Maven Central into $libs" >&2
  mkdir -p "$libs"
  mvn -q -B -f "$here/kafka-pom.xml" \
    org.apache.maven.plugins:maven-dependency-plugin:3.6.1:copy-dependencies \
    -DincludeScope=runtime -DoutputDirectory="$libs"
  touch "$libs/.complete"
}

running() { [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; }

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; }

java_cmd() {
  java -Xms256m -Xmx512m -XX:+UseSerialGC \
    -Dlog4j2.configurationFile="$state/log4j2.properties" \
    -cp "$libs/*" "$@"
}

listener_config() {
  if [ "$secure" != 1 ]; then
    cat <<PROPS
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$cport
advertised.listeners=PLAINTEXT://127.0.0.1:$port
controller.listener.names=CONTROLLER
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
PROPS
    return 0
  fi
  local pw
  for f in "$state/tls/broker.pem" "$state/tls/ca.pem" "$state/passwords/admin"; do
    [ -f "$f" ] || { echo "kafka.sh: $f is missing; start the secure broker with \`bakeplan stack up --secure\`" >&2; exit 1; }
  done
  pw="$(cat "$state/passwords/admin")"
  cat <<PROPS
listeners=SECURE://127.0.0.1:$port,CONTROLLER://127.0.0.1:$cport
advertised.listeners=SECURE://127.0.0.1:$port
controller.listener.names=CONTROLLER
listener.security.protocol.map=SECURE:SASL_SSL,CONTROLLER:SASL_SSL
inter.broker.listener.name=SECURE
sasl.mechanism.inter.broker.protocol=SCRAM-SHA-512
sasl.mechanism.controller.protocol=PLAIN
listener.name.secure.sasl.enabled.mechanisms=SCRAM-SHA-512
listener.name.secure.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="$admin_user" password="$pw";
listener.name.controller.sasl.enabled.mechanisms=PLAIN
listener.name.controller.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username="$admin_user" password="$pw" user_$admin_user="$pw";
ssl.keystore.type=PEM
ssl.keystore.location=$state/tls/broker.pem
ssl.truststore.type=PEM
ssl.truststore.location=$state/tls/ca.pem
ssl.client.auth=none
authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
allow.everyone.if.no.acl.found=false
super.users=User:$admin_user
PROPS
}

# the SCRAM users, one per password file, for the first format of the secure broker's storage
scram_users() {
  local f
  [ "$secure" = 1 ] || return 0
  for f in "$state"/passwords/*; do
    printf '%s\n' "--add-scram" "SCRAM-SHA-512=[name=${user_prefix}$(basename "$f"),password=$(cat "$f")]"
  done
}

write_config() {
  mkdir -p "$state/data"
  (umask 077; {
    cat <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$cport
PROPS
    listener_config
    cat <<PROPS
log.dirs=$state/data
num.partitions=6
default.replication.factor=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=6
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=6
min.insync.replicas=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=true
log.retention.hours=168
PROPS
  } > "$state/server.properties.new")
  mv "$state/server.properties.new" "$state/server.properties"
  cat > "$state/log4j2.properties" <<PROPS
status = warn
appender.file.type = File
appender.file.name = FILE
appender.file.fileName = $log
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.file.ref = FILE
PROPS
}

start() {
  if running; then echo "kafka.sh: already running (pid $(cat "$pidfile")) on 127.0.0.1:$port"; return 0; fi
  fetch
  write_config
  if [ ! -f "$state/cluster-id" ]; then
    java_cmd kafka.tools.StorageTool random-uuid | tail -n 1 > "$state/cluster-id"
  fi
  if [ ! -f "$state/data/meta.properties" ]; then
    local -a scram=()
    mapfile -t scram < <(scram_users)
    java_cmd kafka.tools.StorageTool format --cluster-id "$(cat "$state/cluster-id")" \
      --config "$state/server.properties" "${scram[@]}" >/dev/null
  fi
  : > "$log"
  nohup java -Xms256m -Xmx512m -XX:+UseSerialGC \
    -Dlog4j2.configurationFile="$state/log4j2.properties" \
    -cp "$libs/*" kafka.Kafka "$state/server.properties" > "$state/stdout.log" 2>&1 &
  echo $! > "$pidfile"
  for _ in $(seq 1 240); do
    if ! running; then
      echo "kafka.sh: the broker exited during start-up; last lines of $state/stdout.log and $log:" >&2
      tail -n 30 "$state/stdout.log" "$log" >&2 || true
      exit 1
    fi
    if grep -q "Kafka Server started" "$log" 2>/dev/null && port_open; then
      echo "kafka.sh: Kafka $version ready on 127.0.0.1:$port (pid $(cat "$pidfile"))"
      return 0
    fi
    sleep 0.5
  done
  echo "kafka.sh: the broker did not become ready within 120 s; see $log" >&2
  exit 1
}

stop() {
  if running; then
    pid="$(cat "$pidfile")"
    kill "$pid"
    for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    kill -9 "$pid" 2>/dev/null || true
    echo "kafka.sh: stopped"
  fi
  rm -f "$pidfile"
}

status() {
  if running && port_open; then echo "kafka: running on 127.0.0.1:$port (pid $(cat "$pidfile"))"; else echo "kafka: stopped"; return 1; fi
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  fetch) fetch ;;
  *) echo "usage: $0 start|stop|status|fetch" >&2; exit 2 ;;
esac
