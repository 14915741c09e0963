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
  # The runner's summary (and a CI log's tail) keeps only lines that start with "  FAIL", so
  # the finding itself goes out that way too: the error, the first frames, and the input
  # libFuzzer saved, gzipped and in base64 (`base64 -d | gunzip > crash` replays it:
  # `build/fuzz/NAME crash`).
  grep -E 'ERROR|SUMMARY|runtime error|leak of' "$out" | head -n 4 | sed 's/^ */  FAIL | /'
  grep -E '^ +#[0-9]+ ' "$out" | grep -Ev 'fuzzer::|__sanitizer|__interceptor|libc\.so|/nptl/|/signal/|/stdlib/abort|libc-start|in _start | in main ' |
    head -n 8 | sed -e 's/ (BuildId: [0-9a-f]*)//' -e 's/^ */  FAIL | /'
  art=$(grep -o 'Test unit written to [^ ]*' "$out" | tail -n 1 | sed 's/Test unit written to //')
  if [ -n "$art" ] && [ -f "$art" ]; then
    echo "  FAIL | input $art, gzip | base64:"
    gzip -9nc "$art" | base64 -w 200 | sed 's/^/  FAIL | /'
  fi
  echo "  FAIL  $name (libFuzzer exit status $rc)"
  echo "0 passed, 1 failed"
fi
