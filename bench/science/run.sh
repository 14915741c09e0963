#!/usr/bin/env bash
# make science [SCIENCE="PART ..."]: the analysis tables (multispectral, conservation, style,
# living painting, ...), each measured against `danqing generate`'s ground truth on more than one
# seed and against an independent peer (OpenCV, python3-spectral, scikit-image) in the same run.
# Each part is bench/science/PART.sh; it writes its table to build/science/PART.md and prints it.
# Without a part: every bench/science/*.sh except this one, in name order.
set -euo pipefail
cd "$(dirname "$0")/../.."
mkdir -p build/science
parts=("$@")
if [ ${#parts[@]} -eq 0 ]; then
  for f in bench/science/*.sh; do
    b=$(basename "$f" .sh); [ "$b" = run ] || parts+=("$b")
  done
fi
[ ${#parts[@]} -gt 0 ] || { echo "science: no parts yet (bench/science/*.sh)"; exit 0; }
rc=0
for p in "${parts[@]}"; do
  f=bench/science/$p.sh
  [ -x "$f" ] || { echo "science: unknown part '$p'" >&2; exit 2; }
  echo "== science: $p"
  "$f" || { echo "science: $p failed" >&2; rc=1; }
done
exit $rc
