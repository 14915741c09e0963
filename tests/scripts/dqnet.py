"""dqnet.py: what the issue-16 script tests share (not a test itself): a small catalog built
with the real binary (the sample collection painted at a small scale, its images ingested,
its records imported, plus N synthetic records so that OAI-PMH lists need resumption
tokens), a `danqing serve` on 127.0.0.1 port 0 that is always stopped, and the counting
that makes the runner's `N passed, N failed` line."""
import json
import os
import shutil
import subprocess
import tempfile
import urllib.request

BIN = os.environ.get("DQ_BIN") or os.path.join(os.getcwd(), "build/san/danqing")
ROOT = os.environ.get("DQ_ROOT") or os.getcwd()


class Counter:
    def __init__(self):
        self.passed = 0
        self.failed = 0

    def check(self, ok, what):
        if ok:
            self.passed += 1
            print(f"  ok   {what}")
        else:
            self.failed += 1
            print(f"  FAIL {what}")
        return ok

    def summary(self):
        print(f"{self.passed} passed, {self.failed} failed")
        return 0 if self.failed == 0 else 1


# The sample painter runs from the release build: under ASan, libvips's vips_text (seal
# characters, src/paint/seal.c) reads a freed font name inside libvips (reported, not ours).
GEN_BIN = os.path.join(ROOT, "build/danqing")


def run(*args, binary=None, **kw):
    return subprocess.run([binary or BIN, *args], check=True, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, **kw)


class Catalog:
    """A temporary catalog and server; use as a context manager."""

    def __init__(self, synthetic=0):
        self.synthetic = synthetic
        self.tmp = None
        self.proc = None
        self.base = None

    def __enter__(self):
        self.tmp = tempfile.mkdtemp(prefix="dqnet")
        try:
            self._build()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def _build(self):
        gen = os.path.join(self.tmp, "gen")
        data = os.path.join(self.tmp, "data")
        run("generate", "--out", gen, "--scale", "0.1", "--no-truth", "--quiet",
            "--seed", os.environ.get("DQ_NET_SEED", "1"), "--pigments",
            os.path.join(ROOT, "data-src", "pigments"), binary=GEN_BIN)
        for work in sorted(os.listdir(gen)):
            main = os.path.join(gen, work, "main.tif")
            if os.path.exists(main):
                run("--data", data, "ingest", main, "--id", work)
        run("--data", data, "import", os.path.join(gen, "metadata.jsonl"))
        if self.synthetic:
            path = os.path.join(self.tmp, "extra.jsonl")
            dyn = ["song", "tang", "ming", "qing", "yuan"]
            with open(path, "w") as f:
                for i in range(1, self.synthetic + 1):
                    creator = {"name": {"zh": f"画家{i % 9}", "en": f"Painter {i % 9}"}}
                    if i % 9 == 1:  # authority ids and a bibliography on some records
                        creator.update(wikidata=f"Q{1000 + i % 9}", ulan="500012345")
                    doc = {
                        "id": f"x-{i:05d}", "accession": f"X-{i:05d}",
                        "title": {"zh": f"山水 {i}", "en": f"Landscape {i}"},
                        "creators": [creator],
                        "dynasty": dyn[i % 5], "object_type": "album_leaf",
                        "year_from": 1000 + i % 700, "year_to": 1000 + i % 700,
                        "dimensions_cm": {"height": 30.5, "width": 20.0},
                        "description": {"en": "A leaf & <its> note"}}
                    if i % 11 == 0:  # places with authorities (issue 16: OAI, LIDO, dumps)
                        doc["places"] = [{"name": {"zh": "杭州", "en": "Hangzhou"}, "role": "made",
                                          "wikidata": "Q4970", "tgn": "7001837"},
                                         {"name": {"en": "Suzhou"}, "role": "collected"}]
                    if i % 7 == 0:
                        doc["references"] = [{"text": f"Catalogue {i}, p. {i % 50}",
                                              "doi": f"10.1000/dq.{i}"}]
                    f.write(json.dumps(doc, ensure_ascii=False) + "\n")
            run("--data", data, "import", path)
        self.proc = subprocess.Popen([BIN, "serve", "--data", data, "--listen", "127.0.0.1:0",
                                      "--log-level", "2"], stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL, text=True)
        line = self.proc.stdout.readline()
        port = int(line.rsplit(":", 1)[1].strip().rstrip("/"))
        self.base = f"http://127.0.0.1:{port}"

    def __exit__(self, *exc):
        if self.proc:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.proc.stdout.close()
        if self.tmp:
            shutil.rmtree(self.tmp, ignore_errors=True)
        return False

    def get(self, path, accept=None):
        req = urllib.request.Request(self.base + path)
        if accept:
            req.add_header("Accept", accept)
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, dict(r.headers), r.read()

    def relic_ids(self):
        ids, cursor = [], None
        while True:
            q = "/api/relics?limit=100&sort=accession" + (f"&cursor={cursor}" if cursor else "")
            _, _, body = self.get(q)
            j = json.loads(body)
            ids += [it["id"] for it in j["items"]]
            cursor = j.get("next_cursor")
            if not cursor:
                return ids
