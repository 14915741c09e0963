#!/usr/bin/env python3
"""s3_revalidate.py (issue 15, session 24): requests a server sends to its S3 store per 1,000
tile GETs, by method, with a binary given as BEFORE and the current build.

For each binary: its own data directory and S3 prefix (s3rver behind s3fixture's counting,
signature-checking proxy), N_IMAGES noise pictures ingested (2048 x 2048), `danqing serve`,
one request per image to open its pyramid, then 1,000 tile GETs spread evenly over SECONDS of
wall time (round-robin over the images' level-0 tiles, so most are response-cache misses;
pacing is what a bench may do and a test may not). The proxy counts every request by method
from the first tile GET to the last. Before session 24 a server asked one HEAD per open
pyramid per second of an object store; now it asks the catalog when its change feed moves.

Usage: BEFORE=/path/to/old/danqing [AFTER=build/danqing] [N_IMAGES=8] [SECONDS=20]
       bench/s3_revalidate.py
"""
import os
import random
import struct
import subprocess
import sys
import tempfile
import time
import urllib.request
import zlib

ROOT = os.environ.get("DQ_ROOT") or os.getcwd()
sys.path.insert(0, os.path.join(ROOT, "tests/scripts"))
import s3fixture  # noqa: E402
from s3fixture import BUCKET, Proxy, S3rver  # noqa: E402

N = int(os.environ.get("N_IMAGES", "8"))
SECONDS = float(os.environ.get("SECONDS", "20"))
GETS = 1000


def noise_png(path, w, h, seed):
    rnd = random.Random(seed)
    row = bytes(rnd.randrange(256) for _ in range(3 * w))
    raw = b"".join(b"\x00" + row[y % 7:] + row[:y % 7] for y in range(h))

    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d))
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
                + chunk(b"IDAT", zlib.compress(raw, 1)) + chunk(b"IEND", b""))


def measure(name, binary, tmp, s3, proxy):
    s3fixture.binary = binary
    data = os.path.join(tmp, name)
    store = "s3://%s/%s" % (BUCKET, name)
    opts = ["--s3-endpoint", "http://127.0.0.1:%d" % proxy.port, "--store-cache",
            os.path.join(tmp, name + "-cache")]
    for i in range(N):
        src = os.path.join(tmp, "pic%d.png" % i)
        if not os.path.exists(src):
            noise_png(src, 2048, 2048, i)
        s3fixture.dq(["ingest", src, "--id", "img%d" % i], data, store, opts)
    p, base = s3fixture.serve(data, store, opts)
    try:
        for i in range(N):
            urllib.request.urlopen(base + "/iiif/3/img%d/info.json" % i, timeout=60).read()
        tiles = [(i, x, y) for x in range(0, 2048, 256) for y in range(0, 2048, 256)
                 for i in range(N)]
        with proxy.lock:
            proxy.methods.clear()
        t0 = time.monotonic()
        for k in range(GETS):
            i, x, y = tiles[k % len(tiles)]
            u = "%s/iiif/3/img%d/%d,%d,256,256/256,/0/default.jpg" % (base, i, x, y)
            urllib.request.urlopen(u, timeout=60).read()
            wait = t0 + SECONDS * (k + 1) / GETS - time.monotonic()
            if wait > 0:
                time.sleep(wait)
        wall = time.monotonic() - t0
        with proxy.lock:
            m = dict(proxy.methods)
    finally:
        s3fixture.stop_server(p)
    total = sum(m.values())
    print("| %s | %d | %.1f | %d | %d | %d |" % (name, N, wall, m.get("HEAD", 0),
                                                 m.get("GET", 0), total), flush=True)
    return m


def main():
    before = os.environ.get("BEFORE")
    after = os.environ.get("AFTER") or os.path.join(ROOT, "build/danqing")
    tmp = tempfile.mkdtemp(prefix="dq_s3_reval.", dir=os.environ.get("TMPDIR"))
    s3 = S3rver(os.path.join(tmp, "s3rver"))
    proxy = None
    try:
        s3.start()
        proxy = Proxy(s3)
        print("requests to S3 per %d tile GETs over %.0f s (%d open pyramids)" %
              (GETS, SECONDS, N))
        print("| build | pyramids | s | HEAD | GET | all |\n|---|---:|---:|---:|---:|---:|")
        if before:
            measure("before", before, tmp, s3, proxy)
        measure("now", after, tmp, s3, proxy)
    finally:
        s3.stop()
        s3fixture.cleanup(proxy, tmp)
    return 0


if __name__ == "__main__":
    sys.exit(main())
