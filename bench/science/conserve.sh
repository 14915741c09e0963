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
# Writes build/science/conserve.md and prints it.
set -euo pipefail
cd "$(dirname "$0")/../.."
bin=${DQ_BIN_REL:-build/danqing}
[ -x "$bin" ] || make -s -j2 build/danqing
tmp=$(mktemp -d "${TMPDIR:-/tmp}/dq_conserve_science.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
mkdir -p build/science
for seed in 1 2; do
  "$bin" generate --out "$tmp/s$seed" --seed "$seed" --scale "${DQ_CONSERVE_SCALE:-0.5}" --quiet
done
/usr/bin/python3 bench/science/conserve_eval.py "$bin" "$tmp" build/science/conserve.md "${DQ_CONSERVE_SCALE:-0.5}"
cat build/science/conserve.md
