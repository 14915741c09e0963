#!/bin/sh
# pg_bench.sh (issue 15): PostgreSQL against SQLite on the same records, side by side. Generates
# N relic records (bench/gen_relics.c, default 500,000), imports them into a fresh SQLite
# catalog and into a fresh PostgreSQL one (a private cluster made by tests/pg-cluster.sh under
# $WORK, loopback only, stopped and removed at the end, also on failure; durability settings as
# a test cluster has them: fsync off), then serves each catalog with `danqing serve` and times
# the same searches through /api/relics with curl (RUNS each, anonymous), printing p50/p95 per
# query for both. Writes the table to $WORK/issue15-pg.md. Run from the repository root, once.
# env: N (or $1) records; RUNS per query (30); WORK (build/bench-pg).
# Searches only, on catalogs made before (no generation, no import): PG_BENCH_SQ_DATA (a data
# directory with catalog.sqlite) and PG_BENCH_PG_URL (a catalog URL; PG_BENCH_PG_DIR its
# cluster's folder, for the server CPU of PostgreSQL).
# Each query row also gives the CPU per search (user + system, every thread, mean over RUNS):
# of the danqing server, and for PostgreSQL of its backends as well (the machine is shared and
# loaded: CPU per search measures the work, wall time mostly the scheduler).
# IMPORT_ONLY=1: the imports alone (no servers, no searches), with the CPU each took per record:
# of the danqing import process (user + system, every thread) and, for PostgreSQL, of the
# server (every backend and background process of the bench's cluster: the writer's backend,
# autovacuum, the WAL writer), and of its three writer backends apart (sampled every 0.5 s). On a
# shared machine the CPU per record measures the work; the wall rate is what the other
# processes leave.
# Targets (issue 15): PostgreSQL import >= 5,000 records/s; every search p95 < 50 ms.
# The cluster gets memory as docs/deploy.md sets it, scaled to this shared machine
# (DQ_PG_SETTINGS, tests/pg-cluster.sh): a 64 MB test cluster re-reads a 500,000-record
# catalog's search table from the OS cache on every broad query.
set -eu
export DQ_PG_SETTINGS="${DQ_PG_SETTINGS:-shared_buffers=1GB work_mem=32MB maintenance_work_mem=256MB}"
N=${1:-${N:-500000}}
RUNS=${RUNS:-30}
WORK=${WORK:-build/bench-pg}
make --no-print-directory build/danqing >/dev/null
rm -rf "$WORK"
mkdir -p "$WORK"
PIDS=
PG_DIR=${PG_BENCH_PG_DIR:-}
OWN_PG=
cleanup() {
    for p in $PIDS; do kill "$p" 2>/dev/null || true; done
    [ -z "$OWN_PG" ] || tests/pg-cluster.sh stop "$PG_DIR" >/dev/null 2>&1 || true
}
trap cleanup EXIT INT TERM
if [ -n "${PG_BENCH_SQ_DATA:-}" ] && [ -n "${PG_BENCH_PG_URL:-}" ]; then
    SQ_DATA=$PG_BENCH_SQ_DATA
    PG_CAT=$PG_BENCH_PG_URL
    PG_DATA=$WORK/data-postgres
    SQ_RATE=-
    PG_RATE=-
    N=$(sqlite3 "$SQ_DATA/catalog.sqlite" 'SELECT count(*) FROM relics' 2>/dev/null || echo "$N")
else
    cc -O2 -std=c11 -Wall -Wextra -Werror -o "$WORK/gen_relics" bench/gen_relics.c
    "$WORK/gen_relics" "$N" >"$WORK/relics.jsonl"
    PG_DIR=$PWD/$WORK/pg
    OWN_PG=1
    PG_URL=$(tests/pg-cluster.sh start "$PG_DIR")
    PG_CAT="$PG_URL?options=-csearch_path%3Dbench"
    psql -X -q "$PG_URL" -c 'CREATE SCHEMA bench'
    SQ_DATA=$WORK/data-sqlite
    PG_DATA=$WORK/data-postgres

    # CPU nanoseconds so far of the cluster: its live processes' threads, and what the
    # postmaster has reaped of its children (a backend that ended; stat fields 16-17, ticks)
    PG_PM=$(head -n 1 "$PG_DIR/data/postmaster.pid")
    cluster_ns() {
        { for c in $(pgrep -P "$PG_PM"); do cat /proc/"$c"/task/*/schedstat 2>/dev/null; done |
              awk '{s += $1} END {printf "%.0f\n", s}'
          awk -v hz="$(getconf CLK_TCK)" '{printf "%.0f\n", ($16 + $17) * 1e9 / hz}' \
              /proc/"$PG_PM"/stat; } | awk '{s += $1} END {printf "%.0f", s}'
    }
    # import_rate DATA CATALOG LOG: imports relics.jsonl, prints records/s; the load average
    # before and after goes to LOG.load, the client's and the cluster's CPU in us per record
    # to LOG.cpu ("client server"; server "-" for SQLite). The catalog is opened (migrated)
    # first, outside the timing.
    import_rate() {
        build/danqing --data "$1" --catalog "$2" user list >/dev/null 2>&1 || true
        case $2 in postgres*) g0=$(cluster_ns) ;; *) g0= ;; esac
        # each backend's CPU, sampled every 0.5 s (they end with the import): the import's two
        # writer backends (relic_fts on the second: docs/deploy.md "Bulk loads") apart from
        # the rest (autovacuum, WAL writer, checkpointer)
        SAMP=
        if [ -n "$g0" ]; then
            : >"$3.samp"
            while :; do
                for c in $(pgrep -P "$PG_PM"); do
                    echo "$c $(cat /proc/"$c"/task/*/schedstat 2>/dev/null |
                        awk '{s += $1} END {printf "%.0f", s}')"
                done >>"$3.samp"
                sleep 0.5
            done &
            SAMP=$!
            PIDS="$PIDS $SAMP"
        fi
        l0=$(cut -d' ' -f1 /proc/loadavg)
        t0=$(date +%s.%N)
        /usr/bin/time -f '%U %S' -o "$3.time" \
            build/danqing --data "$1" --catalog "$2" import "$WORK/relics.jsonl" >"$3" 2>&1
        t1=$(date +%s.%N)
        g1=
        [ -z "$g0" ] || g1=$(cluster_ns)
        [ -z "$SAMP" ] || { kill "$SAMP"; wait "$SAMP" 2>/dev/null || true; }
        # us per record of the three backends that took the most CPU during the import, most
        # first ("a/b/c"): the two search halves, then the main writer (docs/deploy.md "Bulk
        # loads")
        [ -z "$SAMP" ] || awk -v n="$N" '$2 != "" {if (!($1 in f)) f[$1] = $2; if ($2 > m[$1]) m[$1] = $2}
            END {for (p in m) printf "%.0f\n", (m[p] - f[p]) / n / 1e3}' "$3.samp" | sort -nr |
            head -n 3 | paste -sd/ >"$3.backends"
        echo "$l0-$(cut -d' ' -f1 /proc/loadavg)" >"$3.load"
        read -r u sy <"$3.time"
        echo "$N $u $sy ${g0:--} ${g1:--}" | awk '{printf "%.0f %s\n", ($2 + $3) * 1e6 / $1,
            $4 == "-" ? "-" : sprintf("%.0f", ($5 - $4) / 1e3 / $1)}' >"$3.cpu"
        echo "$N $t0 $t1" | awk '{printf "%.0f", $1 / ($3 - $2)}'
    }
    echo "== import $N records"
    SQ_RATE=$(import_rate "$SQ_DATA" "sqlite:$PWD/$SQ_DATA/catalog.sqlite" "$WORK/import-sqlite.log")
    echo "   sqlite:   $SQ_RATE records/s ($(tail -n 1 "$WORK/import-sqlite.log"))"
    PG_RATE=$(import_rate "$PG_DATA" "$PG_CAT" "$WORK/import-postgres.log")
    echo "   postgres: $PG_RATE records/s ($(tail -n 1 "$WORK/import-postgres.log"))"
    if [ "${IMPORT_ONLY:-0}" = 1 ]; then
        read -r SQ_CL _ <"$WORK/import-sqlite.log.cpu"
        read -r PG_CL PG_SV <"$WORK/import-postgres.log.cpu"
        read -r PG_B <"$WORK/import-postgres.log.backends" || true
        OUT=$WORK/issue15-pg-import.md
        {
            echo "# Issue 15: import of $N records, SQLite and PostgreSQL ($(nproc) cores)"
            echo
            echo "| | SQLite | PostgreSQL |"
            echo "|---|---:|---:|"
            echo "| import, records/s (target PostgreSQL >= 5,000) | $SQ_RATE | $PG_RATE |"
            echo "| load average (1 min) at its start-end | $(cat "$WORK/import-sqlite.log.load") |" \
                "$(cat "$WORK/import-postgres.log.load") |"
            echo "| client CPU per record, us (danqing import, every thread) | $SQ_CL | $PG_CL |"
            echo "| server CPU per record, us (the cluster, every process) | - | $PG_SV |"
            echo "| of which the three busiest backends, us (search rows, search rows, main) | - |" \
                "${PG_B:--} |"
        } >"$OUT"
        cat "$OUT"
        exit 0
    fi
fi

# serve NAME DATA CATALOG: starts a server, sets URL and SPID
serve() {
    build/danqing --data "$2" --catalog "$3" --listen 127.0.0.1:0 --threads 2 \
        --log-level 3 serve >"$WORK/serve-$1.log" 2>&1 &
    SPID=$!
    PIDS="$PIDS $!"
    i=0
    while ! grep -q 'listening on' "$WORK/serve-$1.log" && [ $i -lt 600 ]; do
        sleep 0.1
        i=$((i + 1))
    done
    URL=$(sed -n 's/.*listening on \(http[^ ]*\).*/\1/p' "$WORK/serve-$1.log" | head -n 1)
    URL=${URL%/}
    [ -n "$URL" ] || { echo "serve $1 did not start:"; cat "$WORK/serve-$1.log"; exit 1; }
    # /health says 503 "starting" until the server's in-memory search index is built (a
    # balancer keeps it out of rotation that long): the time a restarted node takes, at N
    i=0
    until curl -sf -o "$WORK/health-$1.json" "$URL/health" || [ $i -ge 3000 ]; do
        sleep 0.1
        i=$((i + 1))
    done
    sed -n 's/.*"ready_ms":\([0-9]*\).*/\1/p' "$WORK/health-$1.json" >"$WORK/ready-$1.ms"
    # the first search after that: not part of the timing
    curl -s -o /dev/null "$URL/api/relics?facets=1"
}
serve sqlite "$SQ_DATA" "sqlite:$(realpath "$SQ_DATA")/catalog.sqlite"
SQ_URL=$URL
SQ_PID=$SPID
serve postgres "$PG_DATA" "$PG_CAT"
PG_URL_HTTP=$URL
PG_PID=$SPID
PG_MASTER=
[ -z "$PG_DIR" ] || PG_MASTER=$(head -n 1 "$PG_DIR/data/postmaster.pid" 2>/dev/null || true)

# CPU nanoseconds so far of a process's threads; of every child of the PostgreSQL postmaster
cpu_ns() { cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{s += $1} END {printf "%.0f\n", s}'; }
pg_ns() {
    [ -n "$PG_MASTER" ] || { echo 0; return; }
    for c in $(pgrep -P "$PG_MASTER"); do cat /proc/"$c"/task/*/schedstat 2>/dev/null; done |
        awk '{s += $1} END {printf "%.0f\n", s}'
}

# "p50 p95 cpu pgcpu" of RUNS requests of one URL: ms, and CPU ms per search of the server
# (PID) and of PostgreSQL (0 for SQLite). One request first, untimed: a PostgreSQL server makes
# the posting bitmaps of a query's frequent lexemes when a query first needs them (once per
# lexeme, shared by every later query: store_pg_postings.c), and either backend's caches warm.
lat() {
    i=0
    curl -s -o /dev/null "$1"
    : >"$WORK/t.txt"
    c0=$(cpu_ns "$2")
    g0=0
    [ "$3" = pg ] && g0=$(pg_ns)
    while [ $i -lt "$RUNS" ]; do
        curl -s -o /dev/null -w '%{time_total}\n' "$1" >>"$WORK/t.txt"
        i=$((i + 1))
    done
    c1=$(cpu_ns "$2")
    g1=0
    [ "$3" = pg ] && g1=$(pg_ns)
    sort -n "$WORK/t.txt" | awk -v c="$((c1 - c0))" -v g="$((g1 - g0))" -v n="$RUNS" \
        '{a[NR]=$1} END {i=int(NR*0.95)+1; if (i>NR) i=NR;
        printf "%.1f %.1f %.1f %.1f", a[int(NR/2)+1]*1000, a[i]*1000, c/1e6/n, g/1e6/n}'
}

OUT=$WORK/issue15-pg.md
{
    echo "# Issue 15: PostgreSQL catalog against SQLite ($N records, $(nproc) cores)"
    echo
    echo "| | SQLite | PostgreSQL |"
    echo "|---|---:|---:|"
    echo "| import, records/s (target PostgreSQL >= 5,000) | $SQ_RATE | $PG_RATE |"
    [ ! -f "$WORK/import-sqlite.log.load" ] ||
        echo "| load average (1 min) at its start-end | $(cat "$WORK/import-sqlite.log.load") |" \
            "$(cat "$WORK/import-postgres.log.load") |"
    echo "| server start to ready (/health 200: search index and image map built), ms |" \
        "$(cat "$WORK/ready-sqlite.ms") | $(cat "$WORK/ready-postgres.ms") |"
    echo
    echo "Searches through HTTP (/api/relics, anonymous, $RUNS runs each; target p95 < 50 ms):"
    echo
    echo "CPU: ms per search (mean), of the danqing server and, for PostgreSQL, + its backends."
    echo "Load average at the start: $(cut -d' ' -f1-3 /proc/loadavg)."
    echo
    echo "| query | SQLite p50 / p95 ms | CPU | PostgreSQL p50 / p95 ms | CPU danqing + postgres |"
    echo "|---|---:|---:|---:|---:|"
} >"$OUT"
for q in 'q=%E5%B1%B1%E6%B0%B4&facets=1' 'q=%E6%BA%AA%E5%B1%B1%E8%A1%8C%E6%97%85&facets=1' \
         'q=landscape&dynasty=ming&facets=1' 'dynasty=northern_song&object_type=handscroll&facets=1' \
         'year_from=1100&year_to=1200&facets=1' 'q=qiushan&facets=1' 'q=xsxl&facets=1' \
         'q=wind%20in%20the%20pines&facets=1' 'q=%E5%BC%A0%E6%8B%A9%E7%AB%AF&facets=1' \
         'subject=landscape&sort=date&facets=1' 'facets=1' 'q=%E5%B1%B1%E6%B0%B4'; do
    set -- $(lat "$SQ_URL/api/relics?$q" "$SQ_PID" sq) $(lat "$PG_URL_HTTP/api/relics?$q" "$PG_PID" pg)
    printf '| `%s` | %s / %s | %s | %s / %s | %s + %s |\n' "$q" "$1" "$2" "$3" "$5" "$6" "$7" "$8" \
        >>"$OUT"
done
cat "$OUT"
