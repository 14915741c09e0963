#!/bin/sh
# catalog_bench.sh: the catalog benchmark. Generates N relic records (default 500000) as JSON
# Lines with bench/gen_relics.c, times `danqing import` into a fresh data directory, then runs
# typical searches (text + facets, filters only, year range, pinyin, initials, English) through
# the C API with bench/catalog_query_bench.c and prints p50/p95 per query and the bare FTS5
# MATCH time; with a running server (DANQING_URL, e.g. http://127.0.0.1:8080) also times
# /api/relics over HTTP with curl. Run from the repository root; run it once, not in a loop.
set -eu
N=${1:-500000}
RUNS=${RUNS:-30}
WORK=${WORK:-build/bench-catalog}
PKGS="vips libmicrohttpd jansson sqlite3 libsodium lcms2 libtiff-4 libjpeg libturbojpeg libpng opencc"

make --no-print-directory build/danqing build/rel/libdanqing.a >/dev/null
mkdir -p "$WORK"
cc -O2 -std=c11 -Wall -Wextra -Werror -o "$WORK/gen_relics" bench/gen_relics.c
cc -O2 -std=c11 -Wall -Wextra -Werror -D_DEFAULT_SOURCE -Isrc $(pkg-config --cflags $PKGS) \
    -o "$WORK/catalog_query_bench" bench/catalog_query_bench.c build/rel/libdanqing.a \
    $(pkg-config --libs $PKGS) -lbz2 -lm -lpthread

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

if [ -n "${DANQING_URL:-}" ] && command -v curl >/dev/null; then
    echo "== searches over HTTP ($DANQING_URL/api/relics)"
    for q in 'q=%E5%B1%B1%E6%B0%B4&facets=1' 'dynasty=northern_song&object_type=handscroll&facets=1' \
             'year_from=1100&year_to=1200&facets=1' 'q=qiushan&facets=1' 'q=landscape&dynasty=ming&facets=1'; do
        i=0; : >"$WORK/t.txt"
        while [ $i -lt "$RUNS" ]; do
            curl -s -o /dev/null -w '%{time_total}\n' "$DANQING_URL/api/relics?$q" >>"$WORK/t.txt"
            i=$((i + 1))
        done
        sort -n "$WORK/t.txt" | awk -v q="$q" '{a[NR]=$1} END {printf "  %-55s p50 %6.1f ms  p95 %6.1f ms\n", q, a[int(NR/2)+1]*1000, a[int(NR*0.95)+1 > NR ? NR : int(NR*0.95)+1]*1000}'
    done
fi
