#!/usr/bin/env bash
# Issue 11's speed targets on the 24000 x 2000 benchmark scroll (DQ-2026-0001): `spectral add`
# of its raw stack against `ingest` of its visible image in the same run (R alternating
# repetitions: wall, user + system CPU seconds, peak RSS, load average before each), the raw
# stack in both forms: as generated (uncompressed frames, as cameras write them) and as the
# generator wrote it until session 22 (deflate + horizontal predictor, made here with vips from
# the same frames; the stored bands must be byte-identical, which is checked), then the
# p50 of uncached tiles of bands and composites (bench/spectral_tiles.py: every URL asked once
# of a fresh server). Prints a markdown section on stdout.
#   bench/spectral_speed.sh [SAMPLE_DIR [DATA_DIR]]   (default: generate into a temp dir)
#   R=5 repetitions (default 3); DQ_BIN (default build/danqing)
set -euo pipefail
cd "$(dirname "$0")/.."
B=${DQ_BIN:-build/danqing}
R=${R:-3}
[ -x "$B" ] || make -j2 build/danqing >/dev/null
W=$(mktemp -d "${TMPDIR:-/tmp}/dq_spec_speed.XXXXXX")
trap 'rm -rf "$W"' EXIT
S=${1:-$W/sample}; D=${2:-$W/data}
if [ ! -d "$S/DQ-2026-0001/truth/capture" ]; then
  "$B" generate --out "$S" --only DQ-2026-0001 --seed 1 --quiet
fi
[ -d "$D" ] || "$B" --data "$D" import "$S/metadata.jsonl" > /dev/null
C=$S/DQ-2026-0001/truth/capture
mkdir -p "$W/deflate"
cp "$C/bands.json" "$W/deflate/"
for f in "$C"/*.tif; do
  vips tiffsave "$f" "$W/deflate/$(basename "$f")" --compression deflate --predictor horizontal \
    --strip
done
rows=()
for r in $(seq 1 "$R"); do
  load=$(cut -d' ' -f1 /proc/loadavg)
  /usr/bin/time -f '%e %U %S %M' -o "$W/t" "$B" --data "$D" ingest "$S/DQ-2026-0001/main.tif" \
    --id DQ-2026-0001 --replace > /dev/null
  rows+=("ingest $r $load $(cat "$W/t")")
  load=$(cut -d' ' -f1 /proc/loadavg)
  /usr/bin/time -f '%e %U %S %M' -o "$W/t" "$B" --data "$D" spectral add DQ-2026-0001 \
    "$C" --id scroll --replace > /dev/null
  rows+=("add $r $load $(cat "$W/t")")
  load=$(cut -d' ' -f1 /proc/loadavg)
  /usr/bin/time -f '%e %U %S %M' -o "$W/t" "$B" --data "$D" spectral add DQ-2026-0001 \
    "$W/deflate" --id scroll-deflate --replace > /dev/null
  rows+=("addz $r $load $(cat "$W/t")")
done
for f in "$D"/layers/spectral/scroll/*.tif; do
  cmp -s "$f" "$D/layers/spectral/scroll-deflate/$(basename "$f")" ||
    { echo "stored band $(basename "$f") differs between the input forms" >&2; exit 1; }
done
/usr/bin/python3 bench/spectral_tiles.py "$B" "$D" scroll > "$W/tiles"
/usr/bin/python3 - "$W/tiles" "${rows[@]}" <<'PYEOF'
import sys, statistics
tiles = open(sys.argv[1]).read().strip().splitlines()
rows = [r.split() for r in sys.argv[2:]]
def med(kind, i):
    return statistics.median(float(r[i]) for r in rows if r[0] == kind)
print('| run | step | load avg (1 min) | wall s | CPU s (user + sys) | peak RSS MiB |')
print('|---|---|---|---|---|---|')
for k, rep, load, e, u, s, m in rows:
    step = {'ingest': 'ingest main.tif', 'add': 'spectral add (uncompressed frames)',
            'addz': 'spectral add (deflate frames)'}[k]
    print('| %s | %s | %s | %.2f | %.2f | %.0f |' % (rep, step, load, float(e), float(u) + float(s), int(m) / 1024))
wi, wa = med('ingest', 3), med('add', 3)
ci = statistics.median(float(r[4]) + float(r[5]) for r in rows if r[0] == 'ingest')
ca = statistics.median(float(r[4]) + float(r[5]) for r in rows if r[0] == 'add')
ma = max(int(r[6]) for r in rows if r[0] == 'add') / 1024
print()
print('Medians: wall add / ingest = %.2f / %.2f s = **%.2fx** (target < 3x); CPU %.2f / %.2f s = %.2fx; '
      'peak RSS of add %.0f MiB (target < 1024).' % (wa, wi, wa / wi, ca, ci, ca / ci, ma))
wz = med('addz', 3)
cz = statistics.median(float(r[4]) + float(r[5]) for r in rows if r[0] == 'addz')
print('Deflate frames (the generator\'s form until session 22): wall %.2f s = %.2fx, CPU %.2f s = %.2fx '
      'of ingest; stored bands byte-identical to the uncompressed input\'s.' % (wz, wz / wi, cz, cz / ci))
print()
print('| layer (uncached, 256 px tiles) | tiles | p50 ms | p90 ms | max ms |')
print('|---|---|---|---|---|')
for t in tiles:
    print(t)
PYEOF
