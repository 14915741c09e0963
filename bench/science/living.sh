#!/usr/bin/env bash
# bench/science/living.sh: `danqing scene estimate` against `danqing generate`'s scene truth
# (issue 14). Two seeds, every landscape of the sample collection at --scale 0.5; for each work
# the structure estimate (ink density, ridges by the three distances, blank areas) and the
# baseline "prior" (depth from height on the picture alone, masks from blankness and height)
# are scored at 400 px high: Spearman's rank correlation of depth, IoU of mist, water, foliage.
# The issue names no outside peer; the prior is the baseline both are run against in the same
# run. Writes build/science/living.md and prints it.
set -euo pipefail
cd "$(dirname "$0")/../.."
bin=${DQ_BIN_REL:-build/danqing}
[ -x "$bin" ] || make -s -j2 build/danqing
tmp=$(mktemp -d "${TMPDIR:-/tmp}/dq_living_science.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
out=build/science/living.md
mkdir -p build/science
works="0001 0002 0003 0004 0005 0006 0007 0008 0012 0013"
rows=$tmp/rows.tsv
: > "$rows"
for seed in 1 2; do
  "$bin" generate --out "$tmp/s$seed" --seed "$seed" --scale 0.5 --quiet
  for w in $works; do
    id=DQ-2026-$w
    for m in structure prior; do
      "$bin" scene estimate --file "$tmp/s$seed/$id/main.tif" --out "$tmp/e$seed-$w-$m" --method $m > /dev/null
      s=$("$bin" scene score --truth "$tmp/s$seed/$id/truth/scene" --estimate "$tmp/e$seed-$w-$m")
      printf '%s\t%s\t%s\t%s\n' "$seed" "$id" "$m" "$s" >> "$rows"
    done
  done
done
/usr/bin/python3 - "$rows" > "$out" <<'PY'
import json, sys, statistics as st
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1])]
fmt = lambda x: "–" if x is None else f"{x:.3f}"
print("# Living painting: scene estimate vs generator truth (issue 14)\n")
print("`bench/science/living.sh`: seeds 1 and 2, `--scale 0.5`, estimates at 400 px high; depth by")
print("Spearman's rho, masks by IoU (– where truth and estimate are both empty). `structure` is")
print("`danqing scene estimate`; `prior` the height-only baseline.\n")
print("| seed | work | method | depth rho | mist IoU | water IoU | foliage IoU |")
print("|---|---|---|---|---|---|---|")
agg = {}
for seed, work, m, js in rows:
    j = json.loads(js); iou = j["iou"]
    vals = [j["depth_rank_corr"], iou.get("mist"), iou.get("water"), iou.get("foliage")]
    print(f"| {seed} | {work} | {m} | " + " | ".join(fmt(v) for v in vals) + " |")
    for k, v in zip(["rho", "mist", "water", "foliage"], vals):
        if v is not None:
            agg.setdefault((seed, m, k), []).append(v)
print("\n| seed | method | mean depth rho | mean mist IoU | mean water IoU | mean foliage IoU |")
print("|---|---|---|---|---|---|")
for seed in sorted({r[0] for r in rows}):
    for m in ("structure", "prior"):
        print(f"| {seed} | {m} | " + " | ".join(fmt(st.mean(agg.get((seed, m, k), [0])))
                                      for k in ("rho", "mist", "water", "foliage")) + " |")
PY
cat "$out"
