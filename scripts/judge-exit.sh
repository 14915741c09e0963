#!/usr/bin/env bash
# judge-exit.sh NAME CMD [ARGS...]: runs a check that reports by its exit status (not by a
# "N passed, N failed" line) and prints such a line for scripts/run-tests.sh: 1 passed when
# CMD exits 0, else 1 failed with the end of its output.
set -uo pipefail
name=$1; shift
out=$(mktemp) || exit 1
trap 'rm -f "$out"' EXIT
"$@" > "$out" 2>&1
rc=$?
cat "$out"
if [ "$rc" = 0 ]; then
  echo "  ok    $name"
  echo "1 passed, 0 failed"
else
  echo "  FAIL  $name (exit status $rc)"
  echo "0 passed, 1 failed"
fi
