#!/usr/bin/env bash
# bench/migrate_bench.sh (issue 15, `danqing migrate`): time and rate of moving a data directory
# into PostgreSQL (a private cluster made here by tests/pg-cluster.sh, stopped at the end) and,
# when it has files, into S3 (s3rver on loopback) and a POSIX directory.
#
#   bench/migrate_bench.sh SRC_DATA [LABEL]
#
# SRC_DATA is copied first (migrate only reads it, but a bench never touches what it was
# given). Prints one Markdown table row per run: the dry run, the copy, a second run (copies
# nothing), and `danqing fixity` on the new deployment when files moved. The binary is
# build/danqing (DQ_BENCH_BIN to override).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${DQ_BENCH_BIN:-$ROOT/build/danqing}
SRC=${1:?usage: $0 SRC_DATA [LABEL]}
LABEL=${2:-$(basename "$SRC")}
WORK=$ROOT/build/bench-migrate/run.$$
PG=$WORK/pg
s3pid=""
cleanup() {
  [ -z "$s3pid" ] || kill "$s3pid" 2>/dev/null || true
  "$ROOT/tests/pg-cluster.sh" stop "$PG" >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT
mkdir -p "$WORK"
cp -a "$SRC" "$WORK/src"
URL=$("$ROOT/tests/pg-cluster.sh" start "$PG")
export AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER AWS_REGION=us-east-1
unset DANQING_CATALOG

rows=$(python3 -c "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); print(c.execute('select count(*) from relics').fetchone()[0])" "$WORK/src/catalog.sqlite")
files=$( (find "$WORK/src/masters" "$WORK/src/pyramids" "$WORK/src/layers" -type f 2>/dev/null || true) | wc -l)
bytes=$( (find "$WORK/src/masters" "$WORK/src/pyramids" "$WORK/src/layers" -type f -printf '%s\n' 2>/dev/null || true) | awk '{s+=$1} END {print s+0}')

# one run: NAME, then migrate's arguments; prints a table row from its --json
run() {
  local name=$1
  shift
  local t0 t1 out
  t0=$(date +%s.%N)
  out=$(/usr/bin/time -f '%e %U %S %M' -o "$WORK/time" "$BIN" --data "$WORK/src" migrate "$@" --json)
  t1=$(date +%s.%N)
  read -r wall user sys rss <"$WORK/time"
  python3 - "$name" "$LABEL" "$rows" "$wall" "$user" "$sys" "$rss" "$out" <<'EOF'
import json, sys
name, label, rows, wall, user, sys_, rss, out = sys.argv[1:]
d = json.loads(out)
c, f = d["catalog"], d["files"]
n = c["rows_copied"] if not d["dry_run"] else c["rows_to_copy"]
rate = "%.0f rows/s" % (c["rows_copied"] / c["seconds"]) if c["rows_copied"] and c["seconds"] else "-"
fb = "-"
if f:
    mb = (f["bytes_copied"] if not d["dry_run"] else f["bytes_to_copy"]) / 1048576
    fr = " (%.1f MB/s)" % (f["bytes_copied"] / 1048576 / f["seconds"]) if f["bytes_copied"] and f["seconds"] else ""
    fb = "%d files, %.1f MB%s" % (f["copied"] if not d["dry_run"] else f["to_copy"], mb, fr)
slow = sorted(c["tables"], key=lambda t: -t.get("seconds", 0))[:3]
slow = ", ".join("%s %.1f s" % (t["table"], t["seconds"]) for t in slow if t.get("seconds"))
print("| %s | %s (%s relics) | %s | %d catalog rows | %s | %.1f s catalog%s | %s | %s s wall, %s+%s s CPU, %d MiB |" % (
    label, name, rows, f["store"] if f else "(files stay)", n, rate, c["seconds"],
    " (%s)" % slow if slow else "", fb, wall, user, sys_, int(rss) // 1024))
EOF
}

echo "| data | run | store | rows | catalog rate | catalog time (slowest tables) | files | process |"
echo "| --- | --- | --- | --- | --- | --- | --- | --- |"
if [ "$files" -gt 0 ]; then
  # s3rver stops when its stdin closes: a FIFO this script holds open keeps it running
  mkfifo "$WORK/s3.in"
  node "$ROOT/tests/scripts/s3rver.cjs" "$WORK/s3" danqing >"$WORK/s3.port" <"$WORK/s3.in" &
  s3pid=$!
  exec 7>"$WORK/s3.in"
  for _ in $(seq 1 1200); do grep -q PORT "$WORK/s3.port" && break; sleep 0.05; done
  grep -q PORT "$WORK/s3.port" || { echo "s3rver did not start" >&2; exit 1; }
  EP=http://127.0.0.1:$(awk '{print $2}' "$WORK/s3.port")
  run "dry run" --catalog "$URL" --store s3://danqing/bench --s3-endpoint "$EP" --dry-run
  run "copy to PostgreSQL + S3" --catalog "$URL" --store s3://danqing/bench --s3-endpoint "$EP"
  run "second run" --catalog "$URL" --store s3://danqing/bench --s3-endpoint "$EP"
  mkdir -p "$WORK/node"
  t0=$(date +%s.%N)
  "$BIN" --data "$WORK/node" --catalog "$URL" --store s3://danqing/bench --s3-endpoint "$EP" \
    fixity | tail -1
  echo "fixity on the new deployment: $(echo "$(date +%s.%N) - $t0" | bc) s"
  psql -qAtX "$URL" -c "DROP SCHEMA public CASCADE; CREATE SCHEMA public" >/dev/null 2>&1
  run "copy to PostgreSQL + POSIX dir" --catalog "$URL" --store "$WORK/mount"
else
  run "dry run" --catalog "$URL" --dry-run
  run "copy to PostgreSQL" --catalog "$URL"
  run "second run" --catalog "$URL"
fi
echo "source: $rows relics, $files files, $bytes bytes; load before: $(cut -d' ' -f1-3 /proc/loadavg)"
