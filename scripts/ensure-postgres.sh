#!/usr/bin/env bash
# Prints a PostgreSQL URL the test suites may create databases on, starting one if needed.
#   1. $TEST_DATABASE_URL, if set;
#   2. the machine's server on 127.0.0.1:5432 with trust auth, if it answers;
#   3. otherwise a private throwaway cluster (initdb, trust auth, port 54329, data under
#      /var/tmp) started with pg_ctl — installing Debian's postgresql package if it is missing.
# Progress goes to stderr; only the URL goes to stdout.
set -euo pipefail
log() { printf '\033[1;34m[postgres]\033[0m %s\n' "$*" >&2; }

if [ -n "${TEST_DATABASE_URL:-}" ]; then
  echo "$TEST_DATABASE_URL"
  exit 0
fi

answers() { psql "$1" -tAc 'select 1' >/dev/null 2>&1; }

SYSTEM_URL="postgres://postgres@127.0.0.1:5432/postgres"
if command -v psql >/dev/null 2>&1 && answers "$SYSTEM_URL"; then
  echo "$SYSTEM_URL"
  exit 0
fi

PORT=54329
PRIVATE_URL="postgres://postgres@127.0.0.1:${PORT}/postgres"
if command -v psql >/dev/null 2>&1 && answers "$PRIVATE_URL"; then
  echo "$PRIVATE_URL"
  exit 0
fi

if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  log "installing Debian's postgresql (no server found for the tests)"
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends postgresql postgresql-client
fi
BIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
DATA=/var/tmp/stockpulse-pg
as_pg() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

if [ ! -s "$DATA/PG_VERSION" ]; then
  log "creating a private cluster in $DATA (trust auth, port $PORT)"
  mkdir -p "$DATA"
  [ "$(id -u)" -ne 0 ] || chown postgres:postgres "$DATA"
  as_pg "$BIN/initdb" -D "$DATA" -U postgres --auth=trust -E UTF8 >/dev/null
fi
log "starting the private cluster on port $PORT"
as_pg "$BIN/pg_ctl" -D "$DATA" -l "$DATA/server.log" -w \
  -o "-p $PORT -k /tmp -c listen_addresses=127.0.0.1" start >/dev/null
echo "$PRIVATE_URL"
