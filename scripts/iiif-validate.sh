#!/usr/bin/env bash
# Runs the official IIIF Image API validator against danqing, for 3.0 and 2.0 at level 2
# plus the optional tests of every feature our info.json advertises. The validator's code
# is never committed: bring the GitHub repository IIIF/image-validator into
# .cache/image-validator (git-ignored) first. Needs python3-pil python3-lxml python3-bottle
# python3-magic (scripts/deps.sh bench installs them).
# usage: scripts/iiif-validate.sh [BIN]     (default build/danqing)
set -uo pipefail
cd "$(dirname "$0")/.."
bin=${1:-build/danqing}
vdir=${DQ_VALIDATOR:-.cache/image-validator}
id=67352ccc-d1b0-11e1-89ae-279075081939
[ -f "$vdir/iiif-validate.py" ] || { echo "no validator in $vdir (see the comment at the top of $0)" >&2; exit 2; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/dqvalidate.XXXXXX")
srv=""
trap '[ -n "$srv" ] && kill "$srv" 2>/dev/null; wait 2>/dev/null; [ -n "${DQ_KEEP:-}" ] || rm -rf "$tmp"' EXIT
# The validator compares square colours within +-5: ingest its grid at high JPEG quality.
"$bin" ingest "$vdir/html/$id.png" --id "$id" --data "$tmp/data" --quality 98 > /dev/null || exit 1
"$bin" serve --listen 127.0.0.1:0 --data "$tmp/data" --log-level 2 > "$tmp/out" 2> "$tmp/log" &
srv=$!
for _ in $(seq 1 100); do grep -q listening "$tmp/out" 2>/dev/null && break; sleep 0.1; done
port=$(sed -n 's/.*:\([0-9]*\)\/$/\1/p' "$tmp/out")
[ -n "$port" ] || { echo "server did not start"; cat "$tmp/log"; exit 1; }
optional="format_tif format_webp linkheader_canonical linkheader_profile rot_full_non90 rot_mirror rot_mirror_180 rot_region_non90 size_up"
total_fail=0
run() { # version level|optional
  local v=$1 what=$2 args=() out
  if [ "$what" = optional ]; then for t in $optional; do args+=(--test "$t"); done; else args+=(--level="$what"); fi
  out=$(PYTHONPATH="$vdir" /usr/bin/python3 "$vdir/iiif-validate.py" -s "127.0.0.1:$port" -p iiif/${v%%.*} \
        -i "$id" --version="$v" "${args[@]}" 2>&1)
  local rc=$?
  echo "$out" > "$tmp/validator-$v-$what.txt"
  local passed failed
  passed=$(echo "$out" | grep -c '^\[pass\]\|: pass' || true)
  echo "== IIIF Image $v ${what/optional/optional tests ($optional)}"
  echo "$out" | grep -iE 'fail|error|Tests (passed|failed)|Summary|passed|failed' | tail -n 20 | sed 's/^/  /'
  total_fail=$((total_fail + rc))
}
run 3.0 2
run 3.0 optional
run 2.0 2
run 2.0 optional
echo "validator failures: $total_fail"
exit $((total_fail > 0))
