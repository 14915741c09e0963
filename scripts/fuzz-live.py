#!/usr/bin/env python3
"""fuzz-live: a reproducible bad-input sweep against a live `danqing serve` (issue 10).

Starts the server on 127.0.0.1 (port 0) over a fresh data directory with one image, one
relic and an admin token, then sends --requests malformed requests drawn from every class
issue 10 names (IIIF URLs, catalog API bodies, auth, headers, framing, huge bodies, bad
methods, traversal), from a few client threads, while a prober asks /health every 50 ms on
a fresh connection. It asserts:
  - no 5xx except the declared ones: 503 (busy: render queue, body buffer, password hashing,
    writer lock; always with Retry-After), 501 for an unrecognised method (RFC 9110 §9.1) or
    a valid IIIF format the server does not make (gif, jp2, pdf: IIIF Image 3.0 §7), and 505
    for an HTTP version other than 1.0/1.1 (libmicrohttpd's own answer, RFC 9110 §15.6.6);
  - no crash: the server answers /health at the end and exits 0 on SIGTERM (and a sanitizer
    build reports nothing);
  - RSS growth after warm-up below --rss-mb;
  - /health within 100 ms throughout: a probe that takes longer is repeated up to
    --health-repeat times at once, and fails only when every try is slower (a loaded test
    machine may deschedule one process for a moment; a server that stalls /health fails
    every try).
The random choices come from --seed, so a failing run can be replayed exactly.
Only 127.0.0.1 is contacted. Exit 0 when every assertion holds; prints one summary line.
"""
import argparse
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

KNOWN_METHODS = (b"GET ", b"HEAD ", b"POST ", b"PUT ", b"PATCH ", b"DELETE ", b"OPTIONS ")


def declared(status, raw):
    """1 when a 5xx is one the sweep declares (see the module comment)."""
    line = raw.split(b"\r\n", 1)[0]
    if status == 503:
        return True
    if status == 501:
        return not line.startswith(KNOWN_METHODS) or \
            any(b"." + f + b" " in line for f in (b"gif", b"jp2", b"pdf"))
    if status == 505:
        return not (line.endswith(b"HTTP/1.1") or line.endswith(b"HTTP/1.0"))
    return False


def rss_mb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    return 0.0


def exchange(port, data, timeout=10.0, half_close=True):
    """Sends bytes, reads until close or timeout. Returns (status or None, raw bytes)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    out = b""
    try:
        try:
            s.sendall(data)
            if half_close:
                s.shutdown(socket.SHUT_WR)
        except OSError:
            pass  # the server answered early and closed: read what it said
        while True:
            try:
                d = s.recv(65536)
            except (ConnectionResetError, socket.timeout):
                break
            if not d:
                break
            out += d
    finally:
        s.close()
    status = None
    if out.startswith(b"HTTP/1.") and len(out) >= 12 and out[9:12].isdigit():
        status = int(out[9:12])
    return status, out


def all_statuses(raw):
    """Every status line in a pipelined answer."""
    res = []
    i = 0
    while True:
        j = raw.find(b"HTTP/1.", i)
        if j < 0:
            break
        if raw[j + 9:j + 12].isdigit() and (j == 0 or raw[j - 1:j] == b"\n"):
            res.append(int(raw[j + 9:j + 12]))
        i = j + 1
    return res


class Gen:
    """Malformed requests by class. Each generator returns (class, bytes, half_close)."""

    def __init__(self, rnd, token, relic):
        self.r = rnd
        self.token = token
        self.relic = relic

    def junk(self, n):
        pool = ("abc%00%ff%2f%2e..//\\\u00e9\u4e2d\x7f<>\"'{}[]|^`~!$&()*+,;=@# "
                "\t-_.0123456789%")
        return "".join(self.r.choice(pool) for _ in range(n))

    def req(self, method, path, headers=(), body=None, version="HTTP/1.1"):
        h = [f"{method} {path} {version}", "Host: 127.0.0.1"] + list(headers)
        if body is not None and not isinstance(body, bytes):
            body = body.encode("utf-8", "surrogatepass")
        if body is not None and not any(x.lower().startswith(("content-length", "transfer-encoding"))
                                        for x in headers):
            h.append(f"Content-Length: {len(body)}")
        h.append("Connection: close")
        raw = ("\r\n".join(h) + "\r\n\r\n").encode("utf-8", "surrogatepass")
        if body is not None:
            raw += body
        return raw

    def iiif(self):
        r = self.r
        regions = ["full", "square", "0,0,512,512", "pct:10,10,50,50", "-1,0,10,10", "0,0,0,0",
                   "99999999999999999999,0,1,1", "pct:-5,0,1,1", "1e9,1,1,1", "0,0,10", "a,b,c,d",
                   "pct:100.5,0,1,1", "0,0,1200,800", self.junk(r.randint(0, 20))]
        sizes = ["max", "^max", "512,", ",512", "!512,512", "^!100000,100000", "pct:50",
                 "^pct:100000", "0,", ",0", "-5,", "full", "^99999999999,", "!0,0", "1,1",
                 "^12000,12000", "pct:0", "512,512,512", self.junk(r.randint(0, 12))]
        rots = ["0", "90", "180", "45", "!0", "!45", "360", "361", "-1", "1e400", "nan", "0.0001",
                "!", "90.5", self.junk(4)]
        quals = ["default", "color", "gray", "bitonal", "grey", "", "default.x"]
        fmts = ["jpg", "png", "webp", "tif", "gif", "jp2", "pdf", "", "jpg.jpg", "JPG"]
        ver = r.choice(["3", "2", "4", "", "3/"])
        ident = r.choice(["img", "img", "img", "nope", "..%2f..%2fetc", "%00", "a" * 300, "img%2f",
                          self.junk(8)])
        kind = r.random()
        if kind < 0.1:
            path = f"/iiif/{ver}/{ident}/info.json"
        elif kind < 0.15:
            path = f"/iiif/{ver}/{ident}"
        else:
            path = (f"/iiif/{ver}/{ident}/{r.choice(regions)}/{r.choice(sizes)}/"
                    f"{r.choice(rots)}/{r.choice(quals)}.{r.choice(fmts)}")
        path = path.replace(" ", "%20").replace("\t", "%09")
        hdrs = r.choice([(), ("Accept-Encoding: gzip",), ("Accept: application/ld+json",),
                         ("X-Forwarded-Host: evil.example:8443",), ("If-None-Match: *",)])
        return "iiif", self.req(r.choice(["GET", "GET", "HEAD"]), path, hdrs), True

    def api_body(self):
        r = self.r
        bodies = ["{", "[]", "null", "1", '"x"', '{"accession":', '{"a":1,"a":2}',
                  '{"accession":"' + "A" * 5000 + '"}', "[" * 5000 + "]" * 5000,
                  '{"title":{"zh":1}}', '{"accession":"x","year_from":"a"}', "\x00\x01\x02",
                  '{"accession":"dup","title":{"zh":"t"}}', '{"restricted":"yes"}',
                  json.dumps({"accession": self.junk(20), "title": {"zh": self.junk(30)}}),
                  r'{"accession":"\ud800"}', "\xff\xfe", "", '{"images":[{"image_id":1}]}']
        body = r.choice(bodies)
        method, path = r.choice([("POST", "/api/relics"), ("PUT", f"/api/relics/{self.relic}"),
                                 ("PATCH", f"/api/relics/{self.relic}"),
                                 ("PUT", f"/api/relics/{self.relic}/images"),
                                 ("POST", f"/api/relics/{self.relic}/annotations"),
                                 ("POST", f"/api/relics/{self.relic}/tours"),
                                 ("POST", "/api/users"), ("PATCH", "/api/users/nobody"),
                                 ("DELETE", "/api/relics/nope"),
                                 ("GET", "/api/relics?q=" + self.junk(10).replace(" ", "+")),
                                 ("GET", "/api/relics?limit=-1&cursor=" + self.junk(6)),
                                 ("GET", "/api/audit?limit=99999"),
                                 ("GET", f"/iiif/presentation/3/{self.relic}/manifest"),
                                 ("GET", "/iiif/presentation/3/collection/" + self.junk(6)),
                                 ("GET", "/iiif/search/2/" + self.relic + "?q=" + self.junk(5))])
        auth = r.choice([(), (f"Authorization: Bearer {self.token}",),
                         ("Authorization: Bearer dq_" + "x" * 40,), ("Authorization: Basic Zm9v",),
                         ("Cookie: dq_session=" + self.junk(10),)])
        ct = r.choice([("Content-Type: application/json",), ("Content-Type: text/plain",), ()])
        path = path.replace(" ", "%20").replace("\t", "%09").replace("#", "%23")
        return "api", self.req(method, path, auth + ct, body if method != "GET" else None), True

    def auth(self):
        r = self.r
        body = r.choice(['{"user":"admin","password":"wrong"}', '{"user":"' + "u" * 3000 + '"}',
                         '{"user":1,"password":[]}', "{", '{"user":"nobody","password":""}',
                         "user=admin&password=x", json.dumps({"user": self.junk(8),
                                                              "password": self.junk(8)})])
        ct = r.choice(["application/json", "application/x-www-form-urlencoded", "text/json",
                       "application/json; charset=utf-8"])
        path = r.choice(["/api/login", "/api/logout", "/api/me", "/api/login/", "/api//login",
                         # IIIF Auth 2.0 (issue 16): the services any page may call
                         "/iiif/auth/2/access?origin=" + self.junk(12),
                         "/iiif/auth/2/token?messageId=" + self.junk(12) + "&origin=" +
                         r.choice(["http%3A%2F%2Fa.b", self.junk(12)]),
                         "/iiif/auth/2/probe/" + self.junk(8), "/iiif/auth/2/logout",
                         "/iiif/auth/2/" + self.junk(6)])
        path = path.replace(" ", "%20").replace("\t", "%09").replace("#", "%23")
        method = r.choice(["POST", "POST", "GET"])
        hdrs = (f"Content-Type: {ct}",) + r.choice([(), ("X-Requested-With: danqing",),
                                                    ("Cookie: dq_session=" + "z" * 200,),
                                                    ("Cookie: dq_iiif=dqa_" + "y" * 43,),
                                                    ("Authorization: Bearer dqt_" + "x" * 43,)])
        return "auth", self.req(method, path, hdrs, body if method == "POST" else None), True

    def headers(self):
        r = self.r
        k = r.random()
        if k < 0.2:
            hdrs = ["X-Junk-%d: %s" % (i, "v" * 50) for i in range(r.randint(50, 400))]
        elif k < 0.35:
            hdrs = ["X-Big: " + "b" * r.choice([8000, 16000, 70000])]
        elif k < 0.5:
            hdrs = ["Host: " + self.junk(r.randint(0, 300)).replace("\r", "").replace("\n", "")]
        elif k < 0.65:
            hdrs = ["X-Forwarded-Host: " + r.choice(["evil.example:8443", "a\"b", "x" * 600, ""]),
                    "X-Forwarded-Proto: " + r.choice(["https", "gopher", ""]),
                    "Forwarded: " + r.choice(["for=1.2.3.4;host=evil", "host=\"", "x" * 300])]
        elif k < 0.8:
            hdrs = ["Accept-Encoding: " + r.choice(["gzip;q=0", "*", "gzip, deflate, br", "gz" * 300,
                                                    "gzip;q=abc", ";;;,,,"])]
        else:
            hdrs = ["If-None-Match: " + r.choice(["*", '"' * 50, "W/", self.junk(30)]),
                    "Range: bytes=" + r.choice(["0-", "-1", "x", "99999999999999999999-"])]
        path = r.choice(["/health", "/iiif/3/img/info.json", "/api/relics", "/",
                         "/static/js/app.js", "/iiif/3/img/0,0,512,512/512,/0/default.jpg"])
        return "headers", self.req("GET", path, hdrs), True

    def framing(self):
        r = self.r
        cases = [
            b"POST /api/login HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 40\r\n\r\n"
            b"{\"a\":GET /health HTTP/1.1\r\nHost: x\r\n\r\n",
            b"POST /api/login HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
            b"POST /api/login HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n",
            b"POST /api/login HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, identity\r\n\r\n"
            b"0\r\n\r\n",
            b"POST /api/login HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"zz\r\nabc\r\n0\r\n\r\n",
            b"POST /api/login HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"ffffffffffffffffff\r\nabc\r\n",
            b"POST /api/login HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab",
            b"POST /api/login HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n",
            b"POST /api/login HTTP/1.1\r\nHost: x\r\nContent-Length: 1 0\r\n\r\n",
            b"POST /api/login HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999\r\n\r\n",
            b"POST /api/login HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nshort",
            b"GET /health HTTP/1.1\nHost: x\n\n",
            b"GET /health HTTP/1.1\r\nHost: x\r\n Continued: fold\r\n\r\n",
            b"GET /he\x00alth HTTP/1.1\r\nHost: x\r\n\r\n",
            b"GET /health HTTP/9.9\r\nHost: x\r\n\r\n",
            b"GET /health\r\n\r\n",
            b"GET  /health  HTTP/1.1\r\nHost: x\r\n\r\n",
            b"\r\n\r\n\r\nGET /health HTTP/1.1\r\nHost: x\r\n\r\n",
            b"GET /health HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n",
            b"GET /health HTTP/1.1\r\n\r\n",
            b"GET /health HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
            b"POST /api/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\nX-Trailer: 1\r\n\r\n",
            bytes(r.getrandbits(8) for _ in range(r.randint(1, 400))),
            b"GET /health HTTP/1.1\r\nHost: x\r\n\r\nGET /health HTTP/1.1\r\nHost: x\r\n"
            b"Content-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        ]
        return "framing", r.choice(cases), r.random() < 0.7

    def huge(self):
        r = self.r
        k = r.random()
        if k < 0.4:
            raw = (b"POST /api/relics HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                   b"Content-Length: 1000000000\r\n\r\n" + b"a" * 65536)
        elif k < 0.6:
            raw = (b"POST /api/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                   b"Transfer-Encoding: chunked\r\n\r\n" + (b"8000\r\n" + b"a" * 0x8000 + b"\r\n") * 4)
        elif k < 0.8:
            raw = (f"POST /api/relics HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {self.token}\r\n"
                   "Content-Type: application/json\r\nContent-Length: 3000000\r\n\r\n").encode()
            raw += b"{" + b" " * 200000
        else:
            raw = (b"PUT /iiif/3/img/info.json HTTP/1.1\r\nHost: x\r\nContent-Length: 50000000\r\n\r\n"
                   + b"x" * 10000)
        return "huge", raw, True

    def methods(self):
        r = self.r
        m = r.choice(["FOO", "TRACE", "CONNECT", "get", "PROPFIND", "M" * 300, "DELETE", "OPTIONS",
                      "PATCH", "PUT", "BREW", "G\x01T"])
        path = r.choice(["/health", "/api/relics", "/iiif/3/img/info.json", "/", "*",
                         "http://evil.example/"])
        return "methods", self.req(m, path, ()), True

    def traversal(self):
        r = self.r
        path = r.choice(["/static/../../../../etc/passwd", "/static/%2e%2e/%2e%2e/etc/passwd",
                         "/static/%252e%252e/etc/passwd", "/static/..\\..\\etc\\passwd",
                         "/..%2f..%2f..%2fetc%2fpasswd", "/static/./././index.html",
                         "/static/%00", "/static//etc/passwd", "/iiif/3/..%2f..%2fcatalog.sqlite/info.json",
                         "/iiif/3/%2e%2e/info.json", "/api/relics/..%2f..%2fusers",
                         "/static/" + "a/" * 300, "/%c0%ae%c0%ae/etc/passwd", "/favicon.ico/..",
                         "/static/js/../../../data/catalog.sqlite"])
        return "traversal", self.req("GET", path, ()), True

    def pick(self):
        f = self.r.choices([self.iiif, self.api_body, self.auth, self.headers, self.framing,
                            self.huge, self.methods, self.traversal],
                           weights=[30, 20, 8, 10, 12, 4, 8, 8])[0]
        return f()


def setup(bin_path, tmp):
    data = os.path.join(tmp, "data")
    img = os.path.join(tmp, "img.jpg")
    subprocess.run(["vips", "xyz", os.path.join(tmp, "xy.v"), "1200", "800"], check=True)
    subprocess.run(["vips", "extract_band", os.path.join(tmp, "xy.v"), os.path.join(tmp, "x.v"),
                    "0"], check=True)
    subprocess.run(["vips", "cast", os.path.join(tmp, "x.v"), os.path.join(tmp, "c.v"), "uchar"],
                   check=True)
    c = os.path.join(tmp, "c.v")
    subprocess.run(["vips", "bandjoin", f"{c} {c} {c}", img], check=True)
    subprocess.run([bin_path, "ingest", img, "--id", "img", "--data", data], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    subprocess.run([bin_path, "user", "add", "admin", "--role", "admin", "--password",
                    "fuzz-live-password-1"], check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, env=dict(os.environ, DANQING_DATA=data))
    tok = subprocess.run([bin_path, "user", "token", "admin"], check=True, capture_output=True,
                         text=True, env=dict(os.environ, DANQING_DATA=data)).stdout.split()
    token = next((t for t in tok if t.startswith("dq_")), "")
    return data, token


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bin", default=os.environ.get("DQ_BIN", "build/danqing"))
    ap.add_argument("--requests", type=int, default=5000)
    ap.add_argument("--seed", type=int, default=10)
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--rss-mb", type=float, default=150.0)
    ap.add_argument("--health-ms", type=float, default=100.0)
    ap.add_argument("--health-repeat", type=int, default=5)
    a = ap.parse_args()

    tmp = tempfile.mkdtemp(prefix="dq-fuzz-live.")
    srv = None
    failures = []
    try:
        data, token = setup(a.bin, tmp)
        env = dict(os.environ)
        # A sanitizer build keeps freed memory in quarantine (256 MB by default): keep it small
        # so that the RSS bound measures the server, not ASan.
        env["ASAN_OPTIONS"] = env.get("ASAN_OPTIONS", "") + ":quarantine_size_mb=16:detect_leaks=1"
        srv = subprocess.Popen([a.bin, "serve", "--listen", "127.0.0.1:0", "--data", data,
                                "--log-level", "3", "--cache-mb", "16", "--render-timeout-ms",
                                "5000", "--max-area", "8000000"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                               text=True)
        line = srv.stdout.readline()
        port = int(line.strip().rstrip("/").rsplit(":", 1)[1])
        # The port opens before the search index is built; /health says 503 "starting"
        # until then (bounded: 60 s is what a sanitizer build on a loaded machine needs).
        for _ in range(6000):
            if exchange(port, b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")[0] == 200:
                break
            time.sleep(0.01)
        st, out = exchange(port, b"POST /api/relics HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
                           + token.encode() + b"\r\nContent-Type: application/json\r\n"
                           b"Content-Length: 62\r\nConnection: close\r\n\r\n"
                           b'{"accession":"FZ-1","title":{"zh":"fuzz"},"restricted":false}')
        relic = "dq-fuzz"
        try:
            relic = json.loads(out.split(b"\r\n\r\n", 1)[1]).get("id", relic)
        except (ValueError, IndexError, AttributeError):
            pass

        rnd = random.Random(a.seed)
        plan = []
        gen = Gen(rnd, token, relic)
        for _ in range(a.requests):
            plan.append(gen.pick())
        counts, statuses, bad, lock = {}, {}, [], threading.Lock()
        done = [0]
        warm_rss = [None]

        def client(k):
            for i in range(k, len(plan), a.clients):
                cls, raw, half = plan[i]
                try:
                    # Without a half-close, a request that promised more bytes rightly waits
                    # for them: give up on the answer after 2 s (the server's own timeout
                    # closes the connection later).
                    st, out = exchange(port, raw, timeout=10.0 if half else 2.0, half_close=half)
                except OSError as e:
                    st, out = None, str(e).encode()
                sts = all_statuses(out) or ([st] if st else [])
                with lock:
                    counts[cls] = counts.get(cls, 0) + 1
                    for s in sts or ["closed"]:
                        statuses[s] = statuses.get(s, 0) + 1
                        if isinstance(s, int) and s >= 500 and not declared(s, raw):
                            bad.append((cls, s, raw[:120]))
                        if s == 503 and b"Retry-After" not in out:
                            bad.append((cls, "503 without Retry-After", raw[:120]))
                    done[0] += 1
                    if done[0] == min(500, len(plan)) and warm_rss[0] is None:
                        warm_rss[0] = rss_mb(srv.pid)

        lat, slow = [], []
        stop = threading.Event()

        def prober():
            while not stop.is_set():
                tries = []
                for _ in range(a.health_repeat):
                    t0 = time.monotonic()
                    try:
                        st, _ = exchange(port, b"GET /health HTTP/1.1\r\nHost: x\r\n"
                                         b"Connection: close\r\n\r\n", timeout=30)
                    except OSError:
                        st = None
                    ms = (time.monotonic() - t0) * 1000
                    tries.append(ms)
                    if st == 200 and ms <= a.health_ms:
                        break
                lat.append(tries[0])
                if min(tries) > a.health_ms:
                    slow.append(tries)
                stop.wait(0.05)

        t_start = time.monotonic()
        threads = [threading.Thread(target=client, args=(k,)) for k in range(a.clients)]
        pt = threading.Thread(target=prober)
        pt.start()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        stop.set()
        pt.join()
        elapsed = time.monotonic() - t_start
        end_rss = rss_mb(srv.pid)
        if srv.poll() is not None:
            failures.append(f"server died (exit {srv.returncode})")
        else:
            st, _ = exchange(port, b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            if st != 200:
                failures.append(f"/health after the sweep: {st}")
        growth = end_rss - (warm_rss[0] or end_rss)
        if growth > a.rss_mb:
            failures.append(f"RSS grew {growth:.0f} MB after warm-up (bound {a.rss_mb:.0f})")
        for b in bad[:10]:
            failures.append(f"undeclared 5xx: {b}")
        if len(bad) > 10:
            failures.append(f"... {len(bad) - 10} more undeclared 5xx")
        for s in slow[:5]:
            failures.append("/health slower than %.0f ms on every try: %s ms"
                            % (a.health_ms, ", ".join("%.0f" % x for x in s)))
        srv.send_signal(signal.SIGTERM)
        try:
            _, err = srv.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            srv.kill()
            _, err = srv.communicate()
            failures.append("server did not stop within 60 s of SIGTERM")
        if srv.returncode != 0:
            failures.append(f"server exit status {srv.returncode}")
        if "ERROR: AddressSanitizer" in err or "runtime error:" in err or \
                "LeakSanitizer" in err:
            failures.append("sanitizer report:\n" + err[-3000:])
        lat.sort()
        q = (lambda p: lat[min(len(lat) - 1, int(len(lat) * p))] if lat else 0.0)
        summary = {
            "requests": sum(counts.values()), "seconds": round(elapsed, 1), "seed": a.seed,
            "classes": counts,
            "statuses": {str(k): v for k, v in sorted(statuses.items(), key=lambda kv: str(kv[0]))},
            "rss_mb": {"warm": round(warm_rss[0] or 0, 1), "end": round(end_rss, 1)},
            "health_ms": {"probes": len(lat), "p50": round(q(0.5), 1), "p99": round(q(0.99), 1),
                          "max_first_try": round(lat[-1] if lat else 0, 1),
                          "over_limit_first_try": sum(1 for x in lat if x > a.health_ms),
                          "failed_every_try": len(slow)},
        }
        print("fuzz-live " + json.dumps(summary, ensure_ascii=False))
    finally:
        if srv and srv.poll() is None:
            srv.kill()
            srv.wait()
        shutil.rmtree(tmp, ignore_errors=True)
    for f in failures:
        print("FAIL " + f)
    print("fuzz-live: %s" % ("ok" if not failures else "FAILED"))
    return 0 if not failures else 1


if __name__ == "__main__":
    sys.exit(main())
