#!/usr/bin/env python3
"""test_ingest_nodes.py (issue 15, session 24): ingests on two nodes that share one PostgreSQL
catalog and one store but have data directories of their own commit one at a time.

Each round, two `danqing ingest` processes (node A's and node B's data directory, the same
--catalog and --store) ingest two different pictures under the SAME new image id, started
together. Before session 24 the commit lock was an flock in each data directory, so both could
find the id free and rename their pyramids over one another: the catalog then named one
pyramid's checksum while the store held the other (fixity MISMATCH), or an ingest recovered the
other's live journal row and failed though its image was catalogued. Checked every round:
exactly one ingest succeeds and the other says the id exists; the catalog row is the winner's
(its master's SHA-256 is the winner's file); no journal row is left; `danqing fixity` is ok.
Then the same on one SQLite catalog file shared by two data directories (sqlite:PATH), whose
lock is an flock beside the database. Pictures are small noise PNGs; nothing sleeps for timing.
Environment: DQ_BIN, DQ_ROOT, TMPDIR. Prints NOT RUN for the PostgreSQL part without
PostgreSQL 15. Prints "N passed, N failed"."""
import hashlib
import os
import random
import shutil
import struct
import subprocess
import sys
import tempfile
import zlib

ROOT = os.environ.get("DQ_ROOT") or os.getcwd()
BIN = os.environ.get("DQ_BIN") or os.path.join(ROOT, "build/san/danqing")
ROUNDS = 6
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from dqnet import Counter  # noqa: E402
T = Counter()
check = T.check


def noise_png(path, w, h, seed):
    rnd = random.Random(seed)
    raw = b"".join(b"\x00" + bytes(rnd.randrange(256) for _ in range(3 * w)) for _ in range(h))

    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d))
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
                + chunk(b"IDAT", zlib.compress(raw, 1)) + chunk(b"IEND", b""))
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def rounds(name, tmp, catalog, query):
    """query(sql) -> first column of the first row, on the shared catalog."""
    store = os.path.join(tmp, name + "-store")
    nodes = [os.path.join(tmp, name + "-A"), os.path.join(tmp, name + "-B")]
    os.makedirs(store)
    pics = []
    for i in range(2):
        p = os.path.join(tmp, "pic%d.png" % i)
        pics.append((p, noise_png(p, 400, 300, 11 + i)))
    base = [["--data", d, "--catalog", catalog, "--store", store] for d in nodes]
    for r in range(ROUNDS):
        iid = "%s-round-%d" % (name.lower(), r)
        procs = [subprocess.Popen([BIN, *base[k], "ingest", pics[k][0], "--id", iid],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for k in range(2)]
        outs = [p.communicate(timeout=300) for p in procs]
        rcs = [p.returncode for p in procs]
        won = [k for k in range(2) if rcs[k] == 0]
        lost_ok = all("already exists" in outs[k][1] for k in range(2) if rcs[k] != 0)
        row_sha = query("SELECT master_sha256 FROM images WHERE id = '%s'" % iid)
        pend = query("SELECT count(*) FROM image_pending")
        fx = subprocess.run([BIN, *base[0], "fixity", "--id", iid], capture_output=True,
                            text=True)
        check(len(won) == 1 and lost_ok and row_sha == pics[won[0]][1] and pend == "0" and
              fx.returncode == 0,
              "%s round %d: one ingest of the id wins, the other says it exists, the row is "
              "the winner's, no journal row, fixity ok (rc %s, %s, pending %s, fixity %s)" %
              (name, r, rcs, [o[1].strip()[-120:] for o in outs if o[1].strip()], pend,
               fx.stdout.strip()[-160:]))


def main():
    tmp = tempfile.mkdtemp(prefix="dq_ingest_nodes.", dir=os.environ.get("TMPDIR"))
    pg_dir = None
    try:
        db = os.path.join(tmp, "shared.sqlite")

        def sq(sql):
            import sqlite3
            c = sqlite3.connect(db)
            try:
                row = c.execute(sql).fetchone()
                return "" if row is None else str(row[0])
            finally:
                c.close()
        rounds("SQLite", tmp, "sqlite:" + db, sq)
        url = os.environ.get("DQ_TEST_PG_URL")
        if not url and subprocess.run([os.path.join(ROOT, "tests/pg-cluster.sh"),
                                       "available"]).returncode == 0:
            pg_dir = os.path.join(ROOT, "build", "pgtest.ingestnodes.%d" % os.getpid())
            url = subprocess.run([os.path.join(ROOT, "tests/pg-cluster.sh"), "start", pg_dir],
                                 check=True, capture_output=True, text=True).stdout.strip()
        if not url:
            print("NOT RUN: the PostgreSQL part (PostgreSQL 15 is not installed)")
        else:
            schema = "ingestnodes_%d" % os.getpid()
            env = {**os.environ, "PGOPTIONS": "-c client_min_messages=warning"}
            subprocess.run(["psql", "-X", "-q", url, "-c", "CREATE SCHEMA " + schema],
                           check=True, env=env)
            cat = "%s?options=-csearch_path%%3D%s" % (url, schema)

            def pq(sql):
                return subprocess.run(["psql", "-X", "-tA", cat, "-c", sql], capture_output=True,
                                      text=True, env=env).stdout.strip()
            rounds("PostgreSQL", tmp, cat, pq)
    finally:
        if pg_dir:
            subprocess.run([os.path.join(ROOT, "tests/pg-cluster.sh"), "stop", pg_dir])
        shutil.rmtree(tmp, ignore_errors=True)
    return T.summary()


if __name__ == "__main__":
    sys.exit(main())
