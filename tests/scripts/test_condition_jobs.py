#!/usr/bin/env python3
"""test_condition_jobs.py (issue 12 with issue 15's several servers): condition jobs
(POST /api/relics/{id}/condition/jobs, GET .../jobs/{job}) keep their state in the catalog, so
any server answers a poll alike, and a job whose server died is answered as failed instead of
running forever.

Two `danqing serve` nodes on one PostgreSQL (the runner's private cluster, DQ_TEST_PG_URL,
else one made by tests/pg-cluster.sh) and one shared store (a POSIX directory; each node has
its own --data), on loopback, with the Node fixture of test_cluster.py and --job-stale-s 3:
  - a capture POSTed to node A is polled on node B until done; both nodes answer the same
    JSON, and the record it names is there;
  - node A is killed (SIGKILL) while a job runs: B answers failed (503, "stopped") at once,
    since A ran on this host and its process is gone, and undoes what the job stored (its
    capture's image, pyramid, journal row and master, change files, links);
  - node A is frozen (SIGSTOP) while a job runs: its beats stop, and B answers failed after
    the stale time ("not been heard from");
  - the next POST's sweep stores those failures, so they stay failed; A thawed finishes its
    job, loses the compare-and-set of its outcome and undoes its record, links and files;
Then one node on SQLite: killed mid-job and started again on the same data, it answers its
earlier life's job as failed. Polling is bounded; nothing sleeps for timing.
Prints NOT RUN when PostgreSQL 15 is not installed (the SQLite part still runs)."""
import glob
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from dqhttp import poll, request  # noqa: E402
from dqnet import Counter  # noqa: E402
import test_cluster  # noqa: E402  (its Node fixture)

ROOT = os.environ.get("DQ_ROOT") or os.getcwd()
BIN = os.environ.get("DQ_BIN") or os.path.join(ROOT, "build/san/danqing")
# The painter runs from the release build (as test_condition_record.py does).
GEN = os.path.join(ROOT, "build/danqing")
if not os.access(GEN, os.X_OK):
    GEN = BIN
WORK = "DQ-2026-0006"
STALE_S = 3
T = Counter()
check = T.check
test_cluster.BIN = BIN


def stored(path):
    """The file that holds layer file path's bytes in a data-directory store: layer files are
    stored under their content's key (loss.png: loss.<sha16>.png); None when there is none."""
    stem, ext = os.path.splitext(path)
    got = glob.glob("%s.%s%s" % (stem, "[0-9a-f]" * 16, ext))
    return got[0] if len(got) == 1 else None


def run(args, ok=True):
    p = subprocess.run([BIN, *args], capture_output=True, text=True)
    if ok and p.returncode != 0:
        raise RuntimeError(f"{args}: exit {p.returncode}: {p.stderr[-400:]}")
    return p


class Api:
    """JSON calls to one node as the conservator."""

    def __init__(self, port, token):
        self.port, self.token = port, token

    def call(self, method, path, body=None, ctype=None):
        h = {"Authorization": "Bearer " + self.token}
        if ctype:
            h["Content-Type"] = ctype
        st, hd, b = request(self.port, method, path, body, h, timeout=120)
        try:
            return st, hd, json.loads(b or b"null")
        except ValueError:
            return st, hd, b


def post_capture(api, relic, path, date):
    with open(path, "rb") as f:
        return api.call("POST", f"/api/relics/{relic}/condition/jobs?date={date}"
                        "&examiner=Zhao%20Min", f.read(), "image/jpeg")


def state_of(api, href):
    st, _, j = api.call("GET", href)
    return j if st == 200 and isinstance(j, dict) else {"state": f"http {st}"}


def wait_state(api, href, states, seconds):
    """Polls href on api until its state is one of states (bounded); the last answer."""
    got = {}

    def cond():
        got["j"] = state_of(api, href)
        return got["j"]["state"] in states
    poll(cond, seconds)
    return got["j"]


def painted(tmp):
    gen = os.path.join(tmp, "gen")
    subprocess.run([GEN, "generate", "--out", gen, "--only", WORK, "--scale", "0.25", "--quiet",
                    "--pigments", os.path.join(ROOT, "data-src", "pigments")], check=True,
                   capture_output=True)
    truth = os.path.join(gen, WORK, "truth")
    return gen, os.path.join(truth, "condition_2016.jpg"), os.path.join(truth,
                                                                        "condition_2026.jpg")


def setup_catalog(args, gen, c16):
    """The work, its record, a baseline condition record and a conservator's token."""
    run(args + ["ingest", os.path.join(gen, WORK, "main.tif"), "--id", WORK])
    run(args + ["import", os.path.join(gen, "metadata.jsonl")])
    run(args + ["user", "add", "connie", "--role", "conservator"])
    token = run(args + ["user", "token", "connie"]).stdout.strip().splitlines()[-1]
    return token


def relic_of(api):
    st, _, j = api.call("GET", "/api/relics?limit=5")
    return j["items"][0]["id"] if st == 200 and j.get("items") else None


def cluster(tmp, gen, c16, c26):
    base = os.environ.get("DQ_TEST_PG_URL")
    pg_dir = None
    nodes = []
    try:
        if not base:
            pg_dir = f"{ROOT}/build/pgtest.condjobs.{os.getpid()}"
            base = subprocess.run([f"{ROOT}/tests/pg-cluster.sh", "start", pg_dir],
                                  capture_output=True, text=True, check=True).stdout.strip()
        schema = f"condjobs_{os.getpid()}"
        subprocess.run(["psql", "-X", "-q", base, "-c", f"CREATE SCHEMA {schema}"], check=True,
                       env={**os.environ, "PGOPTIONS": "-c client_min_messages=warning"})
        url = f"{base}?options=-csearch_path%3D{schema}"
        store = f"{tmp}/store"
        os.makedirs(store)
        a, b = test_cluster.Node("nodeA", tmp, url, store), test_cluster.Node("nodeB", tmp, url,
                                                                             store)
        nodes = [a, b]
        token = setup_catalog(a.args(), gen, c16)
        if not check(a.start() and b.start(), f"two nodes serve ({a.port}, {b.port})"):
            return
        A, B = Api(a.port, token), Api(b.port, token)
        relic = relic_of(A)
        # the baseline record (c1), so that the jobs below compare captures
        st, _, j = post_capture(A, relic, c16, "2016-05-17")
        j = wait_state(B, j["href"], ("done", "failed"), 120) if st == 202 else {}
        check(j.get("state") == "done" and j.get("record") == "c1",
              f"baseline job posted on A is done, polled on B: {j}")

        # ---- POST on A, poll on B until done; both answer the same JSON
        st, hd, j = post_capture(A, relic, c26, "2026-04-09")
        # (the one queue thread may have taken it before the answer is read: running)
        check(st == 202 and hd.get("location") == j["href"] and
              j["state"] in ("queued", "running"), f"POST on A: 202 queued ({st} {j['state']})")
        seen = set()

        def done_on_b():
            x = state_of(B, j["href"])
            seen.add(x["state"])
            return x["state"] in ("done", "failed")
        poll(done_on_b, 120)
        jb, ja = state_of(B, j["href"]), state_of(A, j["href"])
        check(jb.get("state") == "done" and jb.get("record") == "c2" and ja == jb,
              f"B polls A's job to done ({sorted(seen)}); A and B answer the same JSON")
        st, _, rec = B.call("GET", jb.get("record_href", "/x"))
        check(st == 200 and rec.get("changes", {}).get("against") == "c1",
              "the job's record is in the shared catalog, compared with c1")
        # ---- its change files live in the shared store, not in A's data directory: B serves
        # them, and a restoration made on A's data directory is outlined by B
        cap = rec.get("changes", {}).get("capture_image", "?")
        same = []
        for f in ("loss.png", "flaking.png", "fading.png", "changes.png", "changes.json"):
            st, hd, got = B.call("GET", f"/api/relics/{relic}/condition/c2/changes/{f}")
            try:  # stored under its content's key: loss.<sha16>.png
                with open(stored(f"{store}/layers/{cap}/changes/{f}"), "rb") as fh:
                    want = fh.read()
            except (OSError, TypeError):
                want = None
            if f.endswith(".json"):
                want = json.loads(want) if want else None
            same.append(st == 200 and want is not None and got == want)
        check(all(same) and rec["changes"].get("layers") == f"layers/{cap}/changes",
              f"B serves the record's 5 change files from the shared store ({same})")
        check(not any(os.path.exists(f"{n.data}/layers") for n in nodes),
              "no node keeps layer files in its own data directory")
        st, _, _ = request(b.port, "GET", f"/api/relics/{relic}/condition/c2/changes/loss.png")
        check(st in (401, 403, 404), f"a draft's change files are not anonymous ({st})")
        st, _, _ = B.call("GET", f"/api/relics/{relic}/condition/c2/changes/other.png")
        check(st == 404, f"only the record's own files are served ({st})")
        run(a.args() + ["restore", "--relic", relic, "--from-changes"])
        st, hd, svg = B.call("GET", f"/api/images/{WORK}/outline")
        check(st == 200 and b"<svg" in (svg if isinstance(svg, bytes) else b"") and
              stored(f"{store}/layers/{WORK}/mask.png") is not None,
              f"a restoration made on A's data directory: B outlines its mask ({st})")
        st, _, _ = B.call("GET", f"/api/relics/{relic}/condition/jobs/j0123456789abcdef")
        check(st == 404, f"an unknown job: 404 on any node ({st})")

        # ---- A killed mid-job: B answers failed at once (A's process is gone), and undoes
        # what A had stored (session 24: a killed job used to leave its capture and links).
        # The capture is another encoding of the 2026 capture, so that its master and its
        # change map's are the job's own, not shared with c2's.
        c26b = os.path.join(tmp, "c26b.jpg")
        subprocess.run(["vips", "copy", c26, c26b + "[Q=90]"], check=True)

        def masters():
            return sorted(os.path.join(d, f) for d, _, fs in os.walk(f"{store}/masters")
                          for f in fs)

        def links():
            return B.call("GET", f"/api/relics/{relic}")[2].get("images", [])
        masters0, links0 = masters(), links()
        cap5 = f"{relic}.condition-20260501"
        st, _, j = post_capture(A, relic, c26b, "2026-05-01")
        # killed once the capture is stored (its master, journal row and pyramid), in the
        # middle of the change map's ingest: a bounded poll on the store
        mid = poll(lambda: glob.glob(f"{store}/pyramids/{cap5}.*.tif"), 120)
        a.kill()
        check(mid and len(masters()) > len(masters0),
              f"A killed after it stored the job's capture ({len(masters()) - len(masters0)} "
              "new masters)")
        x = wait_state(B, j["href"], ("failed", "done"), 2 * STALE_S + 10)
        err = x.get("error", {})
        check(x["state"] == "failed" and err.get("status") == 503 and "stopped" in
              err.get("message", "") and x.get("node", "") in err.get("message", ""),
              f"A killed: B answers failed, naming A: {err.get('message')}")

        def pending():
            return subprocess.run(["psql", "-X", "-tA", url, "-c", "SELECT count(*) FROM"
                                   f" image_pending WHERE id LIKE '{cap5}%'"],
                                  capture_output=True, text=True).stdout.strip()

        def undone_by_b():
            return (masters() == masters0 and links() == links0 and pending() == "0" and
                    not glob.glob(f"{store}/pyramids/{cap5}.*") and
                    not os.path.exists(f"{store}/layers/{cap5}") and
                    B.call("GET", f"/iiif/3/{cap5}/info.json")[0] == 404)
        ok = poll(undone_by_b, 30)
        check(ok, "... and B undid the killed job: no capture, pyramid, journal row, change "
              "files or masters of it remain; the relic's other links intact "
              f"(masters {len(masters())} vs {len(masters0)}, pending {pending()}, "
              f"links {[i.get('image_id') for i in links()]})")

        # ---- A frozen mid-job: no more beats; B answers failed after the stale time
        check(a.start(), "A serves again")
        st, _, j2 = post_capture(A, relic, c26, "2026-05-02")
        x = wait_state(B, j2["href"], ("running", "done", "failed"), 60)
        check(x["state"] == "running", f"a job runs on the new A ({x['state']})")
        a.proc.send_signal(signal.SIGSTOP)
        try:
            x = wait_state(B, j2["href"], ("failed", "done"), 4 * STALE_S + 20)
            err = x.get("error", {})
            check(x["state"] == "failed" and "not been heard from" in err.get("message", ""),
                  f"A frozen: B answers failed after {STALE_S} s without beats: "
                  f"{err.get('message')}")
            # the next POST (on B) sweeps: both failures are stored
            st, _, j3 = post_capture(B, relic, c16, "2026-05-03")
            check(st == 202, f"a POST on B ({st})")
            out = subprocess.run(["psql", "-X", "-tA", url, "-c",
                                  "SELECT id, state, finished_ms > 0 FROM condition_jobs"
                                  f" WHERE id IN ('{j['id']}', '{j2['id']}') ORDER BY id"],
                                 capture_output=True, text=True).stdout.split()
            check(sorted(out) == sorted([f"{j['id']}|failed|t", f"{j2['id']}|failed|t"]),
                  f"B's sweep stored both failures: {out}")
            wait_state(B, j3["href"], ("done", "failed"), 120)
            # ---- A thaws and finishes its job: its compare-and-set loses (the job is
            # failed), it undoes what it stored, and the job stays failed
            a.proc.send_signal(signal.SIGCONT)
            mark = f"condition job {j2['id']}: record"

            def undone():  # the loser's log line, then its undo's last step done
                with open(f"{tmp}/{a.name}.log", errors="replace") as f:
                    # (B, finding the job stopped, undid what A had stored while A was
                    # frozen: A's build then stops at its next work note, before any outcome,
                    # and its failure loses the compare-and-set the same way)
                    return (any((mark in ln and "undone" in ln) or
                                f"condition job {j2['id']} was failed by another server" in ln
                                for ln in f) and
                            not os.path.exists(f"{store}/layers/{relic}.condition-20260502"))
            undone_seen = poll(undone, 120)
            x, y = state_of(B, j2["href"]), state_of(A, j2["href"])
            check(undone_seen and x["state"] == "failed" and x == y,
                  f"A thawed: its late outcome lost, the job stays failed on A and B "
                  f"({x['state']}, {undone_seen})")
            st, _, lst = B.call("GET", f"/api/relics/{relic}/condition")
            dates = [r.get("date") for r in (lst or {}).get("items", [])]
            st2, _, _ = B.call("GET", f"/api/images/{relic}.condition-20260502/info.json")
            after = B.call("GET", f"/api/relics/{relic}")[2]
            check("2026-05-02" not in dates and st2 == 404 and
                  not os.path.exists(f"{store}/layers/{relic}.condition-20260502") and
                  not [i for i in after.get("images", [])
                       if "condition-20260502" in i.get("image_id", "")],
                  f"... and undid its record, capture, links and change files ({dates}, {st2}, "
                  f"{[(d, fs) for d, _, fs in os.walk(store + '/layers') if '0502' in d]}, "
                  f"{[i.get('image_id') for i in after.get('images', [])]})")
        finally:
            a.proc.send_signal(signal.SIGCONT)
            a.kill()
    finally:
        for n in nodes:
            n.stop()
        if T.failed:
            for n in nodes:
                with open(f"{tmp}/{n.name}.log", errors="replace") as f:
                    print(f"    {n.name} log tail:", f.read()[-800:])
        if pg_dir:
            subprocess.run([f"{ROOT}/tests/pg-cluster.sh", "stop", pg_dir])


def single(tmp, gen, c16, c26):
    """One server on SQLite, killed mid-job and started again on the same data."""
    node = test_cluster.Node("solo", tmp, "", "")
    node.args = lambda: ["--data", node.data]
    try:
        token = setup_catalog(node.args(), gen, c16)
        if not check(node.start(), "SQLite: one node serves"):
            return
        api = Api(node.port, token)
        relic = relic_of(api)
        st, _, j = post_capture(api, relic, c16, "2016-05-17")
        x = wait_state(api, j["href"], ("done", "failed"), 120)
        check(x["state"] == "done", f"SQLite: a baseline job is done ({x['state']})")
        st, _, j = post_capture(api, relic, c26, "2026-04-09")
        x = wait_state(api, j["href"], ("running", "done", "failed"), 60)
        check(x["state"] == "running", f"SQLite: a job runs ({x['state']})")
        node.kill()
        check(node.start(), "SQLite: the node serves again")
        x = wait_state(api, j["href"], ("failed", "done"), 10)
        check(x["state"] == "failed" and "stopped" in x.get("error", {}).get("message", ""),
              f"SQLite: the job of the killed server is answered failed: {x.get('error')}")
        st, _, j = post_capture(api, relic, c26, "2026-04-10")
        x = wait_state(api, j["href"], ("done", "failed"), 120)
        check(x["state"] == "done", f"SQLite: the next job is done ({x['state']})")
    finally:
        node.stop()


def main():
    tmp = tempfile.mkdtemp(prefix="condjobs.", dir=os.environ.get("TMPDIR"))
    os.environ["DANQING_JOB_STALE_S"] = str(STALE_S)
    try:
        gen, c16, c26 = painted(tmp)
        single(tmp, gen, c16, c26)
        if os.environ.get("DQ_TEST_PG_URL") or subprocess.run(
                [f"{ROOT}/tests/pg-cluster.sh", "available"]).returncode == 0:
            cluster(tmp, gen, c16, c26)
        else:
            print("NOT RUN: the two-node part (PostgreSQL 15 is not installed)")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return T.summary()


if __name__ == "__main__":
    sys.exit(main())
