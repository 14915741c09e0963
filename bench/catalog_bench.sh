#!/bin/sh
# catalog_bench.sh: the catalog benchmark. Generates N relic records (default 500000) as JSON
# Lines with bench/gen_relics.c, times `danqing import` into a fresh data directory, then runs
# typical searches (text + facets, filters only, year range, pinyin, initials, English) through
# the C API with bench/catalog_query_bench.c and prints p50/p95 per query and the bare FTS5
# MATCH time, then starts `danqing serve` on a loopback port (port 0: the kernel picks) and
# times the same kind of searches through /api/relics with curl (DANQING_URL: use a running
# server instead). Run from the repository root; run it once, not in a loop.
# env: DQ_BENCH_RELICS=N (or $1) records, default 500000; RUNS per query (30).
# Targets (issue 4): import >= 10,000 records/s; each query p95 < 30 ms; open < 200 ms.
set -eu
N=${1:-${DQ_BENCH_RELICS:-500000}}
RUNS=${RUNS:-30}
WORK=${WORK:-build/bench-catalog}
# the build's own package list and link line, as make expands them (PKGS spans two lines)
PKGS=$({ make -pnq -f Makefile nothing 2> /dev/null || true; } | sed -n 's/^PKGS := //p')
LIBS=$({ make -pnq -f Makefile nothing 2> /dev/null || true; } | sed -n 's/^LIBS := //p')

make --no-print-directory build/danqing build/rel/libdanqing.a >/dev/null
mkdir -p "$WORK"
cc -O2 -std=c11 -Wall -Wextra -Werror -o "$WORK/gen_relics" bench/gen_relics.c
cc -O2 -std=c11 -Wall -Wextra -Werror -D_DEFAULT_SOURCE -Isrc $(pkg-config --cflags $PKGS) \
    -o "$WORK/catalog_query_bench" bench/catalog_query_bench.c build/rel/libdanqing.a \
    $LIBS

echo "== generating $N records"
"$WORK/gen_relics" "$N" >"$WORK/relics.jsonl"
ls -l "$WORK/relics.jsonl" | awk '{printf "   %.1f MB\n", $5 / 1e6}'

echo "== danqing import (fresh data dir)"
rm -rf "$WORK/data"
build/danqing --data "$WORK/data" import "$WORK/relics.jsonl"
echo "== danqing import again (idempotent: all unchanged)"
build/danqing --data "$WORK/data" import "$WORK/relics.jsonl"
ls -l "$WORK/data/catalog.sqlite" | awk '{printf "   catalog.sqlite %.0f MB\n", $5 / 1e6}'

echo "== searches through the C API ($RUNS runs each, anonymous, limit 24)"
"$WORK/catalog_query_bench" "$WORK/data" "$RUNS"

command -v curl >/dev/null || { echo "== no curl: HTTP part skipped"; exit 0; }
SERVER_PID=
if [ -z "${DANQING_URL:-}" ]; then
    build/danqing --data "$WORK/data" --listen 127.0.0.1:0 --threads 2 --log-level 3 serve \
        >"$WORK/serve.log" 2>&1 &
    SERVER_PID=$!
    trap 'kill "$SERVER_PID" 2>/dev/null || true' EXIT
    i=0
    while ! grep -q 'listening on' "$WORK/serve.log" && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
    DANQING_URL=$(sed -n 's/.*listening on \(http[^ ]*\).*/\1/p' "$WORK/serve.log" | head -n 1)
    DANQING_URL=${DANQING_URL%/}
    [ -n "$DANQING_URL" ] || { echo "serve did not start:"; cat "$WORK/serve.log"; exit 1; }
fi
echo "== searches over HTTP ($DANQING_URL/api/relics, $RUNS runs each, anonymous)"
# The first search builds the server's in-memory search index: timed on its own.
curl -s -o /dev/null -w '  first search (builds the search index): %{time_total} s\n' \
    "$DANQING_URL/api/relics?facets=1"
for q in 'q=%E5%B1%B1%E6%B0%B4&facets=1' 'q=%E6%BA%AA%E5%B1%B1%E8%A1%8C%E6%97%85&facets=1' \
         'q=landscape&dynasty=ming&facets=1' 'dynasty=northern_song&object_type=handscroll&facets=1' \
         'year_from=1100&year_to=1200&facets=1' 'q=qiushan&facets=1' 'q=xsxl&facets=1' \
         'q=wind%20in%20the%20pines&facets=1' 'q=%E5%BC%A0%E6%8B%A9%E7%AB%AF&facets=1' \
         'subject=landscape&sort=date&facets=1' 'facets=1' 'q=%E5%B1%B1%E6%B0%B4'; do
    i=0; : >"$WORK/t.txt"
    while [ $i -lt "$RUNS" ]; do
        curl -s -o /dev/null -w '%{time_total}\n' "$DANQING_URL/api/relics?$q" >>"$WORK/t.txt"
        i=$((i + 1))
    done
    sort -n "$WORK/t.txt" | awk -v q="$q" '{a[NR]=$1} END {i=int(NR*0.95)+1; if (i>NR) i=NR; printf "  %-55s p50 %6.1f ms  p95 %6.1f ms\n", q, a[int(NR/2)+1]*1000, a[i]*1000}'
done
