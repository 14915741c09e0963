#!/usr/bin/env bash
# make science SCIENCE=spectral: issue 11's ground-truth table. For two seeds and two works (the
# lone angler album leaf DQ-2026-0012: cinnabar, indigo; the blue-green handscroll DQ-2026-0004:
# azurite, malachite, ochres, on silk) it paints the work, adds its ideal bands and its raw
# capture, runs pigments, reveal and decompose, and scores them against the painter's truth
# (bench/science/spectral_eval.py): calibrated reflectance RMS, registration error, pigment
# accuracy and support recall with a confusion summary, reveal ROC AUC, and PCA/MNF against
# python3-spectral. Then speed on the 24000 x 2000 benchmark scroll: `spectral add` of its
# stack against `ingest` of its visible image, with peak RSS. Writes build/science/spectral.md.
# DQ_SPECTRAL_SKIP_SPEED=1 leaves the scroll (speed) part out. DQ_SPECTRAL_WORKS lists the works
# as ID:SCALE words (default "DQ-2026-0012:0.5 DQ-2026-0004:0.3"); DQ_SPECTRAL_WORKS=all measures
# every sample work that has a capture (all 16) at scale DQ_SPECTRAL_ALL_SCALE (default 0.3).
# DQ_SPECTRAL_SEEDS (default "1 2") lists the seeds.
set -euo pipefail
cd "$(dirname "$0")/../.."
B=${DQ_BIN:-build/danqing}
[ -x "$B" ] || make -j2 build/danqing >/dev/null
PY=/usr/bin/python3
md=${DQ_SPECTRAL_MD:-build/science/spectral.md}
W=${md%.md}-work
rm -rf "$W"; mkdir -p "$W"
trap 'rm -rf "$W"' EXIT

rows=()
works=${DQ_SPECTRAL_WORKS:-DQ-2026-0012:0.5 DQ-2026-0004:0.3}
if [ "$works" = all ]; then
  works=$(for i in $(seq 1 16); do printf 'DQ-2026-%04d:%s ' "$i" "${DQ_SPECTRAL_ALL_SCALE:-0.3}"; done)
fi
for seed in ${DQ_SPECTRAL_SEEDS:-1 2}; do
  for spec in $works; do
    work=${spec%%:*}; scale=${spec##*:}
    S=$W/s$seed-$work; D=$W/d$seed-$work; O=$W/o$seed-$work
    mkdir -p "$O"
    "$B" generate --out "$S" --only "$work" --scale "$scale" --seed "$seed" --quiet
    if [ ! -d "$S/$work/truth/capture" ]; then rm -rf "$S"; continue; fi
    "$B" --data "$D" import "$S/metadata.jsonl" > /dev/null
    "$B" --data "$D" spectral add "$work" "$S/$work/truth/capture" --id raw --json > "$O/add_raw.json"
    "$B" --data "$D" spectral add "$work" "$S/$work/truth/bands" --id ideal --json > "$O/add_ideal.json"
    for k in raw ideal; do
      "$B" --data "$D" spectral pigments $k --out "$O/pigments_$k.png" --legend "$O/legend_$k.json" > /dev/null
      for w in underdrawing retouching; do
        "$B" --data "$D" spectral reveal $k --what $w --out "$O/reveal_${w}_$k.png" > /dev/null
      done
    done
    t0=$(date +%s.%N)
    "$B" --data "$D" spectral decompose raw --method pca --json > "$O/decompose_pca.json"
    "$B" --data "$D" spectral decompose raw --method mnf --json > "$O/decompose_mnf.json"
    "$B" --data "$D" spectral decompose raw --method ica --json > "$O/decompose_ica.json"
    $PY bench/science/spectral_eval.py "$S" "$work" "$D" raw ideal "$O" > "$O/eval.json"
    rows+=("$seed $work:$scale $O/eval.json")
    rm -rf "$S" "$D"
  done
done

# Speed: the benchmark scroll at scale 1 (seed 1): spectral add against ingest (R repetitions,
# wall, CPU, RSS, load) and uncached tile latency (bench/spectral_speed.sh), then pigments.
S=$W/scroll; D=$W/dscroll; frame=
if [ "${DQ_SPECTRAL_SKIP_SPEED:-0}" != 1 ]; then
  "$B" generate --out "$S" --only DQ-2026-0001 --seed 1 --quiet
  "$B" --data "$D" import "$S/metadata.jsonl" > /dev/null
  DQ_BIN="$B" bench/spectral_speed.sh "$S" "$D" > "$W/speed.md"
  frame=$($PY -c "import json;d=json.load(open('$S/DQ-2026-0001/truth/capture/bands.json'));print('%dx%d'%tuple(d['work_rect'][2:]))")
  /usr/bin/time -f '%e %U %S %M' -o "$W/t_pig" "$B" --data "$D" spectral pigments scroll --out "$W/scroll_map.png" > /dev/null
fi

$PY - "$md" "$W" "$frame" "${rows[@]}" <<'PYEOF'
import json, sys
md, W, frame = sys.argv[1:4]
rows = [r.split(' ') for r in sys.argv[4:]]
def t(name):
    e, u, s, m = open('%s/%s' % (W, name)).read().split()
    return float(e), float(u) + float(s), int(m) / 1024.0
L = []
L.append('# Issue 11: multispectral analysis against ground truth')
L.append('')
L.append('`bench/science/spectral.sh` (make science SCIENCE=spectral). Works painted by `danqing generate` '
         '(work:--scale; default DQ-2026-0012:0.5, the album leaf with cinnabar and indigo, and DQ-2026-0004:0.3, '
         'the blue-green handscroll on silk; DQ_SPECTRAL_WORKS=all: every work with a capture). Raw = `truth/capture/` '
         '(16-bit frames, dark, targets, 10-30 % falloff, 0.3-2 px shifts, noise) through `spectral add`; ideal = `truth/bands/`.')
L.append('')
L.append('| seed | work | refl. RMS max (<= 0.02) | reg. error mean / max px (<= 0.2) | pigments ideal: acc / support (>= 0.95) | pigments raw: acc / support (>= 0.85) | AUC underdrawing ideal / raw | AUC retouching ideal / raw | PCA / MNF vs python3-spectral (rel.) |')
L.append('|---|---|---|---|---|---|---|---|---|')
conf = []
two = []
summary = []
for seed, work, path in rows:
    r = json.load(open(path))
    pi, pr = r['pigments_ideal'], r['pigments_raw']
    summary.append({'seed': int(seed), 'work': work,
                    'ideal': [pi['pigment_accuracy'], pi['support_recall'], pi['pigment_pixels']],
                    'raw': [pr['pigment_accuracy'], pr['support_recall'], pr['pigment_pixels']]})
    regs = list(r['registration_error_px'].values())
    L.append('| %s | %s | %.4f | %.3f / %.3f | %.3f / %.3f (%d px) | %.3f / %.3f | %.3f / %.3f | %.3f / %.3f | %.1e / %.1e |' % (
        seed, work, r['reflectance_rms_max'], r['registration_error_mean'], max(regs),
        pi['pigment_accuracy'], pi['support_recall'], pi['pigment_pixels'],
        pr['pigment_accuracy'], pr['support_recall'],
        r.get('auc_underdrawing_ideal', float('nan')), r.get('auc_underdrawing_raw', float('nan')),
        r.get('auc_retouching_ideal', float('nan')), r.get('auc_retouching_raw', float('nan')),
        max(r.get('peer_pca_values_rel', 0), r.get('peer_pca_vectors_rel', 0)),
        max(r.get('peer_mnf_values_rel', 0), r.get('peer_mnf_vectors_rel', 0))))
    for kind, p in (('ideal', pi), ('raw', pr)):
        g = p.get('two_pigments', {})
        if g.get('pixels'):
            two.append('| %s | %s | %s | %d | %.3f | %.3f |' % (seed, work, kind, g['pixels'], g['accuracy'], g['either']))
        for tn, c in p['confusion'].items():
            tot = sum(c.values())
            top = ', '.join('%s %.1f%%' % (k, 100.0 * v / tot) for k, v in c.items())
            conf.append('| %s | %s | %s | %s | %d | %s |' % (seed, work, kind, tn, tot, top))
L.append('')
L.append('Per-band reflectance RMS and registration errors are in each run\'s eval.json. Pigment accuracy counts a pixel right when the '
         'label\'s family (library column without its `_shN` shade) is the truth\'s material (e.g. `cinnabar_natural` for cinnabar); '
         'pixels: truth coverage >= 0.5 and ink <= 0.3; support: bare support with ink <= 0.1.')
L.append('')
L.append('## Pigment over pigment (glazes)')
L.append('')
L.append('Pixels of the table\'s pigment pixels where a second colour holds at least 0.15 of the pixel '
         '(`pigment2_coverage.png`; blue-green works only). accuracy: the label is the larger share '
         '(`pigment_map.png`); either: it is one of the two.')
L.append('')
L.append('| seed | work | stack | pixels | accuracy | either |')
L.append('|---|---|---|---|---|---|')
L.extend(two)
L.append('')
L.append('## Confusion (truth pigment -> predicted family, top 5)')
L.append('')
L.append('| seed | work | stack | truth | pixels | predicted |')
L.append('|---|---|---|---|---|---|')
L.extend(conf)
L.append('')
if frame:
    tp, cp, mp = t('t_pig')
    L.append('## Speed (DQ-2026-0001, 24000 x 2000 master, bands %s at truth resolution, seed 1)' % frame)
    L.append('')
    L.append('`bench/spectral_speed.sh`: `ingest` of main.tif and `spectral add` of the raw stack, '
             'alternating, then uncached tiles of a fresh server (every URL asked once).')
    L.append('')
    L.extend(open('%s/speed.md' % W).read().rstrip('\n').split('\n'))
    L.append('')
    L.append('`spectral pigments` of the same capture: %.2f s wall, %.2f s CPU, peak RSS %.0f MiB.' % (tp, cp, mp))
open(md, 'w').write('\n'.join(L) + '\n')
# The pigment scores alone, for before/after comparisons across runs.
json.dump(summary, open(md[:-3] + '-pigments.json', 'w'), indent=1)
print('\n'.join(L))
PYEOF
