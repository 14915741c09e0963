#!/usr/bin/env bash
# make science SCIENCE=teach (issue 17): the composition overlays of `danqing generate` checked
# against the generator's ground truth rasters on two seeds (bench/science/teach_eval.py, numpy
# and OpenCV reading truth/*.png independently of the C code), and the classroom's update
# latency with 40 learners on loopback (tests/scripts/test_classroom.py on the release build).
# Writes build/science/teach.md.
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN=${DQ_BIN_REL:-build/danqing}
[ -x "$BIN" ] || make -j2 build/danqing
T=$(mktemp -d "${TMPDIR:-/tmp}/dq_teach_sci.XXXXXX")
trap 'rm -rf "$T"' EXIT
# A handscroll, the four hanging scrolls (three distances), the bird-and-flower leaves and
# scroll, the angler: each painted alone (--only) at a quarter size, with its truth.
works="0001 0005 0006 0007 0008 0009 0010 0011 0012 0015"
for seed in 1 7; do
  for w in $works; do
    "$BIN" generate --out "$T/s$seed/$w" --seed $seed --scale 0.25 --only DQ-2026-$w --quiet
  done
done
DQ_BIN="$BIN" python3 tests/scripts/test_classroom.py > build/science/teach-classroom.log 2>&1 || true
lat=$(grep 'update latency' build/science/teach-classroom.log || echo "latency: not measured")
lat="$lat; classroom checks: $(tail -n 1 build/science/teach-classroom.log)"
/usr/bin/python3 bench/science/teach_eval.py "$T/s1" "$T/s7" --latency "$lat" > build/science/teach.md
cat build/science/teach.md
