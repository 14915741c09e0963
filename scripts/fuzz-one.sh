#!/usr/bin/env bash
# fuzz-one.sh TARGET: a short libFuzzer run of one fuzz target for scripts/run-tests.sh, on its
# corpus under build/fuzz/ (seeded from fuzz/corpus/), judged like a test program: the last
# line is "1 passed, 0 failed" when the run ended without a crash, sanitizer report or broken
# invariant. env: DQ_FUZZ_SECONDS (default 20).
set -uo pipefail
fz=$1
name=$(basename "$fz")
corpus=build/fuzz/corpus-${name#fuzz_}
mkdir -p "$corpus"
cp -n fuzz/corpus/"${name#fuzz_}"/* "$corpus"/ 2>/dev/null || true
out=$(mktemp) || exit 1
trap 'rm -f "$out"' EXIT
"$fz" -max_total_time="${DQ_FUZZ_SECONDS:-20}" -max_len=4096 -artifact_prefix=build/fuzz/ \
  "$corpus" > "$out" 2>&1
rc=$?
if [ "$rc" = 0 ]; then
  echo "  ok    $name: $(grep -o 'Done [0-9]* runs' "$out")"
  echo "1 passed, 0 failed"
else
  grep -v '^#\|^INFO\|NEW\|REDUCE\|pulse' "$out" | tail -n 30 | sed 's/^/    /'
  echo "  FAIL  $name (libFuzzer exit status $rc)"
  echo "0 passed, 1 failed"
fi
