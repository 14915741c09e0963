#!/usr/bin/env python3
"""test_cdn_headers.py (issue 15, a CDN in front): the caching headers of image answers for a
public image, a restricted one and a replaced pyramid (docs/deploy.md, CDN).

  - public: `public, max-age=3600, s-maxage=N` (N = --cdn-max-age, default 0: a shared cache
    keeps the bytes but revalidates every use), an ETag, and a bodiless 304 for it;
  - restricted: anyone without the right gets 401 (info.json: 200 with the IIIF Auth probe,
    private) also when revalidating with the ETag it held
    (never a 304 that would let a CDN serve its stored copy); whoever may see it gets
    `private` (no shared cache stores it), never `public` nor s-maxage;
  - replaced pyramid (`ingest --replace`): the stored tile's ETag changes, so a revalidation
    with the old one gets the new bytes (200), not 304.
One `danqing serve` ($DQ_BIN) on loopback port 0 with a SQLite catalog, stopped at the end."""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

import dqhttp
from dqhttp import request, stop
from dqnet import Counter

ROOT = os.environ.get("DQ_ROOT") or os.getcwd()
BIN = os.environ.get("DQ_BIN") or os.path.join(ROOT, "build/danqing")
T = Counter()
check = T.check


def serve(data, extra):
    return dqhttp.serve(BIN, data, extra)


def main():
    tmp = tempfile.mkdtemp(prefix="cdn.")
    procs = []
    try:
        data = f"{tmp}/data"
        subprocess.run(["vips", "xyz", f"{tmp}/a.v", "700", "500"], check=True)
        subprocess.run(["vips", "colourspace", f"{tmp}/a.v", f"{tmp}/a.png", "srgb"], check=True)
        subprocess.run(["vips", "black", f"{tmp}/b.png", "700", "500", "--bands", "3"],
                       check=True)
        for img in ("cdn-a", "cdn-b"):
            subprocess.run([BIN, "--data", data, "ingest", f"{tmp}/a.png", "--id", img],
                           check=True, capture_output=True)
        subprocess.run([BIN, "--data", data, "user", "add", "cura", "--role", "curator",
                        "--password", "cura-pass-1"], check=True, capture_output=True)
        tok = subprocess.run([BIN, "--data", data, "user", "token", "cura"], check=True,
                             capture_output=True, text=True).stdout.split()[0]
        auth = {"Authorization": f"Bearer {tok}"}
        a, port = serve(data, [])
        procs.append(a)
        ids = []
        for img in ("cdn-a", "cdn-b"):
            st, _, body = request(port, "POST", "/api/relics",
                                  {"accession": img.upper(), "title": {"en": img},
                                   "images": [{"image_id": img, "role": "main"}]}, auth)
            check(st == 201, f"public relic with {img}")
            ids.append(json.loads(body)["id"] if st == 201 else "")

        tile = "/iiif/3/cdn-a/0,0,256,256/256,/0/default.jpg"
        render = "/iiif/3/cdn-a/full/100,/0/default.jpg"
        info = "/iiif/3/cdn-a/info.json"
        for what, path in (("stored tile", tile), ("render", render), ("info.json", info)):
            st, h, _ = request(port, "GET", path)
            check(st == 200 and h.get("cache-control") == "public, max-age=3600, s-maxage=0"
                  and h.get("etag"), f"public {what}: {h.get('cache-control')!r}, ETag "
                  f"{h.get('etag')}")
            st2, h2, body2 = request(port, "GET", path, headers={"If-None-Match": h.get("etag")})
            check(st2 == 304 and body2 == b"", f"public {what}: revalidation is a bodiless 304")
        _, h, old_body = request(port, "GET", tile)
        old_tag = h.get("etag")

        # --cdn-max-age: the lifetime a CDN may use without asking (only with purges).
        b, port_b = serve(data, ["--cdn-max-age", "86400"])
        procs.append(b)
        st, h, _ = request(port_b, "GET", "/iiif/3/cdn-b/0,0,256,256/256,/0/default.jpg")
        check(st == 200 and h.get("cache-control") == "public, max-age=3600, s-maxage=86400",
              f"--cdn-max-age 86400: {h.get('cache-control')!r}")
        stop(b)
        procs.remove(b)

        # A replaced pyramid: new stored bytes, a new ETag; the old one no longer matches.
        r = subprocess.run([BIN, "--data", data, "ingest", f"{tmp}/b.png", "--id", "cdn-a",
                            "--replace"], capture_output=True, text=True)
        check(r.returncode == 0, "ingest --replace cdn-a" + ("" if not r.returncode
                                                             else ": " + r.stderr[-300:]))
        new_tag = old_tag
        for _ in range(300):  # the server looks at a pyramid's identity once a second
            st, h, body = request(port, "GET", tile, headers={"If-None-Match": old_tag})
            if st != 304:
                new_tag = h.get("etag")
                break
            time.sleep(0.02)
        check(st == 200 and body != old_body and new_tag and new_tag != old_tag,
              f"replaced pyramid: revalidating with the old ETag gets the new tile ({st}, "
              f"{old_tag} -> {new_tag})")
        check(h.get("cache-control") == "public, max-age=3600, s-maxage=0",
              "replaced pyramid: still public")

        # Restricted: never a 304 to a shared cache, private to whoever may see it.
        st, hd, _ = request(port, "GET", f"/api/relics/{ids[0]}", headers=auth)
        st, _, _ = request(port, "PATCH", f"/api/relics/{ids[0]}", {"restricted": True},
                           {**auth, "If-Match": hd.get("etag", ""),
                            "Content-Type": "application/merge-patch+json"})
        check(st == 200, "relic of cdn-a made restricted")
        for what, path in (("stored tile", tile), ("render", render), ("info.json", info)):
            st, h, _ = request(port, "GET", path, headers={"If-None-Match": new_tag})
            # IIIF Auth 2.0 (issue 16): restricted pixels are 401; the info.json, which
            # declares the probe service, is readable but never shared-cacheable.
            if what == "info.json":
                check(st == 200 and b"AuthProbeService2" in _ and
                      h.get("cache-control", "").startswith("private"),
                      f"restricted info.json: 200 with the probe, private ({st})")
            else:
                check(st == 401, f"restricted {what}: a CDN revalidating gets 401 ({st})")
            st, h, _ = request(port, "GET", path, headers=auth)
            cc = h.get("cache-control", "")
            check(st == 200 and cc.startswith("private") and "public" not in cc and
                  "s-maxage" not in cc, f"restricted {what} for its curator: {cc!r}")
    finally:
        for p in procs:
            stop(p)
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"{T.passed} passed, {T.failed} failed")
    return 1 if T.failed else 0


if __name__ == "__main__":
    sys.exit(main())
