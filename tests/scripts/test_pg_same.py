#!/usr/bin/env python3
"""test_pg_same.py (issue 15): the same searches give the same answers on SQLite and on
PostgreSQL. The same generated records (bench/gen_relics.c) are imported into a SQLite
catalog and into a PostgreSQL one (the runner's private cluster, DQ_TEST_PG_URL; else one made
here by tests/pg-cluster.sh), and bench/catalog_dump.c prints the full answer of its fixed list
of tricky searches (CJK phrases and substrings, pinyin, initials, English phrases and plurals,
dictionary names, facets, year ranges, restricted records, two and three pages deep) on each.

Checked: every answer sorted by date or accession is byte-identical (items, order, totals,
facets, snippets, cursors). Relevance answers have the same totals, facets and match sets:
their order among equally tiered matches comes from each backend's own score (FTS5 bm25 on
SQLite, ts_rank on PostgreSQL), so where the three dumped pages hold every match the item
sets (with their snippets) must be equal, and elsewhere the totals and facets."""
import json
import os
import subprocess
import sys
import tempfile

ROOT = os.environ.get("DQ_ROOT") or os.getcwd()
BIN = os.path.join(ROOT, "build/danqing")
N = 3000
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


def make_vars():
    out = subprocess.run(["make", "-pnq", "-f", "Makefile", "nothing"], cwd=ROOT,
                         capture_output=True, text=True).stdout
    pk = [l for l in out.splitlines() if l.startswith("PKGS := ")][0][8:]
    libs = [l for l in out.splitlines() if l.startswith("LIBS := ")][0][8:]
    return pk, libs


def parse(path):
    """name -> list of JSON answers (one per page), in dump order."""
    res = {}
    seen = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            name, _, body = line.partition(": ")
            head, _, tail = name.rpartition(" #")
            page, _, role = tail.partition(" ")
            key = f"{head} {role}"
            if page == "0":  # a name may repeat (the same filters after each text)
                seen[key] = seen.get(key, 0) + 1
            key = f"{key} @{seen.get(key, 1)}"
            try:
                res.setdefault(key, []).append(json.loads(body))
            except json.JSONDecodeError:
                res.setdefault(key, []).append(body.strip())
    return res


def main():
    tmp = tempfile.mkdtemp(prefix="pg_same.")
    pg_dir = None
    try:
        base = os.environ.get("DQ_TEST_PG_URL")
        if not base:
            if subprocess.run([f"{ROOT}/tests/pg-cluster.sh", "available"]).returncode != 0:
                print("  skipped: PostgreSQL 15 is not installed here")
                print("0 passed, 0 failed")
                return 0
            pg_dir = f"{ROOT}/build/pgtest.same.{os.getpid()}"
            base = subprocess.run([f"{ROOT}/tests/pg-cluster.sh", "start", pg_dir],
                                  capture_output=True, text=True, check=True).stdout.strip()
        schema = f"same_{os.getpid()}"
        subprocess.run(["psql", "-X", "-q", base, "-c", f"CREATE SCHEMA {schema}"], check=True,
                       env={**os.environ, "PGOPTIONS": "-c client_min_messages=warning"})
        url = f"{base}?options=-csearch_path%3D{schema}"
        pk, libs = make_vars()
        cflags = subprocess.run(["pkg-config", "--cflags"] + pk.split(), capture_output=True,
                                text=True).stdout.split()
        subprocess.run(["cc", "-O2", "-std=c11", "-o", f"{tmp}/gen", f"{ROOT}/bench/gen_relics.c"],
                       check=True)
        subprocess.run(["cc", "-O1", "-std=c11", "-D_DEFAULT_SOURCE", f"-I{ROOT}/src"] + cflags +
                       ["-o", f"{tmp}/dump", f"{ROOT}/bench/catalog_dump.c",
                        f"{ROOT}/build/rel/libdanqing.a"] + libs.split(), check=True)
        with open(f"{tmp}/relics.jsonl", "w") as f:
            subprocess.run([f"{tmp}/gen", str(N)], stdout=f, check=True)
        for cat in (f"{tmp}/data", url):
            r = subprocess.run([BIN, "--data", f"{tmp}/data", "--catalog",
                                cat if cat.startswith("postgres") else f"sqlite:{cat}/catalog.sqlite",
                                "import", f"{tmp}/relics.jsonl"], capture_output=True, text=True)
            check(r.returncode == 0, f"import {N} records into {cat.split('?')[0]}"
                  + ("" if r.returncode == 0 else f": {r.stderr[-300:]}"))
        outs = []
        for cat in (f"sqlite:{tmp}/data/catalog.sqlite", url):
            with open(f"{tmp}/dump.{len(outs)}", "w") as f:
                subprocess.run([f"{tmp}/dump", cat], stdout=f, check=True)
            outs.append(parse(f"{tmp}/dump.{len(outs)}"))
        sq, pg = outs
        check(sq.keys() == pg.keys() and len(sq) > 50, f"{len(sq)} searches answered by both")
        exact = same_sets = counted = 0
        for key in sq:
            a, b = sq[key], pg.get(key, [])
            if a == b:
                exact += 1
                continue
            cur = a[0].get("next_cursor") if a and isinstance(a[0], dict) else None
            if cur is not None and not cur.startswith("r~"):  # date or accession order
                if True:
                    check(False, f"{key}: answers differ\n    sqlite: {str(a)[:300]}\n"
                                 f"    postgres: {str(b)[:300]}")
                continue
            # relevance: totals and facets of the first page, then the match sets
            ta = [p.get("total") if isinstance(p, dict) else p for p in a]
            tb = [p.get("total") if isinstance(p, dict) else p for p in b]
            fa = a[0].get("facets") if a and isinstance(a[0], dict) else a
            fb = b[0].get("facets") if b and isinstance(b[0], dict) else b
            if ta != tb or fa != fb:
                check(False, f"{key}: totals {ta} vs {tb} or facets differ")
                continue
            counted += 1
            items_a = sorted(json.dumps(i, sort_keys=True) for p in a if isinstance(p, dict)
                             for i in p["items"])
            items_b = sorted(json.dumps(i, sort_keys=True) for p in b if isinstance(p, dict)
                             for i in p["items"])
            if ta and isinstance(ta[0], int) and ta[0] <= len(items_a):
                if items_a == items_b:
                    same_sets += 1
                else:
                    check(False, f"{key}: the {ta[0]} matches differ")
        check(exact > 0, f"{exact} answers byte-identical (every date, accession and browse order)")
        check(counted > 0, f"{counted} relevance answers: same totals and facets; "
                           f"{same_sets} of them wholly listed with the same items and snippets")
    finally:
        if pg_dir:
            subprocess.run([f"{ROOT}/tests/pg-cluster.sh", "stop", pg_dir])
        subprocess.run(["rm", "-rf", tmp])
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
