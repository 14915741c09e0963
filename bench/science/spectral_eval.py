#!/usr/bin/python3
"""Ground-truth evaluation of `danqing spectral` on one generated work (bench/science/spectral.sh).

usage: spectral_eval.py SAMPLE_DIR WORK_ID DATA_DIR RAW_CAPTURE IDEAL_CAPTURE OUT_DIR
Reads the truth written by `danqing generate` (truth/bands, truth/capture_truth.json,
pigment_map.png, pigment_coverage.png, ink_density.png, the masks), the stored bands of both
captures (DATA_DIR/layers/spectral/<id>/*.tif, uint16 = reflectance * 50000) and the outputs of
`spectral pigments/reveal` in OUT_DIR, and prints one JSON object of measurements.
"""
import json, os, sys
import cv2
import numpy as np

sample, work, data, raw_id, ideal_id, out = sys.argv[1:7]
tdir = os.path.join(sample, work, 'truth')
res = {'work': work}


def stored(cap, name):
    a = cv2.imread(os.path.join(data, 'layers/spectral', cap, name + '.tif'), cv2.IMREAD_UNCHANGED)
    return a.astype(np.float64) / 50000.0


# Reflectance RMS of the calibrated raw capture against the ideal bands.
rms = {}
for nm in (450, 550, 650, 750, 850, 940):
    ideal = cv2.imread(os.path.join(tdir, 'bands', 'r%d.png' % nm), cv2.IMREAD_UNCHANGED) / 255.0
    got = stored(raw_id, 'r%d' % nm)
    d = got - ideal
    b = 3  # the outermost pixels hold what the shift brought in from outside the work
    rms['r%d' % nm] = float(np.sqrt(np.mean(d[b:-b, b:-b] ** 2)))
res['reflectance_rms'] = rms
res['reflectance_rms_max'] = max(rms.values())

# Registration against the true shifts.
truth = json.load(open(os.path.join(tdir, 'capture_truth.json')))
true = {b['name']: b['shift_px'] for b in truth['bands']}
cap = json.load(open(os.path.join(out, 'add_raw.json')))
errs = {}
for b in cap['bands']:
    if b['name'] in true and b['name'] != 'vis':
        t = true[b['name']]
        errs[b['name']] = float(np.hypot(b['shift_px'][0] - t[0], b['shift_px'][1] - t[1]))
res['registration_error_px'] = errs
res['registration_error_mean'] = float(np.mean(list(errs.values())))

# Pigment maps against truth/pigment_map.png.
pig = json.load(open(os.path.join(tdir, 'pigments.json')))
tnames = {m['id']: m['name'] for m in pig['materials']}
pmap = cv2.imread(os.path.join(tdir, 'pigment_map.png'), cv2.IMREAD_UNCHANGED)
cov = cv2.imread(os.path.join(tdir, 'pigment_coverage.png'), cv2.IMREAD_UNCHANGED) / 255.0
ink = cv2.imread(os.path.join(tdir, 'ink_density.png'), cv2.IMREAD_UNCHANGED) / 255.0
# Pigment over pigment (glazes, blue-green works only): the other colour and its share.
p2 = os.path.join(tdir, 'pigment2_map.png')
pmap2 = cv2.imread(p2, cv2.IMREAD_UNCHANGED) if os.path.exists(p2) else np.zeros_like(pmap)
cov2 = (cv2.imread(os.path.join(tdir, 'pigment2_coverage.png'), cv2.IMREAD_UNCHANGED) / 255.0
        if os.path.exists(p2) else np.zeros(pmap.shape))
library_families = set()


def family(name):
    parts = name.split('_')
    if len(parts) > 1 and parts[-1].startswith('sh') and parts[-1][2:].isdigit():
        parts = parts[:-1]
    return '_'.join(parts)


def score(kind):
    lab = cv2.imread(os.path.join(out, 'pigments_%s.png' % kind), cv2.IMREAD_UNCHANGED)
    leg = json.load(open(os.path.join(out, 'legend_%s.json' % kind)))
    names = {l['value']: l['name'] for l in leg['labels']}
    # The truth's materials that the library can name (mount silk and lining paper are
    # modelled mounting materials, not pigments: left out and counted).
    def truth_ok(m):
        return tnames[m] not in ('mount_silk', 'lining_paper', 'support', 'carbon_ink')
    pig_px = (cov >= 0.5) & (ink <= 0.3) & np.isin(pmap, [m for m in tnames if truth_ok(m)])
    sup_px = (pmap == 0) & (ink <= 0.1)
    pred_fam = np.full(lab.shape, '', dtype=object)
    for v, n in names.items():
        pred_fam[lab == v] = family(n) if v >= 2 else ('support' if v == 0 else 'carbon_ink')
    correct = np.zeros(lab.shape, bool)
    conf = {}
    for m in sorted(set(np.unique(pmap[pig_px]))):
        sel = pig_px & (pmap == m)
        tn = tnames[m]
        fams = pred_fam[sel]
        ok = np.array([f.startswith(tn) for f in fams])
        correct[sel] = ok
        vals, cnt = np.unique(fams, return_counts=True)
        conf[tn] = {str(v): int(c) for v, c in sorted(zip(vals, cnt), key=lambda x: -x[1])[:5]}
    acc = float(correct[pig_px].mean()) if pig_px.any() else float('nan')
    sup_recall = float((lab[sup_px] == 0).mean()) if sup_px.any() else float('nan')
    # Two pigments in one pixel (the other one holds at least 0.15 of it): right when the label
    # is the larger share (as pigment_map.png says), and 'either' when it is one of the two.
    two = pig_px & (pmap2 > 0) & (cov2 >= 0.15)
    either = correct.copy()
    for m in sorted(set(np.unique(pmap2[two]))):
        sel = two & (pmap2 == m)
        either[sel] |= np.array([f.startswith(tnames[m]) for f in pred_fam[sel]])
    glaze = {'pixels': int(two.sum()),
             'accuracy': float(correct[two].mean()) if two.any() else float('nan'),
             'either': float(either[two].mean()) if two.any() else float('nan')}
    return {'pigment_pixels': int(pig_px.sum()), 'pigment_accuracy': acc,
            'two_pigments': glaze,
            'support_pixels': int(sup_px.sum()), 'support_recall': sup_recall,
            'min': min(acc, sup_recall) if pig_px.any() else sup_recall,
            'excluded_mounting_pixels': int(((cov >= 0.5) & (ink <= 0.3) & ~pig_px & (pmap > 0)).sum()),
            'confusion': conf}


res['pigments_ideal'] = score('ideal')
res['pigments_raw'] = score('raw')


def auc(score_img, mask):
    s = score_img.astype(np.float64).ravel()
    y = mask.ravel() > 0
    npos, nneg = y.sum(), (~y).sum()
    if npos == 0 or nneg == 0:
        return float('nan')
    order = np.argsort(s, kind='mergesort')
    ranks = np.empty(len(s))
    # average ranks for ties
    ss = s[order]
    i = 0
    r = np.arange(1, len(s) + 1, dtype=np.float64)
    uniq, idx, counts = np.unique(ss, return_index=True, return_counts=True)
    avg = idx + (counts + 1) / 2.0
    ranks[order] = np.repeat(avg, counts)
    return float((ranks[y].sum() - npos * (npos + 1) / 2) / (npos * nneg))


for what, mask in (('underdrawing', 'underdrawing_mask.png'), ('retouching', 'retouch_mask.png')):
    m = cv2.imread(os.path.join(tdir, mask), cv2.IMREAD_UNCHANGED)
    for kind in ('ideal', 'raw'):
        p = os.path.join(out, 'reveal_%s_%s.png' % (what, kind))
        if os.path.exists(p):
            s = cv2.imread(p, cv2.IMREAD_UNCHANGED)
            res['auc_%s_%s' % (what, kind)] = auc(s, m)

# Peer: PCA and MNF of the raw capture against python3-spectral, from `decompose --json`.
try:
    import spectral as spy

    def sign_fix(v):
        v = np.array(v, dtype=np.float64)
        for k in range(v.shape[0]):
            if v[k, np.argmax(np.abs(v[k]))] < 0:
                v[k] = -v[k]
        return v

    for method in ('pca', 'mnf'):
        p = os.path.join(out, 'decompose_%s.json' % method)
        if not os.path.exists(p):
            continue
        dj = json.load(open(p))
        planes = []
        for name in dj['inputs']:
            a = cv2.imread(os.path.join(data, 'layers/spectral', raw_id, name + '.tif'),
                           cv2.IMREAD_UNCHANGED).astype(np.float32)
            if a.ndim == 3:
                a = (a[:, :, 0] + a[:, :, 1] + a[:, :, 2]) / np.float32(3)
            planes.append((a.astype(np.float64) / 50000.0).astype(np.float32).astype(np.float64))
        X = np.dstack(planes)
        vals = [c['eigenvalue' if method == 'pca' else 'snr'] for c in dj['components']]
        vec = sign_fix([c['vector'] for c in dj['components']])
        if method == 'pca':
            pc = spy.principal_components(X)
            pv, pw = pc.eigenvalues, sign_fix(pc.eigenvectors.T)
        else:
            noise = spy.noise_from_diffs(X)
            m = spy.mnf(spy.calc_stats(X), noise)
            pv = np.real(m.napc.eigenvalues)
            pw = sign_fix((noise.sqrt_inv_cov @ np.real(m.napc.eigenvectors)).T)
        res['peer_%s_values_rel' % method] = float(np.max(np.abs(np.array(vals) - pv)) / np.max(np.abs(pv)))
        res['peer_%s_vectors_rel' % method] = float(np.max(np.abs(vec - pw)) / np.max(np.abs(pw)))
except ImportError:
    res['peer'] = 'python3-spectral missing'
print(json.dumps(res, indent=1))
