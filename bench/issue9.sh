#!/usr/bin/env bash
# The issue 9 targets as one table, each comparison within the same run:
#   tiles-nocache  danqing `serve --cache-mb 0` vs lighttpd serving the same tiles as static
#                  files: every tile of three levels (scale factors 1, 2, 4) of a 40000x6000
#                  master, a working set larger than any cache. Target >= 0.8x, p99 no worse.
#   tiles-cache    the same with danqing's response cache on (256 MiB, warmed). Target >= 1.0x.
#   import         during a 100,000-row `danqing import` into the catalog being served:
#                  /health p99 < 50 ms, uncached tile p99 within 2x of idle, an API write
#                  (PATCH of a relic, admin token) finishing or answering 503 within 2 s.
#   search         100,000 records: selective searches (张择端, 溪山行旅) <= 2 ms p50 through the
#                  C API and <= 3 ms over HTTP; every query p95 < 30 ms over HTTP. On a loaded
#                  machine read the CPU rows: the C API's thread CPU and the server's CPU per
#                  HTTP search (every thread, from /proc/PID/task/*/schedstat).
#   regions        random regions scaled to 512 px vs IIPImage (iipsrv behind lighttpd
#                  FastCGI, serving danqing's own pyramid file): >= 2x, p99 below IIPImage's.
# The machine is shared and noisy, so every comparison runs interleaved (A, B, A, B, ...) for
# DQ_BENCH_ROUNDS rounds and reports median and min; the load average is printed with it.
# usage: bench/issue9.sh [PART ...]    (no part: all five, in the order above)
# env: DQ_BENCH_ROUNDS (3), DQ_BENCH_SECONDS (10 per round and server), DQ_BENCH_CONNS (32),
#      DQ_BENCH_RELICS (100000), DQ_BENCH_RUNS (50 searches per query and interface),
#      DQ_BENCH_SEARCH_DATA (search: a data directory that already holds DQ_BENCH_RELICS
#      generated records, e.g. bench/catalog_compare.sh's, instead of importing them),
#      DQ_BENCH_W/H (40000x6000), DQ_BENCH_SERVE_ARGS (extra `danqing serve` options),
#      DQ_BENCH_BASE_BIN (tiles parts: also serve with this danqing binary, an older build,
#      interleaved in the same rounds, and add its rows and the new/old ratio; search: every
#      HTTP query also against it, on the same catalog, right after the new build's runs). Output: the table on stdout and in build/bench/i9/table.md.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
W=${DQ_BENCH_W:-40000} H=${DQ_BENCH_H:-6000}
rounds=${DQ_BENCH_ROUNDS:-3} secs=${DQ_BENCH_SECONDS:-10} conns=${DQ_BENCH_CONNS:-32}
nrel=${DQ_BENCH_RELICS:-100000} runs=${DQ_BENCH_RUNS:-50}
parts=("$@")
[ ${#parts[@]} -gt 0 ] || parts=(tiles-nocache tiles-cache import search regions)
for p in "${parts[@]}"; do
  case $p in tiles-nocache | tiles-cache | import | search | regions) ;;
    *) echo "issue9.sh: unknown part '$p' (tiles-nocache tiles-cache import search regions)" >&2; exit 2 ;;
  esac
done
B=$root/build/bench
I=$B/i9
mkdir -p "$I"
rm -f "$I"/*.row
pids=()
cleanup() {
  local p
  for p in "${pids[@]:-}"; do [ -n "$p" ] && kill "$p" 2> /dev/null || true; done
  [ -f "$I/iiprun/pids" ] && bench/iipsrv.sh stop "$I/iiprun" > /dev/null 2>&1 || true
}
trap cleanup EXIT
say() { printf '%s\n' "$*" >&2; }
load() { cut -d' ' -f1-3 /proc/loadavg; }

port_free() { ! (exec 3<> "/dev/tcp/127.0.0.1/$1") 2> /dev/null; }
pick_port() {
  local p
  for p in $(seq "$1" $(($1 + 200))); do port_free "$p" && port_free $((p + 1)) && { echo "$p"; return; }; done
}
wait_port() {
  for _ in $(seq 1 200); do port_free "$1" || return 0; sleep 0.1; done
  say "no server on port $1"; return 1
}

# ---- danqing servers: start_dq NAME DATA ARGS... sets DQ_URL and DQ_PID
start_dq() {
  local name=$1 data=$2; shift 2
  rm -f "$I/$name.out" # before the start: the wait below must not read an earlier run's line
  # shellcheck disable=SC2086 # DQ_BENCH_SERVE_ARGS: extra serve options, word-split
  "${DQ_SERVE_BIN:-build/danqing}" --data "$data" --listen 127.0.0.1:0 --log-level 3 serve "$@" ${DQ_BENCH_SERVE_ARGS:-} > "$I/$name.out" 2> "$I/$name.log" &
  DQ_PID=$!; pids+=("$DQ_PID")
  local i=0
  while ! grep -q 'listening on' "$I/$name.out" 2> /dev/null; do
    kill -0 "$DQ_PID" 2> /dev/null || { say "danqing serve $name died:"; cat "$I/$name.log" >&2; exit 1; }
    i=$((i + 1)); [ $i -lt 600 ] || { say "danqing serve $name did not start"; exit 1; }
    sleep 0.1
  done
  DQ_URL=$(sed -n 's#.*listening on \(http://[^/ ]*\).*#\1#p' "$I/$name.out" | head -n 1)
  [ -n "$DQ_URL" ] || { say "danqing serve $name: no address in $I/$name.out"; exit 1; }
}
stop_pid() { kill "$1" 2> /dev/null || true; wait "$1" 2> /dev/null || true; }

start_static() { # sets ST_PORT ST_PID: lighttpd on $I/static
  ST_PORT=$(pick_port 18300)
  cat > "$I/static.conf" << CONF
server.bind = "127.0.0.1"
server.port = $ST_PORT
server.document-root = "$I/static"
server.errorlog = "$I/static-error.log"
server.max-connections = 4096
server.max-keep-alive-requests = 100000
mimetype.assign = ( ".jpg" => "image/jpeg" )
CONF
  lighttpd -D -f "$I/static.conf" &
  ST_PID=$!; pids+=("$ST_PID")
  wait_port "$ST_PORT"
}

# ---- wrk: run_wrk TAG ORIGIN LIST [wrk options] -> "$I/TAG.wrk"; echo "rps p50 p99 errors"
wrk_parse() {
  # rps: successful answers per second only (walk.lua's ok_rps), not wrk's Requests/sec
  awk '/^LAT / {for (i = 2; i <= NF; i++) {split($i, kv, "="); v[kv[1]] = kv[2]}}
       END {printf "%s %s %s %d\n", v["ok_rps"], v["p50_ms"], v["p99_ms"], v["errors"] + v["non2xx"]}' "$1"
}
run_wrk() {
  local tag=$1 origin=$2 list=$3; shift 3
  wrk "$@" --timeout 10s -s bench/walk.lua "$origin" -- "$list" > "$I/$tag.wrk" 2>&1 || true
  wrk_parse "$I/$tag.wrk"
}

# ---- statistics over a column of numbers on stdin, printed with 3-4 significant digits
F='function f(v) {return v == "" ? "n/a" : v >= 100 ? sprintf("%.0f", v) : v >= 10 ? sprintf("%.1f", v) : sprintf("%.2f", v)}'
median() { sort -g | awk "$F"' {a[NR] = $1} END {print NR == 0 ? "n/a" : NR % 2 ? f(a[(NR + 1) / 2]) : f((a[NR / 2] + a[NR / 2 + 1]) / 2)}'; }
minimum() { sort -g | awk "$F"' NR == 1 {print f($1)}'; }
maximum() { sort -g | awk "$F"' {v = $1} END {print NR ? f(v) : "n/a"}'; }
pctl() { sort -g | awk -v p="$1" "$F"' {a[NR] = $1} END {if (NR == 0) {print "n/a"; exit} i = int(NR * p / 100 + 0.999999); if (i < 1) i = 1; if (i > NR) i = NR; print f(a[i])}'; }
ratio() { awk -v a="${1:-0}" -v b="${2:-0}" 'BEGIN {if (b + 0 > 0 && a != "n/a") printf "%.2f", a / b; else print "n/a"}'; }
# verdict OP VALUE LIMIT: "ok" or "MISS"
verdict() { awk -v op="$1" -v v="$2" -v l="$3" 'BEGIN {if (v == "n/a" || v == "") {print "n/a"; exit}
  ok = (op == ">=") ? v + 0 >= l + 0 : (op == "<=") ? v + 0 <= l + 0 : (op == "<") ? v + 0 < l + 0 : 0
  print ok ? "ok" : "MISS"}'; }
# row PART METRIC DANQING PEER RATIO TARGET VERDICT: one line of the final table
row() { printf '| %s | %s | %s | %s | %s | %s | %s |\n' "$@" >> "$I/$1.row"; }

# ---- the master, its pyramid and catalog (danqing ingest), the tile list, the static tree
master=$B/master-${W}x${H}.tif
need_image() {
  [ -z "${IMAGE_READY:-}" ] || return 0
  if [ ! -s "$master" ]; then
    say "making a ${W}x${H} master (once) ..."
    TMPDIR=$B bench/make-master.sh "$master.tmp" "$W" "$H" && mv "$master.tmp" "$master"
  fi
  rm -rf "$I/data" "$I/data-base" "$I/static"
  local t0=$SECONDS
  build/danqing ingest "$master" --id bench --data "$I/data" > /dev/null
  say "ingest ${W}x${H}: $((SECONDS - t0)) s"
  awk -v W="$W" -v H="$H" 'BEGIN {
    for (s = 1; s <= 4; s *= 2) { step = 256 * s
      for (y = 0; y < H; y += step) for (x = 0; x < W; x += step) {
        w = (x + step > W) ? W - x : step; h = (y + step > H) ? H - y : step
        printf "%d,%d,%d,%d/%d,/0/default.jpg\n", x, y, w, h, int((w + s - 1) / s) } } }' > "$I/tiles.rel"
  # The static tree holds danqing's own tile bytes, fetched once through the IIIF URLs, so
  # both servers send the very same files.
  start_dq extract "$I/data" --cache-mb 0
  sed "s#^\(.*\)\$#url = \"$DQ_URL/iiif/3/bench/\1\"\noutput = \"$I/static/bench/\1\"#" "$I/tiles.rel" > "$I/extract.curl"
  curl -s --create-dirs -K "$I/extract.curl" -w '%{http_code}\n' > "$I/extract.codes"
  stop_pid "$DQ_PID"
  local n ok; n=$(wc -l < "$I/tiles.rel"); ok=$(grep -c '^200$' "$I/extract.codes" || true)
  [ "$n" = "$ok" ] || { say "tile extraction: only $ok of $n answered 200"; exit 1; }
  sed 's#^#/iiif/3/bench/#' "$I/tiles.rel" > "$I/tiles.dq"
  sed 's#^#/bench/#' "$I/tiles.rel" > "$I/tiles.st"
  say "tiles: $n over scale factors 1, 2, 4 ($(du -sm "$I/static" | cut -f1) MB as files)"
  IMAGE_READY=1
}
warm() { # origin list: every URL once over one keep-alive connection
  sed "s#^\(.*\)\$#url = \"$1\1\"\noutput = \"/dev/null\"#" "$2" > "$I/warm.curl"
  curl -s -K "$I/warm.curl" || true
}

# CPU time (user + system, in clock ticks) of a process and its threads so far. Under load,
# requests per second mostly measure the scheduler; CPU per request measures the server.
declare -A SRV_PID=()
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2> /dev/null || echo 0; }
# The same in nanoseconds (the scheduler's run time of each thread, /proc/PID/task/*/schedstat):
# fine enough to charge one search of a millisecond or two.
cpu_ns() { cat /proc/"$1"/task/*/schedstat 2> /dev/null | awk '{s += $1} END {printf "%.0f\n", s}'; }

# ---- interleaved comparison: compare PART NAME_A ORIGIN_A LIST_A NAME_B ORIGIN_B LIST_B [NAME_C ...]
# Appends "name rps p50 p99 errors" per round to $I/PART.runs.
compare() {
  local part=$1 r
  shift
  : > "$I/$part.runs"
  for r in $(seq 1 "$rounds"); do
    [ -n "${ROUND_LIST_HOOK:-}" ] && $ROUND_LIST_HOOK "$r"
    local a=("$@") line=""
    while [ ${#a[@]} -ge 3 ]; do
      local l=${a[2]}
      [ -n "${ROUND_LIST_HOOK:-}" ] && l=${l//@R@/$r}
      local pid=${SRV_PID[${a[0]}]:-} c0=0 res
      [ -n "$pid" ] && c0=$(cpu_ticks "$pid")
      res=$(run_wrk "$part-${a[0]}-$r" "${a[1]}" "$l" -t2 -c"$conns" -d"${secs}s")
      local us=n/a
      if [ -n "$pid" ]; then # server CPU (user + system) per answered request, in µs
        us=$(awk -v t="$(($(cpu_ticks "$pid") - c0))" -v hz="$(getconf CLK_TCK)" -v rps="${res%% *}" -v s="$secs" \
          'BEGIN {n = rps * s; if (n > 0) printf "%.1f", t / hz * 1e6 / n; else print "n/a"}')
      fi
      echo "${a[0]} $res $us" >> "$I/$part.runs"
      line="$line$(tail -n 1 "$I/$part.runs") "
      a=("${a[@]:3}")
    done
    say "  round $r: $line(load $(load))"
  done
}
col() { awk -v n="$2" -v c="$3" '$1 == n {print $c}' "$I/$1.runs"; } # part name column
sumcol() { awk -v n="$2" '$1 == n {s += $5} END {print s + 0}' "$I/$1.runs"; }
# Rows for one comparison: rps and p99, median (min over rounds).
compare_rows() {
  local part=$1 a=$2 b=$3 tr=$4 label=$5 p99_target=${6:-1}
  local ra rb rma rmb pa pb pma pmb p5a p5b
  ra=$(col "$part" "$a" 2 | median); rb=$(col "$part" "$b" 2 | median)
  rma=$(col "$part" "$a" 2 | minimum); rmb=$(col "$part" "$b" 2 | minimum)
  pa=$(col "$part" "$a" 4 | median); pb=$(col "$part" "$b" 4 | median)
  pma=$(col "$part" "$a" 4 | minimum); pmb=$(col "$part" "$b" 4 | minimum)
  p5a=$(col "$part" "$a" 3 | median); p5b=$(col "$part" "$b" 3 | median)
  local rr; rr=$(ratio "$ra" "$rb")
  row "$part" "$label req/s, median (min) of $rounds" "$ra ($rma)" "$rb ($rmb)" "$rr" ">= $tr" "$(verdict '>=' "$rr" "$tr")"
  local pr; pr=$(ratio "$pa" "$pb")
  if [ "$p99_target" = 1 ]; then
    row "$part" "p99 ms, median (min)" "$pa ($pma)" "$pb ($pmb)" "$pr" "<= 1.00" "$(verdict '<=' "$pr" 1)"
  else
    row "$part" "p99 ms, median (min)" "$pa ($pma)" "$pb ($pmb)" "$pr" "" ""
  fi
  row "$part" "p50 ms, median" "$p5a" "$p5b" "$(ratio "$p5a" "$p5b")" "" ""
  local ca cb; ca=$(col "$part" "$a" 6 | grep -v n/a | median); cb=$(col "$part" "$b" 6 | grep -v n/a | median)
  [ "$ca" = n/a ] || row "$part" "server CPU µs per answer (user + system), median" "$ca" "$cb" "$(ratio "$ca" "$cb")" "" ""
  local ea eb; ea=$(sumcol "$part" "$a"); eb=$(sumcol "$part" "$b")
  row "$part" "errors + non-2xx, all rounds (req/s counts 2xx only)" "$ea" "$eb" "" "0" "$([ "$ea" = 0 ] && echo ok || echo MISS)"
}

part_tiles() { # part cache_mb target label
  local part=$1 cache=$2 target=$3
  need_image
  start_static
  start_dq "$part" "$I/data" --cache-mb "$cache"
  local dq_pid=$DQ_PID
  if [ "$cache" != 0 ]; then
    say "warming danqing's cache with every tile ..."
    warm "$DQ_URL" "$I/tiles.dq"
  fi
  warm "http://127.0.0.1:$ST_PORT" "$I/tiles.st"
  say "$part: $(wc -l < "$I/tiles.rel") tiles, $rounds rounds x ${secs}s x 2 servers, wrk -t2 -c$conns (load $(load))"
  SRV_PID=([danqing]=$dq_pid [static]=$ST_PID)
  local base=() base_pid=
  if [ -n "${DQ_BENCH_BASE_BIN:-}" ]; then # a second danqing (an older build) in the same rounds
    local dq_url=$DQ_URL
    if [ ! -d "$I/data-base" ]; then # its own catalog: an older build may not read a newer schema
      "$DQ_BENCH_BASE_BIN" ingest "$master" --id bench --data "$I/data-base" > /dev/null
    fi
    DQ_SERVE_BIN=$DQ_BENCH_BASE_BIN start_dq "$part-base" "$I/data-base" --cache-mb "$cache"
    base_pid=$DQ_PID base=(base "$DQ_URL" "$I/tiles.dq")
    SRV_PID[base]=$base_pid
    [ "$cache" = 0 ] || warm "$DQ_URL" "$I/tiles.dq"
    DQ_URL=$dq_url
  fi
  compare "$part" danqing "$DQ_URL" "$I/tiles.dq" static "http://127.0.0.1:$ST_PORT" "$I/tiles.st" "${base[@]}"
  # p99 no worse than static is a target with the cache off; with it on, only throughput is.
  compare_rows "$part" danqing static "$target" "tiles, cache $cache MiB" "$([ "$cache" = 0 ] && echo 1 || echo 0)"
  if [ -n "$base_pid" ]; then
    compare_rows "$part" base static "$target" "base build ($DQ_BENCH_BASE_BIN): tiles, cache $cache MiB" 0
    local rd rb; rd=$(col "$part" danqing 2 | median); rb=$(col "$part" base 2 | median)
    row "$part" "danqing / base build req/s, median" "$rd" "$rb" "$(ratio "$rd" "$rb")" "" ""
    rd=$(col "$part" danqing 6 | median); rb=$(col "$part" base 6 | median)
    row "$part" "danqing / base build CPU µs per answer, median" "$rd" "$rb" "$(ratio "$rd" "$rb")" "" ""
    stop_pid "$base_pid"
  fi
  stop_pid "$dq_pid"; stop_pid "$ST_PID"
}

# ---- records
need_relics() {
  [ -s "$I/relics-$nrel.jsonl" ] && return 0
  cc -O2 -std=c11 -Wall -Wextra -Werror -o "$I/gen_relics" bench/gen_relics.c
  "$I/gen_relics" "$nrel" > "$I/relics-$nrel.jsonl.tmp" && mv "$I/relics-$nrel.jsonl.tmp" "$I/relics-$nrel.jsonl"
}

part_import() {
  need_image
  need_relics
  local D=$I/import-data
  rm -rf "$D"; mkdir -p "$D"
  # The pyramid and master are hard links; the catalog is a copy.
  cp -al "$I/data/." "$D/"
  rm -f "$D"/catalog.sqlite*
  cp "$I/data/catalog.sqlite" "$D/"
  build/danqing --data "$D" user add bench --role admin --password bench-admin-pw > /dev/null
  local tok; tok=$(build/danqing --data "$D" user token bench | tail -n 1)
  start_dq import "$D" --cache-mb 0
  local dq_pid=$DQ_PID auth="Authorization: Bearer $tok"
  local doc='{"accession":"I9-PATCH-1","title":{"zh":"补丁测试图","en":"Patch Probe"},"dynasty":"ming","object_type":"handscroll","restricted":false}'
  curl -s -D "$I/post.h" -o "$I/post.json" -H "$auth" -H 'Content-Type: application/json' \
    --data-binary "$doc" "$DQ_URL/api/relics"
  local rid; rid=$(jq -r .id "$I/post.json")
  [ -n "$rid" ] && [ "$rid" != null ] || { say "could not create the relic to patch:"; cat "$I/post.h" "$I/post.json" >&2; exit 1; }
  # Idle: uncached tiles at a modest load (wrk -t1 -c4), /health probed every 20 ms.
  say "import: idle tile p99 and /health (${secs}s) ..."
  health_probe() { # until the file $1 exists: one /health request every 20 ms -> code time
    while [ ! -e "$1" ]; do
      curl -s -o /dev/null -w '%{http_code} %{time_total}\n' "$DQ_URL/health" || echo "000 99"
      sleep 0.02
    done
  }
  rm -f "$I/stop.idle" "$I/stop.busy"
  health_probe "$I/stop.idle" > "$I/health.idle" &
  local hp=$!
  local idle; idle=$(run_wrk import-idle "$DQ_URL" "$I/tiles.dq" -t1 -c4 -d"${secs}s")
  touch "$I/stop.idle"; wait "$hp" || true
  # Busy: the same while `danqing import` writes $nrel rows; wrk stops (SIGINT, it then
  # reports) when the import ends. PATCHes of one relic every 1.5 s, each timed.
  say "import: $nrel rows while serving (load $(load)) ..."
  local t0; t0=$(date +%s.%N)
  build/danqing --data "$D" import "$I/relics-$nrel.jsonl" > "$I/import.out" 2> "$I/import.err" &
  local imp=$!
  health_probe "$I/stop.busy" > "$I/health.busy" &
  hp=$!
  wrk -t1 -c4 -d600s --timeout 10s -s bench/walk.lua "$DQ_URL" -- "$I/tiles.dq" > "$I/import-busy.wrk" 2>&1 &
  local wp=$!
  : > "$I/patch.txt"
  local n=0
  sleep 1
  while kill -0 "$imp" 2> /dev/null; do
    local etag; etag=$(curl -s -m 20 -o /dev/null -D - -H "$auth" "$DQ_URL/api/relics/$rid" | tr -d '\r' | awk 'tolower($1) == "etag:" {print $2}')
    n=$((n + 1))
    curl -s -m 20 -o "$I/patch.body" -w '%{http_code} %{time_total}\n' -X PATCH -H "$auth" \
      -H 'Content-Type: application/merge-patch+json' -H "If-Match: ${etag:-\"v0\"}" \
      --data-binary "{\"title\":{\"en\":\"Patch Probe $n\"}}" "$DQ_URL/api/relics/$rid" >> "$I/patch.txt" || echo "000 99" >> "$I/patch.txt"
    sleep 1.5
  done
  wait "$imp" && local irc=0 || local irc=$?
  local t1; t1=$(date +%s.%N)
  kill -INT "$wp" 2> /dev/null || true; wait "$wp" 2> /dev/null || true
  touch "$I/stop.busy"; wait "$hp" || true
  local busy; busy=$(wrk_parse "$I/import-busy.wrk")
  local secs_imp; secs_imp=$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.1f", b - a}')
  say "import: exit $irc in $secs_imp s; tiles idle [$idle] busy [$busy]; patches: $(tr '\n' ' ' < "$I/patch.txt")"
  local hi hb hmax hbad
  hi=$(awk '{print $2 * 1000}' "$I/health.idle" | pctl 99)
  hb=$(awk '{print $2 * 1000}' "$I/health.busy" | pctl 99)
  hmax=$(awk '{print $2 * 1000}' "$I/health.busy" | maximum)
  hbad=$(awk '$1 != 200' "$I/health.busy" | wc -l)
  row import "rows imported while serving (s, exit status)" "$nrel in $secs_imp s (exit $irc)" "" "" "" ""
  row import "/health p99 ms during import (idle; max; non-200)" "$hb ($hi; $hmax; $hbad of $(wc -l < "$I/health.busy"))" "" "" "< 50" "$(verdict '<' "$hb" 50)"
  local ti tb; ti=$(echo "$idle" | cut -d' ' -f3); tb=$(echo "$busy" | cut -d' ' -f3)
  local tr; tr=$(ratio "$tb" "$ti")
  row import "uncached tile p99 ms, import / idle (wrk -t1 -c4)" "$tb / $ti" "" "$tr" "<= 2.00" "$(verdict '<=' "$tr" 2)"
  row import "tile req/s during import (idle)" "$(echo "$busy" | cut -d' ' -f1) ($(echo "$idle" | cut -d' ' -f1))" "" "" "" ""
  local pmax pcodes pok
  pmax=$(awk '{print $2}' "$I/patch.txt" | maximum)
  pcodes=$(awk '{print $1}' "$I/patch.txt" | sort | uniq -c | awk '{printf "%s%sx%s", s, $1, $2; s = " "}')
  pok=$(awk '($1 != 200 && $1 != 503) || $2 > 2 {bad++} END {print bad ? "MISS" : "ok"}' "$I/patch.txt")
  [ -s "$I/patch.txt" ] || pok=n/a
  row import "PATCH during import: slowest s (status counts)" "${pmax:-n/a} (${pcodes:-none})" "" "" "200/503 in <= 2 s" "$pok"
  stop_pid "$dq_pid"
}

part_search() {
  [ -n "${DQ_BENCH_SEARCH_DATA:-}" ] || need_relics
  local D=$I/search-data PKGS LIBS
  # the build's own package list and link line, as make expands them (PKGS spans two lines)
  PKGS=$({ make -pnq -f Makefile nothing 2> /dev/null || true; } | sed -n 's/^PKGS := //p')
  LIBS=$({ make -pnq -f Makefile nothing 2> /dev/null || true; } | sed -n 's/^LIBS := //p')
  make --no-print-directory build/rel/libdanqing.a > /dev/null
  # A C API that changed under the bench costs the C API rows, not the HTTP ones.
  rm -f "$I/catalog_query_bench" "$I/capi.txt"
  cc -O2 -std=c11 -Wall -Wextra -Werror -D_DEFAULT_SOURCE -Isrc $(pkg-config --cflags $PKGS) \
    -o "$I/catalog_query_bench" bench/catalog_query_bench.c build/rel/libdanqing.a \
    $LIBS || say "search: bench/catalog_query_bench.c does not build"
  if [ -n "${DQ_BENCH_SEARCH_DATA:-}" ]; then # an existing catalog of $nrel generated records
    D=$DQ_BENCH_SEARCH_DATA
    say "search: the catalog in $D (load $(load))"
  else
    rm -rf "$D"
    local t0=$SECONDS
    build/danqing --data "$D" import "$I/relics-$nrel.jsonl" > /dev/null
    say "search: imported $nrel records in $((SECONDS - t0)) s (load $(load))"
  fi
  if [ -x "$I/catalog_query_bench" ]; then
    "$I/catalog_query_bench" "$D" "$runs" > "$I/capi.txt" || say "search: catalog_query_bench failed"
    cat "$I/capi.txt" >&2
  fi
  touch "$I/capi.txt"
  start_dq search "$D" --cache-mb 0
  local dq_pid=$DQ_PID dq_url=$DQ_URL base_pid="" base_url=""
  curl -s -o /dev/null "$DQ_URL/api/relics?facets=1" # builds the in-memory index once
  if [ -n "${DQ_BENCH_BASE_BIN:-}" ]; then # an older build on the same catalog, interleaved
    DQ_SERVE_BIN=$DQ_BENCH_BASE_BIN start_dq search-base "$D" --cache-mb 0
    base_pid=$DQ_PID base_url=$DQ_URL
    curl -s -o /dev/null "$base_url/api/relics?facets=1"
  fi
  : > "$I/http.txt"
  : > "$I/http-base.txt"
  # http_runs ORIGIN PID QUERY: one line "QUERY p50 p95 non-200 server-CPU-ms-per-search"
  http_runs() {
    local k n0 n1 p50 p95 bad cpu
    for k in $(seq 1 "$runs"); do printf 'url = "%s"\noutput = "/dev/null"\n' "$1/api/relics?$3"; done > "$I/q.curl"
    n0=$(cpu_ns "$2")
    curl -s -K "$I/q.curl" -w '%{http_code} %{time_total}\n' > "$I/q.times"
    n1=$(cpu_ns "$2")
    p50=$(awk '{print $2 * 1000}' "$I/q.times" | median)
    p95=$(awk '{print $2 * 1000}' "$I/q.times" | pctl 95)
    bad=$(awk '$1 != 200' "$I/q.times" | wc -l)
    # server CPU per search, every thread of the server (mean over the runs)
    cpu=$(awk -v a="$n0" -v b="$n1" -v n="$runs" 'BEGIN {printf "%.2f", (b - a) / 1e6 / n}')
    echo "$3 $p50 $p95 $bad $cpu"
  }
  local q
  for q in 'q=%E5%BC%A0%E6%8B%A9%E7%AB%AF&facets=1' 'q=%E6%BA%AA%E5%B1%B1%E8%A1%8C%E6%97%85&facets=1' \
    'q=autumn%20mountains&facets=1' 'q=%E5%B1%B1%E6%B0%B4&facets=1' \
    'q=landscape&dynasty=ming&facets=1' 'dynasty=northern_song&object_type=handscroll&facets=1' \
    'year_from=1100&year_to=1200&facets=1' 'q=qiushan&facets=1' 'q=xsxl&facets=1' \
    'q=wind%20in%20the%20pines&facets=1' 'subject=landscape&sort=date&facets=1' 'facets=1' \
    'q=%E5%B1%B1%E6%B0%B4'; do
    http_runs "$dq_url" "$dq_pid" "$q" >> "$I/http.txt"
    [ -z "$base_pid" ] || http_runs "$base_url" "$base_pid" "$q" >> "$I/http-base.txt"
  done
  stop_pid "$dq_pid"
  [ -z "$base_pid" ] || stop_pid "$base_pid"
  # C API lines: "  NAME  p50 X ms  p95 Y ms  total N"
  capi() { awk -v k="$1" 'index($0, k) && /total/ {c = "n/a"; for (i = 1; i <= NF; i++) {if ($i == "p50") a = $(i + 1); if ($i == "p95") b = $(i + 1); if ($i == "cpu50") c = $(i + 1); if ($i == "total") t = $(i + 1)}} END {print a, b, t, c}' "$I/capi.txt"; }
  http() { awk -v k="$1" '$1 == k {print $2, $3, $4, $5}' "$I/http.txt"; }
  local name key qs target
  for spec in '张择端|creator name 张择端 + facets|q=%E5%BC%A0%E6%8B%A9%E7%AB%AF&facets=1|sel' \
    '溪山行旅|text 溪山行旅 + facets|q=%E6%BA%AA%E5%B1%B1%E8%A1%8C%E6%97%85&facets=1|sel' \
    'autumn mountains|English "autumn mountains" + facets|q=autumn%20mountains&facets=1|' \
    '山水 + facets|text 山水 + facets|q=%E5%B1%B1%E6%B0%B4&facets=1|'; do
    IFS='|' read -r name key qs target <<< "$spec"
    local c h; c=$(capi "$key"); h=$(http "$qs")
    local c50 c95 ct h50 h95 hb
    local ccpu hcpu
    read -r c50 c95 ct ccpu <<< "$c"; read -r h50 h95 hb hcpu <<< "$h"
    if [ "$target" = sel ]; then
      row search "$name ($ct hits): C API p50 / p95 ms" "$c50 / $c95" "" "" "p50 <= 2" "$(verdict '<=' "$c50" 2)"
      # thread CPU per search: what load does not inflate as much as wall time
      row search "$name: C API thread CPU p50 ms" "$ccpu" "" "" "" ""
      row search "$name: HTTP p50 / p95 ms" "$h50 / $h95" "" "" "p50 <= 3" "$(verdict '<=' "$h50" 3)"
      row search "$name: HTTP server CPU ms per search (all threads, mean)" "$hcpu" "" "" "" ""
    else
      row search "$name ($ct hits): C API p50 / p95 ms" "$c50 / $c95" "" "" "" ""
      row search "$name: HTTP p50 / p95 ms" "$h50 / $h95" "" "" "p95 < 30" "$(verdict '<' "$h95" 30)"
    fi
  done
  local worst worstq nbad
  worst=$(awk '{print $3}' "$I/http.txt" | maximum)
  worstq=$(sort -g -k3 "$I/http.txt" | tail -n 1 | cut -d' ' -f1)
  nbad=$(awk '{s += $4} END {print s + 0}' "$I/http.txt")
  row search "every HTTP query ($(wc -l < "$I/http.txt")): worst p95 ms (query; non-200)" "$worst ($worstq; $nbad)" "" "" "< 30" "$(verdict '<' "$worst" 30)"
  local hq h50 h95 hbad hcpu
  while read -r hq h50 h95 hbad hcpu; do # every query: p50 / p95 ms, server CPU ms per search
    row search "HTTP $hq: p50 / p95 ms (server CPU ms)" "$h50 / $h95 ($hcpu)" "" "" "p95 < 30" "$(verdict '<' "$h95" 30)"
  done < "$I/http.txt"
  while read -r hq h50 h95 hbad hcpu; do
    row search "base build ($DQ_BENCH_BASE_BIN) HTTP $hq: p50 / p95 ms (server CPU ms)" "$h50 / $h95 ($hcpu)" "" "" "" ""
  done < "$I/http-base.txt"
}

region_list() { # round: a fresh random list per round (same for both servers), so no server
  # meets a region it has already rendered (and cached) in an earlier round
  awk -v W="$W" -v H="$H" -v seed="$1" 'BEGIN { srand(seed)
    for (i = 0; i < 4000; i++) {
      w = int(512 * (1.2 + rand() * 6.8)); if (w > W) w = W
      h = int(w * (0.5 + rand() * 0.7)); if (h > H) h = H
      x = int(rand() * (W - w + 1)); y = int(rand() * (H - h + 1))
      printf "%d,%d,%d,%d/512,/0/default.jpg\n", x, y, w, h } }' > "$I/regions-$1.rel"
  sed 's#^#/iiif/3/bench/#' "$I/regions-$1.rel" > "$I/regions-$1.dq"
  sed 's#^#/iiif/bench.tif/#' "$I/regions-$1.rel" > "$I/regions-$1.iip"
}

part_regions() {
  need_image
  rm -rf "$I/iip" && mkdir -p "$I/iip"
  ln -s "$(ls "$I"/data/pyramids/bench.*.tif)" "$I/iip/bench.tif"  # pyramids/<id>.<sha16>.tif
  # Equal cache budgets: 64 MiB for danqing's response cache and for each iipsrv process.
  start_dq regions "$I/data" --cache-mb 64
  local dq_pid=$DQ_PID pi
  pi=$(pick_port 18400)
  IIPSRV_PROCS=$(nproc) MAX_IMAGE_CACHE_SIZE=64 bench/iipsrv.sh start "$pi" "$I/iip" "$I/iiprun" > "$I/iipsrv.out"
  wait_port "$pi"
  say "regions: 512-px random regions, $rounds rounds x ${secs}s x 2 servers (load $(load))"
  ROUND_LIST_HOOK=region_list compare regions danqing "$DQ_URL" "$I/regions-@R@.dq" \
    iipsrv "http://127.0.0.1:$pi" "$I/regions-@R@.iip"
  compare_rows regions danqing iipsrv 2 "512-px regions"
  stop_pid "$dq_pid"
  bench/iipsrv.sh stop "$I/iiprun" > /dev/null || true
}

# All of it runs from one function, read in full before it starts, so that editing this file
# while a bench runs cannot change the run.
main() {
  load0=$(load)
  for p in "${parts[@]}"; do
    case $p in
      tiles-nocache) part_tiles tiles-nocache 0 0.8 ;;
      tiles-cache) part_tiles tiles-cache 256 1.0 ;;
      import) part_import ;;
      search) part_search ;;
      regions) part_regions ;;
    esac
  done
  {
    echo "danqing issue 9 bench $(date -u +%Y-%m-%dT%H:%M:%SZ)  commit $(git rev-parse --short HEAD 2> /dev/null || echo ?)  $(nproc) cores"
    echo "master ${W}x${H}; wrk -t2 -c$conns, $rounds interleaved rounds of ${secs}s per server; $nrel records; $runs searches per query"
    echo "load average (1/5/15 min): $load0 at start, $(load) at end"
    echo
    echo "| part | metric | danqing | peer | ratio | target | verdict |"
    echo "|---|---|---|---|---|---|---|"
    for p in "${parts[@]}"; do [ ! -f "$I/$p.row" ] || cat "$I/$p.row"; done
  } | tee "$I/table.md"
}
main; exit # on one line: bash has read both before main runs
