#!/usr/bin/env bash
# Profiles `danqing serve` under wrk with perf: the 512-px region path or the cache-off tile
# path of the issue 9 bench (bench/issue9.sh makes the master, pyramid and URL lists; run one
# of its parts first). Prints the top symbols (self time, whole process) and keeps perf.data.
# usage: bench/profile.sh regions|tiles-nocache [SECONDS]   (default 15)
# env: DQ_PROFILE_CALLGRAPH=1 records call graphs (--call-graph dwarf; big, slow to report);
#      DQ_PROFILE_CONNS wrk connections (default 32; the render queue answers 503 past
#      slots + 8 per slot waiting, so profile renders with fewer); DQ_BENCH_SERVE_ARGS.
set -euo pipefail
cd "$(dirname "$0")/.."
what=${1:?usage: bench/profile.sh regions|tiles-nocache [SECONDS]} secs=${2:-15}
I=$PWD/build/bench/i9
[ -f "$I/tiles.dq" ] && [ -d "$I/data" ] || { echo "run bench/issue9.sh tiles-nocache first" >&2; exit 2; }
case $what in
  regions) cache=64
    [ -f "$I/regions-1.dq" ] || { echo "run bench/issue9.sh regions first" >&2; exit 2; }
    list=$I/regions-1.dq ;;
  tiles-nocache) cache=0 list=$I/tiles.dq ;;
  *) echo "usage: bench/profile.sh regions|tiles-nocache [SECONDS]" >&2; exit 2 ;;
esac
out=$I/profile-$what
rm -f "$out.serve"
# shellcheck disable=SC2086 # extra serve options, word-split
build/danqing --data "$I/data" --listen 127.0.0.1:0 --log-level 3 serve --cache-mb "$cache" ${DQ_BENCH_SERVE_ARGS:-} > "$out.serve" 2>&1 &
pid=$!
trap 'kill "$pid" 2> /dev/null || true' EXIT
for _ in $(seq 1 300); do grep -q 'listening on' "$out.serve" && break; sleep 0.1; done
url=$(sed -n 's#.*listening on \(http://[^/ ]*\).*#\1#p' "$out.serve" | head -n 1)
[ -n "$url" ] || { echo "serve did not start" >&2; cat "$out.serve" >&2; exit 1; }
# A short warm-up (page cache, first pyramid open), then wrk and perf over the same window.
conns=${DQ_PROFILE_CONNS:-32}
wrk -t2 -c"$conns" -d2s -s bench/walk.lua "$url" -- "$list" > /dev/null 2>&1 || true
cg=()
[ -n "${DQ_PROFILE_CALLGRAPH:-}" ] && cg=(--call-graph dwarf,16384)
wrk -t2 -c"$conns" -d"$((secs + 2))s" --timeout 10s -s bench/walk.lua "$url" -- "$list" > "$out.wrk" 2>&1 &
wp=$!
sleep 1
perf record -q -F 499 "${cg[@]}" -p "$pid" -o "$out.data" -- sleep "$secs" 2> /dev/null
wait "$wp" || true
echo "== $what: $(sed -n 's/.*ok_rps=\([0-9.]*\).*/\1/p' "$out.wrk") ok req/s ($(sed -n 's/.*non2xx=\([0-9]*\).*/\1/p' "$out.wrk") non-2xx) under perf; load $(cut -d' ' -f1-3 /proc/loadavg)"
perf report -i "$out.data" --no-children --sort dso,symbol --stdio 2> /dev/null |
  grep -v '^#' | grep -v '^$' | head -n "${DQ_PROFILE_TOP:-30}"
echo "perf data: $out.data (perf report -i $out.data)"
