#!/usr/bin/env python3
"""test_cdn_purge.py (issue 15, a CDN in front): `danqing serve --purge-command CMD` runs CMD
with the URL prefixes a CDN must drop when a public image answer may have become wrong
(docs/deploy.md, CDN), so that --cdn-max-age can be long:

  - a relic made restricted: its images' prefixes /iiif/3/<id>/ and /iiif/2/<id>/, and no
    other image's;
  - a pyramid replaced by `danqing ingest --replace` in another process: that image's;
  - writes from before the server started are not purged again.
The command is a shell script that appends its arguments to a file. One `danqing serve`
($DQ_BIN) on loopback port 0 with a SQLite catalog, stopped at the end also on failure."""
import json
import os
import shutil
import subprocess
import sys
import tempfile

import dqhttp
from dqhttp import request
from dqnet import Counter

ROOT = os.environ.get("DQ_ROOT") or os.getcwd()
BIN = os.environ.get("DQ_BIN") or os.path.join(ROOT, "build/danqing")
T = Counter()
check = T.check


def serve(data, extra):
    return dqhttp.serve(BIN, data, extra)


stop, poll = dqhttp.stop, dqhttp.poll


def purged(log):
    if not os.path.exists(log):
        return []
    with open(log, encoding="utf-8") as f:
        return [x.strip() for x in f if x.strip()]


def main():
    tmp = tempfile.mkdtemp(prefix="purge.")
    procs = []
    try:
        data = f"{tmp}/data"
        log = f"{tmp}/purged.txt"
        hook = f"{tmp}/purge.sh"
        with open(hook, "w") as f:
            f.write(f"#!/bin/sh\nfor a; do echo \"$a\"; done >> {log}\n")
        os.chmod(hook, 0o755)
        subprocess.run(["vips", "black", f"{tmp}/a.png", "600", "400", "--bands", "3"],
                       check=True)
        subprocess.run(["vips", "xyz", f"{tmp}/b.v", "600", "400"], check=True)
        subprocess.run(["vips", "colourspace", f"{tmp}/b.v", f"{tmp}/b.png", "srgb"], check=True)
        for img in ("pa", "pb"):
            subprocess.run([BIN, "--data", data, "ingest", f"{tmp}/a.png", "--id", img],
                           check=True, capture_output=True)
        subprocess.run([BIN, "--data", data, "user", "add", "cura", "--role", "curator",
                        "--password", "cura-pass-1"], check=True, capture_output=True)
        tok = subprocess.run([BIN, "--data", data, "user", "token", "cura"], check=True,
                             capture_output=True, text=True).stdout.split()[0]
        auth = {"Authorization": f"Bearer {tok}"}
        # a relic written before the server starts: not purged by it
        r = subprocess.run([BIN, "--data", data, "import", "-"], input=json.dumps(
            {"accession": "P-OLD", "title": {"en": "old"},
             "images": [{"image_id": "pb", "role": "main"}]}) + "\n",
            capture_output=True, text=True)
        check(r.returncode == 0, "a relic imported before the server starts")
        p, port = serve(data, ["--cdn-max-age", "86400", "--purge-command", hook])
        procs.append(p)
        st, _, body = request(port, "POST", "/api/relics",
                              {"accession": "P-A", "title": {"en": "a"},
                               "images": [{"image_id": "pa", "role": "main"}]}, auth)
        check(st == 201, "a public relic with image pa")
        rid = json.loads(body)["id"] if st == 201 else ""
        check(poll(lambda: "/iiif/3/pa/" in purged(log)), "its creation purges pa")
        check("/iiif/3/pb/" not in purged(log), "writes from before the start are not purged")
        os.remove(log)

        st, hd, _ = request(port, "GET", f"/api/relics/{rid}", headers=auth)
        st, _, _ = request(port, "PATCH", f"/api/relics/{rid}", {"restricted": True},
                           {**auth, "If-Match": hd.get("etag", ""),
                            "Content-Type": "application/merge-patch+json"})
        check(st == 200, "the relic made restricted")
        check(poll(lambda: {"/iiif/3/pa/", "/iiif/2/pa/"} <= set(purged(log))),
              f"restriction: pa purged in both API versions ({purged(log)})")
        check(not any("/pb/" in x for x in purged(log)), "restriction: pb left alone")
        os.remove(log)

        r = subprocess.run([BIN, "--data", data, "ingest", f"{tmp}/b.png", "--id", "pb",
                            "--replace"], capture_output=True, text=True)
        check(r.returncode == 0, "ingest --replace pb in another process")
        check(poll(lambda: {"/iiif/3/pb/", "/iiif/2/pb/"} <= set(purged(log))),
              f"replaced pyramid: pb purged ({purged(log)})")
        check(p.poll() is None, "the server still runs")
    finally:
        for p in procs:
            stop(p)
        shutil.rmtree(tmp, ignore_errors=True)
    return T.summary()


if __name__ == "__main__":
    sys.exit(main())
