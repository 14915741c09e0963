#!/usr/bin/env bash
# bench/science/conserve.sh: issue 12's analysis against `danqing generate`'s ground truth,
# on the sample collection (seed 1) and a second seed (seed 2), every work, at --scale
# ${DQ_CONSERVE_SCALE:-0.5} (half size keeps the run near ten minutes on two shared cores):
#  - registration: mean error of the four image corners (estimated vs truth/transform.json),
#    and unrelated pairs (each work's 2016 capture against the next work's 2026 capture),
#    which must be refused;
#  - change maps: F1 of loss/flaking/fading against truth/change_mask_*.png (pixels pooled
#    over the works of a seed, and per work), and the control pair's flagged fraction;
#  - restoration: PSNR and SSIM against truth/original.png inside damage_mask.png and over the
#    whole image, for `danqing restore` and OpenCV's Telea inpainting (the peer, Debian's
#    python3-opencv) on the same damaged.png and mask in the same run;
#  - speed and peak RSS of `changes` and `restore` on a 24000 x 2000 pair (the benchmark
#    scroll's captures and masks upsampled to that size, since truth rasters stop at 12.5
#    megapixels).
# Parts (env): DQ_CONSERVE_SEEDS (default "1 2 3"), DQ_CONSERVE_WORKS (default all 16),
# DQ_CONSERVE_SCALE (0.5), DQ_CONSERVE_SKIP_SPEED=1 (no 24000 x 2000 pair),
# DQ_CONSERVE_SKIP_RESTORE=1 (no restoration / Telea: the slow part on handscrolls),
# DQ_CONSERVE_GEN=DIR (keep the generated collections in DIR/s<seed> and reuse them when
# present, e.g. to run two builds on the same pictures; the default is a temporary directory),
# DQ_CONSERVE_MD=FILE (the table; default build/science/conserve.md).
# Generation runs only the works asked for. Writes build/science/conserve.md and prints it.
set -euo pipefail
cd "$(dirname "$0")/../.."
bin=${DQ_BIN_REL:-build/danqing}
[ -x "$bin" ] || make -s -j2 build/danqing
tmp=$(mktemp -d "${TMPDIR:-/tmp}/dq_conserve_science.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
mkdir -p build/science
export DQ_CONSERVE_SEEDS=${DQ_CONSERVE_SEEDS:-1 2 3}
export DQ_CONSERVE_GEN=${DQ_CONSERVE_GEN:-$tmp}
gen=$DQ_CONSERVE_GEN
works=${DQ_CONSERVE_WORKS:-DQ-2026-0001 DQ-2026-0002 DQ-2026-0003 DQ-2026-0004 DQ-2026-0005 DQ-2026-0006 DQ-2026-0007 DQ-2026-0008 DQ-2026-0009 DQ-2026-0010 DQ-2026-0011 DQ-2026-0012 DQ-2026-0013 DQ-2026-0014 DQ-2026-0015 DQ-2026-0016}
for seed in $DQ_CONSERVE_SEEDS; do
  for wk in $works; do
    [ -f "$gen/s$seed/$wk/truth/change_mask_all.png" ] ||
      "$bin" generate --out "$gen/s$seed" --seed "$seed" --scale "${DQ_CONSERVE_SCALE:-0.5}" --only "$wk" --quiet
  done
done
# the speed pair needs the benchmark scroll of seed 1
if [ -z "${DQ_CONSERVE_SKIP_SPEED:-}" ] && [ ! -f "$gen/s1/DQ-2026-0001/truth/change_mask_all.png" ]; then
  "$bin" generate --out "$gen/s1" --seed 1 --scale "${DQ_CONSERVE_SCALE:-0.5}" --only DQ-2026-0001 --quiet
fi
md=${DQ_CONSERVE_MD:-build/science/conserve.md}
/usr/bin/python3 bench/science/conserve_eval.py "$bin" "$tmp" "$md" "${DQ_CONSERVE_SCALE:-0.5}"
cat "$md"
