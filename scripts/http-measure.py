#!/usr/bin/env python3
"""http-measure: the issue 10 HTTP measurements, against any danqing binary (old or new).

usage: scripts/http-measure.py [BIN]   (default build/danqing)

Ingests a 6000 x 4000 image into a temporary data directory, serves it on 127.0.0.1 and
prints, one line each:
  rotated   the request of issue 10 (full/^!100000,100000/45/default.png): status, seconds,
            output pixels
  bodies    server RSS before and while 20 anonymous connections each post 16 MB
  health    /health latency (fresh connection every 50 ms) while 4 rotated renders run, and
            what the renders got
  gzip      a one-image Manifest and info.json, plain and gzip bytes (needs a binary with
            `danqing user token`; skipped otherwise)
Only 127.0.0.1 is contacted. Numbers depend on the machine; compare two binaries on one.
"""
import json
import os
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request


def rss_mb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) // 1024
    return 0


def get(port, path, headers=None, data=None, method=None, timeout=300):
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=data,
                                 headers=headers or {}, method=method)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read(), dict(r.headers)
    except urllib.error.HTTPError as e:
        return e.code, e.read(), dict(e.headers)


def png_pixels(b):
    if len(b) < 24 or b[12:16] != b"IHDR":
        return 0
    w, h = struct.unpack(">II", b[16:24])
    return w * h


def main():
    bin_path = sys.argv[1] if len(sys.argv) > 1 else "build/danqing"
    tmp = tempfile.mkdtemp(prefix="dq-http-measure.")
    srv = None
    try:
        data = os.path.join(tmp, "data")
        v = lambda n: os.path.join(tmp, n)
        subprocess.run(["vips", "xyz", v("xy.v"), "6000", "4000"], check=True)
        subprocess.run(["vips", "extract_band", v("xy.v"), v("x.v"), "0"], check=True)
        subprocess.run(["vips", "cast", v("x.v"), v("c.v"), "uchar"], check=True)
        subprocess.run(["vips", "bandjoin", f"{v('c.v')} {v('c.v')} {v('c.v')}", v("img.jpg")],
                       check=True)
        subprocess.run([bin_path, "ingest", v("img.jpg"), "--id", "img", "--data", data],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        srv = subprocess.Popen([bin_path, "serve", "--listen", "127.0.0.1:0", "--data", data,
                                "--log-level", "3"], stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL, text=True)
        port = int(srv.stdout.readline().strip().rstrip("/").rsplit(":", 1)[1])

        t0 = time.monotonic()
        st, body, _ = get(port, "/iiif/3/img/full/^!100000,100000/45/default.png")
        print(f"rotated: status {st}, {time.monotonic() - t0:.1f} s, "
              f"{png_pixels(body) / 1e6:.1f} Mpx")

        before = rss_mb(srv.pid)
        socks = []

        def post():
            s = socket.create_connection(("127.0.0.1", port), timeout=60)
            s.sendall(b"POST /api/relics HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                      b"Content-Length: 16000000\r\n\r\n")
            try:
                chunk = b"a" * 65536
                for _ in range(16000000 // 65536):
                    s.sendall(chunk)
            except OSError:
                pass
            socks.append(s)
        ts = [threading.Thread(target=post) for _ in range(20)]
        [t.start() for t in ts]
        [t.join() for t in ts]
        time.sleep(0.5)
        during = rss_mb(srv.pid)
        for s in socks:
            s.close()
        print(f"bodies: RSS {before} MB before, {during} MB with 20 anonymous 16 MB posts")

        res = []

        def render(i):
            t = time.monotonic()
            st, _, _ = get(port, f"/iiif/3/img/full/^!100000,100000/{30 + i}/default.png")
            res.append((st, round(time.monotonic() - t, 1)))
        ts = [threading.Thread(target=render, args=(i,)) for i in range(4)]
        [t.start() for t in ts]
        lat = []
        time.sleep(0.2)
        while any(t.is_alive() for t in ts):
            t = time.monotonic()
            s = socket.create_connection(("127.0.0.1", port), timeout=120)
            s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            while s.recv(65536):
                pass
            s.close()
            lat.append((time.monotonic() - t) * 1000)
            time.sleep(0.05)
        [t.join() for t in ts]
        lat.sort()
        print(f"health: {len(lat)} probes during 4 renders: p50 {lat[len(lat) // 2]:.1f} ms, "
              f"p99 {lat[int(len(lat) * 0.99)]:.1f} ms, max {lat[-1]:.1f} ms; renders "
              f"(status, s): {sorted(res, key=lambda x: x[1])}")

        env = dict(os.environ, DANQING_DATA=data)
        ok = subprocess.run([bin_path, "user", "add", "m", "--role", "admin", "--password",
                             "measure-pass-1"], env=env, capture_output=True).returncode == 0
        out = subprocess.run([bin_path, "user", "token", "m"], env=env, capture_output=True,
                             text=True).stdout.split() if ok else []
        tok = next((t for t in out if t.startswith("dq_")), None)
        if not tok:
            print("gzip: skipped (no token)")
            return 0
        auth = {"Authorization": f"Bearer {tok}", "Content-Type": "application/json"}
        st, b, _ = get(port, "/api/relics", auth, json.dumps(
            {"accession": "M-1", "title": {"zh": "清明上河图", "en": "Along the River"},
             "description": {"zh": "北宋张择端绘。" * 40}}).encode(), "POST")
        rid = json.loads(b).get("id", "") if st == 201 or st == 200 else ""
        get(port, f"/api/relics/{rid}/images", auth,
            json.dumps([{"image_id": "img", "role": "main"}]).encode(), "PUT")
        for path in (f"/iiif/presentation/3/{rid}/manifest", "/iiif/3/img/info.json"):
            _, plain, _ = get(port, path)
            _, gz, h = get(port, path, {"Accept-Encoding": "gzip"})
            print(f"gzip: {path}: {len(plain)} bytes plain, {len(gz)} bytes with "
                  f"Accept-Encoding: gzip ({h.get('Content-Encoding', 'identity')})")
    finally:
        if srv:
            srv.terminate()
            srv.wait()
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
