#!/usr/bin/env bash
# Makes a painting-like RGB master for benchmarks: per band, octaves of Perlin noise (broad
# washes, brush-sized detail, fine grain) plus sensor noise, so that JPEG tiles have the
# sizes real scans give (about 16 KB per 256-px tile at Q90), saved as an uncompressed tiled
# TIFF. usage: make-master.sh OUT.tif WIDTH HEIGHT
set -euo pipefail
out=$1 W=$2 H=$3
t=$(mktemp -d "${TMPDIR:-/tmp}/dqmaster.XXXXXX"); trap 'rm -rf "$t"' EXIT
for b in 0 1 2; do
  vips perlin "$t/a.v" "$W" "$H" --cell-size 700 --seed $((b + 1))
  vips perlin "$t/b.v" "$W" "$H" --cell-size 90 --seed $((b + 11))
  vips perlin "$t/c.v" "$W" "$H" --cell-size 9 --seed $((b + 21))
  vips gaussnoise "$t/n.v" "$W" "$H" --sigma 6 --mean 0 --seed $((b + 31))
  vips linear "$t/a.v" "$t/a2.v" 110 128; vips linear "$t/b.v" "$t/b2.v" 35 0
  vips linear "$t/c.v" "$t/c2.v" 14 0
  vips add "$t/a2.v" "$t/b2.v" "$t/s1.v"; vips add "$t/s1.v" "$t/c2.v" "$t/s2.v"
  vips add "$t/s2.v" "$t/n.v" "$t/s3.v"; vips cast "$t/s3.v" "$t/out$b.v" uchar
  rm -f "$t"/[abcns]*.v "$t"/[abc]2.v
done
vips bandjoin "$t/out0.v $t/out1.v $t/out2.v" "$t/rgb.v"
vips copy "$t/rgb.v" "$t/srgb.v" --interpretation srgb
vips tiffsave "$t/srgb.v" "$out" --tile --bigtiff
