#!/usr/bin/python3
"""Issue 12 diagnosis of the change-map classes (bench helper, not a science part): the confusion
of truth class x found class, the F1 an oracle class decision would give on the found pixels,
and what the pixels of each cell look like (truth coverage, ink, Delta E, luma change).
usage: conserve_confusion.py WORKDIR OUTDIR [short]   (WORKDIR = generate --only output/<id>,
OUTDIR = condition changes --out-dir; captures warped by truth/transform.json)"""
import sys, json
import numpy as np, cv2
from scipy import ndimage as ndi

wd, od = sys.argv[1], sys.argv[2]
T = lambda n: cv2.imread(f"{wd}/truth/{n}", cv2.IMREAD_UNCHANGED)
tl, tf, td = (T(f"change_mask_{k}.png") > 0 for k in ("loss", "flaking", "fading"))
P = lambda n: cv2.imread(f"{od}/{n}.png", cv2.IMREAD_UNCHANGED) > 0
pl, pf, pd = P("loss"), P("flaking"), P("fading")
tcls = np.zeros(tl.shape, np.uint8); tcls[tl] = 1; tcls[tf] = 2; tcls[td] = 3
pcls = np.zeros(tl.shape, np.uint8); pcls[pl] = 1; pcls[pf] = 2; pcls[pd] = 3
names = ["none", "loss", "flake", "fade"]
cm = np.zeros((4, 4), np.int64)
np.add.at(cm, (tcls.ravel(), pcls.ravel()), 1)
def f1(k, c=cm):
    tp = c[k, k]; fp = c[:, k].sum() - tp; fn = c[k, :].sum() - tp
    return 2 * tp / max(1, 2 * tp + fp + fn)
print(f"{wd}: F1 loss {f1(1):.3f} flake {f1(2):.3f} fade {f1(3):.3f}")
print("truth \\ pred " + " ".join(f"{n:>9}" for n in names))
for i in range(4):
    print(f"{names[i]:>12} " + " ".join(f"{cm[i, j]:9d}" for j in range(4)))
# oracle class among found paint pixels (pred flake|fade and truth flake|fade): swap to truth
c2 = cm.copy()
for a in (2, 3):
    for b in (2, 3):
        if a != b:
            c2[a, a] += c2[a, b]; c2[a, b] = 0
print(f"  oracle class among found: flake {f1(2, c2):.3f} fade {f1(3, c2):.3f}")
# oracle detection (perfect detection, current class where found)
if len(sys.argv) > 3:
    sys.exit(0)
cov = T("pigment_coverage.png").astype(float) / 255
ink = T("ink_density.png").astype(float) / 255
ref = cv2.imread(f"{wd}/truth/condition_2016.jpg")[:, :, ::-1].astype(float)
mov = cv2.imread(f"{wd}/truth/condition_2026.jpg")[:, :, ::-1].astype(float)
tr = json.load(open(f"{wd}/truth/transform.json"))
m = np.array(tr["matrix"])
g = np.array(tr["white_balance_gains"]) * tr["exposure_gain"]
warp = np.stack([cv2.warpAffine(mov[:, :, c], m, (ref.shape[1], ref.shape[0]),
                                flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP) for c in range(3)], 2)
warp = warp / g
def lab(x):
    return cv2.cvtColor(np.clip(x / 255, 0, 1).astype(np.float32), cv2.COLOR_RGB2LAB).astype(float)
L1, L2 = lab(cv2.blur(ref, (3, 3))), lab(cv2.blur(warp, (3, 3)))
de = np.sqrt(((L1 - L2) ** 2).sum(2))
lumd = (warp - ref) @ [0.299, 0.587, 0.114]
# truth flake islands: size, and whether its ring is truth fading (inside a faded area)
lab_f, nf = ndi.label(tf, np.ones((3, 3)))
sizes = np.bincount(lab_f.ravel())
ring = ndi.binary_dilation(tf, iterations=6) & ~tf
near_fade = ndi.uniform_filter(td.astype(float), 25)
def desc(mask, title):
    n = mask.sum()
    if n == 0:
        return
    q = lambda a: " ".join(f"{v:6.2f}" for v in np.percentile(a[mask], [10, 50, 90]))
    print(f"  {title:34s} n={n:8d} cov[{q(cov)}] ink[{q(ink)}] dE3[{q(de)}] dlum[{q(lumd)}] fadeDens25[{q(near_fade)}]")
for (t, p, title) in [(2, 2, "flake->flake"), (2, 3, "flake->fade"), (2, 0, "flake->missed"),
                      (3, 3, "fade->fade"), (3, 2, "fade->flake"), (3, 0, "fade->missed"),
                      (0, 2, "none->flake"), (0, 3, "none->fade"), (1, 2, "loss->flake"), (1, 3, "loss->fade")]:
    desc((tcls == t) & (pcls == p), title)
isz = sizes[lab_f]
for lo, hi in [(1, 20), (20, 60), (60, 200), (200, 1000), (1000, 1 << 40)]:
    mk = tf & (isz >= lo) & (isz < hi)
    if mk.sum():
        print(f"  flake islands {lo}-{hi}px: {mk.sum()} px; found flake {(mk & pf).sum()/mk.sum():.2f} fade {(mk & pd).sum()/mk.sum():.2f}; in fade area(dens>0.3) {(mk & (near_fade > 0.3)).sum()/mk.sum():.2f}")
inf = tf & (near_fade > 0.3)
print(f"  flakes in faded areas: {inf.sum()} px found flake {(inf & pf).sum()} fade {(inf & pd).sum()}; outside: {(tf & ~inf).sum()} px flake {(tf & ~inf & pf).sum()} fade {(tf & ~inf & pd).sum()}")
