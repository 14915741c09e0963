#!/usr/bin/python3
"""bench/blob_bench.py (make bench BENCH=blob; issue 15): tiles from the S3 store through the
read-through block cache, cold and warm, against the same pyramid in the data directory, in one
run on one machine. s3rver (npm, pinned) on 127.0.0.1 stands in for the object store, so "cold"
is a loopback round trip plus s3rver's own cost, not a WAN one: a real store adds its latency
to every cold block (one GET per --store-block-kb block, not per tile).

Servers read the same master's pyramid with the response cache off (--cache-mb 0), so every
request goes to the pyramid: local (data directory, one pread per tile), s3-cold (an empty
block cache), then the same s3 server again (s3-warm: every block now cached on local disk). Each
pass asks every stored tile of the two largest levels once, in a fixed shuffled order, from C
clients on keep-alive connections. Answers are compared byte for byte with local's.
Environment: DQ_BLOB_W/H (master size, default 8000x4000), DQ_BLOB_CLIENTS (4),
DQ_BLOB_BLOCK_KB (256), DQ_BLOB_REPEAT (3 rounds of local, cold and warm passes, interleaved;
each cold pass on a new server with an empty cache). Writes build/bench/blob.md and prints it.
"""
import http.client
import glob
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import threading
import time

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
binary = os.path.join(root, 'build/danqing')
W = int(os.environ.get('DQ_BLOB_W', 8000))
H = int(os.environ.get('DQ_BLOB_H', 4000))
CLIENTS = int(os.environ.get('DQ_BLOB_CLIENTS', 4))
REPEAT = int(os.environ.get('DQ_BLOB_REPEAT', 3))
BLOCK_KB = int(os.environ.get('DQ_BLOB_BLOCK_KB', 256))
B = os.path.join(root, 'build/bench/blob')
procs = []
env = dict(os.environ, AWS_ACCESS_KEY_ID='S3RVER', AWS_SECRET_ACCESS_KEY='S3RVER',
           AWS_REGION='us-east-1')


def start_s3rver(directory):
    p = subprocess.Popen(['node', os.path.join(root, 'tests/scripts/s3rver.cjs'), directory,
                          'danqing'], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    procs.append(p)
    m = re.match(r'PORT (\d+)', p.stdout.readline())
    if not m:
        raise RuntimeError('s3rver did not start')
    return int(m.group(1))


def serve(args):
    p = subprocess.Popen([binary] + args + ['--cache-mb', '0', 'serve', '--listen',
                                            '127.0.0.1:0', '--log-level', '2'],
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
                         start_new_session=True)
    procs.append(p)
    for _ in range(200):
        line = p.stdout.readline()
        m = re.search(r'listening on http://127\.0\.0\.1:(\d+)/', line)
        if m:
            threading.Thread(target=p.stdout.read, daemon=True).start()
            return p, int(m.group(1))
    raise RuntimeError('server did not start')


def run_pass(port, urls):
    """Every url once, CLIENTS keep-alive connections; returns (seconds, latencies, bodies)."""
    lat, bodies, lock = [], {}, threading.Lock()
    it = iter(urls)

    def client():
        c = http.client.HTTPConnection('127.0.0.1', port, timeout=120)
        while True:
            with lock:
                u = next(it, None)
            if u is None:
                break
            t0 = time.perf_counter()
            c.request('GET', u)
            r = c.getresponse()
            body = r.read()
            dt = time.perf_counter() - t0
            if r.status != 200:
                raise RuntimeError('%s: HTTP %d' % (u, r.status))
            with lock:
                lat.append(dt)
                bodies[u] = body
        c.close()

    t0 = time.perf_counter()
    ts = [threading.Thread(target=client) for _ in range(CLIENTS)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return time.perf_counter() - t0, sorted(lat), bodies


def cpu_s(pid):
    """User + system CPU seconds of a process so far (/proc/PID/stat fields 14 and 15)."""
    with open('/proc/%d/stat' % pid) as f:
        fields = f.read().rsplit(')', 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf('SC_CLK_TCK')


def timed(pids, port, urls):
    """run_pass, plus the CPU seconds each of pids spent during it."""
    before = [cpu_s(p) for p in pids]
    secs, lat, bodies = run_pass(port, urls)
    return secs, lat, bodies, [cpu_s(p) - b for p, b in zip(pids, before)]


def pct(v, q):
    return v[min(len(v) - 1, int(q * len(v)))] * 1000


def main():
    os.makedirs(B, exist_ok=True)
    master = os.path.join(B, 'master.tif')
    if not os.path.exists(master) or subprocess.run(
            ['vipsheader', '-f', 'width', master], capture_output=True,
            text=True).stdout.strip() != str(W):
        print('making a %dx%d master ...' % (W, H), flush=True)
        subprocess.run([os.path.join(root, 'bench/make-master.sh'), master, str(W), str(H)],
                       check=True)
    for d in ('local', 's3data', 's3rver', 'cache', 'cache0', 'cache1', 'cache2'):
        shutil.rmtree(os.path.join(B, d), ignore_errors=True)
    port = start_s3rver(os.path.join(B, 's3rver'))
    s3pid = procs[-1].pid
    s3 = ['--data', os.path.join(B, 's3data'), '--store', 's3://danqing/bench',
          '--s3-endpoint', 'http://127.0.0.1:%d' % port, '--store-block-kb', str(BLOCK_KB)]
    local = ['--data', os.path.join(B, 'local')]
    t0 = time.perf_counter()
    subprocess.run([binary] + local + ['ingest', master, '--id', 'bench'], check=True, env=env,
                   stdout=subprocess.DEVNULL)
    t_local = time.perf_counter() - t0
    t0 = time.perf_counter()
    subprocess.run([binary] + s3 + ['--store-cache', os.path.join(B, 'cache'), 'ingest', master,
                                    '--id', 'bench'], check=True, env=env,
                   stdout=subprocess.DEVNULL)
    t_s3 = time.perf_counter() - t0
    size = os.path.getsize(glob.glob(os.path.join(B, 'local/pyramids/bench.*.tif'))[0])

    urls = []
    for sf in (1, 2):
        step = 256 * sf
        for y in range(0, H, step):
            for x in range(0, W, step):
                rw, rh = min(step, W - x), min(step, H - y)
                urls.append('/iiif/3/bench/%d,%d,%d,%d/%d,/0/default.jpg' %
                            (x, y, rw, rh, (rw + sf - 1) // sf))
    random.Random(15).shuffle(urls)

    # REPEAT rounds, each one local pass, one cold S3 pass (a new server with an empty cache)
    # and one warm S3 pass, interleaved so that the three kinds share the machine's load.
    same = True
    lp, lport = serve(local)
    _, _, ref = run_pass(lport, urls)  # the OS page cache warm, as a serving node's would be
    local_runs, cold_runs, warm_runs, cache_bytes = [], [], [], 0
    for i in range(REPEAT):
        secs, lat, _, cpu = timed([lp.pid, s3pid], lport, urls)
        local_runs.append((secs, lat, cpu))
        cache = os.path.join(B, 'cache%d' % i)
        shutil.rmtree(cache, ignore_errors=True)
        sp, sport = serve(s3 + ['--store-cache', cache])
        secs, lat, cold, cpu = timed([sp.pid, s3pid], sport, urls)
        cold_runs.append((secs, lat, cpu))
        cache_bytes = sum(os.path.getsize(os.path.join(dp, f))
                          for dp, _, fs in os.walk(cache) for f in fs)
        secs, lat, warm, cpu = timed([sp.pid, s3pid], sport, urls)
        warm_runs.append((secs, lat, cpu))
        same = same and all(cold[u] == ref[u] and warm[u] == ref[u] for u in urls)
        os.killpg(sp.pid, signal.SIGTERM)
        sp.wait()
        shutil.rmtree(cache, ignore_errors=True)
    os.killpg(lp.pid, signal.SIGTERM)
    lp.wait()
    rows = [('local (data directory)', local_runs), ('S3, cold block cache', cold_runs),
            ('S3, warm block cache', warm_runs)]

    load = open('/proc/loadavg').read().split()[:3]
    out = ['# Issue 15: tiles from S3 through the read-through cache, cold and warm, vs local', '',
           '`make bench BENCH=blob` (bench/blob_bench.py): a %dx%d master (bench/make-master.sh),'
           ' pyramid %.1f MB, %d tiles (every stored tile of the two largest levels, shuffled),'
           ' %d keep-alive clients (Python http.client), response cache off (--cache-mb 0), block %d KiB; s3rver'
           ' 3.7.1 on loopback as the store. Load average at the end: %s. Answers byte-identical'
           ' to local: **%s**.' % (W, H, size / 1e6, len(urls), CLIENTS, BLOCK_KB,
                                   ' '.join(load), 'yes' if same else 'NO'), '',
           '| store | tiles/s (median of %d passes) | p50 ms | p95 ms | p99 ms |'
           ' danqing CPU µs/tile | s3rver CPU µs/tile |' % REPEAT,
           '|---|---:|---:|---:|---:|---:|---:|']
    for name, runs in rows:
        rate = sorted(len(lat) / secs for secs, lat, _ in runs)[len(runs) // 2]
        lat = sorted(x for _, l, _ in runs for x in l)  # latencies of all passes pooled
        n = sum(len(l) for _, l, _ in runs)
        cpu = [sum(c[k] for _, _, c in runs) / n * 1e6 for k in (0, 1)]
        out.append('| %s | %.0f | %.2f | %.2f | %.2f | %.0f | %.0f |' % (
            name, rate, pct(lat, .5), pct(lat, .95), pct(lat, .99), cpu[0], cpu[1]))
    out += ['', 'CPU per tile is the server process\'s user + system time over the passes'
            ' (/proc/PID/stat) divided by the tiles: it does not depend on the client or on what'
            ' else the machine runs, unlike tiles/s and latency here.',
            '', 'Ingest: local %.1f s, S3 %.1f s (the same pyramid build plus the uploads).'
            ' Block cache after the cold pass: %.1f MB for a %.1f MB pyramid (%.0f %%: the two'
            ' largest levels are most of it).' % (t_local, t_s3, cache_bytes / 1e6, size / 1e6,
                                                   100.0 * cache_bytes / size), '']
    text = '\n'.join(out)
    with open(os.path.join(root, 'build/bench/blob.md'), 'w') as f:
        f.write(text)
    print(text)
    return 0 if same else 1


rc = 1
try:
    rc = main()
finally:
    for p in procs:
        if p.poll() is None:
            try:
                if p.args[0] == binary:
                    os.killpg(p.pid, signal.SIGKILL)
                else:
                    p.kill()
            except OSError:
                pass
            p.wait()
sys.exit(rc)
