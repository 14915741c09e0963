#!/bin/sh
# catalog_size.sh (issue 15, docs/deploy.md "What it costs at 1M records"): bytes per record of
# the same generated records (bench/gen_relics.c) in a SQLite catalog and in a PostgreSQL one
# (a private cluster made by tests/pg-cluster.sh under $WORK, stopped and removed at the end),
# and the size of a pg_dump -Fc of that schema. Prints a table. Run from the repository root.
# env: N (or $1) records (default 5000); WORK (build/bench-size).
set -eu
N=${1:-${N:-5000}}
WORK=${WORK:-build/bench-size}
make --no-print-directory build/danqing >/dev/null
rm -rf "$WORK"
mkdir -p "$WORK"
cc -O2 -std=c11 -Wall -Wextra -Werror -o "$WORK/gen_relics" bench/gen_relics.c
"$WORK/gen_relics" "$N" >"$WORK/relics.jsonl"
PG_DIR=$PWD/$WORK/pg
trap 'tests/pg-cluster.sh stop "$PG_DIR" >/dev/null 2>&1 || true' EXIT INT TERM
PG_URL=$(tests/pg-cluster.sh start "$PG_DIR")
psql -X -q "$PG_URL" -c 'CREATE SCHEMA bench'
build/danqing --data "$WORK/data" import "$WORK/relics.jsonl" >/dev/null 2>&1
build/danqing --data "$WORK/data-pg" --catalog "$PG_URL?options=-csearch_path%3Dbench" \
    import "$WORK/relics.jsonl" >/dev/null 2>&1
psql -X -q "$PG_URL" -c 'VACUUM ANALYZE' >/dev/null
sq=$(du -b "$WORK/data/catalog.sqlite" | cut -f1)
pg=$(psql -X -At "$PG_URL" -c "SELECT sum(pg_total_relation_size(c.oid)) FROM pg_class c
     JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'bench' AND c.relkind IN ('r','m')")
pg_dump -Fc -n bench "$PG_URL" >"$WORK/bench.dump"
dump=$(du -b "$WORK/bench.dump" | cut -f1)
src=$(du -b "$WORK/relics.jsonl" | cut -f1)
echo "| $N records | bytes | per record | at 1M records |"
echo "|---|---:|---:|---:|"
for row in "source JSON Lines:$src" "SQLite catalog.sqlite:$sq" "PostgreSQL tables + indexes + TOAST:$pg" \
           "pg_dump -Fc of the schema:$dump"; do
    echo "$row" | awk -F: -v n="$N" '{printf "| %s | %d | %.0f | %.1f GB |\n", $1, $2, $2/n, $2/n*1e6/1e9}'
done
