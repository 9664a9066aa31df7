#!/usr/bin/env bash
# Single-node Apache Kafka (KRaft: broker + controller in one JVM) on 127.0.0.1, without Docker.
# The broker jars come from Maven Central (kafka-pom.xml) and are cached between runs.
#
#   deploy/local/kafka.sh start|stop|status|fetch|bootstrap
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
#
# BAKEPLAN_KAFKA_BROKERS=N (N > 1) acts on a local N-node cluster instead (state in kafka-cluster/,
# plaintext): every node is broker and controller (combined KRaft mode, N voters), node i listens on
# BAKEPLAN_KAFKA_CLUSTER_PORT+i-1 (default 19092) and its controller on BAKEPLAN_KAFKA_CLUSTER_PORT+N+i-1.
# With 3 or more nodes the cluster's defaults are a production's: replication factor 3 (offsets and
# transaction logs too) and min.insync.replicas=2, so one broker may die without losing an acknowledged
# record or stopping writes. `bootstrap` prints the address list clients use. `stop` stops every node.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
secure="${BAKEPLAN_KAFKA_SECURE:-0}"
brokers="${BAKEPLAN_KAFKA_BROKERS:-1}"
if [ "$brokers" -gt 1 ]; then
  [ "$secure" != 1 ] || { echo "kafka.sh: the local cluster (BAKEPLAN_KAFKA_BROKERS>1) is plaintext only" >&2; exit 2; }
  state="${BAKEPLAN_STATE_DIR:-$here/../../.bakeplan-local}/kafka-cluster"
  base="${BAKEPLAN_KAFKA_CLUSTER_PORT:-19092}"
elif [ "$secure" = 1 ]; then
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
replication=$(( brokers < 3 ? brokers : 3 ))
min_isr=$(( brokers < 3 ? 1 : 2 ))

# node i of the cluster (i=1 and the single node's own paths when there is one broker)
node_dir="$state"
pidfile="$state/kafka.pid"
log="$state/server.log"
node_id=1
voters="1@127.0.0.1:${cport:-}"
select_node() {
  [ "$brokers" -gt 1 ] || return 0
  node_id="$1"
  node_dir="$state/node-$1"
  port=$(( base + $1 - 1 ))
  cport=$(( base + brokers + $1 - 1 ))
  pidfile="$node_dir/kafka.pid"
  log="$node_dir/server.log"
}
if [ "$brokers" -gt 1 ]; then
  voters=""
  for i in $(seq 1 "$brokers"); do voters="${voters:+$voters,}$i@127.0.0.1:$(( base + brokers + i - 1 ))"; done
fi

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
    -Dlog4j2.configurationFile="$node_dir/log4j2.properties" \
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
  mkdir -p "$node_dir/data"
  [ "$brokers" -gt 1 ] || voters="1@127.0.0.1:$cport"
  (umask 077; {
    cat <<PROPS
process.roles=broker,controller
node.id=$node_id
controller.quorum.voters=$voters
PROPS
    listener_config
    cat <<PROPS
log.dirs=$node_dir/data
num.partitions=6
default.replication.factor=$replication
offsets.topic.replication.factor=$replication
offsets.topic.num.partitions=6
transaction.state.log.replication.factor=$replication
transaction.state.log.min.isr=$min_isr
transaction.state.log.num.partitions=6
min.insync.replicas=$min_isr
unclean.leader.election.enable=false
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=true
log.retention.hours=168
PROPS
  } > "$node_dir/server.properties.new")
  mv "$node_dir/server.properties.new" "$node_dir/server.properties"
  cat > "$node_dir/log4j2.properties" <<PROPS
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

# write the node's configuration, format its storage once, and launch it in the background
launch() {
  if running; then return 0; fi
  write_config
  if [ ! -f "$node_dir/data/meta.properties" ]; then
    local -a scram=()
    mapfile -t scram < <(scram_users)
    java_cmd kafka.tools.StorageTool format --cluster-id "$(cat "$state/cluster-id")" \
      --config "$node_dir/server.properties" "${scram[@]}" >/dev/null
  fi
  : > "$log"
  nohup java -Xms256m -Xmx512m -XX:+UseSerialGC \
    -Dlog4j2.configurationFile="$node_dir/log4j2.properties" \
    -cp "$libs/*" kafka.Kafka "$node_dir/server.properties" > "$node_dir/stdout.log" 2>&1 &
  echo $! > "$pidfile"
}

ready() { grep -q "Kafka Server started" "$log" 2>/dev/null && port_open; }

start() {
  local i waiting
  fetch
  mkdir -p "$state"
  select_node 1
  write_config  # the tools below read its log4j2 configuration
  if [ ! -f "$state/cluster-id" ]; then
    java_cmd kafka.tools.StorageTool random-uuid | tail -n 1 > "$state/cluster-id"
  fi
  # every node first: a cluster's controllers need a majority of their voters up to elect a leader
  for i in $(seq 1 "$brokers"); do select_node "$i"; launch; done
  for _ in $(seq 1 240); do
    waiting=0
    for i in $(seq 1 "$brokers"); do
      select_node "$i"
      if ! running; then
        echo "kafka.sh: broker $node_id exited during start-up; last lines of $node_dir/stdout.log and $log:" >&2
        tail -n 30 "$node_dir/stdout.log" "$log" >&2 || true
        exit 1
      fi
      ready || waiting=1
    done
    if [ "$waiting" = 0 ]; then
      if [ "$brokers" -gt 1 ]; then
        echo "kafka.sh: Kafka $version cluster of $brokers brokers ready at $(bootstrap)"
      else
        echo "kafka.sh: Kafka $version ready on 127.0.0.1:$port (pid $(cat "$pidfile"))"
      fi
      return 0
    fi
    sleep 0.5
  done
  echo "kafka.sh: the broker(s) did not become ready within 120 s; see $log" >&2
  exit 1
}

bootstrap() {
  local i list=""
  for i in $(seq 1 "$brokers"); do select_node "$i"; list="${list:+$list,}127.0.0.1:$port"; done
  echo "$list"
}

stop_node() {
  if running; then
    pid="$(cat "$pidfile")"
    kill "$pid"
    for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    kill -9 "$pid" 2>/dev/null || true
    echo "kafka.sh: stopped${node_id:+ broker $node_id}"
  fi
  rm -f "$pidfile"
}

stop() {
  local i
  if [ "$brokers" -gt 1 ]; then
    # every node there is, whatever N says now
    for dir in "$state"/node-*; do
      [ -d "$dir" ] || continue
      i="${dir##*-}"; node_id="$i"; node_dir="$dir"; pidfile="$dir/kafka.pid"
      stop_node
    done
  else
    node_id=""; stop_node
  fi
}

status() {
  local i down=0
  for i in $(seq 1 "$brokers"); do
    select_node "$i"
    if running && port_open; then
      echo "kafka: running on 127.0.0.1:$port (pid $(cat "$pidfile"))"
    else
      echo "kafka: stopped (127.0.0.1:$port)"; down=1
    fi
  done
  return "$down"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  fetch) fetch ;;
  bootstrap) bootstrap ;;
  *) echo "usage: $0 start|stop|status|fetch|bootstrap" >&2; exit 2 ;;
esac
