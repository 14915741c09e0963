#!/usr/bin/python3
"""Spectral captures through the blob store (issue 11 with issue 15), all on 127.0.0.1.

A small generated work's raw band stack (`generate --only DQ-2026-0004 --scale 0.12`) is added
with `danqing spectral add` into two data directories: one with the default store (the data
directory) and one whose store is S3 (s3rver behind the signature-checking proxy of
s3fixture.py). A derived layer (`spectral decompose --method pca`) is made in both, and one local band is
re-encoded as bands were stored before session 22 (zstd + predictor). Checked:
the bands and layers are objects under layers/spectral/<capture>/ in S3 and nothing of them is
under the S3 data directory; `danqing serve` on each answers a band tile, a composite tile, a
derived-layer tile and a spectrum byte-identical to the other's; fixity passes, then finds a
corrupted band object; `spectral add --replace` drops the replaced capture's layer objects;
deleting the relic over HTTP removes the capture's objects from S3 and its files from the local
store. Environment: DQ_BIN (danqing, sanitizer build), DQ_ROOT (repository), TMPDIR.
"""
import glob
import json
import os
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request

from s3fixture import BUCKET, Proxy, S3rver, binary, cleanup, dq, get, root, serve, stop_server

tmp = tempfile.mkdtemp(prefix='dq_spectral_s3.', dir=os.environ.get('TMPDIR'))
passed = failed = 0
CAP = 'c4'


def check(name, ok, detail=''):
    global passed, failed
    passed, failed = (passed + 1, failed) if ok else (passed, failed + 1)
    print('  %s %s %s' % ('ok  ' if ok else 'FAIL', name, detail if not ok else ''))
    sys.stdout.flush()
    return ok


def objects(s3dir):
    """Keys of the spectral objects s3rver holds (it keeps KEY._S3rver_object files)."""
    base = os.path.join(s3dir, BUCKET, 'museum') + '/'
    return sorted(p[len(base):-len('._S3rver_object')]
                  for p in glob.glob(base + 'layers/spectral/**/*._S3rver_object', recursive=True))


def delete(base, path, token):
    req = urllib.request.Request(base + path, method='DELETE',
                                 headers={'Authorization': 'Bearer ' + token, 'If-Match': '*'})
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


s3 = S3rver(os.path.join(tmp, 's3rver'))
proxy = None
try:
    # The release build paints (the sanitizer build's generate trips a libvips vips_text bug,
    # NOTES.md 21:44); everything under test runs on DQ_BIN.
    painter = os.path.join(root, 'build/danqing')
    if not os.access(painter, os.X_OK):
        painter = binary
    sample = os.path.join(tmp, 'sample')
    subprocess.run([painter, 'generate', '--out', sample, '--only', 'DQ-2026-0004', '--scale',
                    '0.12', '--quiet'], check=True, cwd=root, timeout=600)
    stack = os.path.join(sample, 'DQ-2026-0004', 'truth', 'capture')
    s3.start()
    proxy = Proxy(s3)
    store = 's3://%s/museum' % BUCKET
    opts = ['--s3-endpoint', 'http://127.0.0.1:%d' % proxy.port, '--store-cache',
            os.path.join(tmp, 'cache'), '--store-block-kb', '64', '--s3-part-mb', '5']
    dirs = {'local': (os.path.join(tmp, 'local'), None, []),
            's3': (os.path.join(tmp, 's3data'), store, opts)}
    for name, (d, st, ex) in dirs.items():
        dq(['import', os.path.join(sample, 'metadata.jsonl')], d, st, ex)
        dq(['spectral', 'add', 'DQ-2026-0004', stack, '--id', CAP], d, st, ex)
        dq(['spectral', 'decompose', CAP, '--method', 'pca'], d, st, ex)
        dq(['user', 'add', 'boss', '--role', 'admin', '--password', 'boss-pass-1'], d, st, ex)
    keys = objects(s3.dir)
    check('bands and derived layers are S3 objects under layers/spectral/<capture>/',
          'layers/spectral/c4/r550.tif' in keys and 'layers/spectral/c4/vis.tif' in keys and
          'layers/spectral/c4/pca-1.png' in keys, str(keys))
    check('nothing of the capture under the S3-backed data directory',
          not os.path.exists(os.path.join(dirs['s3'][0], 'layers')) and
          not os.listdir(os.path.join(dirs['s3'][0], 'tmp')))
    local_files = sorted(os.listdir(os.path.join(dirs['local'][0], 'layers/spectral', CAP)))
    check('the same files in the local store', ['layers/spectral/c4/' + f for f in local_files]
          == keys, str(local_files))

    # Bands stored before session 22 are zstd + horizontal predictor pyramids, today's are
    # uncompressed: the local r550 is re-encoded the old way, and must serve the same pixels.
    band = os.path.join(dirs['local'][0], 'layers/spectral', CAP, 'r550.tif')
    subprocess.run(['vips', 'tiffsave', band, band + '.zstd.tif', '--tile', '--tile-width', '256',
                    '--tile-height', '256', '--pyramid', '--compression', 'zstd', '--level', '1',
                    '--predictor', 'horizontal', '--strip'], check=True)
    os.replace(band + '.zstd.tif', band)
    servers = {name: serve(d, st, ex) for name, (d, st, ex) in dirs.items()}
    urls = ['/iiif/3/spectral/c4/r550/0,0,256,216/256,/0/default.png',
            '/iiif/3/spectral/c4/r550/full/420,/0/default.png',
            '/iiif/3/spectral/c4/irfc/512,0,512,216/256,/0/default.png',
            '/iiif/3/spectral/c4/uv365/full/420,/0/default.jpg',
            '/iiif/3/spectral/c4/pca-1/0,0,256,216/256,/0/default.png',
            '/api/captures/c4/spectrum?x=300&y=100']
    for u in urls:
        a = {k: get(b + u) for k, (_, b) in servers.items()}
        check('S3 answers %s like the local store' % u.split('?')[0],
              a['local'][0] == 200 and a['local'] == a['s3'], '%d %d' % (a['local'][0], a['s3'][0]))
    # Band files are pinned to their record's SHA-256 (session 24): spectra at new points
    # (uncached answers, every band read) ask the store no HEAD once the bands were opened;
    # before, each request asked one per band.
    heads0 = proxy.methods.get('HEAD', 0)
    pts = [get(servers['s3'][1] + '/api/captures/c4/spectrum?x=%d&y=%d' % (40 + 7 * k, 30 + 5 * k))
           for k in range(4)]
    heads = proxy.methods.get('HEAD', 0) - heads0
    check('spectra at 4 new points: no HEAD to the store (%d)' % heads,
          heads == 0 and all(st == 200 for st, _ in pts), str([st for st, _ in pts]))
    health = json.loads(get(servers['s3'][1] + '/health')[1])
    check('the S3 server read the bands through its block cache',
          health.get('store', {}).get('block_cache', {}).get('missed_blocks', 0) > 0, str(health))
    for p, _ in servers.values():
        stop_server(p)
    servers = {}

    r = dq(['fixity'], *dirs['s3'], check_rc=False)
    check('fixity on the S3 store: the capture is ok', r.returncode == 0 and
          'capture c4 ok' in r.stdout, r.stdout + r.stderr)
    obj = os.path.join(s3.dir, BUCKET, 'museum', 'layers/spectral/c4/r650.tif._S3rver_object')
    with open(obj, 'r+b') as f:
        f.seek(3000)
        c = f.read(1)
        f.seek(3000)
        f.write(bytes([c[0] ^ 0xFF]))
    r = dq(['fixity'], *dirs['s3'], check_rc=False)
    check('fixity finds the corrupted band object', r.returncode == 1 and
          'capture c4 MISMATCH layers/spectral/c4/r650.tif' in r.stdout, r.stdout + r.stderr)

    dq(['spectral', 'add', 'DQ-2026-0004', stack, '--id', CAP, '--replace'], *dirs['s3'])
    keys = objects(s3.dir)
    r = dq(['fixity'], *dirs['s3'], check_rc=False)
    check('--replace: new bands in place, the old layers gone, fixity ok again',
          'layers/spectral/c4/r650.tif' in keys and not any('pca' in k for k in keys) and
          r.returncode == 0, str(keys) + r.stdout)
    r = dq(['spectral', 'add', 'DQ-2026-0004', os.path.join(tmp, 'nowhere'), '--id', CAP,
            '--replace'], *dirs['s3'], check_rc=False)
    check('a failed add changes nothing', r.returncode != 0 and objects(s3.dir) == keys)

    for name, (d, st, ex) in dirs.items():
        tok = dq(['user', 'token', 'boss'], d, st, ex).stdout.split()[0]
        p, b = serve(d, st, ex)
        relic = json.loads(get(b + '/api/captures/c4')[1])['relic']
        status = delete(b, '/api/relics/' + relic, tok)
        stop_server(p)
        left = objects(s3.dir) if name == 's3' else \
            os.listdir(os.path.join(d, 'layers/spectral'))
        check('deleting the relic removes its capture files (%s)' % name, status == 204 and
              left == [], '%d %s' % (status, left))
except Exception as e:  # report, then clean up below
    import traceback
    traceback.print_exc()
    check('test ran to the end', False, repr(e))
finally:
    cleanup(proxy, tmp)

print('%d passed, %d failed' % (passed, failed))
sys.exit(1 if failed else 0)
