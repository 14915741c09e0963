#!/usr/bin/env bash
# cluster_tiles.sh (issue 15): stored tiles through HAProxy against one node directly, and
# through HAProxy with one, two and three `danqing serve` nodes. The nodes share a private
# PostgreSQL catalog (tests/pg-cluster.sh) and one store directory (--store), each with a data
# directory of its own; HAProxy runs tests/cluster-haproxy.cfg (the configuration of
# docs/deploy.md) with the nodes that take part. Everything on loopback, free ports, stopped
# at the end (also on failure). wrk walks the same list of stored tiles (scale factors 1, 2, 4
# of a W x H painting-like master, bench/make-master.sh) with --cache-mb 0 on the nodes, so
# every answer reads its tile from the store. Prints a table; writes $WORK/cluster-tiles.md.
# env: W H (4000 3000), SECS per run (10), CONNS (16), THREADS per node (2), WORK
# (build/bench-cluster). Run from the repository root.
set -euo pipefail
W=${W:-4000} H=${H:-3000} SECS=${SECS:-10} CONNS=${CONNS:-16} THREADS=${THREADS:-2}
WORK=${WORK:-build/bench-cluster}
make --no-print-directory build/danqing >/dev/null
rm -rf "$WORK"; mkdir -p "$WORK"; WORK=$(cd "$WORK" && pwd)
PIDS=() HA_PID=
cleanup() {
  for p in "${PIDS[@]}" $HA_PID; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}" $HA_PID; do wait "$p" 2>/dev/null || true; done
  tests/pg-cluster.sh stop "$WORK/pg" >/dev/null 2>&1 || true
}
trap cleanup EXIT INT TERM
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_ok() { # URL: bounded poll until 200
  for _ in $(seq 1 300); do
    [ "$(curl -s -o /dev/null -w '%{http_code}' "$1")" = 200 ] && return 0; sleep 0.1
  done
  echo "cluster_tiles: $1 never answered 200" >&2; return 1
}
PG_URL=$(tests/pg-cluster.sh start "$WORK/pg")
psql -X -q "$PG_URL" -c 'CREATE SCHEMA bench'
CAT="$PG_URL?options=-csearch_path%3Dbench"
mkdir -p "$WORK/store"
TMPDIR=$WORK bench/make-master.sh "$WORK/master.tif" "$W" "$H"
build/danqing --data "$WORK/n1" --catalog "$CAT" --store "$WORK/store" \
  ingest "$WORK/master.tif" --id bench >/dev/null
awk -v W="$W" -v H="$H" 'BEGIN {
  for (s = 1; s <= 4; s *= 2) { step = 256 * s
    for (y = 0; y < H; y += step) for (x = 0; x < W; x += step) {
      w = (x + step > W) ? W - x : step; h = (y + step > H) ? H - y : step
      printf "/iiif/3/bench/%d,%d,%d,%d/%d,/0/default.jpg\n", x, y, w, h, int((w + s - 1) / s) } } }' \
  > "$WORK/tiles.list"
PORTS=()
for i in 1 2 3; do
  p=$(free_port); PORTS+=("$p")
  build/danqing --data "$WORK/n$i" --catalog "$CAT" --store "$WORK/store" serve \
    --listen "127.0.0.1:$p" --threads "$THREADS" --cache-mb 0 --log-level 2 >"$WORK/n$i.log" 2>&1 &
  PIDS+=($!)
done
for p in "${PORTS[@]}"; do wait_ok "http://127.0.0.1:$p/health"; done

run() { # TAG URL -> "rps p50 p99 errors"
  wrk -t2 -c"$CONNS" -d"${SECS}s" --timeout 10s -s bench/walk.lua "$2" -- "$WORK/tiles.list" \
    >"$WORK/$1.wrk" 2>&1 || true
  awk '/^LAT / {for (i = 2; i <= NF; i++) {split($i, kv, "="); v[kv[1]] = kv[2]}}
       END {printf "%.0f %.2f %.2f %d\n", v["ok_rps"], v["p50_ms"], v["p99_ms"], v["errors"] + v["non2xx"]}' "$WORK/$1.wrk"
}
ha_start() { # N: HAProxy with nodes 1..N
  local port; port=$(free_port)
  sed -e "s#@SOCK@#$WORK/ha.sock#; s#@PORT@#$port#; s#@N1@#${PORTS[0]}#; s#@N2@#${PORTS[1]}#; s#@N3@#${PORTS[2]}#" \
    tests/cluster-haproxy.cfg | awk -v n="$1" '!/^ *server node/ || substr($2, 5) + 0 <= n' >"$WORK/ha$1.cfg"
  haproxy -db -f "$WORK/ha$1.cfg" >"$WORK/ha$1.log" 2>&1 &
  HA_PID=$!
  wait_ok "http://127.0.0.1:$port/health"
  HA_URL="http://127.0.0.1:$port"
}
ha_stop() { kill "$HA_PID"; wait "$HA_PID" 2>/dev/null || true; HA_PID=; }

n_tiles=$(wc -l <"$WORK/tiles.list")
out=$WORK/cluster-tiles.md
{
  echo "Stored tiles ($n_tiles tiles of a ${W}x${H} master, scale factors 1, 2, 4), wrk -t2 -c$CONNS"
  echo "-d${SECS}s, nodes with --threads $THREADS --cache-mb 0, PostgreSQL catalog, shared store"
  echo "directory. Load average before: $(cut -d' ' -f1-3 /proc/loadavg). $(nproc) cores."
  echo
  echo "| path | nodes | tiles/s | p50 ms | p99 ms | errors |"
  echo "|---|---:|---:|---:|---:|---:|"
} >"$out"
read -r rps p50 p99 err < <(run direct "http://127.0.0.1:${PORTS[0]}")
echo "| one node directly | 1 | $rps | $p50 | $p99 | $err |" >>"$out"
for n in 1 2 3; do
  ha_start "$n"
  read -r rps p50 p99 err < <(run "ha$n" "$HA_URL")
  echo "| through HAProxy | $n | $rps | $p50 | $p99 | $err |" >>"$out"
  ha_stop
done
echo "Load average after: $(cut -d' ' -f1-3 /proc/loadavg)." >>"$out"
cat "$out"
