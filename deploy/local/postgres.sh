#!/usr/bin/env bash
# A throwaway local PostgreSQL cluster for development and CI, without Docker.
# Not needed when DATABASE_URL points at an existing server.
#
#   deploy/local/postgres.sh start|stop|status|url
#
# Environment: BAKEPLAN_PG_DIR (data; default .bakeplan-local/postgres, or /var/tmp/bakeplan/postgres-PORT
# as root), BAKEPLAN_PG_PORT (default 55432), BAKEPLAN_PG_DURABLE (1 = production durability, below).
#
# By default fsync=off and full_page_writes=off: the data survives a crash or restart of Postgres
# itself (the OS keeps what was written), not of the machine, which is fine for a throwaway cluster.
# Commits stay synchronous, so a commit Postgres acknowledged is never lost when the server is killed.
# BAKEPLAN_PG_DURABLE=1 starts it as a production server runs: fsync=on, full_page_writes=on,
# synchronous_commit=on (the fault suite kills that one with SIGKILL, tests/faults/test_postgres_restart.py).
# pg_stat_statements is preloaded so the system benchmark (bench/system) can count statements per saga.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
port="${BAKEPLAN_PG_PORT:-55432}"
if [ "$(id -u)" = "0" ]; then
  # as root the server runs as the `postgres` user, which may not be able to enter the checkout
  state="${BAKEPLAN_PG_DIR:-/var/tmp/bakeplan/postgres-$port}"
else
  state="${BAKEPLAN_PG_DIR:-${BAKEPLAN_STATE_DIR:-$here/../../.bakeplan-local}/postgres}"
fi
data="$state/data"
if [ "${BAKEPLAN_PG_DURABLE:-0}" = 1 ]; then
  durability="-c fsync=on -c full_page_writes=on -c synchronous_commit=on"
else
  durability="-c fsync=off -c full_page_writes=off"
fi
sock="$state/socket"
user="bakeplan"
db="bakeplan"

find_bin() {
  local dir
  if command -v pg_ctl >/dev/null && command -v initdb >/dev/null; then
    dirname "$(readlink -f "$(command -v pg_ctl)")"; return 0
  fi
  for dir in /usr/lib/postgresql/*/bin; do
    [ -x "$dir/pg_ctl" ] && { echo "$dir"; return 0; }
  done
  return 1
}

ensure_installed() {
  if ! bin="$(find_bin)"; then
    echo "postgres.sh: PostgreSQL is not installed; installing the Debian 'postgresql' package" >&2
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
    bin="$(find_bin)"
  fi
}

# initdb and postgres refuse to run as root: run them as the owner of the state directory.
as_owner() {
  if [ "$(id -u)" = "0" ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

url() { echo "postgresql+asyncpg://$user@127.0.0.1:$port/$db"; }

running() { [ -f "$data/postmaster.pid" ] && as_owner "$bin/pg_ctl" -D "$data" status >/dev/null 2>&1; }

start() {
  ensure_installed
  mkdir -p "$state" "$sock"
  if [ "$(id -u)" = "0" ]; then
    id postgres >/dev/null 2>&1 || useradd --system --home "$state" postgres
    chown -R postgres "$state"
    chmod 755 "$(dirname "$state")"
  fi
  if running; then echo "postgres.sh: already running on 127.0.0.1:$port"; return 0; fi
  if [ ! -f "$data/PG_VERSION" ]; then
    as_owner "$bin/initdb" -D "$data" -U "$user" --auth=trust --encoding=UTF8 --no-locale >/dev/null
  fi
  as_owner "$bin/pg_ctl" -D "$data" -l "$state/server.log" -w -t 60 \
    -o "-p $port -k $sock -c listen_addresses=127.0.0.1 -c max_connections=300 $durability -c shared_preload_libraries=pg_stat_statements" start >/dev/null
  as_owner "$bin/psql" -h "$sock" -p "$port" -U "$user" -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname='$db'" | grep -q 1 \
    || as_owner "$bin/createdb" -h "$sock" -p "$port" -U "$user" "$db"
  echo "postgres.sh: ready at $(url)"
}

stop() {
  bin="$(find_bin)" || return 0
  if running; then as_owner "$bin/pg_ctl" -D "$data" -m fast -w stop >/dev/null; echo "postgres.sh: stopped"; fi
}

status() {
  bin="$(find_bin)" || { echo "postgres: not installed"; return 1; }
  if running; then echo "postgres: running at $(url)"; else echo "postgres: stopped"; return 1; fi
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  url) url ;;
  *) echo "usage: $0 start|stop|status|url" >&2; exit 2 ;;
esac
