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

Session 25 (uploads outside the lock): while the test itself holds the catalog's ingest lock
(the flock beside the database, or the PostgreSQL advisory lock from a psql session), two
ingests on the two nodes must both upload their master and their content-addressed pyramid
(pyramids/<id>.<sha16>.tif) and journal them; before, they waited for the lock before
uploading anything. One of them is then killed (SIGKILL: dead between upload and commit), the
lock released: the other commits; `danqing fixity` removes the dead one's upload (journal row,
pyramid, master) and says so. A --replace then removes the replaced pyramid key.
The same with two ingests of ONE id (session 26, migration 33): each run journals a row of its
own (before, the second overwrote the first's row, and the winner's commit removed the row by
id, so the dead one's pyramid was named by no row and stayed in the store forever); fixity then
removes the dead one's pyramid and master, and the store keeps only the pyramid the row names.
Environment: DQ_BIN, DQ_ROOT, TMPDIR. Prints NOT RUN for the PostgreSQL part without
PostgreSQL 15. Prints "N passed, N failed"."""
import fcntl
import glob
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


def poll(cond, limit_s):
    """Bounded polling: cond() every 50 ms until true or limit_s passed (not a timing test)."""
    import time
    end = time.monotonic() + limit_s
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(0.05)
    return cond()


def held_lock(name, tmp, catalog, query, hold, same_id=False):
    """hold() takes the catalog's ingest lock and returns a function that releases it.
    same_id: both ingests name one image id (other pictures; the nodes and store as before)."""
    tag = name + ("-same" if same_id else "")
    store = os.path.join(tmp, name + "-store")
    nodes = [os.path.join(tmp, name + "-A"), os.path.join(tmp, name + "-B")]
    base = [["--data", d, "--catalog", catalog, "--store", store] for d in nodes]
    pics = []
    for i in range(3):
        p = os.path.join(tmp, "%s-held%d.png" % (tag, i))
        pics.append((p, noise_png(p, 300, 200, (41 if same_id else 31) + i)))
    ids = ["%s-held-%d" % (tag.lower(), 0 if same_id else k) for k in range(2)]

    def uploaded(k):
        return (len(glob.glob(os.path.join(store, "pyramids", ids[k] + ".*.tif"))) ==
                (2 if same_id else 1) and
                os.path.exists(os.path.join(store, "masters", pics[k][1][:2], pics[k][1])))
    release = hold()
    procs = []
    try:
        procs = [subprocess.Popen([BIN, *base[k], "ingest", pics[k][0], "--id", ids[k]],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for k in range(2)]
        # The journal rows are written before the uploads: once both uploaded, both are there.
        both = (poll(lambda: uploaded(0) and uploaded(1), 120) and
                query("SELECT count(*) FROM image_pending") == "2")
        running = all(p.poll() is None for p in procs)
        check(both and running,
              "%s: two nodes upload master and pyramid while another holds the ingest lock "
              "(uploaded %s, journal %s, both waiting to commit %s)" %
              (name, [uploaded(k) for k in range(2)],
               query("SELECT count(*) FROM image_pending"), running))
        procs[1].kill()  # dead between its upload and its commit
        procs[1].wait()
    finally:
        release()
    out = procs[0].communicate(timeout=300)
    check(procs[0].returncode == 0 and
          query("SELECT master_sha256 FROM images WHERE id = '%s'" % ids[0]) == pics[0][1],
          "%s: the living ingest commits once the lock is free (rc %s %s)" %
          (name, procs[0].returncode, out[1].strip()[-160:]))
    fx = subprocess.run([BIN, *base[1], "fixity"], capture_output=True, text=True)
    # What stays of ids[1]'s pyramids: the one its row names (none unless the id is shared).
    named = query("SELECT pyramid_path FROM images WHERE id = '%s'" % ids[1])
    gone = (glob.glob(os.path.join(store, "pyramids", ids[1] + ".*")) ==
            ([os.path.join(store, named)] if named else []) and
            not os.path.exists(os.path.join(store, "masters", pics[1][1][:2], pics[1][1])))
    check(fx.returncode == 0 and "removed 1 upload" in fx.stderr and gone and
          query("SELECT count(*) FROM image_pending") == "0" and
          query("SELECT count(*) FROM images WHERE id = '%s'" % ids[1]) ==
          ("1" if same_id else "0"),
          "%s: fixity removes the dead ingest's upload (rc %s, %s, files gone %s)" %
          (name, fx.returncode, fx.stderr.strip()[-160:], gone))
    old = glob.glob(os.path.join(store, "pyramids", ids[0] + ".*.tif"))
    r = subprocess.run([BIN, *base[1], "ingest", pics[2][0], "--id", ids[0], "--replace"],
                       capture_output=True, text=True)
    now = glob.glob(os.path.join(store, "pyramids", ids[0] + ".*.tif"))
    row = query("SELECT pyramid_path FROM images WHERE id = '%s'" % ids[0])
    fx = subprocess.run([BIN, *base[0], "fixity", "--id", ids[0]], capture_output=True,
                        text=True)
    check(r.returncode == 0 and len(old) == 1 and len(now) == 1 and old != now and
          os.path.join(store, row) == now[0] and fx.returncode == 0,
          "%s: --replace names a new pyramid key and removes the replaced one (%s -> %s, row %s, "
          "fixity rc %s)" % (name, [os.path.basename(x) for x in old],
                             [os.path.basename(x) for x in now], row, fx.returncode))


def sqlite_hold(db):
    def hold():
        fd = os.open(db + "-lock-1", os.O_RDWR | os.O_CREAT, 0o644)
        fcntl.flock(fd, fcntl.LOCK_EX)
        return lambda: os.close(fd)
    return hold


def pg_hold(cat, schema, env):
    def hold():
        p = subprocess.Popen(["psql", "-X", "-tA", cat], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, text=True, env=env)
        # store_pg.c: key 1 is PG_LOCK_KEY1 (0x6471) + DQ_CATALOG_LOCK_INGEST, key 2 the
        # schema's hashtext.
        p.stdin.write("SELECT pg_advisory_lock(%d, hashtext('%s')) IS NOT NULL;\n"
                      % (0x6472, schema))
        p.stdin.flush()
        p.stdout.readline()  # "t": the lock is ours

        def release():
            p.stdin.close()
            p.wait()
        return release
    return hold


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
        held_lock("SQLite", tmp, "sqlite:" + db, sq, sqlite_hold(db))
        held_lock("SQLite", tmp, "sqlite:" + db, sq, sqlite_hold(db), same_id=True)
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
            held_lock("PostgreSQL", tmp, cat, pq, pg_hold(cat, schema, env))
            held_lock("PostgreSQL", tmp, cat, pq, pg_hold(cat, schema, env), same_id=True)
    finally:
        if pg_dir:
            subprocess.run([os.path.join(ROOT, "tests/pg-cluster.sh"), "stop", pg_dir])
        shutil.rmtree(tmp, ignore_errors=True)
    return T.summary()


if __name__ == "__main__":
    sys.exit(main())
