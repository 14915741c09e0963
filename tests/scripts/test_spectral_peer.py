#!/usr/bin/python3
"""PCA and MNF of `danqing spectral decompose` against an independent implementation:
Debian's python3-spectral (Spectral Python: principal_components, noise_from_diffs, mnf).

A small work is painted, its raw capture added (calibrated, registered, stored as 16-bit
bands), then decomposed by danqing; the same stored bands are read here and decomposed by
Spectral Python. Eigenvalues / signal-to-noise ratios and component vectors (sign fixed so that
the largest weight is positive) must agree to 1e-4 relative. Also checks the CLI's atomicity:
bad input changes nothing in the data directory.
Environment: DQ_BIN (danqing, sanitizer build), DQ_ROOT (repository), TMPDIR.
"""
import json, os, shutil, subprocess, sys, tempfile

import cv2
import numpy as np
import spectral

root = os.environ.get('DQ_ROOT', '.')
binary = os.environ.get('DQ_BIN', os.path.join(root, 'build/danqing'))
# The sample is painted with the release build when there is one: the sanitizer build's
# `generate` trips a heap-use-after-free inside libvips' vips_text (paint/seal.c, present on
# main before issue 11); painting is not what this test checks.
painter = os.path.join(root, 'build/danqing')
if not os.access(painter, os.X_OK):
    painter = binary
tmp = tempfile.mkdtemp(prefix='dq_spec_peer.', dir=os.environ.get('TMPDIR'))
passed = failed = 0
WORK = 'DQ-2026-0012'


def check(name, ok, detail=''):
    global passed, failed
    if ok:
        passed += 1
        print('  ok   %s %s' % (name, detail))
    else:
        failed += 1
        print('  FAIL %s %s' % (name, detail))


def dq(*args, ok=True):
    r = subprocess.run([binary, '--data', os.path.join(tmp, 'data')] + list(args),
                       capture_output=True, text=True, cwd=root)
    if ok and r.returncode != 0:
        raise RuntimeError('danqing %s: %s' % (' '.join(args), r.stderr))
    return r


def tree(path):
    out = []
    for d, _, files in os.walk(path):
        for f in files:
            p = os.path.join(d, f)
            out.append((os.path.relpath(p, path), os.path.getsize(p)))
    return sorted(out)


def sign_fix(vectors):
    """Rows: largest-magnitude weight positive (danqing's convention)."""
    v = np.array(vectors, dtype=np.float64)
    for k in range(v.shape[0]):
        if v[k, np.argmax(np.abs(v[k]))] < 0:
            v[k] = -v[k]
    return v


def rel(a, b):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-300))


try:
    sample = os.path.join(tmp, 'sample')
    subprocess.run([painter, 'generate', '--out', sample, '--only', WORK, '--scale', '0.15',
                    '--seed', '3', '--quiet'], check=True, cwd=root)
    dq('import', os.path.join(sample, 'metadata.jsonl'))
    data = os.path.join(tmp, 'data')

    # Atomicity: refused inputs leave the data directory as it was.
    before = tree(data)
    r = dq('spectral', 'add', 'no-such-relic', os.path.join(sample, WORK, 'truth/capture'), ok=False)
    check('add to an unknown relic is refused', r.returncode == 1 and 'no relic' in r.stderr,
          r.stderr.strip())
    bad = os.path.join(tmp, 'bad')
    shutil.copytree(os.path.join(sample, WORK, 'truth/capture'), bad)
    with open(os.path.join(bad, 'r650.tif'), 'wb') as f:
        f.write(b'II*\0 truncated')
    r = dq('spectral', 'add', WORK, bad, ok=False)
    check('a corrupt band is refused', r.returncode == 1 and 'r650' in r.stderr, r.stderr.strip())
    check('nothing changed after refusals', tree(data) == before)

    add = json.loads(dq('spectral', 'add', WORK, os.path.join(sample, WORK, 'truth/capture'),
                        '--id', 'cap', '--json').stdout)
    check('add stores 8 bands', len(add['bands']) == 8)
    r = dq('spectral', 'add', WORK, os.path.join(sample, WORK, 'truth/capture'), '--id', 'cap',
           ok=False)
    check('a second add without --replace is refused', r.returncode == 1 and 'exists' in r.stderr)

    for method in ('pca', 'mnf'):
        out = json.loads(dq('spectral', 'decompose', 'cap', '--method', method, '--json').stdout)
        planes = []
        for name in out['inputs']:
            a = cv2.imread(os.path.join(data, 'layers/spectral/cap', name + '.tif'),
                           cv2.IMREAD_UNCHANGED).astype(np.float32)
            if a.ndim == 3:  # colour bands: the channel mean, as danqing reads them
                a = ((a[:, :, 0] + a[:, :, 1] + a[:, :, 2]) / np.float32(3))
            planes.append((a.astype(np.float64) / 50000.0).astype(np.float32).astype(np.float64))
        X = np.dstack(planes)
        comps = out['components']
        ours_vals = [c['eigenvalue' if method == 'pca' else 'snr'] for c in comps]
        ours_vec = sign_fix([c['vector'] for c in comps])
        if method == 'pca':
            pc = spectral.principal_components(X)
            vals = pc.eigenvalues
            vec = sign_fix(pc.eigenvectors.T)
        else:
            signal = spectral.calc_stats(X)
            noise = spectral.noise_from_diffs(X)
            m = spectral.mnf(signal, noise)
            vals = np.real(m.napc.eigenvalues)
            # danqing's vectors act on the centred input: Sigma_n^-1/2 V.
            vec = sign_fix((noise.sqrt_inv_cov @ np.real(m.napc.eigenvectors)).T)
        ev = rel(ours_vals, vals)
        vv = rel(ours_vec, vec)
        check('%s values agree with python3-spectral' % method, ev <= 1e-4, 'rel %.2e' % ev)
        check('%s vectors agree with python3-spectral' % method, vv <= 1e-4, 'rel %.2e' % vv)
        if method == 'mnf':
            check('mnf is ordered by SNR', all(a >= b for a, b in zip(ours_vals, ours_vals[1:])))
except Exception as e:  # a crash is a failure, with its message
    check('peer run', False, repr(e))
finally:
    shutil.rmtree(tmp, ignore_errors=True)

print('%d passed, %d failed' % (passed, failed))
sys.exit(1 if failed else 0)
