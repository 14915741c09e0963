#!/bin/sh
# search_ab.sh: the C API's cost per search of two builds on the same catalog, interleaved
# (before, after, before, after, ...) so that both meet the same machine load. Each repetition
# runs bench/catalog_query_bench.c (RUNS searches per query) linked against each build's
# libdanqing.a and keeps its thread-CPU p50 per query (on a shared machine wall time mostly
# measures the scheduler); at the end, per query and build: the median and the largest of the
# repetitions' p50s, and the load average.
# Usage: bench/search_ab.sh BEFORE_DIR DATA_DIR [RUNS (100)] [REPS (5)]
#   BEFORE_DIR: repository root of the old build (with build/rel/libdanqing.a), as for
#   bench/catalog_compare.sh, whose DATA_DIR (build/bench-compare/data-after) serves here too.
set -eu
BEFORE=$1 DATA=$2 RUNS=${3:-100} REPS=${4:-5}
W=${WORK:-build/bench-ab}
PKGS=$({ make -pnq -f Makefile nothing 2> /dev/null || true; } | sed -n 's/^PKGS := //p')
LIBS=$({ make -pnq -f Makefile nothing 2> /dev/null || true; } | sed -n 's/^LIBS := //p')
make --no-print-directory build/rel/libdanqing.a > /dev/null
mkdir -p "$W"
for side in before after; do
    root=$([ $side = before ] && echo "$BEFORE" || echo .)
    # shellcheck disable=SC2086 # PKGS and LIBS are word lists
    cc -O2 -std=c11 -Wall -Wextra -Werror -D_DEFAULT_SOURCE -I"$root/src" \
        $(pkg-config --cflags $PKGS) -o "$W/cqb_$side" bench/catalog_query_bench.c \
        "$root/build/rel/libdanqing.a" $LIBS
done
: > "$W/cpu.txt"
echo "load at start: $(cut -d' ' -f1-3 /proc/loadavg)"
for r in $(seq 1 "$REPS"); do
    for side in before after; do
        # "  NAME  p50 X ms  p95 Y ms  cpu50 Z ms  total N" -> "side|NAME|Z"
        "$W/cqb_$side" "$DATA" "$RUNS" + | awk -v s=$side '/cpu50/ {n = $0; sub(/^  /, "", n);
            sub(/ +p50 .*/, "", n); for (i = 1; i <= NF; i++) if ($i == "cpu50") print s "|" n "|" $(i + 1)}' >> "$W/cpu.txt"
    done
    echo "repetition $r done (load $(cut -d' ' -f1-3 /proc/loadavg))"
done
echo
echo "| query | before: median (max) of $REPS thread-CPU p50s, ms | after | after / before |"
echo "|---|---|---|---|"
cut -d'|' -f2 "$W/cpu.txt" | awk '!seen[$0]++' | while read -r q; do
    b=$(awk -F'|' -v q="$q" '$1 == "before" && $2 == q {print $3}' "$W/cpu.txt" | sort -g | awk '{a[NR] = $1} END {m = NR % 2 ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2; printf "%.2f (%.2f)", m, a[NR]}')
    a=$(awk -F'|' -v q="$q" '$1 == "after" && $2 == q {print $3}' "$W/cpu.txt" | sort -g | awk '{a[NR] = $1} END {m = NR % 2 ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2; printf "%.2f (%.2f)", m, a[NR]}')
    echo "| $q | $b | $a | $(echo "$a $b" | awk '{printf "%.2f", $1 / $3}') |"
done
echo
echo "load at end: $(cut -d' ' -f1-3 /proc/loadavg)"
