#!/usr/bin/env python3
"""test_pg_2pc.py (issue 15): an import into PostgreSQL writes relic_fts on a second
connection and commits both halves by two-phase commit (src/catalog/store_pg.c, "two-phase
commit"). A writer killed between the halves loses nothing and leaves nothing half done:

  - killed after the second half's PREPARE, before the first half's COMMIT
    (DQ_PG_FAULT_2PC=prepared): the batch is gone from both tables once settled;
  - killed after the first half's COMMIT, before COMMIT PREPARED (=committed): the batch's
    relics are in, their search rows prepared; the next process to open the catalog commits
    them.
  - =single: as on a server without prepared transactions, everything on one connection;
  - and a `danqing serve` running through another process's crash settles the half at its
    next write;
  - killed between the two search halves' COMMIT PREPARED (=searched): the change feed (the
    audit rows, in the first search half) names none of the batch, whose search rows are
    partly visible: the feed's half commits last, so a node that sees a write in the feed
    sees all of its search rows; the next process commits the rest;
  - DDL that takes the tables an import writes one after another (LOCK TABLE audit, then
    relics: as DROP SCHEMA does) stops the import with a clear error instead of holding it, the DDL and both halves
    forever (the halves wait for each other through the client, where PostgreSQL's deadlock
    check cannot see it), and the import run again completes.

Then the import run again completes, and every relic has exactly the search row a clean import
into another schema gives it (same tsvector, same texts). Against the runner's private cluster
(DQ_TEST_PG_URL; else one made here by tests/pg-cluster.sh, which turns prepared transactions
on)."""
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from dqhttp import request  # noqa: E402

ROOT = os.environ.get("DQ_ROOT") or os.getcwd()
BIN = os.environ.get("DQ_BIN") or os.path.join(ROOT, "build/danqing")
N, BATCH = 2500, 1000
passed = failed = 0


def check(ok, what):
    global passed, failed
    if ok:
        passed += 1
        print(f"  ok   {what}")
    else:
        failed += 1
        print(f"  FAIL {what}")
    return ok


def records(path, n=N):
    """n small records with Chinese and English text (each one gets search rows)."""
    hz = "山水溪行旅秋江雪松风竹梅兰菊鹤云烟雨读书图轴卷"
    with open(path, "w", encoding="utf-8") as f:
        for i in range(n):
            t = "".join(hz[(i * 7 + k * 3) % len(hz)] for k in range(4))
            f.write('{"accession":"TPC-%05d","title":{"zh":"%s图","en":"Scene %d of rivers"},'
                    '"description":{"en":"Pines and wind, number %d"}}\n' % (i, t, i, i))


class Pg:
    def __init__(self, url):
        self.url = url

    def q(self, schema, sql):
        out = subprocess.run(["psql", "-X", "-A", "-t", "-q", self.url, "-c",
                              f"SET search_path = {schema}", "-c", sql],
                             capture_output=True, text=True, check=True).stdout
        return out.strip()

    def prepared(self, schema):
        """gids of the prepared search halves of this schema's catalog (dq_fts_ and an
        import's other one, dq_ftb_, named after its lock key, hashtext of the schema: other
        tests share the cluster), sorted."""
        out = self.q(schema, "SELECT string_agg(gid, ' ' ORDER BY gid) FROM pg_prepared_xacts"
                             " WHERE substr(gid, 8, 9) ="
                             " lpad(to_hex(hashtext(current_schema())), 8, '0') || '_'"
                             " AND left(gid, 7) IN ('dq_fts_', 'dq_ftb_')")
        return out.split() if out else []

    def counts(self, schema):
        return tuple(int(self.q(schema, f"SELECT count(*) FROM {t}"))
                     for t in ("relics", "relic_fts"))

    def digest(self, schema):
        # relic_fts holds no texts since migration 30: the document they come from instead
        return self.q(schema, "SELECT md5(string_agg(concat_ws('|', r.accession, r.doc,"
                              " f.fts::text, f.fts_ab::text),"
                              " E'\\n' ORDER BY r.accession)) FROM relics r"
                              " JOIN relic_fts f USING (seq)")

    def orphans_decided(self, gids):
        """Waits (bounded) until the first half of each prepared gid has ended: its backend
        notices its client's death on its own."""
        for _ in range(300):
            st = [self.q("public", f"SELECT pg_xact_status('{g.rsplit('_', 1)[1]}'::xid8)")
                  for g in gids]
            if all(s in ("committed", "aborted") for s in st):
                return st
            time.sleep(0.1)
        return st


def danqing(tmp, cat, *args, fault=None):
    env = dict(os.environ)
    env.pop("DQ_PG_FAULT_2PC", None)
    if fault:
        env["DQ_PG_FAULT_2PC"] = fault
    return subprocess.run([BIN, "--data", os.path.join(tmp, "data"), "--catalog", cat, *args],
                          capture_output=True, text=True, env=env)


def feed_last(pg, tmp, schema, cat, src):
    """6. The search half with the audit rows commits last (store_pg.c, commit_both)."""
    r = danqing(tmp, cat, "import", "--batch", str(BATCH), src, fault="searched")
    gids = pg.prepared(schema)
    check(r.returncode == -9 and len(gids) == 1 and gids[0].startswith("dq_fts_"),
          f"killed between the search halves' commits, the feed's half prepared ({gids})")
    feed = "SELECT count(*) FROM audit WHERE action = 'relic.create'"
    rel, fts = pg.counts(schema)
    check(rel == BATCH and 0 < fts < BATCH and pg.q(schema, feed) == "0",
          f"the other half's search rows visible, the feed names none of them ({rel}, {fts},"
          f" {pg.q(schema, feed)})")
    r = danqing(tmp, cat, "user", "list")
    check(r.returncode == 0 and pg.prepared(schema) == [] and
          pg.counts(schema) == (BATCH, BATCH) and pg.q(schema, feed) == str(BATCH),
          f"the next process committed the rest ({pg.counts(schema)}, {pg.q(schema, feed)})")


def ddl_during_import(pg, base, tmp, schema, cat):
    """7. DDL during an import, in the order that closes a cycle through the client: a batch of
    updates is under way (the first half holds relics; the audit rows go out at commit, on
    the search half), and another session takes audit's lock, then queues for relics (as
    DROP SCHEMA takes one table after another). The search half's audit rows then wait for
    that session, it for the first half, the first half for the client, the client for the
    search half: PostgreSQL sees no cycle. The search half's lock wait is bounded
    (lock_timeout), so the import stops with an error, every half rolls back, the DDL goes
    on, and the import run again writes everything. Bounded: a hung import is killed after
    90 s (the failure this guards against)."""
    m = 3000
    src, upd = os.path.join(tmp, "ddl.jsonl"), os.path.join(tmp, "ddl2.jsonl")
    records(src, m)
    with open(src, encoding="utf-8") as f, open(upd, "w", encoding="utf-8") as g:
        g.write(f.read().replace("Pines and wind", "Wind in the pines"))
    r = danqing(tmp, cat, "import", "--batch", str(m), src)
    check(r.returncode == 0, f"{m} relics ({r.stderr.strip()[-80:]})")
    # The window is made wide on purpose: an import of m relics takes ~0.6 s on a fast machine,
    # too short to see its statements from another process every 25 ms (CI missed it). Each
    # search connection's first DELETE FROM relic_fts sleeps 2 s in a statement trigger (once
    # per session: a custom setting marks it), before any audit row goes out on it.
    pg.q(schema, f"CREATE FUNCTION {schema}.dq_test_slow() RETURNS trigger LANGUAGE plpgsql AS"
                 " $$BEGIN IF coalesce(current_setting('dq_test.slept', true), '') = '' THEN"
                 " PERFORM set_config('dq_test.slept', '1', false); PERFORM pg_sleep(2);"
                 " END IF; RETURN NULL; END$$")
    pg.q(schema, f"CREATE TRIGGER dq_test_slow BEFORE DELETE ON {schema}.relic_fts"
                 f" FOR EACH STATEMENT EXECUTE FUNCTION {schema}.dq_test_slow()")
    env = {k: v for k, v in os.environ.items() if k != "DQ_PG_FAULT_2PC"}
    imp = subprocess.Popen([BIN, "--data", os.path.join(tmp, "data"), "--catalog", cat,
                            "import", "--batch", str(m), upd], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True, env=env)
    mid = False  # the batch's search rows being rewritten: relics held by the first half
    for _ in range(1200):
        if imp.poll() is not None:
            break
        n = pg.q("public", "SELECT count(*) FROM pg_stat_activity WHERE"
                           " query LIKE 'DELETE FROM relic_fts%'")
        if n != "0":
            mid = True
            break
        time.sleep(0.025)
    check(mid, "an import's batch of updates under way")
    locker = subprocess.Popen(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", base,
                               "-c", f"SET search_path = {schema}", "-c", "BEGIN",
                               "-c", "LOCK TABLE audit IN ACCESS EXCLUSIVE MODE",
                               "-c", "LOCK TABLE relics IN ACCESS EXCLUSIVE MODE",
                               "-c", "SELECT pg_sleep(1)", "-c", "ROLLBACK"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        out, errs = imp.communicate(timeout=90)
        hung = False
    except subprocess.TimeoutExpired:
        imp.kill()
        out, errs = imp.communicate()
        hung = True
    check(not hung and imp.returncode != 0 and "lock wait timed out" in errs,
          f"the import stopped with an error (hung {hung}, exit {imp.returncode},"
          f" {errs.strip()[-120:]!r})")
    try:
        lrc = locker.wait(timeout=60)
    except subprocess.TimeoutExpired:
        locker.kill()
        lrc = locker.wait()
    check(lrc == 0, f"the DDL went on ({locker.stderr.read().strip()[-120:]!r})")
    locker.stderr.close()
    check(pg.prepared(schema) == [], "no search half left prepared")
    pg.q(schema, f"DROP TRIGGER dq_test_slow ON {schema}.relic_fts")
    pg.q(schema, f"DROP FUNCTION {schema}.dq_test_slow()")
    changed = "SELECT count(*) FROM relics WHERE doc LIKE '%Wind in the pines%'"
    check(pg.counts(schema) == (m, m) and pg.q(schema, changed) == "0",
          f"the batch rolled back {pg.counts(schema)}, {pg.q(schema, changed)} changed")
    r = danqing(tmp, cat, "import", "--batch", str(m), upd)
    check(r.returncode == 0 and f"0 inserted, {m} updated, 0 unchanged, 0 failed"
          in r.stdout + r.stderr, f"the import again: {(r.stdout + r.stderr).strip()[-90:]}")
    check(pg.counts(schema) == (m, m) and pg.q(schema, changed) == str(m),
          f"every relic updated, with its search row {pg.counts(schema)}")

def main():
    tmp = tempfile.mkdtemp(prefix="pg_2pc.")
    pg_dir = None
    schemas = []
    pg = None
    try:
        base = os.environ.get("DQ_TEST_PG_URL")
        if not base:
            if subprocess.run([f"{ROOT}/tests/pg-cluster.sh", "available"]).returncode != 0:
                print("  skipped: PostgreSQL 15 is not installed here")
                print("0 passed, 0 failed")
                return 0
            pg_dir = f"{ROOT}/build/pgtest.2pc.{os.getpid()}"
            base = subprocess.run([f"{ROOT}/tests/pg-cluster.sh", "start", pg_dir],
                                  capture_output=True, text=True, check=True).stdout.strip()
        pg = Pg(base)
        if pg.q("public", "SHOW max_prepared_transactions") == "0":
            print("  skipped: the cluster takes no prepared transactions")
            print("0 passed, 0 failed")
            return 0
        src = os.path.join(tmp, "relics.jsonl")
        records(src)
        cats = {}
        for name in ("crash", "clean", "single", "serve", "ddl", "order"):
            s = f"tpc_{name}_{os.getpid()}"
            subprocess.run(["psql", "-X", "-q", base, "-c", f"CREATE SCHEMA {s}"], check=True)
            schemas.append(s)
            cats[name] = f"{base}?options=-csearch_path%3D{s}"
        crash = schemas[0]

        # 1. killed after the first half's COMMIT, before COMMIT PREPARED
        r = danqing(tmp, cats["crash"], "import", "--batch", str(BATCH), src, fault="committed")
        check(r.returncode == -9, f"killed between the commits (exit {r.returncode})")
        gids = pg.prepared(crash)
        check(len(gids) == 2, f"both search halves left prepared ({gids})")
        check(pg.counts(crash) == (BATCH, 0),
              f"the first batch's relics in, their search rows not yet {pg.counts(crash)}")
        st = pg.orphans_decided(gids)
        check(st == ["committed"] * 2, f"its first half committed ({st})")
        r = danqing(tmp, cats["crash"], "user", "list")
        check(r.returncode == 0, f"the next process opens the catalog ({r.stderr.strip()})")
        check(pg.prepared(crash) == [], "opening settled it")
        check(pg.counts(crash) == (BATCH, BATCH), f"search rows committed {pg.counts(crash)}")

        # 2. killed after the second half's PREPARE, before the first half's COMMIT: batch 1
        # is unchanged (no write), batch 2 dies
        r = danqing(tmp, cats["crash"], "import", "--batch", str(BATCH), src, fault="prepared")
        check(r.returncode == -9, f"killed between PREPARE and COMMIT (exit {r.returncode})")
        gids = pg.prepared(crash)
        check(len(gids) == 2, f"both search halves left prepared ({gids})")
        st = pg.orphans_decided(gids)
        check(st == ["aborted"] * 2, f"its first half aborted with its connection ({st})")
        check(pg.counts(crash) == (BATCH, BATCH), f"nothing of batch 2 visible {pg.counts(crash)}")

        # 3. the import again: settles (rolls back) the half, then writes the rest
        r = danqing(tmp, cats["crash"], "import", "--batch", str(BATCH), src)
        check(r.returncode == 0 and f"{N - BATCH} inserted, 0 updated, {BATCH} unchanged, 0 failed"
              in r.stdout + r.stderr, f"the import again: {(r.stdout + r.stderr).strip()[-90:]}")
        check(pg.prepared(crash) == [], "no prepared transaction left")
        check(pg.counts(crash) == (N, N), f"every relic with its search row {pg.counts(crash)}")
        r = danqing(tmp, cats["clean"], "import", "--batch", str(BATCH), src)
        check(r.returncode == 0, "a clean import into another schema")
        a, b = pg.digest(crash), pg.digest(schemas[1])
        check(a == b and a != "", f"search rows equal to the clean import's ({a} vs {b})")
        # and the same relics (documents, ids) as the clean import
        docs = "SELECT md5(string_agg(id || '|' || accession || '|' || doc, E'\\n' ORDER BY seq)) FROM relics"
        check(pg.q(crash, docs) == pg.q(schemas[1], docs), "relics equal to the clean import's")

        # 4. a server without prepared transactions: one connection, the same rows
        r = danqing(tmp, cats["single"], "import", "--batch", str(BATCH), src, fault="single")
        check(r.returncode == 0, "an import on one connection")
        check(pg.digest(schemas[2]) == b and pg.q(schemas[2], docs) == pg.q(schemas[1], docs),
              "its rows equal to the two-connection import's")
        r = danqing(tmp, cats["single"], "import", "--batch", str(BATCH), src, fault="single")
        check(r.returncode == 0 and f"0 inserted, 0 updated, {N} unchanged" in r.stdout,
              "run again: every row unchanged")

        # 5. a server that runs through another process's crash settles the half at its next
        # write (store_begin), not only at start-up
        sv = schemas[3]
        r = danqing(tmp, cats["serve"], "user", "add", "cura", "--role", "curator",
                    "--password", "cura-pass-1")
        tok = danqing(tmp, cats["serve"], "user", "token", "cura").stdout.strip().splitlines()
        check(r.returncode == 0 and tok, "a curator and its token")
        env = {k: v for k, v in os.environ.items() if k != "DQ_PG_FAULT_2PC"}
        env["DANQING_CATALOG"] = cats["serve"]
        srv = subprocess.Popen([BIN, "--data", os.path.join(tmp, "data"), "serve", "--listen",
                                "127.0.0.1:0", "--log-level", "2"], stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL, text=True, env=env)
        try:
            port = int(srv.stdout.readline().strip().rstrip("/").rsplit(":", 1)[1])
            r = danqing(tmp, cats["serve"], "import", "--batch", str(BATCH), src,
                        fault="committed")
            gids = pg.prepared(sv)
            check(r.returncode == -9 and len(gids) == 2 and
                  pg.orphans_decided(gids) == ["committed"] * 2,
                  "another process killed between the commits, beside the server")
            st, _, body = request(port, "POST", "/api/relics",
                                  {"accession": "TPC-SERVE", "title": {"en": "Served"}},
                                  {"Authorization": f"Bearer {tok[0] if tok else ''}"})
            check(st == 201, f"the server's next write ({st} {body[:120]!r})")
            check(pg.prepared(sv) == [], "it settled the half first")
            check(pg.counts(sv) == (BATCH + 1, BATCH + 1),
                  f"the batch's search rows and its own {pg.counts(sv)}")
        finally:
            srv.terminate()
            srv.wait(timeout=30)
            srv.stdout.close()

        feed_last(pg, tmp, schemas[5], cats["order"], src)
        ddl_during_import(pg, base, tmp, schemas[4], cats["ddl"])
    finally:
        if pg:
            for s in schemas:
                subprocess.run(["psql", "-X", "-q", base, "-c", f"DROP SCHEMA {s} CASCADE"],
                               capture_output=True)
        if pg_dir:
            subprocess.run([f"{ROOT}/tests/pg-cluster.sh", "stop", pg_dir], capture_output=True)
        subprocess.run(["rm", "-rf", tmp])
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
