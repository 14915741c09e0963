#!/usr/bin/env bash
# make bench [BENCH="PART ..."]: the benchmarks, one part or several per run.
#   issue9 parts (bench/issue9.sh, one table with the issue 9 targets and ratios):
#     tiles-nocache tiles-cache import search regions   (issue9 = all five)
#   peers    danqing against IIPImage (iipsrv behind lighttpd FastCGI) and against lighttpd
#            serving the same tiles as static files, in one run on one machine: requests/s,
#            p50/p99 latency and peak RSS for (a) tiles over three zoom levels and (b) random
#            non-aligned regions scaled to 512 px, with the danqing/peer ratios
#   ingest   bench/ingest_bench.sh;   catalog   bench/catalog_bench.sh (500,000 records)
#   blob     bench/blob_bench.py: tiles from S3 (s3rver) through the read-through cache, cold
#            and warm, vs the data directory (issue 15; not in the default set)
#   cluster  bench/cluster_tiles.sh: stored tiles through HAProxy vs one node directly, with
#            one, two and three nodes on PostgreSQL + a shared store (issue 15; not default)
#   pg       bench/pg_bench.sh: 500,000 records (N) imported into SQLite and PostgreSQL, node
#            start to ready, and the same searches through HTTP on both, side by side
#            (issue 15; not default; its env: N, RUNS, IMPORT_ONLY, WORK)
# Without a part: issue9 peers ingest catalog. Everything listens on 127.0.0.1 only.
# peers env: DQ_BENCH_W/H (master size, default 20000x3000), DQ_BENCH_SECONDS (default 20),
#      DQ_BENCH_CONNS (default 32), DQ_BENCH_SKIP_INGEST=1, DQ_BENCH_ONLY (tiles|regions)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
[ $# -gt 0 ] || set -- issue9 peers ingest catalog
i9=() want=" "
for p in "$@"; do
  case $p in
    issue9) i9+=(tiles-nocache tiles-cache import search regions) ;;
    tiles-nocache | tiles-cache | import | search | regions) i9+=("$p") ;;
    peers | ingest | catalog) want="$want$p " ;;
    blob | cluster | pg) want="$want$p " ;;
    *) echo "bench: unknown part '$p'; parts: issue9 tiles-nocache tiles-cache import search regions peers ingest catalog blob cluster pg" >&2
       exit 2 ;;
  esac
done
[ ${#i9[@]} -eq 0 ] || bench/issue9.sh "${i9[@]}"
case $want in *" blob "*) bench/blob_bench.py ;; esac
case $want in *" cluster "*) bench/cluster_tiles.sh ;; esac
case $want in *" pg "*) bench/pg_bench.sh ;; esac
case $want in *" peers "*) ;; *) DQ_BENCH_SKIP_PEERS=1 ;; esac
case $want in *" ingest "*) ;; *) DQ_BENCH_SKIP_INGEST=1 ;; esac
case $want in *" catalog "*) ;; *) DQ_BENCH_SKIP_CATALOG=1 ;; esac
W=${DQ_BENCH_W:-20000} H=${DQ_BENCH_H:-3000}
secs=${DQ_BENCH_SECONDS:-20} conns=${DQ_BENCH_CONNS:-32}
# Tile quality of the pyramid (danqing's default; iipsrv serves the very same file) and of the
# static tiles; DQ_BENCH_Q=90 gives libvips' RGB 4:4:4 tiles instead.
Q=${DQ_BENCH_Q:-88}
B=$root/build/bench
mkdir -p "$B"
report=$B/report.txt
rm -f "$report"
pids=()
cleanup() { for p in "${pids[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
pick_port() { local p; for p in $(seq "$1" $(($1 + 200))); do port_free "$p" && port_free $((p + 1)) && { echo "$p"; return; }; done; }
wait_port() { for _ in $(seq 1 100); do port_free "$1" || return 0; sleep 0.1; done; echo "no server on $1" >&2; return 1; }
peak_rss_kb() { # sum of VmHWM over the given pids
  local t=0 p v; for p in "$@"; do v=$(awk '/VmHWM/ {print $2}' "/proc/$p/status" 2>/dev/null || echo 0); t=$((t + ${v:-0})); done; echo "$t"; }

if [ -z "${DQ_BENCH_SKIP_PEERS:-}" ]; then
# ---- the master, its pyramid (danqing ingest), and the static tile tree
if [ ! -f "$B/master.tif" ] || [ "$(vipsheader -f width "$B/master.tif")" != "$W" ]; then
  echo "making a ${W}x${H} master ..."
  bench/make-master.sh "$B/master.tif" "$W" "$H"
fi
rm -rf "$B/data" "$B/iip" && mkdir -p "$B/iip"
build/danqing ingest "$B/master.tif" --id bench --data "$B/data" --quality "$Q" > /dev/null
ln -s "$(ls "$B"/data/pyramids/bench.*.tif)" "$B/iip/bench.tif"  # pyramids/<id>.<sha16>.tif
if [ ! -d "$B/static/bench" ] || [ "$(cat "$B/static/.q" 2>/dev/null)" != "$Q" ]; then
  rm -rf "$B/static"
  echo "cutting static tiles with vips dzsave --layout iiif ..."
  mkdir -p "$B/static"
  vips dzsave "$B/master.tif" "$B/static/bench" --layout iiif --tile-size 256 --suffix ".jpg[Q=$Q]"
  echo "$Q" > "$B/static/.q"
fi

# ---- URL lists: tiles of scale factors 1, 2, 4 (as a IIIF viewer asks for them), and regions
awk -v W="$W" -v H="$H" 'BEGIN {
  for (s = 1; s <= 4; s *= 2) { step = 256 * s
    for (y = 0; y < H; y += step) for (x = 0; x < W; x += step) {
      w = (x + step > W) ? W - x : step; h = (y + step > H) ? H - y : step
      printf "%d,%d,%d,%d/%d,/0/default.jpg\n", x, y, w, h, int((w + s - 1) / s) } } }' > "$B/tiles.rel"
awk -v W="$W" -v H="$H" 'BEGIN { srand(1)
  for (i = 0; i < 4000; i++) {
    w = int(512 * (1.2 + rand() * 6.8)); if (w > W) w = W
    h = int(w * (0.5 + rand() * 0.7)); if (h > H) h = H
    x = int(rand() * (W - w + 1)); y = int(rand() * (H - h + 1))
    printf "%d,%d,%d,%d/512,/0/default.jpg\n", x, y, w, h } }' > "$B/regions.rel"
# Keep only tiles that the static tree really has, so all three servers get the same list.
: > "$B/tiles.ok"
while read -r t; do [ -f "$B/static/bench/$t" ] && echo "$t" >> "$B/tiles.ok"; done < "$B/tiles.rel"
echo "tiles: $(wc -l < "$B/tiles.ok") of $(wc -l < "$B/tiles.rel") in the static tree; regions: $(wc -l < "$B/regions.rel")"

# ---- servers
# Equal cache budgets: danqing's response cache gets 64 MiB, as each iipsrv process gets for
# its tile cache (MAX_IMAGE_CACHE_SIZE=64 below).
pd=$(pick_port 18080); build/danqing serve --listen "127.0.0.1:$pd" --data "$B/data" \
  --cache-mb 64 ${DQ_BENCH_SERVE_ARGS:-} > "$B/danqing.out" 2> "$B/danqing.log" & pids+=($!); dq_pid=$!
wait_port "$pd"

pi=$(pick_port $((pd + 10)))
IIPSRV_PROCS=$(nproc) MAX_IMAGE_CACHE_SIZE=64 bench/iipsrv.sh start "$pi" "$B/iip" "$B/iiprun" > "$B/iipsrv.out"
wait_port "$pi"
iip_pids=$(cat "$B/iiprun/pids")

ps_=$(pick_port $((pi + 10)))
cat > "$B/static.conf" <<CONF
server.bind = "127.0.0.1"
server.port = $ps_
server.document-root = "$B/static"
server.errorlog = "$B/static-error.log"
server.max-connections = 4096
server.max-keep-alive-requests = 100000
mimetype.assign = ( ".jpg" => "image/jpeg" )
CONF
lighttpd -D -f "$B/static.conf" & pids+=($!); st_pid=$!
wait_port "$ps_"

# ---- load
declare -A RPS P50 P99
run_wrk() { # name port prefix list
  local name=$1 port=$2 prefix=$3 list=$4 out
  sed "s#^#$prefix/#" "$list" > "$B/$name.urls"
  out=$(wrk -t2 -c"$conns" -d"${secs}s" --timeout 10s -s bench/walk.lua "http://127.0.0.1:$port" -- "$B/$name.urls")
  echo "$out" > "$B/$name.wrk"
  RPS[$name]=$(echo "$out" | sed -n 's/.*ok_rps=\([0-9.]*\).*/\1/p') # 2xx only
  P50[$name]=$(echo "$out" | sed -n 's/.*p50_ms=\([0-9.]*\).*/\1/p')
  P99[$name]=$(echo "$out" | sed -n 's/.*p99_ms=\([0-9.]*\).*/\1/p')
  local errs; errs=$(echo "$out" | sed -n 's/.*errors=\([0-9]*\) non2xx=\([0-9]*\).*/\1+\2/p')
  printf '  %-16s %10s req/s  p50 %8s ms  p99 %8s ms  errors %s\n' "$name" "${RPS[$name]}" "${P50[$name]}" "${P99[$name]}" "$errs"
}
warm() { # port prefix list: every URL once, over one keep-alive connection
  sed "s#^\(.*\)\$#url = \"http://127.0.0.1:$1$2/\1\"\noutput = \"/dev/null\"#" "$3" > "$B/warm.curl"
  curl -s -K "$B/warm.curl" || true
}
only=${DQ_BENCH_ONLY:-}
if [ -z "$only" ] || [ "$only" = tiles ]; then
  echo "warming tiles ..."
  warm "$pd" /iiif/3/bench "$B/tiles.ok"; warm "$pi" /iiif/bench.tif "$B/tiles.ok"; warm "$ps_" /bench "$B/tiles.ok"
  echo "tiles (${secs}s each, $conns connections):"
  run_wrk tiles_static "$ps_" /bench "$B/tiles.ok"
  run_wrk tiles_iipsrv "$pi" /iiif/bench.tif "$B/tiles.ok"
  run_wrk tiles_danqing "$pd" /iiif/3/bench "$B/tiles.ok"
fi
if [ -z "$only" ] || [ "$only" = regions ]; then
  echo "regions scaled to 512 px (${secs}s each, no warm-up):"
  run_wrk regions_iipsrv "$pi" /iiif/bench.tif "$B/regions.rel"
  run_wrk regions_danqing "$pd" /iiif/3/bench "$B/regions.rel"
fi
rss_dq=$(peak_rss_kb "$dq_pid"); rss_iip=$(peak_rss_kb $iip_pids); rss_st=$(peak_rss_kb "$st_pid")

ratio() { awk -v a="${1:-0}" -v b="${2:-0}" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }
{
  echo "danqing bench $(date -u +%Y-%m-%dT%H:%M:%SZ)  master ${W}x${H} tiles Q$Q  $(nproc) cores  wrk -t2 -c$conns -d${secs}s"
  printf '%-18s %12s %10s %10s\n' server req/s p50_ms p99_ms
  for k in tiles_static tiles_iipsrv tiles_danqing regions_iipsrv regions_danqing; do
    [ -n "${RPS[$k]:-}" ] && printf '%-18s %12s %10s %10s\n' "$k" "${RPS[$k]}" "${P50[$k]}" "${P99[$k]}"
  done
  [ -n "${RPS[tiles_danqing]:-}" ] && echo "tiles:   danqing/static = $(ratio "${RPS[tiles_danqing]}" "${RPS[tiles_static]}") (target >= 0.7)   danqing/iipsrv = $(ratio "${RPS[tiles_danqing]}" "${RPS[tiles_iipsrv]}")"
  [ -n "${RPS[regions_danqing]:-}" ] && echo "regions: danqing/iipsrv = $(ratio "${RPS[regions_danqing]}" "${RPS[regions_iipsrv]}") (target >= 1.5)"
  echo "peak RSS kB: danqing $rss_dq   iipsrv (all processes) $rss_iip   lighttpd static $rss_st"
} | tee "$report"
cleanup; pids=()
bench/iipsrv.sh stop "$B/iiprun" > /dev/null || true
fi

if [ -z "${DQ_BENCH_SKIP_INGEST:-}" ] && [ -x bench/ingest_bench.sh ]; then
  bench/ingest_bench.sh | tee -a "$report"
fi
if [ -x bench/catalog_bench.sh ] && [ -z "${DQ_BENCH_SKIP_CATALOG:-}" ]; then
  bench/catalog_bench.sh | tee -a "$report"
fi
[ -f "$report" ] && echo "report: $report"
exit 0
