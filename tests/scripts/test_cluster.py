#!/usr/bin/env python3
"""test_cluster.py (issue 15, several servers): PostgreSQL (the runner's private cluster,
DQ_TEST_PG_URL, else one made here by tests/pg-cluster.sh), a shared store (a POSIX directory
given to every node with --store, as a shared mount would be; each node has its own --data),
three `danqing serve` nodes and HAProxy (Debian's) on loopback, all started here on free ports
and stopped at the end, also on failure.

Mixed load goes through HAProxy (tiles, info.json, searches, record reads; relic creations and
title edits; an ingest run on one node's machine while another node is down) while node 2 is
killed with SIGKILL and started again on its port. Checked:
  - no GET through the balancer fails (HAProxy health-checks /health and retries idempotent
    requests on another node: retry-on + option redispatch; writes are retried only when the
    connection failed, i.e. when the request never reached a node),
  - HAProxy marks the killed node DOWN and the restarted one UP again,
  - every acknowledged write (201/200) is in the catalog afterwards, with its last
    acknowledged title, read back through every node directly,
  - a change made through the balancer is served by every node within 1 s (LISTEN/NOTIFY):
    a new title found by search on each node, a relic made restricted stops each node serving
    its (cached) tile, the newly ingested image is served by each node.

The HAProxy configuration is docs/deploy.md's (tests/cluster-haproxy.cfg, ports filled in).
Prints NOT RUN when haproxy or PostgreSQL 15 is not installed."""
import concurrent.futures
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

from dqhttp import free_port, request, stable_port
from dqnet import Counter

ROOT = os.environ.get("DQ_ROOT") or os.getcwd()
BIN = os.environ.get("DQ_BIN") or os.path.join(ROOT, "build/danqing")
HAPROXY = shutil.which("haproxy") or "/usr/sbin/haproxy"
T = Counter()
check = T.check








class Node:
    """One `danqing serve` on a fixed port (so HAProxy finds it again after a restart)."""

    def __init__(self, name, tmp, url, store):
        self.name = name
        self.data = f"{tmp}/{name}"
        os.makedirs(self.data)
        self.port = stable_port() or free_port()
        self.url = url
        self.store = store
        self.proc = None
        self.log = open(f"{tmp}/{name}.log", "ab")

    def args(self):
        return ["--data", self.data, "--catalog", self.url, "--store", self.store]

    def start(self):
        # The port was free when picked, below the ephemeral range (dqhttp.stable_port), and
        # is this node's again after a SIGKILL (the server sets SO_REUSEADDR); another
        # server may still take it in between: a few tries.
        for _ in range(5):
            self.proc = subprocess.Popen(
                [BIN] + self.args() + ["serve", "--listen", f"127.0.0.1:{self.port}",
                                        "--threads", "2", "--drain-ms", "300", "--log-level",
                                        "2"],
                stdout=self.log, stderr=self.log, cwd=ROOT)
            for _ in range(600):  # up to 60 s for a sanitizer build on a loaded machine
                if self.proc.poll() is not None:
                    break
                st, _, _ = request(self.port, "GET", "/health", timeout=2)
                if st == 200:
                    return True
                time.sleep(0.1)
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
                return False
            self.proc.wait()
        return False

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                return self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                return -9
        return self.proc.returncode if self.proc else 0


def haproxy_stat(sock_path):
    """{server name or BACKEND: {column: value}} of backend be_danqing (`show stat`)."""
    try:
        s = socket.socket(socket.AF_UNIX)
        s.settimeout(2)
        s.connect(sock_path)
        s.sendall(b"show stat\n")
        buf = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            buf += chunk
        s.close()
    except OSError:
        return {}
    lines = buf.decode(errors="replace").splitlines()
    if not lines or not lines[0].startswith("# "):
        return {}
    head = lines[0][2:].split(",")
    out = {}
    for line in lines[1:]:
        f = line.split(",")
        if len(f) == len(head) and f[0] == "be_danqing":
            out[f[1]] = dict(zip(head, f))
    return out


def haproxy_status(sock_path):
    """{server name: status} of backend be_danqing ('UP', 'DOWN', ...)."""
    return {k: v["status"] for k, v in haproxy_stat(sock_path).items() if k != "BACKEND"}


def wait_for(pred, seconds, step=0.05):
    """Polls pred() until true or seconds pass (bounded); returns the last value."""
    end = time.monotonic() + seconds
    v = pred()
    while not v and time.monotonic() < end:
        time.sleep(step)
        v = pred()
    return v


class Load:
    """Readers and one writer through the balancer until stopped."""

    def __init__(self, port, auth, tile_images, relic_ids, words):
        self.port = port
        self.auth = auth
        self.tile_images = tile_images
        self.relic_ids = relic_ids
        self.words = words
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.gets = 0
        self.get_fail = []
        self.acked = {}  # id -> (accession, last acknowledged title)
        self.unacked = {}  # id -> titles tried without an answer (may or may not be stored)
        self.creates_unacked = []
        self.writes = 0
        self.write_fail = 0
        self.threads = []

    def reader(self, seed):
        rnd = random.Random(seed)
        while not self.stop.is_set():
            k = rnd.randrange(10)
            img = rnd.choice(self.tile_images)
            if k < 5:  # tiles of many sizes: some cached, some rendered
                x, y = rnd.randrange(0, 768, 256), rnd.randrange(0, 512, 256)
                w = rnd.choice([256, 128, 200, 64])
                path = f"/iiif/3/{img}/{x},{y},256,256/{w},/0/default.jpg"
            elif k < 6:
                path = f"/iiif/3/{img}/info.json"
            elif k < 8:
                path = "/api/relics?q=" + rnd.choice(self.words) + "&facets=1"
            else:
                path = "/api/relics/" + rnd.choice(self.relic_ids)
            st, _, body = request(self.port, "GET", path)
            # when the answer came: a GET sent just before the restriction may be served after
            # it, and then rightly answers 401 (see the check after the load)
            t1 = time.monotonic()
            with self.lock:
                self.gets += 1
                if st != 200:
                    self.get_fail.append((path, st, body[:200], t1))

    def writer(self):
        n = 0
        while not self.stop.is_set():
            n += 1
            if n % 2 == 1 or not self.acked:
                acc = f"CLU-{os.getpid()}-{n}"
                title = f"cluster load {n}"
                doc = {"accession": acc, "title": {"en": title}, "dynasty": "ming"}
                st, _, body = request(self.port, "POST", "/api/relics", doc,
                                      {"Authorization": self.auth})
                with self.lock:
                    self.writes += 1
                    if st == 201:
                        rid = json.loads(body)["id"]
                        self.acked[rid] = (acc, title)
                    else:
                        self.write_fail += 1
                        self.creates_unacked.append(acc)
            else:
                with self.lock:
                    rid = random.choice(sorted(self.acked))
                title = f"cluster edit {n}"
                st, hd, body = request(self.port, "GET", f"/api/relics/{rid}",
                                       headers={"Authorization": self.auth})
                if st != 200:
                    continue
                st, _, body = request(
                    self.port, "PATCH", f"/api/relics/{rid}", {"title": {"en": title}},
                    {"Authorization": self.auth, "If-Match": hd.get("etag", ""),
                     "Content-Type": "application/merge-patch+json"})
                with self.lock:
                    self.writes += 1
                    if st == 200:
                        self.acked[rid] = (self.acked[rid][0], title)
                        self.unacked.pop(rid, None)
                    else:
                        self.write_fail += 1
                        self.unacked.setdefault(rid, []).append(title)

    def start(self):
        self.threads = [threading.Thread(target=self.reader, args=(i,)) for i in range(3)]
        self.threads.append(threading.Thread(target=self.writer))
        for t in self.threads:
            t.start()

    def finish(self):
        self.stop.set()
        for t in self.threads:
            t.join(timeout=60)


def spread(nodes, probe, seconds=5.0):
    """Polls every node in parallel until probe(node) is true; {name: ms or None}."""
    t0 = time.monotonic()

    def one(node):
        end = t0 + seconds
        while time.monotonic() < end:
            if probe(node):
                return (time.monotonic() - t0) * 1000.0
            time.sleep(0.01)
        return None

    with concurrent.futures.ThreadPoolExecutor(len(nodes)) as ex:
        return dict(zip([n.name for n in nodes], ex.map(one, nodes)))


def main():
    if not os.access(HAPROXY, os.X_OK):
        print("NOT RUN: haproxy is not installed (apt-get install haproxy)")
        print("0 passed, 0 failed")
        return 0
    if not os.environ.get("DQ_TEST_PG_URL") and subprocess.run(
            [f"{ROOT}/tests/pg-cluster.sh", "available"]).returncode != 0:
        print("NOT RUN: PostgreSQL 15 is not installed (apt-get install postgresql-15)")
        print("0 passed, 0 failed")
        return 0
    tmp = tempfile.mkdtemp(prefix="cluster.")
    pg_dir = None
    nodes = []
    ha = None
    load = None
    try:
        base = os.environ.get("DQ_TEST_PG_URL")
        if not base:
            pg_dir = f"{ROOT}/build/pgtest.cluster.{os.getpid()}"
            base = subprocess.run([f"{ROOT}/tests/pg-cluster.sh", "start", pg_dir],
                                  capture_output=True, text=True, check=True).stdout.strip()
        schema = f"cluster_{os.getpid()}"
        subprocess.run(["psql", "-X", "-q", base, "-c", f"CREATE SCHEMA {schema}"], check=True,
                       env={**os.environ, "PGOPTIONS": "-c client_min_messages=warning"})
        url = f"{base}?options=-csearch_path%3D{schema}"
        store = f"{tmp}/store"
        os.makedirs(store)
        nodes = [Node(f"node{i}", tmp, url, store) for i in (1, 2, 3)]
        n1, n2, n3 = nodes

        # The first image and a curator's token, made on node 1's machine before it serves.
        subprocess.run(["vips", "xyz", f"{tmp}/a.v", "1024", "768"], check=True)
        subprocess.run(["vips", "colourspace", f"{tmp}/a.v", f"{tmp}/a.png", "srgb"],
                       check=True, capture_output=True)
        subprocess.run(["vips", "black", f"{tmp}/b.png", "900", "600", "--bands", "3"],
                       check=True)
        r = subprocess.run([BIN] + n1.args() + ["ingest", f"{tmp}/a.png", "--id", "clu-a"],
                           capture_output=True, text=True)
        if not check(r.returncode == 0, "ingest clu-a into the shared store and catalog"):
            print(r.stderr[-800:])
            return 1
        r = subprocess.run([BIN] + n1.args() + ["user", "add", "cura", "--role", "curator",
                                                "--password", "cura-pass-1"],
                           capture_output=True, text=True)
        check(r.returncode == 0, "curator account")
        tok = subprocess.run([BIN] + n1.args() + ["user", "token", "cura"],
                             capture_output=True, text=True).stdout.strip().splitlines()
        auth = f"Bearer {tok[0] if tok else ''}"

        started = [n.start() for n in nodes]
        if not check(all(started), f"three nodes serve on ports {[n.port for n in nodes]}"):
            return 1

        # HAProxy with docs/deploy.md's configuration, on free ports.
        ha_port = free_port()
        with open(f"{ROOT}/tests/cluster-haproxy.cfg") as f:
            cfg = f.read()
        cfg = (cfg.replace("@SOCK@", f"{tmp}/haproxy.sock").replace("@PORT@", str(ha_port))
               .replace("@N1@", str(n1.port)).replace("@N2@", str(n2.port))
               .replace("@N3@", str(n3.port)))
        with open(f"{tmp}/haproxy.cfg", "w") as f:
            f.write(cfg)
        r = subprocess.run([HAPROXY, "-c", "-q", "-f", f"{tmp}/haproxy.cfg"],
                           capture_output=True, text=True)
        check(r.returncode == 0, "haproxy -c accepts the configuration" +
              ("" if r.returncode == 0 else ": " + r.stderr[-400:]))
        ha_log = open(f"{tmp}/haproxy.log", "wb")
        ha = subprocess.Popen([HAPROXY, "-db", "-f", f"{tmp}/haproxy.cfg"], stdout=ha_log,
                              stderr=subprocess.STDOUT)
        sock = f"{tmp}/haproxy.sock"
        up = wait_for(lambda: list(haproxy_status(sock).values()).count("UP") == 3, 30)
        if not check(up, "HAProxy sees three nodes UP (health checks on /health)"):
            print(haproxy_status(sock))
            return 1

        # Seed records through the balancer: one with the image (for tile restriction), some
        # searchable ones.
        words = ["cluster", "landscape", "ming", "shanshui"]
        seed_ids = []
        for i in range(4):
            doc = {"accession": f"SEED-{i}", "title": {"en": f"{words[i]} seed {i}"},
                   "dynasty": "ming"}
            if i == 0:
                doc["images"] = [{"image_id": "clu-a", "role": "main"}]
            st, _, body = request(ha_port, "POST", "/api/relics", doc, {"Authorization": auth})
            if st == 201:
                seed_ids.append(json.loads(body)["id"])
        if not check(len(seed_ids) == 4, "four seed records created through the balancer"):
            return 1

        # Readers are anonymous: seed 0 (clu-a's relic) is made restricted below.
        load = Load(ha_port, auth, ["clu-a"], seed_ids[1:], words)
        load.start()
        wait_for(lambda: load.gets >= 60 and load.writes >= 6, 30)
        # SIGKILL node 2 in the middle of the load.
        n2.kill()
        down = wait_for(lambda: haproxy_status(sock).get("node2", "").startswith("DOWN"), 15)
        check(down, "HAProxy marks the SIGKILLed node 2 DOWN")
        # An ingest on node 3's machine while node 2 is down, then a record linking it.
        r = subprocess.run([BIN] + n3.args() + ["ingest", f"{tmp}/b.png", "--id", "clu-b"],
                           capture_output=True, text=True)
        check(r.returncode == 0, "ingest clu-b during the load with node 2 down")
        st, _, body = request(ha_port, "POST", "/api/relics",
                              {"accession": "INGESTED-B", "title": {"en": "ingested during load"},
                               "images": [{"image_id": "clu-b", "role": "main"}]},
                              {"Authorization": auth})
        check(st == 201, f"record for the ingested image created through the balancer ({st})")
        b_id = json.loads(body)["id"] if st == 201 else None
        before = load.gets
        wait_for(lambda: load.gets >= before + 30, 30)
        # Node 2 back on its port.
        check(n2.start(), "node 2 starts again on its port")
        load.tile_images.append("clu-b")
        again = wait_for(lambda: haproxy_status(sock).get("node2", "").startswith("UP"), 15)
        check(again, "HAProxy marks node 2 UP again")
        before = load.gets
        wait_for(lambda: load.gets >= before + 60, 30)

        # Every node serves new data within 1 s of an acknowledged write through the balancer.
        word = "zq" + "".join(random.Random(os.getpid()).choice("bcdfghjk") for _ in range(6))
        st, hd, _ = request(ha_port, "GET", f"/api/relics/{seed_ids[1]}",
                            headers={"Authorization": auth})
        st, _, _ = request(ha_port, "PATCH", f"/api/relics/{seed_ids[1]}",
                           {"title": {"en": f"renamed {word}"}},
                           {"Authorization": auth, "If-Match": hd.get("etag", ""),
                            "Content-Type": "application/merge-patch+json"})
        check(st == 200, "title edit through the balancer")
        found = spread(nodes, lambda n: b'"total":1' in request(
            n.port, "GET", f"/api/relics?q={word}")[2])
        check(all(v is not None and v < 1000 for v in found.values()),
              f"every node finds the new title by search within 1 s: "
              + ", ".join(f"{k} {v:.0f} ms" if v is not None else f"{k} never"
                          for k, v in found.items()))
        tile = "/iiif/3/clu-a/0,0,256,256/256,/0/default.jpg"
        cached = [request(n.port, "GET", tile)[0] for n in nodes for _ in range(2)]
        check(cached == [200] * 6, "every node serves clu-a's tile to anyone (and caches it)")
        # A CDN revalidates with the ETag it got from whichever node answered: every node must
        # give the same stored tile the same tag, and a 304 for it.
        tags = [request(n.port, "GET", tile)[1].get("etag") for n in nodes]
        check(tags[0] and tags.count(tags[0]) == 3, f"every node gives the tile one ETag {tags}")
        st304 = [request(n.port, "GET", tile, headers={"If-None-Match": tags[0] or ""})[0]
                 for n in nodes]
        check(st304 == [304] * 3, f"every node revalidates it with 304 {st304}")
        st, hd, _ = request(ha_port, "GET", f"/api/relics/{seed_ids[0]}",
                            headers={"Authorization": auth})
        t_restrict = time.monotonic()
        st, _, _ = request(ha_port, "PATCH", f"/api/relics/{seed_ids[0]}", {"restricted": True},
                           {"Authorization": auth, "If-Match": hd.get("etag", ""),
                            "Content-Type": "application/merge-patch+json"})
        check(st == 200, "relic with clu-a made restricted through the balancer")
        load.tile_images.remove("clu-a")  # anonymous readers may no longer see it
        gone = spread(nodes, lambda n: request(n.port, "GET", tile)[0] == 401)
        check(all(v is not None and v < 1000 for v in gone.values()),
              f"every node stops serving the restricted tile within 1 s: "
              + ", ".join(f"{k} {v:.0f} ms" if v is not None else f"{k} never"
                          for k, v in gone.items()))
        new_tile = "/iiif/3/clu-b/0,0,256,256/128,/0/default.jpg"
        check(all(request(n.port, "GET", new_tile)[0] == 200 for n in nodes),
              "every node serves the image ingested during the load")

        load.finish()
        be = haproxy_stat(sock).get("BACKEND", {})
        print(f"    load: {load.gets} GETs, {load.writes} writes "
              f"({len(load.acked)} records acknowledged, {load.write_fail} writes unanswered); "
              f"HAProxy retried {be.get('wretr')} and redispatched {be.get('wredis')} requests")
        # for a request answered after the restriction began, clu-a's tiles rightly answer
        # 401 (IIIF Authorization Flow 2.0: sign in through its access service) and its
        # relic's other resources 404
        hard = [f[:3] for f in load.get_fail
                if not ("/clu-a/" in f[0] and f[1] in (401, 404) and f[3] >= t_restrict)]
        check(not hard, f"no failed GET through the balancer ({load.gets} GETs)"
              + ("" if not hard else f": {hard[:5]}"))
        check(load.gets > 150 and len(load.acked) > 3, "the load ran (GETs and acknowledged "
              "writes)")

        # Every acknowledged write is there, read back through every node directly.
        lost = []
        for rid, (acc, title) in sorted(load.acked.items()):
            n = nodes[hash(rid) % 3]
            st, _, body = request(n.port, "GET", f"/api/relics/{rid}",
                                  headers={"Authorization": auth})
            if st != 200:
                lost.append((rid, st))
                continue
            doc = json.loads(body)
            got = doc.get("title", {}).get("en")
            if doc.get("accession") != acc or (
                    got != title and got not in load.unacked.get(rid, [])):
                lost.append((rid, got, title))
        check(not lost, f"every acknowledged write is stored ({len(load.acked)} records)"
              + ("" if not lost else f": {lost[:5]}"))
        # HAProxy's log-free counters: node 2 was retried around, never answered an error.
        codes = [n.stop() for n in nodes]
        check(codes == [0, 0, 0], f"the nodes drain and exit cleanly on SIGTERM ({codes})")
    finally:
        if load:
            load.finish()
        for n in nodes:
            n.kill()
            n.log.close()
        if ha and ha.poll() is None:
            ha.terminate()
            try:
                ha.wait(timeout=10)
            except subprocess.TimeoutExpired:
                ha.kill()
                ha.wait()
        if T.failed and os.path.exists(f"{tmp}/haproxy.log"):
            with open(f"{tmp}/haproxy.log", errors="replace") as f:
                print("    haproxy log tail:", f.read()[-1500:])
            for n in nodes:
                with open(f"{tmp}/{n.name}.log", errors="replace") as f:
                    print(f"    {n.name} log tail:", f.read()[-800:])
        if pg_dir:
            subprocess.run([f"{ROOT}/tests/pg-cluster.sh", "stop", pg_dir])
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"{T.passed} passed, {T.failed} failed")
    return 1 if T.failed else 0


if __name__ == "__main__":
    sys.exit(main())
