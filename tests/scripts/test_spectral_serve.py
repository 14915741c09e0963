#!/usr/bin/python3
"""Serving multispectral captures (issue 11): the real server on 127.0.0.1 port 0.

A small work is painted and ingested, its raw capture added, a pigment map made; then the
server must answer each band, composite, ratio and stored layer as IIIF Image 3.0 (info.json,
regions, sizes, rotation by 90, gray), the spectrum at a point with the values that are stored
in the band pyramids, the capture's record, and the relic's manifest with a Choice body; bad
layers, coordinates and rotations get clear 4xx answers.
Environment: DQ_BIN (danqing, sanitizer build), DQ_ROOT (repository), TMPDIR.
"""
import json, os, re, shutil, signal, subprocess, sys, tempfile, time, urllib.error, urllib.request

import cv2
import numpy as np

root = os.environ.get('DQ_ROOT', '.')
binary = os.environ.get('DQ_BIN', os.path.join(root, 'build/danqing'))
painter = os.path.join(root, 'build/danqing')  # see test_spectral_peer.py: san generate + vips_text
if not os.access(painter, os.X_OK):
    painter = binary
tmp = tempfile.mkdtemp(prefix='dq_spec_serve.', dir=os.environ.get('TMPDIR'))
data = os.path.join(tmp, 'data')
passed = failed = 0
WORK = 'DQ-2026-0012'
server = None


def check(name, ok, detail=''):
    global passed, failed
    passed, failed = (passed + 1, failed) if ok else (passed, failed + 1)
    print('  %s %s %s' % ('ok  ' if ok else 'FAIL', name, detail))


def dq(*args):
    r = subprocess.run([binary, '--data', data] + list(args), capture_output=True, text=True,
                       cwd=root)
    if r.returncode != 0:
        raise RuntimeError('danqing %s: %s' % (' '.join(args), r.stderr))
    return r.stdout


def get(url):
    try:
        with urllib.request.urlopen(url, timeout=60) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


try:
    sample = os.path.join(tmp, 'sample')
    subprocess.run([painter, 'generate', '--out', sample, '--only', WORK, '--scale', '0.15',
                    '--seed', '5', '--quiet'], check=True, cwd=root)
    dq('ingest', os.path.join(sample, WORK, 'main.tif'), '--id', WORK)
    dq('import', os.path.join(sample, 'metadata.jsonl'))
    add = json.loads(dq('spectral', 'add', WORK, os.path.join(sample, WORK, 'truth/capture'),
                        '--id', 'cap', '--json'))
    dq('spectral', 'pigments', 'cap', '--out', os.path.join(tmp, 'map.png'))
    W, H = add['width'], add['height']

    server = subprocess.Popen([binary, '--data', data, 'serve', '--listen', '127.0.0.1:0'],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              cwd=root, start_new_session=True)
    base = None
    for _ in range(200):  # bounded: the first line names the port
        line = server.stdout.readline()
        m = re.search(r'listening on (http://127\.0\.0\.1:\d+)/', line)
        if m:
            base = m.group(1)
            break
    if not base:
        raise RuntimeError('server did not start')

    s, h, b = get(base + '/iiif/3/spectral/cap/irfc/info.json')
    info = json.loads(b) if s == 200 else {}
    check('info.json of a composite', s == 200 and info.get('width') == W and
          info.get('height') == H and 'rotationArbitrary' not in info.get('extraFeatures', []))
    for layer in ('visible', 'irfc', 'uvf', 'r940', 'ratio-r940-r650', 'rgb-r850-r650-r450',
                  'pigments', 'vis'):
        s, h, b = get(base + '/iiif/3/spectral/cap/%s/full/max/0/default.png' % layer)
        img = cv2.imdecode(np.frombuffer(b, np.uint8), cv2.IMREAD_UNCHANGED) if s == 200 else None
        check('layer %s renders' % layer, img is not None and img.shape[:2] == (H, W),
              '%s %s' % (s, None if img is None else img.shape))
    s, h, b = get(base + '/iiif/3/spectral/cap/r650/10,20,64,32/32,/90/gray.png')
    img = cv2.imdecode(np.frombuffer(b, np.uint8), cv2.IMREAD_UNCHANGED) if s == 200 else None
    check('region, size, rotation 90, gray', img is not None and img.shape == (32, 16),
          '%s %s' % (s, None if img is None else img.shape))
    # The grey band image is the stored reflectance, sRGB-encoded.
    stored = cv2.imread(os.path.join(data, 'layers/spectral/cap/r650.tif'),
                        cv2.IMREAD_UNCHANGED) / 50000.0
    s, h, b = get(base + '/iiif/3/spectral/cap/r650/full/max/0/default.png')
    img = cv2.imdecode(np.frombuffer(b, np.uint8), cv2.IMREAD_GRAYSCALE).astype(float) / 255
    lin = np.where(img <= 0.04045, img / 12.92, ((img + 0.055) / 1.055) ** 2.4)
    err = float(np.abs(lin - np.clip(stored, 0, 1)).max())
    check('band pixels are the stored reflectance', err < 0.01, 'max err %.4f' % err)

    for bad, code in (('nope/full/max/0/default.jpg', 404), ('r650/full/max/45/default.jpg', 400),
                      ('r650/full/max/0/default.gif', 501), ('rgb-r650-r550/info.json', 404)):
        s, h, b = get(base + '/iiif/3/spectral/cap/' + bad)
        check('%s -> %d' % (bad, code), s == code, str(s))
    s, h, b = get(base + '/iiif/3/spectral/nocap/r650/info.json')
    check('unknown capture -> 404', s == 404)

    x, y = W // 3, H // 2
    s, h, b = get(base + '/api/captures/cap/spectrum?x=%d&y=%d' % (x, y))
    sp = json.loads(b) if s == 200 else {}
    vals = {e['name']: e['value'] for e in sp.get('bands', [])}
    check('spectrum answers', s == 200 and len(sp.get('matches', [])) >= 3 and
          len(sp['matches'][0]['curve']) == len(sp['library_nm']))
    ok = all(abs(vals['r%d' % nm] - cv2.imread(os.path.join(data, 'layers/spectral/cap/r%d.tif' % nm),
                                               cv2.IMREAD_UNCHANGED)[y, x] / 50000.0) < 1e-4
             for nm in (450, 550, 650, 750, 850, 940)) if vals else False
    check('spectrum values are the stored bands', ok)
    for q in ('x=-1&y=0', 'x=%d&y=0' % W, 'x=a&y=1', 'y=1'):
        s, h, b = get(base + '/api/captures/cap/spectrum?' + q)
        check('spectrum %s -> 400' % q, s == 400, str(s))
    s, h, b = get(base + '/api/captures/cap')
    rec = json.loads(b) if s == 200 else {}
    check('capture record with images', s == 200 and
          any(i['name'] == 'irfc' for i in rec.get('images', [])) and
          any(l['name'] == 'pigments' for l in rec.get('layers', [])))
    relic = json.loads(dq('spectral', 'list', WORK, '--json'))[0]['relic']
    s, h, b = get(base + '/api/relics/%s/captures' % relic)
    check('relic captures', s == 200 and json.loads(b)['items'][0]['id'] == 'cap')
    s, h, b = get(base + '/iiif/presentation/3/%s/manifest' % relic)
    body = json.loads(b)['items'][0]['items'][0]['items'][0]['body'] if s == 200 else {}
    check('manifest offers a Choice', body.get('type') == 'Choice' and len(body['items']) >= 9 and
          body['items'][1]['service'][0]['type'] == 'ImageService3')
except Exception as e:
    check('serve run', False, repr(e))
finally:
    if server:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
    shutil.rmtree(tmp, ignore_errors=True)

print('%d passed, %d failed' % (passed, failed))
sys.exit(1 if failed else 0)
