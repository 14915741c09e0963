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
for seed in 1 7; do
  "$BIN" generate --out "$T/s$seed" --seed $seed --scale 0.25 --quiet
done
lat=$(DQ_BIN="$BIN" python3 tests/scripts/test_classroom.py | grep 'update latency' || echo "latency: not measured")
/usr/bin/python3 bench/science/teach_eval.py "$T/s1" "$T/s7" --latency "$lat" > build/science/teach.md
cat build/science/teach.md
