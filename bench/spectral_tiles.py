#!/usr/bin/env python3
"""Uncached tile latency of a capture's layers (issue 11: composite tiles p50 < 20 ms).

Starts `danqing serve` on 127.0.0.1 port 0 over DATA, asks every tile URL once (so each answer
is rendered, none cached) for full-resolution 256 px tiles across the capture and 256 px tiles
of 512 px regions (one pyramid level down), one at a time, and prints a markdown row per layer:
tiles, p50, p90, max in ms (client-side, HTTP included).
usage: spectral_tiles.py BIN DATA CAPTURE [LAYER,...]
"""
import re, subprocess, sys, time, urllib.request

binary, data, cap = sys.argv[1:4]
layers = (sys.argv[4] if len(sys.argv) > 4 else
          'r550,vis,visible,irfc,uvf,rgb-r850-r650-r450,ratio-r850-r550').split(',')
p = subprocess.Popen([binary, '--data', data, 'serve', '--listen', '127.0.0.1:0'],
                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
try:
    port = None
    for _ in range(200):  # bounded: the first lines name the port
        m = re.search(r'127\.0\.0\.1:(\d+)', p.stdout.readline())
        if m:
            port = int(m.group(1))
            break
    if port is None:
        sys.exit('server did not start')
    info = urllib.request.urlopen('http://127.0.0.1:%d/iiif/3/spectral/%s/r550/info.json' % (port, cap))
    import json
    j = json.load(info)
    W, H = j['width'], j['height']
    base = 'http://127.0.0.1:%d/iiif/3/spectral/%s/' % (port, cap)
    for layer in layers:
        urls = ['%d,%d,%d,%d/256,/0/default.jpg' % (x, y, min(256, W - x), min(256, H - y))
                for y in range(0, H, 256) for x in range(0, W, 768)]
        urls += ['%d,%d,%d,%d/256,/0/default.jpg' % (x, y, min(512, W - x), min(512, H - y))
                 for y in range(0, H, 512) for x in range(128, W, 2048)]
        ts = []
        for u in urls:
            t0 = time.perf_counter()
            with urllib.request.urlopen(base + layer + '/' + u) as r:
                r.read()
            ts.append((time.perf_counter() - t0) * 1000)
        ts.sort()
        print('| %s | %d | %.1f | %.1f | %.1f |' % (layer, len(ts), ts[len(ts) // 2],
                                                 ts[int(len(ts) * 0.9)], ts[-1]))
finally:
    p.terminate()
    p.wait()
