#!/usr/bin/env python3
"""Measures what issue 10 item 5 measured: 30 wrong passwords in a row, then 30 at once while
/health is polled. Starts its own server on 127.0.0.1 (port 0) over a fresh data directory and
removes it afterwards.

    scripts/login-flood.py [BIN] [--threads N]

Prints the statuses of the sequential attempts and their time, the statuses of the parallel
ones, and /health latency (median and worst) while they run.
"""
import http.client, json, os, re, shutil, subprocess, sys, tempfile, threading, time

BIN = next((a for a in sys.argv[1:] if not a.startswith('--') and not a.isdigit()), 'build/danqing')
THREADS = sys.argv[sys.argv.index('--threads') + 1] if '--threads' in sys.argv else '2'


def post_login(port, user, pw):
    c = http.client.HTTPConnection('127.0.0.1', port, timeout=60)
    c.request('POST', '/api/login', json.dumps({'user': user, 'password': pw}),
              {'Content-Type': 'application/json'})
    r = c.getresponse()
    r.read()
    c.close()
    return r.status, r.getheader('Retry-After')


def health(port):
    t = time.monotonic()
    c = http.client.HTTPConnection('127.0.0.1', port, timeout=60)
    c.request('GET', '/health')
    r = c.getresponse()
    r.read()
    c.close()
    return r.status, (time.monotonic() - t) * 1000


def count(statuses):
    out = {}
    for s in statuses:
        out[s] = out.get(s, 0) + 1
    return ' '.join(f'{k}x{v}' for k, v in sorted(out.items()))


def main():
    tmp = tempfile.mkdtemp(prefix='dq-login-flood.')
    srv = None
    try:
        data = os.path.join(tmp, 'data')
        subprocess.run([BIN, '--data', data, 'user', 'add', 'alice', '--role', 'viewer',
                        '--password', 'correct-horse-1'], check=True, capture_output=True)
        srv = subprocess.Popen([BIN, 'serve', '--listen', '127.0.0.1:0', '--data', data,
                                '--log-level', '1', '--threads', THREADS],
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        port = int(re.search(r':(\d+)', srv.stdout.readline()).group(1))
        t = time.monotonic()
        seq = [post_login(port, 'alice', f'wrong-{i:04d}')[0] for i in range(30)]
        print(f'30 wrong logins in a row ({THREADS} threads): {count(seq)} in '
              f'{time.monotonic() - t:.2f} s')
        # 30 at once, each for its own account name (so the account limit does not answer
        # them all), while /health is asked every 20 ms.
        res, lat, done = [], [], threading.Event()

        def one(i):
            res.append(post_login(port, f'user{i}', 'wrong-password')[0])

        def poll():
            while not done.is_set():
                lat.append(health(port)[1])
                time.sleep(0.02)
        p = threading.Thread(target=poll)
        p.start()
        th = [threading.Thread(target=one, args=(i,)) for i in range(30)]
        t = time.monotonic()
        for x in th:
            x.start()
        for x in th:
            x.join()
        el = time.monotonic() - t
        done.set()
        p.join()
        lat.sort()
        print(f'30 parallel logins: {count(res)} in {el:.2f} s; /health during them: '
              f'{len(lat)} answers, median {lat[len(lat) // 2]:.1f} ms, worst {lat[-1]:.1f} ms')
    finally:
        if srv:
            srv.terminate()
            srv.wait()
        shutil.rmtree(tmp, ignore_errors=True)


main()
