#!/usr/bin/env bash
# A private PostgreSQL 15 cluster for tests (issue 15): made with initdb in a folder of its
# own, listening on 127.0.0.1 only, on a free port, with trust authentication for the one
# superuser "danqing". PostgreSQL refuses to run as root, and tests here run as root, so the
# server runs as a dedicated system user (danqing-pgtest), created when missing.
#
#   tests/pg-cluster.sh start DIR   makes DIR (must not exist; its parent must be traversable
#                                   by that user, e.g. build/), starts the server and prints
#                                   its URL: postgres://danqing@127.0.0.1:PORT/danqing
#   tests/pg-cluster.sh stop DIR    stops it (immediate: a test cluster has nothing to keep)
#                                   and removes DIR
#   tests/pg-cluster.sh available   exit 0 when PostgreSQL 15 and a way to switch users exist
#
# DQ_PG_SETTINGS="name=value ..." adds server settings after the test ones (benches give the
# cluster the memory docs/deploy.md recommends: bench/pg_bench.sh).
#
# The server is started directly (not by pg_ctl, which detaches it into a session of its own),
# so it stays in the caller's process group: a test runner that kills the group of a failed
# test also kills the server it left. Durability is off (fsync, full_page_writes): a test
# cluster is thrown away, and the 2-core CI machine has better uses for its time. Prepared
# transactions are on, as docs/deploy.md asks: relic writes commit in two halves (store_pg.c).
set -euo pipefail
PGBIN=${DQ_PG_BIN:-/usr/lib/postgresql/15/bin}
PGUSER_SYS=${DQ_PG_SYSUSER:-danqing-pgtest}

as_user() {
  if [ "$(id -u)" = 0 ]; then
    setpriv --reuid="$PGUSER_SYS" --regid="$PGUSER_SYS" --init-groups -- "$@"
  else
    "$@"
  fi
}

ensure_user() {
  [ "$(id -u)" = 0 ] || return 0
  id -u "$PGUSER_SYS" >/dev/null 2>&1 && return 0
  useradd --system --user-group --no-create-home --home-dir /nonexistent \
    --shell /usr/sbin/nologin "$PGUSER_SYS" 2>/dev/null || id -u "$PGUSER_SYS" >/dev/null
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

cmd=${1:-}
case "$cmd" in
available)
  [ -x "$PGBIN/initdb" ] && [ -x "$PGBIN/postgres" ] && command -v python3 >/dev/null &&
    { [ "$(id -u)" != 0 ] || command -v setpriv >/dev/null; }
  ;;
start)
  dir=${2:?usage: $0 start DIR}
  [ ! -e "$dir" ] || { echo "pg-cluster: $dir exists" >&2; exit 1; }
  ensure_user
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  [ "$(id -u)" != 0 ] || chown "$PGUSER_SYS:$PGUSER_SYS" "$dir"
  chmod 700 "$dir"
  as_user "$PGBIN/initdb" -D "$dir/data" -U danqing -A trust -E UTF8 --locale=C.UTF-8 \
    --no-sync >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; exit 1; }
  extra=()
  for kv in ${DQ_PG_SETTINGS:-}; do extra+=(-c "$kv"); done
  # A free port can be taken between the probe and the bind: try a few.
  for attempt in 1 2 3 4 5; do
    port=$(free_port)
    as_user "$PGBIN/postgres" -D "$dir/data" -p "$port" -c listen_addresses=127.0.0.1 \
      -c unix_socket_directories="$dir" -c fsync=off -c full_page_writes=off \
      -c synchronous_commit=off -c max_connections=300 -c max_prepared_transactions=16 -c shared_buffers=64MB \
      -c log_min_messages=warning -c logging_collector=off "${extra[@]}" >"$dir/server.log" 2>&1 </dev/null &
    pid=$!
    echo "$pid" >"$dir/server.pid.runner" 2>/dev/null || true
    for _ in $(seq 1 300); do # up to 30 s on a loaded machine
      if "$PGBIN/pg_isready" -q -h 127.0.0.1 -p "$port" -d postgres -U danqing; then
        "$PGBIN/psql" -q -h 127.0.0.1 -p "$port" -U danqing -d postgres \
          -c 'CREATE DATABASE danqing' >/dev/null
        echo "postgres://danqing@127.0.0.1:$port/danqing"
        exit 0
      fi
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -9 "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  echo "pg-cluster: the server did not start; its log:" >&2
  cat "$dir/server.log" >&2
  exit 1
  ;;
stop)
  dir=${2:?usage: $0 stop DIR}
  [ -d "$dir" ] || exit 0
  if [ -f "$dir/data/postmaster.pid" ]; then
    as_user "$PGBIN/pg_ctl" -D "$dir/data" -m immediate -w -t 30 stop >/dev/null 2>&1 ||
      kill -9 "$(head -n 1 "$dir/data/postmaster.pid")" 2>/dev/null || true
  fi
  rm -rf "$dir"
  ;;
*)
  echo "usage: $0 start DIR | stop DIR | available" >&2
  exit 2
  ;;
esac
