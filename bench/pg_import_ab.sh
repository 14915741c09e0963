#!/bin/bash
# pg_import_ab.sh (issue 15): the PostgreSQL import's CPU per record of two danqing builds,
# interleaved (before, after, before, after, ...) so that both meet the same machine load.
# Each run imports the same N bench/gen_relics.c records into a fresh schema of one private
# cluster (tests/pg-cluster.sh with bench/pg_bench.sh's settings; stopped and removed at the
# end, also on failure) and reports, in us of CPU per record: the danqing import (every
# thread), the whole cluster, and the two writer backends apart (the search-row backend and
# the main one: docs/deploy.md "Bulk loads"; the three busiest backends, most first), sampled
# every 0.1 s. The last run of each build
# also samples the search backend's wait event every ~20 ms: running, waiting for the client
# inside a COPY, or idle between a commit and the next batch's rows. On a shared machine the
# CPU per record measures the work; wall rates mostly measure the other processes.
# Usage: bench/pg_import_ab.sh BEFORE_BIN AFTER_BIN [N (50000)] [REPS (3)]
# (BEFORE_BIN: e.g. a build of main before a change, copied out of build/ first)
set -eu
BEFORE=$1 AFTER=$2 N=${3:-50000} REPS=${4:-3}
W=${WORK:-build/bench-import-ab}
export DQ_PG_SETTINGS="${DQ_PG_SETTINGS:-shared_buffers=1GB work_mem=32MB maintenance_work_mem=256MB}"
rm -rf "$W"
mkdir -p "$W"
SAMP=
cleanup() {
    [ -z "$SAMP" ] || kill "$SAMP" 2>/dev/null || true
    tests/pg-cluster.sh stop "$PWD/$W/pg" >/dev/null 2>&1 || true
}
trap cleanup EXIT INT TERM
cc -O2 -std=c11 -Wall -Wextra -Werror -o "$W/gen_relics" bench/gen_relics.c
"$W/gen_relics" "$N" >"$W/relics.jsonl"
URL=$(tests/pg-cluster.sh start "$PWD/$W/pg")
PM=$(head -n 1 "$W/pg/data/postmaster.pid")
ns_of() { cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{s += $1} END {printf "%.0f", s}'; }
cluster_ns() {
    { for c in $(pgrep -P "$PM"); do ns_of "$c"; echo; done
      awk -v hz="$(getconf CLK_TCK)" '{printf "%.0f\n", ($16 + $17) * 1e9 / hz}' /proc/"$PM"/stat; } |
        awk '{s += $1} END {printf "%.0f", s}'
}
# run BIN TAG WAITS: one import; prints "TAG client cluster search main rate"
run() {
    psql -X -q "$URL" -c "CREATE SCHEMA $2" >/dev/null
    local cat="$URL?options=-csearch_path%3D$2" d="$W/data-$2"
    "$1" --data "$d" --catalog "$cat" user list >/dev/null 2>&1 || true
    while :; do
        for c in $(pgrep -P "$PM"); do echo "$c $(ns_of "$c")"; done
        sleep 0.1
    done >"$W/$2.samp" &
    SAMP=$!
    local g0 t0 t1 g1
    g0=$(cluster_ns)
    t0=$(date +%s.%N)
    /usr/bin/time -f '%U %S' -o "$W/$2.time" "$1" --data "$d" --catalog "$cat" \
        import "$W/relics.jsonl" >"$W/$2.log" 2>&1 &
    local ip=$!
    if [ "$3" = 1 ]; then # every backend's wait event and statement (its first 14 bytes)
        while kill -0 "$ip" 2>/dev/null; do
            echo "SELECT pid, coalesce(wait_event, 'CPU'), replace(left(query, 14), ' ', '_')" \
                 "FROM pg_stat_activity WHERE datname = 'danqing'" \
                 "AND backend_type = 'client backend' AND pid <> pg_backend_pid();"
            sleep 0.02
        done | psql -X -A -t -F' ' "$URL" >"$W/$2.waits" 2>/dev/null
    fi
    wait "$ip"
    t1=$(date +%s.%N)
    g1=$(cluster_ns)
    kill "$SAMP"
    wait "$SAMP" 2>/dev/null || true
    SAMP=
    read -r u s <"$W/$2.time"
    # the three backends that took the most CPU: the search-row ones (one or two: an import's
    # two search halves), then the main one, as "a/b/c"
    set -- "$2" "$(awk -v n="$N" '$2 != "" {if (!($1 in f)) f[$1] = $2; if ($2 > m[$1]) m[$1] = $2}
        END {for (p in m) printf "%.1f\n", (m[p] - f[p]) / n / 1e3}' "$W/$2.samp" | sort -nr |
        head -n 3 | paste -sd/) "
    echo "$1 $(echo "$u $s $g0 $g1 $N" | awk '{printf "%.1f %.1f", ($1 + $2) * 1e6 / $5,
        ($4 - $3) / 1e3 / $5}') $2$(echo "$N $t0 $t1" | awk '{printf "%.0f", $1 / ($3 - $2)}')"
    psql -X -q "$URL" -c "SET client_min_messages = warning" -c "DROP SCHEMA $1 CASCADE" >/dev/null
    rm -rf "$d"
}
echo "load at start: $(cut -d' ' -f1-3 /proc/loadavg)"
: >"$W/runs.txt"
for r in $(seq 1 "$REPS"); do
    last=$([ "$r" = "$REPS" ] && echo 1 || echo 0)
    run "$BEFORE" "before$r" "$last" >>"$W/runs.txt"
    run "$AFTER" "after$r" "$last" >>"$W/runs.txt"
done
echo "load at end: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "| run | client us/rec | cluster us/rec | the three busiest backends, us/rec | records/s |"
echo "|---|---:|---:|---:|---:|"
awk '{printf "| %s | %s | %s | %s | %s |\n", $1, $2, $3, $4, $5}' "$W/runs.txt"
echo
echo "The search backend's samples in the last run of each (wait event, statement):"
for side in before after; do
    f="$W/$side$REPS.waits"
    [ -s "$f" ] || continue
    pid=$(awk '$3 == "COPY_relic_fts" {n[$1]++} END {for (p in n) print n[p], p}' "$f" |
          sort -nr | head -n 1 | cut -d' ' -f2)
    awk -v p="$pid" -v s="$side" '$1 == p {
            if ($2 == "CPU") k = "running"
            else if ($2 != "ClientRead") k = $2
            else if ($3 ~ /^COPY/) k = "waiting for the client inside a COPY"
            else k = "idle between batches"
            n[k]++; t++
        }
        END {for (k in n) printf "  %s: %s %.1f %%\n", s, k, 100 * n[k] / t}' "$f" | sort
done
