#!/usr/bin/env python3
"""test_condition_record.py (issue 12): a condition record in one step, from the CLI
(`danqing condition record`) and from the API (POST /api/relics/{id}/condition/jobs, polled),
on a small painted work with its two condition captures (`danqing generate --only DQ-2026-0006
--scale 0.25`). The record's change areas must equal what `danqing condition changes` finds on
the same pair (the one-step record calls that method, it does not redo it); its change map and
capture are IIIF images linked to the relic but not canvases of the manifest; observations are
drafted with boxes and areas in px and cm2; the record is an unpublished draft, whose capture
and change map anonymous callers may not see until it is published. Bad input (an
unregistrable pair, a wrong role, a missing relic) changes nothing: same records, images,
audit rows and files. Then the restoration mask's outline (GET /api/images/{id}/outline) of a
`danqing restore --relic --from-changes` made from those captures. Prints "N passed, N failed"."""
import glob
import json
import os
import random
import shutil
import sqlite3
import struct
import subprocess
import sys
import tempfile
import zlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dqhttp  # noqa: E402

ROOT = os.environ.get("DQ_ROOT", ".")
BIN = os.environ.get("DQ_BIN", os.path.join(ROOT, "build/san/danqing"))
# The painter runs from the release build (as test_scene_api.py does): it is slow under the
# sanitizers and is tested on its own by tests/unit/paint.
GEN = os.path.join(ROOT, "build/danqing")
if not os.access(GEN, os.X_OK):
    GEN = BIN
WORK = "DQ-2026-0006"
passed = failed = 0


def check(ok, what):
    global passed, failed
    if ok:
        passed += 1
        print("  ok  ", what)
    else:
        failed += 1
        print("  FAIL", what)


def run(*args, binary=None, ok=True):
    p = subprocess.run([binary or BIN, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       text=True)
    if ok and p.returncode != 0:
        raise RuntimeError(f"{args}: exit {p.returncode}: {p.stderr[-400:]}")
    return p


def noise_png(path, w, h, seed=7):
    """A grey PNG of uniform noise: nothing in it can be registered to a painting."""
    rnd = random.Random(seed)
    raw = b"".join(b"\x00" + bytes(rnd.randrange(256) for _ in range(w)) for _ in range(h))

    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d))
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0))
                + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def state(data):
    """What bad input must not change: rows of the catalog and the files under layers/."""
    db = sqlite3.connect(os.path.join(data, "catalog.sqlite"))
    try:
        s = {t: db.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
             for t in ("images", "condition_records", "audit")}
        s["links"] = db.execute("SELECT count(*) FROM relic_images").fetchone()[0]
    finally:
        db.close()
    for top in ("layers", "masters", "pyramids"):  # the store's files (the data directory)
        files = []
        for d, _, fs in os.walk(os.path.join(data, top)):
            files += [os.path.join(d, f) for f in fs]
        s[top] = sorted(files)
    s["tmp"] = sorted(f for f in os.listdir(os.path.join(data, "tmp"))
                      if f.startswith("condjob")) if os.path.isdir(os.path.join(data, "tmp")) else []
    return s


def pg_pass(base, tmp, gen, c16, c26, noise, sqlite_changes):
    """The CLI's one-step record on a PostgreSQL catalog (a schema of its own): the same
    areas as on SQLite, and an unregistrable pair changes no row."""
    schema = f"condrec_{os.getpid()}"
    env = {**os.environ, "PGOPTIONS": "-c client_min_messages=warning"}
    subprocess.run(["psql", "-X", "-q", base, "-c", f"CREATE SCHEMA {schema}"], check=True, env=env)
    url = f"{base}?options=-csearch_path%3D{schema}"
    data = os.path.join(tmp, "data-pg")

    def rows():
        q = ("SELECT (SELECT count(*) FROM images), (SELECT count(*) FROM condition_records), "
             "(SELECT count(*) FROM audit), (SELECT count(*) FROM relic_images)")
        return subprocess.run(["psql", "-X", "-tA", url, "-c", q], capture_output=True, text=True,
                              env=env).stdout.strip()
    try:
        run("--data", data, "--catalog", url, "ingest", os.path.join(gen, WORK, "main.tif"), "--id", WORK)
        run("--data", data, "--catalog", url, "import", os.path.join(gen, "metadata.jsonl"))
        relic = subprocess.run(["psql", "-X", "-tA", url, "-c", "SELECT id FROM relics"],
                               capture_output=True, text=True, env=env).stdout.strip()
        cli = ["--data", data, "--catalog", url, "condition", "record", relic, "--examiner", "Li Na"]
        run(*cli, "--capture", c16, "--date", "2016-05-17")
        before = rows()
        p = run(*cli, "--capture", noise, "--date", "2026-04-09", ok=False)
        check(p.returncode == 1 and rows() == before,
              f"PostgreSQL: an unregistrable capture exits 1 and changes no row ({before})")
        rec = json.loads(run(*cli, "--capture", c26, "--date", "2026-04-09", "--json").stdout)
        same = all(rec["changes"]["classes"][k]["area_px"] == sqlite_changes["classes"][k]["area_px"]
                   for k in ("loss", "flaking", "fading"))
        check(same and rec["changes"]["against"] == "c1" and rec["draft"] and rec["observations"],
              "PostgreSQL: the one-step record, with the same areas as on SQLite")
    finally:
        subprocess.run(["psql", "-X", "-q", base, "-c", f"DROP SCHEMA {schema} CASCADE"], env=env)


def gated_images(call, relic, href, r, base, tok, vtok):
    """Issue 12, "anonymous users see only what the museum publishes": a draft's capture and
    change map are access-controlled like a restricted relic's images (info.json names the
    IIIF Auth probe, pixels 401) for anonymous callers, shown to viewers and conservators; a
    publish shows them to anyone at once (the next request, no stale cached 401), an
    unpublish hides them again at once (no stale cached 200). The baseline record c1, made
    before the server started, follows the same rule (the map built at start)."""
    def tile(iid, token=None):
        return call("GET", f"/iiif/3/{iid}/0,0,64,64/64,/0/default.jpg", token=token)

    def probe_named(iid):
        st, _, info = call("GET", f"/iiif/3/{iid}/info.json")
        return st == 200 and any(s.get("type") == "AuthProbeService2"
                                 for s in info.get("service", []))

    ids = (r["images"][0], r["changes"]["map_image"])
    for iid in ids + (base["images"][0],):
        st, hd, _ = tile(iid)
        st2 = call("GET", f"/iiif/auth/2/probe/{iid}")[2].get("status")
        check(st == 401 and not hd.get("content-type", "").startswith("image/") and
              probe_named(iid) and st2 == 401,
              f"API: a draft's {iid}: anonymous tile 401, info.json names the probe (probe {st2})")
        stc, hc, _ = tile(iid, tok)
        stv = tile(iid, vtok)[0]
        check(stc == 200 and hc.get("content-type") == "image/jpeg" and stv == 200,
              f"API: ... a conservator gets its tile ({stc}), a viewer too ({stv})")
    st, _, imgs = call("GET", "/api/images?limit=500")
    listed = {i["id"] for i in imgs.get("items", [])} if st == 200 else set()
    check(st == 200 and not (set(ids) & listed), "API: drafts' images are not listed anonymously")

    def put(published):
        st, hd, rec = call("GET", href, token=tok)
        rec["published"] = published
        return call("PUT", href, rec, tok, if_match=hd.get("etag"))[0]
    st = put(True)
    sts = [tile(iid)[0] for iid in ids]
    check(st == 200 and sts == [200, 200] and not any(probe_named(i) for i in ids),
          f"API: published: the capture and change map answer anonymously at once {sts}")
    st = tile(base["images"][0])[0]
    check(st == 401, f"API: ... the draft baseline's capture stays 401 ({st})")
    st = put(False)
    sts = [tile(iid)[0] for iid in ids]
    check(st == 200 and sts == [401, 401], f"API: unpublished: 401 again at once {sts}")
    put(True)  # published for what follows (a restricted relic hides them all the same)


def main():
    tmp = tempfile.mkdtemp(prefix="dq_condrec", dir=os.environ.get("TMPDIR"))
    proc = None
    try:
        gen, data = os.path.join(tmp, "gen"), os.path.join(tmp, "data")
        run("generate", "--out", gen, "--only", WORK, "--scale", "0.25", "--quiet",
            "--pigments", os.path.join(ROOT, "data-src", "pigments"), binary=GEN)
        truth = os.path.join(gen, WORK, "truth")
        c16, c26 = os.path.join(truth, "condition_2016.jpg"), os.path.join(truth, "condition_2026.jpg")
        run("--data", data, "ingest", os.path.join(gen, WORK, "main.tif"), "--id", WORK)
        run("--data", data, "import", os.path.join(gen, "metadata.jsonl"))
        db = sqlite3.connect(os.path.join(data, "catalog.sqlite"))
        relic = db.execute("SELECT id FROM relics").fetchone()[0]
        db.close()
        noise = os.path.join(tmp, "noise.png")
        noise_png(noise, 300, 800)

        # ---- CLI: its help, a baseline, then bad input, then the record of 2026
        p = run("condition", "record", "--help")
        check("--capture" in p.stdout and "--against" in p.stdout, "CLI: condition record --help")
        p = run("condition", "record", relic, ok=False)
        check(p.returncode == 2, "CLI: missing arguments are a usage error (exit 2)")
        p = run("--data", data, "condition", "record", relic, "--capture", c16, "--date",
                "2016-05-17", "--examiner", "Wang Li", "--overall", "fair", "--json")
        base = json.loads(p.stdout)
        check(base["id"] == "c1" and base["draft"] and not base["published"] and
              "changes" not in base and len(base["images"]) == 1,
              "CLI: the first capture makes a baseline draft record (no earlier capture)")
        s0 = state(data)
        p = run("--data", data, "condition", "record", relic, "--capture", noise, "--date",
                "2026-04-09", "--examiner", "Li Na", ok=False)
        check(p.returncode == 1 and "cannot be compared" in p.stderr,
              f"CLI: an unregistrable capture exits 1 with a reason ({p.stderr.strip()[-120:]})")
        check(state(data) == s0, "CLI: ... and changes nothing (records, images, links, audit, files)")
        p = run("--data", data, "condition", "record", "no-such-relic", "--capture", c26,
                "--date", "2026-04-09", "--examiner", "Li Na", ok=False)
        check(p.returncode == 1 and state(data) == s0, "CLI: a missing relic exits 1, nothing changes")
        p = run("--data", data, "condition", "record", relic, "--capture", c26, "--date",
                "2026-13-09", "--examiner", "Li Na", ok=False)
        check(p.returncode == 1 and "date" in p.stderr and state(data) == s0,
              "CLI: a bad date exits 1, nothing changes")
        # A failure after both ingests (the record itself is refused: an examiner's name of
        # 201 characters passes the CLI but not the catalog) is undone: no row, no link, and
        # no master, pyramid or layer file left in the store.
        p = run("--data", data, "condition", "record", relic, "--capture", c26, "--date",
                "2026-04-09", "--examiner", "L" * 201, ok=False)
        s1 = state(data)
        diff = sorted(k for k in s0 if s0[k] != s1[k])
        check(p.returncode == 1 and diff == ["audit"],
              f"CLI: a record refused after its ingests exits 1 and leaves no row, link or file "
              f"(changed: {diff}; {p.stderr.strip()[-60:]})")
        db = sqlite3.connect(os.path.join(data, "catalog.sqlite"))
        acts = [a for (a,) in db.execute("SELECT action FROM audit ORDER BY seq DESC LIMIT ?",
                                        (s1["audit"] - s0["audit"],))]
        db.close()
        check(sorted(acts).count("image.delete") == 2,
              f"CLI: ... the audit trail keeps the attempt and its undoing ({sorted(acts)})")
        s0 = s1
        p = run("--data", data, "condition", "record", relic, "--capture", c26, "--date",
                "2026-04-09", "--examiner", "Li Na", "--json")
        rec = json.loads(p.stdout)
        # the same refusal for a capture whose bytes c2's capture has already: the master
        # they share (masters are named by content) stays
        s2 = state(data)
        p = run("--data", data, "condition", "record", relic, "--capture", c26, "--date",
                "2026-04-10", "--examiner", "L" * 201, ok=False)
        diff = sorted(k for k, v in state(data).items() if s2[k] != v)
        check(p.returncode == 1 and diff == ["audit"],
              f"CLI: ... and keeps a master another image shares (changed: {diff})")
        ch = rec.get("changes", {})
        ref = json.loads(run("condition", "changes", c16, c26, "--out-dir",
                             os.path.join(tmp, "ref"), "--json").stdout)
        same = all(ch["classes"][k]["area_px"] == ref["classes"][k]["area_px"]
                   for k in ("loss", "flaking", "fading"))
        mat = all(abs(a - b) < 1e-6 for ra, rb in zip(ch["registration"]["matrix"],
                                                     ref["registration"]["matrix"])
                  for a, b in zip(ra, rb))
        if not same:
            print("   record", {k: ch["classes"][k]["area_px"] for k in ("loss", "flaking", "fading")},
                  "changes", {k: ref["classes"][k]["area_px"] for k in ("loss", "flaking", "fading")})
        check(same and mat,
              "CLI: the record's areas and matrix are those of `condition changes` on the pair")
        check(ch.get("against") == "c1" and ch["ref_image"] == base["images"][0] and
              ch["map_image"] == rec["images"][0] + ".changes",
              "CLI: compared with the latest earlier record's capture; map beside the capture")
        obs = rec.get("observations", [])
        check(len(obs) > 0 and all(o["auto"] and o["area_px"] >= 25 and "area_cm2" in o and
                                   o["region"]["image_id"] == rec["images"][0] and
                                   o["severity"] in ("minor", "moderate", "severe")
                                   for o in obs),
              f"CLI: {len(obs)} draft observations with boxes on the new capture, px and cm2")
        # cm2 from the relic's dimensions over the compared capture's pixel size
        dims = rec["dimensions_cm"]
        k = dims["width"] / ch["width"] * dims["height"] / ch["height"]
        check(abs(ch["classes"]["loss"]["area_cm2"] - ch["classes"]["loss"]["area_px"] * k) < 0.01,
              "CLI: class areas in cm2 = px x (the relic's cm / the capture's px)")
        lay = os.path.join(data, ch["layers"])
        check(all(len(glob.glob(os.path.join(lay, "%s.*%s" % os.path.splitext(f)))) == 1 for f in
                  ("loss.png", "flaking.png", "fading.png", "changes.png", "changes.json")),
              "CLI: masks and changes.json kept under layers/<capture>/changes/ (content keys)")
        check(rec["draft"] and not rec["published"], "CLI: the record is an unpublished draft")

        # ---- the API
        run("--data", data, "user", "add", "connie", "--role", "conservator")
        run("--data", data, "user", "add", "vera", "--role", "viewer")
        tok = run("--data", data, "user", "token", "connie").stdout.strip().splitlines()[-1]
        vtok = run("--data", data, "user", "token", "vera").stdout.strip().splitlines()[-1]
        proc, port = dqhttp.serve(BIN, data, ("--drain-ms", "0"))

        def call(method, path, body=None, token=None, ctype=None, if_match=None):
            h = {"Authorization": "Bearer " + token} if token else {}
            if if_match:
                h["If-Match"] = if_match
            if ctype:
                h["Content-Type"] = ctype
            st, hd, b = dqhttp.request(port, method, path, body, h, timeout=120)
            try:
                return st, hd, json.loads(b or b"null")
            except ValueError:
                return st, hd, b

        jobs = f"/api/relics/{relic}/condition/jobs"
        q = "?date=2026-06-01&examiner=Zhao%20Min"
        with open(c26, "rb") as f:
            cap = f.read()
        s1 = state(data)
        st, _, _ = call("POST", jobs + q, cap, None, "image/jpeg")
        check(st == 401, f"API: anonymous upload -> {st}, want 401")
        st, _, _ = call("POST", jobs + q, cap, vtok, "image/jpeg")
        check(st == 403, f"API: a viewer's upload -> {st}, want 403")
        st, _, _ = call("POST", f"/api/relics/no-such-relic/condition/jobs{q}", cap, tok, "image/jpeg")
        check(st == 404, f"API: upload to a missing relic -> {st}, want 404")
        st, _, _ = call("POST", jobs + "?examiner=x", cap, tok, "image/jpeg")
        check(st == 400, f"API: upload without a date -> {st}, want 400")
        check(state(data) == s1, "API: refused uploads change nothing")

        def wait(href):
            got = {}

            def done():
                st, _, j = call("GET", href, token=tok)
                got["j"] = j
                return st == 200 and j["state"] in ("done", "failed")
            dqhttp.poll(done, 120)
            return got["j"]

        with open(noise, "rb") as f:
            st, hd, j = call("POST", jobs + q, f.read(), tok, "image/png")
        check(st == 202 and hd.get("location") == j["href"], f"API: a noise upload is queued -> {st}")
        j = wait(j["href"])
        check(j["state"] == "failed" and j["error"]["status"] == 422 and
              "cannot be compared" in j["error"]["message"],
              f"API: ... and fails cleanly: {json.dumps(j.get('error'))}")
        check(state(data) == s1, "API: the failed job left nothing (records, images, links, files, upload)")

        st, hd, j = call("POST", jobs + q + "&overall=poor&filename=cap%202026.jpg", cap, tok,
                         "image/jpeg")
        check(st == 202 and j["state"] in ("queued", "running"), f"API: a capture upload -> {st} {j}")
        st2, _, _ = call("GET", j["href"], token=vtok)
        check(st2 == 403, f"API: a viewer may not read the job -> {st2}")
        j = wait(j["href"])
        check(j["state"] == "done" and j["record"], f"API: the job is done: {j}")
        st, hd, r = call("GET", j["record_href"], token=tok)
        check(st == 200 and r["draft"] and not r["published"] and r["overall"] == "poor" and
              r["examiner"] == "Zhao Min" and r["changes"]["against"] == "c2",
              "API: the record (draft, unpublished, against the 2026-04-09 record)")
        # the same capture as c2 (its re-upload): nothing changed between them, by the method
        db = sqlite3.connect(os.path.join(data, "catalog.sqlite"))
        orig = db.execute("SELECT orig_filename FROM images WHERE id = ?", (r["images"][0],)).fetchone()
        db.close()
        check(orig and orig[0].endswith("-cap2026.jpg"), f"API: the upload's file name is kept: {orig}")
        tot = sum(r["changes"]["classes"][k]["area_px"] for k in ("loss", "flaking", "fading"))
        check(tot < 0.001 * r["changes"]["width"] * r["changes"]["height"],
              f"API: the same capture again shows (almost) no change: {tot} px")
        st, _, anon = call("GET", f"/api/relics/{relic}/condition")
        check(st == 200 and anon["items"] == [], "API: anonymous callers see no draft")
        gated_images(call, relic, j["record_href"], r, base, tok, vtok)
        st, _, m = call("GET", f"/iiif/presentation/3/{relic}/manifest")
        check(st == 200 and len(m["items"]) == 1,
              f"API: captures and maps are no canvases of the manifest ({len(m['items'])})")

        # a restricted relic's captures and maps are restricted with it
        run("--data", data, "user", "add", "cura", "--role", "curator")
        ctok = run("--data", data, "user", "token", "cura").stdout.strip().splitlines()[-1]
        etag = call("GET", f"/api/relics/{relic}", token=ctok)[1].get("etag")
        st, hd, _ = call("PATCH", f"/api/relics/{relic}", {"restricted": True}, ctok, if_match=etag)
        ok = st == 200 and dqhttp.poll(lambda: call("GET", f"/iiif/3/{r['images'][0]}/full/max/0/default.jpg")[0] == 401, 10)
        st2 = call("GET", f"/iiif/3/{r['changes']['map_image']}/full/max/0/default.jpg")[0]
        check(ok and st2 == 401, f"API: a restricted relic's capture and change map answer 401 ({st2})")
        call("PATCH", f"/api/relics/{relic}", {"restricted": False}, ctok, if_match=hd.get("etag"))

        # ---- the restoration mask's outline
        run("--data", data, "restore", "--relic", relic, "--from-changes")
        st, hd, svg = call("GET", f"/api/images/{WORK}.restoration/outline")
        info = call("GET", f"/iiif/3/{WORK}/info.json")[2]
        ok = st == 200 and hd.get("content-type", "").startswith("image/svg+xml") and \
            f'viewBox="0 0 {info["width"]} {info["height"]}"' in svg.decode() and " d=\"M" in svg.decode()
        check(ok, f"API: the mask outline is SVG in the image's pixel frame -> {st}")
        st, _, _ = call("GET", "/api/images/no-such-image.restoration/outline")
        check(st == 404, f"API: no outline for an unknown image -> {st}")
        # ---- the same on PostgreSQL, when the runner has its cluster (DQ_TEST_PG_URL)
        pg = os.environ.get("DQ_TEST_PG_URL")
        if pg:
            pg_pass(pg, tmp, gen, c16, c26, noise, ch)
    finally:
        if proc:
            dqhttp.stop(proc)
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
