#!/usr/bin/env bash
# Ingest benchmark: makes a ~1 gigapixel RGB master (JPEG from Perlin noise + grain, as
# /work/shared/peers/make-test-image.sh does) and measures wall time and peak RSS of
#   danqing ingest MASTER --id bench        (copy + SHA-256 + pyramid + catalog, fsynced)
#   vips tiffsave MASTER OUT --tile --pyramid --compression jpeg --Q 90 --tile-width 256 ...
# with /usr/bin/time -v, and prints the ratios. The goal: time ratio <= 1.2, RSS < 1 GiB.
# usage: bench/ingest_bench.sh [WIDTH] [HEIGHT]    (defaults 40000 25000)
# env:   DQ_BIN (default build/danqing), BENCH_DIR (default a fresh mktemp -d; removed after)
set -euo pipefail
cd "$(dirname "$0")/.."
W=${1:-40000} H=${2:-25000}
BIN=${DQ_BIN:-$PWD/build/danqing}
[ -x "$BIN" ] || { echo "ingest_bench: build $BIN first (make build/danqing)" >&2; exit 2; }
command -v vips >/dev/null || { echo "ingest_bench: needs vips (libvips-tools)" >&2; exit 2; }
[ -x /usr/bin/time ] || { echo "ingest_bench: needs /usr/bin/time (apt-get install time)" >&2; exit 2; }
dir=${BENCH_DIR:-$(mktemp -d "${TMPDIR:-/tmp}/dq_ingest_bench.XXXXXX")}
[ -n "${BENCH_DIR:-}" ] || trap 'rm -rf "$dir"' EXIT
master="$dir/master.jpg"
if [ ! -s "$master" ]; then
  echo "making a ${W}x${H} master in $dir ..."
  ( cd "$dir"
    for b in 0 1 2; do
      vips perlin lo.v "$W" "$H" --cell-size 700 --seed $((b + 1))
      vips perlin hi.v "$W" "$H" --cell-size 9 --seed $((b + 21))
      vips linear lo.v a.v 110 128
      vips linear hi.v h.v 30 0
      vips add a.v h.v s.v
      vips cast s.v "band$b.v" uchar
      rm -f lo.v hi.v a.v h.v s.v
    done
    vips bandjoin "band0.v band1.v band2.v" rgb.v
    rm -f band?.v
    vips copy rgb.v srgb.v --interpretation srgb
    vips jpegsave srgb.v master.jpg --Q 92
    rm -f rgb.v srgb.v )
fi
echo "master: $(vipsheader "$master") $(stat -c %s "$master") bytes"
sync

measure() { # label, command...: prints "label wall_s rss_kib"
  local label=$1; shift
  local log="$dir/$label.time"
  /usr/bin/time -v "$@" > "$dir/$label.out" 2> "$log" || { cat "$log" >&2; exit 1; }
  local wall rss
  wall=$(awk -F': ' '/Elapsed \(wall clock\)/ { n = split($2, p, ":"); s = 0;
           for (i = 1; i <= n; i++) s = s * 60 + p[i]; print s }' "$log")
  rss=$(awk -F': ' '/Maximum resident set size/ { print $2 }' "$log")
  echo "$label $wall $rss"
}

rm -rf "$dir/data" "$dir/vips.tif"
v=$(measure vips vips tiffsave "$master" "$dir/vips.tif" --tile --pyramid --compression jpeg \
      --Q 90 --tile-width 256 --tile-height 256)
sync
d=$(measure danqing "$BIN" --data "$dir/data" ingest "$master" --id bench --quality 90)
echo "$v" | awk '{ printf "vips tiffsave:   %8.2f s  %8.1f MiB peak RSS\n", $2, $3 / 1024 }'
echo "$d" | awk '{ printf "danqing ingest:  %8.2f s  %8.1f MiB peak RSS\n", $2, $3 / 1024 }'
paste <(echo "$d") <(echo "$v") | awk '{ printf "ratio (danqing/vips): time %.2f, RSS %.2f\n",
  $2 / $5, $3 / $6; ok = ($2 / $5 <= 1.2 && $3 < 1048576); print (ok ? "PASS" : "FAIL"),
  "(goal: time ratio <= 1.2, danqing RSS < 1 GiB)"; exit !ok }'
