#!/usr/bin/python3
"""test_layer_fixity.py (issues 12 and 15, session 24): `danqing fixity` checks a condition
record's change files and a restoration's files on every store, like masters.

A small painted work (`generate --only DQ-2026-0006 --scale 0.2`) gets a baseline condition
record (2016 capture), a one-step record (2026 capture: layers/<capture>/changes/{loss,
flaking,fading}.png, changes.png, changes.json) and a restoration (`restore --relic
--from-changes`: layers/<image>/{restoration.png,restoration.json,mask.png}), on two set-ups:
SQLite with the data directory as the store, and PostgreSQL (DQ_TEST_PG_URL, else a private
cluster from tests/pg-cluster.sh) with S3 (s3rver behind s3fixture's signature-checking proxy).
Checked on each: fixity is ok and names both layer folders; one changed byte in changes.json
and in mask.png is MISMATCH, a removed loss.png is MISSING, and fixity exits 1; deleting the
record over the API removes the change files and their checksums (fixity is ok again, the
restoration's folder still checked). The old code checked none of these files (fixity
said ok).
Session 26: like pyramids, the files are stored under keys of their own content
(loss.<sha16>.png, the SHA-256 the catalog row records), never over a key a reader or a cache
may hold: each of the 8 is there and not under its plain name; a second restoration (another
mask) puts new keys and removes the replaced ones once its rows name the new. Files put before
content keys (plain names, as --adopt-layers finds them) are still read and checked.
Environment: DQ_BIN, DQ_ROOT, TMPDIR. Prints "N passed, N failed".
"""
import glob
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import s3fixture  # noqa: E402
from dqnet import Counter  # noqa: E402
from s3fixture import BUCKET, Proxy, S3rver, root  # noqa: E402

BIN = s3fixture.binary
# The heavy steps (painting, change maps, inpainting) run on the release build, as
# test_migrate.py makes its source; fixity, which is under test, runs on DQ_BIN.
FAST = os.path.join(root, "build/danqing")
if not os.access(FAST, os.X_OK):
    FAST = BIN
WORK = "DQ-2026-0006"
T = Counter()


def check(ok, what, detail=""):
    return T.check(ok, what + ("" if ok else " " + detail[-1500:]))


def dq(args, base, binary=BIN, check_rc=True):
    r = subprocess.run([binary, *base, *args], capture_output=True, text=True, cwd=root,
                       env=s3fixture.env(), timeout=600)
    if check_rc and r.returncode != 0:
        raise RuntimeError("%s: rc %d: %s" % (" ".join(args), r.returncode, r.stderr[-800:]))
    return r


def flip(path, at):
    with open(path, "r+b") as f:
        f.seek(at)
        c = f.read(1)
        f.seek(at)
        f.write(bytes([c[0] ^ 0xFF]))


def delete(base_url, path, token):
    req = urllib.request.Request(base_url + path, method="DELETE",
                                 headers={"Authorization": "Bearer " + token, "If-Match": "*"})
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


def content_key(key, sha):
    """Where a layer file with this SHA-256 is stored: ".<sha16>" before its extension."""
    stem, ext = os.path.splitext(key)
    return "%s.%s%s" % (stem, sha[:16], ext)


def png_mask(path, w, h, box):
    """A grey PNG, 255 inside box (x0, y0, x1, y1), 0 elsewhere."""
    import struct
    import zlib
    x0, y0, x1, y1 = box
    raw = b"".join(b"\x00" + bytes(255 if x0 <= x < x1 and y0 <= y < y1 else 0
                                    for x in range(w)) for y in range(h))

    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d))
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0))
                + chunk(b"IDAT", zlib.compress(raw, 1)) + chunk(b"IEND", b""))


def one(name, base, file_of, gen, sql):
    """base: the common arguments (--data, --catalog, --store ...); file_of(key): the file
    that holds key's bytes in this store (a data-directory file or an s3rver object);
    sql(statement): runs it on the catalog, the first column of the first row (or None)."""
    relic_id = lambda: sql("SELECT id FROM relics")
    sha_of = lambda k: sql("SELECT sha256 FROM layer_files WHERE key = '%s'" % k)
    truth = os.path.join(gen, WORK, "truth")
    dq(["ingest", os.path.join(gen, WORK, "main.tif"), "--id", WORK], base, FAST)
    dq(["import", os.path.join(gen, "metadata.jsonl")], base, FAST)
    rel = relic_id()
    for date, cap in (("2016-05-17", "condition_2016.jpg"), ("2026-04-09", "condition_2026.jpg")):
        dq(["condition", "record", rel, "--capture", os.path.join(truth, cap), "--date", date,
            "--examiner", "Li Na"], base, FAST)
    dq(["restore", "--relic", rel, "--from-changes"], base, FAST)
    r = dq(["fixity"], base, check_rc=False)
    lines = r.stdout.splitlines()
    chg = [ln.split()[1] for ln in lines if ln.startswith("layers ") and ln.endswith("/changes ok")]
    res = "layers/%s" % WORK
    check(r.returncode == 0 and len(chg) == 1 and ("layers %s ok" % res) in lines and
          "2 layer folders: 2 ok, 0 mismatch, 0 missing" in r.stdout,
          "%s: fixity checks the change files and the restoration's files: ok" % name,
          r.stdout + r.stderr)
    if not chg:
        return
    chg = chg[0]
    keys = ["%s/%s" % (chg, f) for f in ("loss.png", "flaking.png", "fading.png", "changes.png",
                                         "changes.json")]
    keys += ["%s/%s" % (res, f) for f in ("restoration.png", "mask.png", "restoration.json")]
    where = {k: (os.path.exists(file_of(content_key(k, sha_of(k) or "x" * 16))),
                 os.path.exists(file_of(k))) for k in keys}
    check(all(w == (True, False) for w in where.values()),
          "%s: the 8 layer files are stored under their content's keys, not their plain names" %
          name, str(where))
    # Another restoration (another mask): new keys; the replaced ones go after the commit.
    old_mask = content_key(res + "/mask.png", sha_of(res + "/mask.png"))
    w, h = (int(x) for x in sql("SELECT width || ' ' || height FROM images WHERE id = '%s'"
                                % WORK).split())
    mask = os.path.join(gen, "mask.png")
    png_mask(mask, w, h, (w // 4, h // 4, w // 4 + 12, h // 4 + 12))
    dq(["restore", "--relic", relic_id(), "--mask", mask], base, FAST)
    new_mask = content_key(res + "/mask.png", sha_of(res + "/mask.png"))
    r = dq(["fixity"], base, check_rc=False)
    check(new_mask != old_mask and os.path.exists(file_of(new_mask)) and
          not os.path.exists(file_of(old_mask)) and r.returncode == 0 and
          "2 layer folders: 2 ok, 0 mismatch, 0 missing" in r.stdout,
          "%s: a new restoration is stored under new keys and the replaced ones are removed "
          "(%s -> %s)" % (name, old_mask, new_mask), r.stdout + r.stderr)
    # A catalog from before migration 29: the same files, no checksum rows. fixity cannot
    # check them until `--adopt-layers` records what the record and the restoration link
    # name (8 files), and nothing else: a stray file under layers/ stays unrecorded.
    for k in keys:  # a catalog from before content keys kept them under their plain names
        ck = content_key(k, sha_of(k))
        got = os.path.join(gen, "moved")
        dq(["store", "get", ck, got], base, FAST)
        dq(["store", "put", k, got], base, FAST)
        dq(["store", "rm", ck], base, FAST)
    sql("DELETE FROM layer_files")
    stray = os.path.join(gen, "stray.png")
    with open(stray, "wb") as f:
        f.write(b"not named by any record")
    dq(["store", "put", "layers/stray/changes/loss.png", stray], base, FAST)
    r = dq(["fixity"], base, check_rc=False)
    check(r.returncode == 0 and "layer folder" not in r.stdout,
          "%s: rows gone (a pre-29 catalog): fixity cannot see the layer files" % name,
          r.stdout + r.stderr)
    r = dq(["fixity", "--adopt-layers"], base, check_rc=False)
    check(r.returncode == 0 and "adopted 8 layer files (0 already recorded, 0 named but "
          "missing)" in r.stdout and "2 layer folders: 2 ok, 0 mismatch, 0 missing" in r.stdout
          and "stray" not in r.stdout and
          sql("SELECT count(*) FROM layer_files WHERE key LIKE 'layers/stray/%'") in (0, "0"),
          "%s: fixity --adopt-layers records the 8 named files (not a stray one)" % name,
          r.stdout + r.stderr)
    r = dq(["fixity", "--adopt-layers"], base, check_rc=False)
    check(r.returncode == 0 and "adopted 0 layer files (8 already recorded" in r.stdout,
          "%s: adopting again records nothing" % name, r.stdout + r.stderr)
    flip(file_of(chg + "/changes.json"), 10)
    flip(file_of(res + "/mask.png"), 40)
    os.remove(file_of(chg + "/loss.png"))
    r = dq(["fixity"], base, check_rc=False)
    check(r.returncode == 1 and
          ("layers %s MISMATCH %s/changes.json MISSING %s/loss.png" % (chg, chg, chg)) in
          r.stdout and ("layers %s MISMATCH %s/mask.png" % (res, res)) in r.stdout,
          "%s: a changed changes.json and mask.png are MISMATCH, a removed loss.png MISSING" %
          name, r.stdout + r.stderr)
    # Deleting the record removes its change files with their checksums.
    dq(["user", "add", "boss", "--role", "admin", "--password", "boss-pass-1"], base)
    tok = dq(["user", "token", "boss"], base).stdout.split()[0]
    p, url = s3fixture.serve(base[1], *store_of(base))
    try:
        req = urllib.request.Request(url + "/api/relics/%s/condition" % rel,
                                     headers={"Authorization": "Bearer " + tok})
        with urllib.request.urlopen(req, timeout=60) as f:
            items = json.load(f)["items"]
        rec = [i["id"] for i in items if i.get("changes")][0]
        st = delete(url, "/api/relics/%s/condition/%s" % (rel, rec), tok)
    finally:
        s3fixture.stop_server(p)
    r = dq(["fixity"], base, check_rc=False)
    check(st == 204 and not any(chg in ln for ln in r.stdout.splitlines()) and
          "1 layer folder: 0 ok, 1 mismatch, 0 missing" in r.stdout,
          "%s: a deleted record's change files leave fixity with their checksums (%s)" %
          (name, st), r.stdout + r.stderr)


def store_of(base):
    """(store, extra) of base for s3fixture.serve."""
    store, extra, i = None, [], 2
    while i < len(base):
        if base[i] == "--store":
            store = base[i + 1]
        elif base[i] != "--data":
            extra += base[i:i + 2]
        i += 2
    return store, extra


def main():
    tmp = tempfile.mkdtemp(prefix="dq_layer_fixity.", dir=os.environ.get("TMPDIR"))
    s3 = S3rver(os.path.join(tmp, "s3rver"))
    proxy = None
    pg_dir = None
    try:
        gen = os.path.join(tmp, "gen")
        subprocess.run([FAST, "generate", "--out", gen, "--only", WORK, "--scale", "0.2",
                        "--quiet"], check=True, cwd=root, capture_output=True, timeout=600)
        data = os.path.join(tmp, "local")
        def sq(stmt):
            with sqlite3.connect(os.path.join(data, "catalog.sqlite")) as c:
                row = c.execute(stmt).fetchone()
            return row[0] if row else None
        one("SQLite, data directory", ["--data", data], lambda k: os.path.join(data, k), gen, sq)

        have_pg = os.environ.get("DQ_TEST_PG_URL") or subprocess.run(
            [os.path.join(root, "tests/pg-cluster.sh"), "available"]).returncode == 0
        if not have_pg or not shutil.which("node"):
            print("NOT RUN: the PostgreSQL + S3 part (needs PostgreSQL 15 and node)")
        else:
            url = os.environ.get("DQ_TEST_PG_URL")
            if not url:
                pg_dir = os.path.join(root, "build", "pgtest.layerfix.%d" % os.getpid())
                url = subprocess.run([os.path.join(root, "tests/pg-cluster.sh"), "start", pg_dir],
                                     check=True, capture_output=True, text=True).stdout.strip()
            schema = "layerfix_%d" % os.getpid()
            subprocess.run(["psql", "-X", "-q", url, "-c", "CREATE SCHEMA " + schema],
                           check=True, env={**os.environ,
                                            "PGOPTIONS": "-c client_min_messages=warning"})
            cat = "%s?options=-csearch_path%%3D%s" % (url, schema)
            s3.start()
            proxy = Proxy(s3)
            d2 = os.path.join(tmp, "s3data")
            base = ["--data", d2, "--catalog", cat, "--store", "s3://%s/museum" % BUCKET,
                    "--s3-endpoint", "http://127.0.0.1:%d" % proxy.port,
                    "--store-cache", os.path.join(tmp, "cache")]
            one("PostgreSQL, S3", base, lambda k: os.path.join(s3.dir, BUCKET, "museum",
                                                              k + "._S3rver_object"), gen,
                lambda stmt: (subprocess.run(["psql", "-X", "-tA", cat, "-c", stmt],
                                             capture_output=True, text=True).stdout.strip()
                              .splitlines() or [None])[0])
            check(not glob.glob(os.path.join(d2, "layers", "**", "*.png"), recursive=True),
                  "PostgreSQL, S3: no layer file in the node's data directory")
    finally:
        s3.stop()
        if pg_dir:
            subprocess.run([os.path.join(root, "tests/pg-cluster.sh"), "stop", pg_dir])
        s3fixture.cleanup(proxy, tmp)
    return T.summary()


if __name__ == "__main__":
    sys.exit(main())
