#!/usr/bin/env python3
"""test_access_log.py (issue 15, logs): `danqing serve --access-log FILE` appends one line per
request to FILE, and SIGHUP reopens it, as logrotate needs (docs/deploy.md, Logs).

While a client sends a steady stream of requests, the log is renamed (what logrotate does)
and the server gets SIGHUP: the requests before the reopen are in the renamed file, the
later ones in a new FILE, and every acknowledged request is in exactly one of the two, once.
A server without --access-log keeps serving after SIGHUP (it used to be the default action:
the process ended). One `danqing serve` ($DQ_BIN) at a time on loopback port 0, stopped at
the end also on failure."""
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading

import dqhttp
from dqhttp import request
from dqnet import Counter

ROOT = os.environ.get("DQ_ROOT") or os.getcwd()
BIN = os.environ.get("DQ_BIN") or os.path.join(ROOT, "build/danqing")
T = Counter()
check = T.check
N = 300  # requests at least, a third of them after the reopen
NMAX = 20000  # the stream's bound


def serve(data, extra):
    return dqhttp.serve(BIN, data, extra)


stop, poll = dqhttp.stop, dqhttp.poll


def paths_in(path):
    """The request paths of the access lines of a file, in order."""
    out = []
    if not os.path.exists(path):
        return out
    with open(path, encoding="utf-8") as f:
        for line in f:
            for kv in line.split():
                if kv.startswith("path="):
                    out.append(kv[5:])
    return out


def main():
    tmp = tempfile.mkdtemp(prefix="alog.")
    procs = []
    try:
        data = f"{tmp}/data"
        log = f"{tmp}/access.log"
        p, port = serve(data, ["--access-log", log])
        procs.append(p)
        acked = []
        done = threading.Event()

        halt = threading.Event()

        # A steady stream until the test has seen the rotation through (bounded): a fixed
        # count could all be answered before the SIGHUP on a quiet machine, and the new file
        # would then hold none of the stream.
        def client():
            for i in range(NMAX):
                if halt.is_set():
                    break
                st, _, _ = request(port, "GET", f"/api/relics/al-{i}")
                if st > 0:
                    acked.append(i)
            done.set()

        th = threading.Thread(target=client)
        th.start()
        check(poll(lambda: len(acked) >= N // 3 and f"/api/relics/al-0" in paths_in(log)),
              "the first requests are in the log file")
        os.rename(log, log + ".1")  # logrotate's move
        p.send_signal(signal.SIGHUP)
        check(poll(lambda: os.path.exists(log)), "SIGHUP made a new log file")
        at_reopen = len(acked)
        # (at least N in all: the first poll may see only N // 3 before the rename)
        check(poll(lambda: len(acked) >= max(at_reopen + N // 3, N) or done.is_set()),
              "the stream goes on after the reopen")
        halt.set()
        th.join(timeout=120)
        n = len(acked)
        check(done.is_set() and n >= N and acked == list(range(n)),
              f"every request answered, the stream {n} long (at least {N})")
        check(p.poll() is None, "the server is still running after SIGHUP")
        st, _, _ = request(port, "GET", "/api/relics/al-last")
        check(st == 404, "a request after the reopen is answered")
        check(poll(lambda: "/api/relics/al-last" in paths_in(log)),
              "the next request lands in the new file")
        stop(p)  # a graceful stop flushes what is buffered
        old, new = paths_in(log + ".1"), paths_in(log)
        check("/api/relics/al-0" in old and "/api/relics/al-last" not in old,
              f"the renamed file holds the earlier requests ({len(old)} lines)")
        check(f"/api/relics/al-{n - 1}" in new and "/api/relics/al-0" not in new,
              f"the new file holds the later ones ({len(new)} lines)")
        seen = [x for x in old + new if x.startswith("/api/relics/al-") and x[15:].isdigit()]
        lost = [i for i in acked if f"/api/relics/al-{i}" not in seen]
        check(not lost, f"no request lost across the rotation (missing: {lost[:5]})")
        check(len(seen) == len(set(seen)) == n, f"each request logged once ({len(seen)} of {n})")

        # A missing directory: the server refuses to start with a clear message.
        r = subprocess.run([BIN, "--data", data, "serve", "--listen", "127.0.0.1:0",
                            "--access-log", f"{tmp}/no/such/dir/a.log"], capture_output=True,
                           text=True, timeout=60)
        check(r.returncode != 0 and "access log" in r.stderr,
              f"an access log that cannot be opened is refused ({r.stderr.strip()[:80]})")

        # Without --access-log, SIGHUP changes nothing.
        q, port2 = serve(data, [])
        procs.append(q)
        q.send_signal(signal.SIGHUP)
        st, _, _ = request(port2, "GET", "/health")
        check(st == 200 and q.poll() is None,
              f"SIGHUP without --access-log: still serving ({st}, {q.poll()})")
        stop(q)
    finally:
        for p in procs:
            stop(p)
        shutil.rmtree(tmp, ignore_errors=True)
    return T.summary()


if __name__ == "__main__":
    sys.exit(main())
