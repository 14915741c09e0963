#!/usr/bin/env bash
# Runs every test program of the sanitizer build, then the fuzz target for a short time, then
# the browser tests when present, and sums their "N passed, N failed" lines into one.
# A program fails when its summary says so, when it has none, and when it exits non-zero
# after it (a sanitizer report at exit, a crash in a destructor).
# Everything runs with TMPDIR set to one folder made here and removed on exit, also when the
# run is interrupted; a test program that leaves anything in it fails.
# env: DQ_FUZZ_SECONDS (default 20), DQ_TEST_FILTER (substring of test file paths)
# usage: scripts/run-tests.sh [--program PATH [ARGS...]]   (--program: that one program only,
#        judged as above; tests/unit/core/test_dq_test.c uses it to test this script)
set -uo pipefail
cd "$(dirname "$0")/.."
export DQ_BIN=${DQ_BIN:-$PWD/build/san/danqing}
export DQ_ROOT=$PWD
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
# libvips and glib keep caches that look like leaks at exit; suppress only those.
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$PWD/tests/lsan.supp:print_suppressions=0}
run_tmp=$(mktemp -d "${TMPDIR:-/tmp}/dq-tests.XXXXXX") || exit 1
# A private PostgreSQL cluster (issue 15), when PostgreSQL is installed: tests that need one
# find it in DQ_TEST_PG_URL, and the catalog tests run a second time against it (below). It
# lives under build/ (PostgreSQL runs as its own system user, who cannot enter $TMPDIR) and
# is stopped and removed on exit, however the run ends. DQ_TEST_PG=0 skips it.
pg_dir=""
stop_pg() { [ -z "$pg_dir" ] || tests/pg-cluster.sh stop "$pg_dir" || true; }
trap 'stop_pg; rm -rf "$run_tmp"' EXIT
if [ "${DQ_TEST_PG:-1}" != 0 ] && [ -z "${DQ_TEST_PG_URL:-}" ] && [ "${1:-}" != --program ] &&
   tests/pg-cluster.sh available 2>/dev/null; then
  pg_dir=$PWD/build/pgtest.runner.$$
  if DQ_TEST_PG_URL=$(tests/pg-cluster.sh start "$pg_dir"); then
    export DQ_TEST_PG_URL
  else
    echo "PostgreSQL: the test cluster did not start; the PostgreSQL pass is skipped"
    pg_dir=""
  fi
fi
trap 'exit 130' INT TERM HUP
export TMPDIR=$run_tmp
passed=0 failed=0
log=build/test-logs; mkdir -p "$log"
# judge NAME OUT RC SECONDS TMP: reads a finished program's output, adds its counts and prints
# its block. A program fails when its summary says so, when it has none, when it exits non-zero
# after it, and when it leaves anything in its temporary folder TMP.
judge() {
  local name=$1 out=$2 rc=$3 secs=$4 tmp=$5
  echo "== $name (${secs} s)"
  grep -E '^  (ok|FAIL)' "$out" | sed 's/^/  /' | grep -v '^    ok' || true
  local line
  line=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$out" | tail -n 1)
  if [ -z "$line" ]; then
    echo "  $name crashed (rc=$rc); see $out"; tail -n 20 "$out" | sed 's/^/    /'
    failed=$((failed + 1))
  else
    local p=${line%% passed*} f=${line#*, }; f=${f%% failed*}
    passed=$((passed + p)); failed=$((failed + f))
    echo "  $line"
    if [ "$f" != 0 ]; then grep -E 'FAIL' "$out" | head -n 30 | sed 's/^/    /'; fi
    if [ "$rc" != 0 ] && [ "$f" = 0 ]; then
      echo "  $name exited with status $rc after its summary; see $out"
      tail -n 20 "$out" | sed 's/^/    /'
      failed=$((failed + 1))
    fi
  fi
  local left
  left=$(find "$tmp" -mindepth 1 -maxdepth 1 | head -n 5)
  # Chromium keeps profile folders of its own in TMPDIR while it runs; the browser tests'
  # leftovers are removed without judging them (as before the runner ran jobs side by side).
  if [ -n "$left" ] && [ "$name" != web ]; then
    echo "  $name left files in its temporary folder:"; echo "$left" | sed 's/^/    /'
    failed=$((failed + 1))
  fi
  rm -rf "$tmp"
}

if [ "${1:-}" = --program ]; then
  shift
  [ $# -ge 1 ] || { echo "usage: $0 --program PATH [ARGS...]" >&2; exit 2; }
  out=$run_tmp.log; tmp=$run_tmp/program; mkdir -p "$tmp"
  s0=$SECONDS
  TMPDIR=$tmp "$@" > "$out" 2>&1; rc=$?
  judge "$1" "$out" "$rc" $((SECONDS - s0)) "$tmp"
  rm -f "$out"
  echo "$passed passed, $failed failed"
  [ "$failed" = 0 ]
  exit
fi

# The jobs: NAME<TAB>LOG<TAB>COMMAND (a shell word list). They run DQ_TEST_JOBS at a time
# (default: the number of CPUs), longest known first: most programs are single-threaded, and
# on a 2-core machine one at a time left a core idle for most of the run. Each job has a
# temporary folder of its own, so "left files" is still judged per program.
jobs_file=$run_tmp/jobs
: > "$jobs_file"
add_job() { printf '%s\t%s\t%s\n' "$1" "$2" "$3" >> "$jobs_file"; }
want() { case "$1" in *"${DQ_TEST_FILTER:-}"*) return 0 ;; esac; return 1; }
logname() { echo "$log/$(echo "$1" | tr '/:' '__').log"; }

# Browser tests (playwright-core + Debian chromium) when the web front end has them: the
# longest job, so it starts first and the rest share the other CPUs.
if [ -f tests/web/run.mjs ] && [ -z "${DQ_TEST_FILTER:-}" ]; then
  add_job web "$log/web.log" "node tests/web/run.mjs"
fi
for t in $(find build/san/tests -type f -perm -u+x \( -name 'test_*' -o -name 'issue_*' \) | sort); do
  want "$t" || continue
  name=${t#build/san/tests/}
  add_job "$name" "$(logname "$name")" "$t"
done
# The catalog tests again, against the PostgreSQL cluster (issue 15): each test opens a
# schema of its own there instead of catalog.sqlite (tests/dq_pg_test.h).
if [ -n "${DQ_TEST_PG_URL:-}" ] && [ -z "${DQ_TEST_CATALOG:-}" ]; then
  for t in $(find build/san/tests/unit/catalog -type f -perm -u+x -name 'test_*' | sort); do
    want "$t" || continue
    name=postgres:${t#build/san/tests/}
    add_job "$name" "$(logname "$name")" "env DQ_TEST_CATALOG=$DQ_TEST_PG_URL $t"
  done
fi
# Script tests (tests/scripts/test_*: executable shell or Python, e.g. analysis checked against
# an independent peer such as OpenCV): each is a program judged like the ones above; they find
# the binaries through DQ_BIN (sanitizer build) and DQ_ROOT.
for t in $(find tests/scripts -maxdepth 1 -type f -perm -u+x -name 'test_*' 2>/dev/null | sort); do
  want "$t" || continue
  name=${t#tests/}
  add_job "$name" "$(logname "$name")" "$t"
done
# A short libFuzzer run of every fuzz target (the IIIF request parser, the catalog's body
# and import parsers): a crash, sanitizer report or broken invariant fails it. The wrapper
# prints a summary line so it is judged like a test program.
if [ -z "${DQ_TEST_FILTER:-}" ]; then
  for fz in build/fuzz/fuzz_*; do
    [ -f "$fz" ] && [ -x "$fz" ] || continue
    name=${fz#build/fuzz/}
    add_job "fuzz/$name (${DQ_FUZZ_SECONDS:-20} s)" "$log/$name.log" "scripts/fuzz-one.sh $fz"
  done
  # The live bad-input sweep (scripts/fuzz-live.py, `make fuzz-live` for the full 5,000) on
  # the sanitizer build, for a short budget.
  add_job "fuzz-live (${DQ_FUZZ_LIVE_REQUESTS:-1000} requests)" "$log/fuzz-live.log" \
    "scripts/judge-exit.sh fuzz-live python3 scripts/fuzz-live.py --bin $DQ_BIN --requests ${DQ_FUZZ_LIVE_REQUESTS:-1000}"
fi

# Longest first, by the seconds each job took in the last run (build/test-logs/times); new
# jobs count as long, so they start early too.
times=$log/times
touch "$times"
order=$run_tmp/order
awk -F'\t' 'FILENAME == ARGV[1] { t[$1] = $2; next } { print (($1 in t) ? t[$1] : 100000) "\t" $0 }' \
  "$times" "$jobs_file" | sort -t "$(printf '\t')" -k1,1nr -s | cut -f2- > "$order"

ncpu=$(nproc 2>/dev/null || echo 2)
max=${DQ_TEST_JOBS:-$ncpu}
[ "$max" -ge 1 ] 2>/dev/null || max=1
declare -A job_name job_out job_tmp job_start
# An interrupted run stops the jobs it started (their own traps stop their servers).
trap 'kill "${!job_name[@]}" 2>/dev/null; wait; stop_pg; rm -rf "$run_tmp"' EXIT
new_times=$run_tmp/times
: > "$new_times"
running=0 seq=0
reap() {
  local pid rc
  wait -n -p pid; rc=$?
  [ -n "${pid:-}" ] || return 0
  local secs=$((SECONDS - job_start[$pid]))
  judge "${job_name[$pid]}" "${job_out[$pid]}" "$rc" "$secs" "${job_tmp[$pid]}"
  printf '%s\t%s\n' "${job_name[$pid]}" "$secs" >> "$new_times"
  unset "job_name[$pid]" "job_out[$pid]" "job_tmp[$pid]" "job_start[$pid]"
  running=$((running - 1))
}
while IFS=$'\t' read -r name out cmd; do
  while [ "$running" -ge "$max" ]; do reap; done
  seq=$((seq + 1))
  tmp=$run_tmp/job.$seq; mkdir -p "$tmp"
  # shellcheck disable=SC2086 # cmd is a word list made above, without quoting inside
  ( export TMPDIR=$tmp; exec $cmd ) > "$out" 2>&1 < /dev/null &
  job_name[$!]=$name; job_out[$!]=$out; job_tmp[$!]=$tmp; job_start[$!]=$SECONDS
  running=$((running + 1))
done < "$order"
while [ "$running" -gt 0 ]; do reap; done
# Keep the times of jobs that did not run this time (a filtered run) for the next ordering.
awk -F'\t' 'FILENAME == ARGV[1] { n[$1] = 1; print; next } !($1 in n)' "$new_times" "$times" > "$times.new" &&
  mv "$times.new" "$times"
echo "slowest: $(sort -t "$(printf '\t')" -k2,2nr "$new_times" | head -n 8 | awk -F'\t' '{printf "%s%s %ss", (NR > 1 ? ", " : ""), $1, $2}')"
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
