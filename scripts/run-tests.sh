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
# run_program NAME LOG CMD...: runs one test program and adds its counts.
run_program() {
  local name=$1 out=$2; shift 2
  echo "== $name"
  "$@" > "$out" 2>&1
  local rc=$?
  grep -E '^  (ok|FAIL)' "$out" | sed 's/^/  /' | grep -v '^    ok' || true
  local line
  line=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$out" | tail -n 1)
  if [ -z "$line" ]; then
    echo "  $name crashed (rc=$rc); see $out"; tail -n 20 "$out" | sed 's/^/    /'
    failed=$((failed + 1)); return
  fi
  local p=${line%% passed*} f=${line#*, }; f=${f%% failed*}
  passed=$((passed + p)); failed=$((failed + f))
  echo "  $line"
  if [ "$f" != 0 ]; then grep -E 'FAIL' "$out" | head -n 30 | sed 's/^/    /'; fi
  if [ "$rc" != 0 ] && [ "$f" = 0 ]; then
    echo "  $name exited with status $rc after its summary; see $out"
    tail -n 20 "$out" | sed 's/^/    /'
    failed=$((failed + 1))
  fi
  local left
  left=$(find "$run_tmp" -mindepth 1 -maxdepth 1 | head -n 5)
  if [ -n "$left" ]; then
    echo "  $name left files in its temporary folder:"; echo "$left" | sed 's/^/    /'
    failed=$((failed + 1))
    find "$run_tmp" -mindepth 1 -maxdepth 1 -exec rm -rf {} +
  fi
}

if [ "${1:-}" = --program ]; then
  shift
  [ $# -ge 1 ] || { echo "usage: $0 --program PATH [ARGS...]" >&2; exit 2; }
  run_program "$1" "$run_tmp.log" "$@"
  rm -f "$run_tmp.log"
  echo "$passed passed, $failed failed"
  [ "$failed" = 0 ]
  exit
fi

for t in $(find build/san/tests -type f -perm -u+x \( -name 'test_*' -o -name 'issue_*' \) | sort); do
  case "$t" in *"${DQ_TEST_FILTER:-}"*) ;; *) continue ;; esac
  name=${t#build/san/tests/}
  run_program "$name" "$log/$(echo "$name" | tr / _).log" "$t"
done
# The catalog tests again, against the PostgreSQL cluster (issue 15): each test opens a
# schema of its own there instead of catalog.sqlite (tests/dq_pg_test.h).
if [ -n "${DQ_TEST_PG_URL:-}" ] && [ -z "${DQ_TEST_CATALOG:-}" ]; then
  for t in $(find build/san/tests/unit/catalog -type f -perm -u+x -name 'test_*' | sort); do
    case "$t" in *"${DQ_TEST_FILTER:-}"*) ;; *) continue ;; esac
    name=postgres:${t#build/san/tests/}
    run_program "$name" "$log/$(echo "$name" | tr /: __).log" env DQ_TEST_CATALOG="$DQ_TEST_PG_URL" "$t"
  done
fi
# Script tests (tests/scripts/test_*: executable shell or Python, e.g. analysis checked against
# an independent peer such as OpenCV): each is a program judged like the ones above; they find
# the binaries through DQ_BIN (sanitizer build) and DQ_ROOT.
for t in $(find tests/scripts -maxdepth 1 -type f -perm -u+x -name 'test_*' 2>/dev/null | sort); do
  case "$t" in *"${DQ_TEST_FILTER:-}"*) ;; *) continue ;; esac
  name=${t#tests/}
  run_program "$name" "$log/$(echo "$name" | tr / _).log" "$t"
done
# A short libFuzzer run of every fuzz target (the IIIF request parser, the catalog's body
# and import parsers): a crash, sanitizer report or broken invariant fails it.
if [ -z "${DQ_TEST_FILTER:-}" ]; then
  for fz in build/fuzz/fuzz_*; do
    [ -x "$fz" ] || continue
    name=${fz#build/fuzz/}
    echo "== fuzz/$name (${DQ_FUZZ_SECONDS:-20}s)"
    corpus=build/fuzz/corpus-${name#fuzz_}
    mkdir -p "$corpus"
    cp -n fuzz/corpus/${name#fuzz_}/* "$corpus"/ 2>/dev/null || true
    if "$fz" -max_total_time="${DQ_FUZZ_SECONDS:-20}" -max_len=4096 -artifact_prefix=build/fuzz/ \
         "$corpus" > "$log/$name.log" 2>&1; then
      passed=$((passed + 1)); echo "  fuzz ok: $(grep -o 'Done [0-9]* runs' "$log/$name.log")"
    else
      failed=$((failed + 1)); echo "  fuzz FAILED"; grep -v '^#\|^INFO\|NEW\|REDUCE\|pulse' "$log/$name.log" | tail -n 30 | sed 's/^/    /'
    fi
  done
fi
# The live bad-input sweep (scripts/fuzz-live.py, `make fuzz-live` for the full 5,000) on the
# sanitizer build, for a short budget.
if [ -z "${DQ_TEST_FILTER:-}" ]; then
  echo "== fuzz-live (${DQ_FUZZ_LIVE_REQUESTS:-1000} requests)"
  if python3 scripts/fuzz-live.py --bin "$DQ_BIN" --requests "${DQ_FUZZ_LIVE_REQUESTS:-1000}" \
       > "$log/fuzz-live.log" 2>&1; then
    passed=$((passed + 1)); grep '^fuzz-live {' "$log/fuzz-live.log" | cut -c1-400 | sed 's/^/  /'
  else
    failed=$((failed + 1)); echo "  fuzz-live FAILED"; tail -n 30 "$log/fuzz-live.log" | sed 's/^/    /'
  fi
fi
# Browser tests (playwright-core + Debian chromium) when the web front end has them.
if [ -f tests/web/run.mjs ] && [ -z "${DQ_TEST_FILTER:-}" ]; then
  echo "== web"
  if node tests/web/run.mjs > "$log/web.log" 2>&1; then :; fi
  line=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$log/web.log" | tail -n 1)
  if [ -z "$line" ]; then failed=$((failed + 1)); tail -n 20 "$log/web.log"
  else p=${line%% passed*}; f=${line#*, }; f=${f%% failed*}
       passed=$((passed + p)); failed=$((failed + f)); echo "  $line"; fi
fi
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
