#!/usr/bin/env python3
# Issue 9: uncached tiles on 4 keep-alive connections and /health, 8 s idle, then 8 s while two
# clients keep sending API writes (POST /api/relics) that wait for the catalog's write lock,
# held here (BEGIN IMMEDIATE) as another process's `danqing import` would hold it. libmicrohttpd
# keeps a connection on the worker that accepted it: when writes ran on the workers, every tile
# connection on a write's worker waited with it (up to DQ_CATALOG_WRITE_WAIT_MS).
# usage: bench/keepalive_lock.py BIN DATA_DIR ADMIN_TOKEN [PORT]
#   DATA_DIR holds an ingested image "img" of at least 2048x1024 (e.g. `vips xyz` as in
#   tests/regress/issue_10_http.c, then `BIN ingest IMG --id img --data DATA_DIR`); ADMIN_TOKEN
#   from `BIN --data DATA_DIR user token NAME` (curator or admin).
import http.client, sqlite3, subprocess, sys, threading, time, json
binary, data, token = sys.argv[1:4]
port = int(sys.argv[4]) if len(sys.argv) > 4 else 18778
srv = subprocess.Popen([binary, 'serve', '--listen', f'127.0.0.1:{port}', '--data', data,
                        '--cache-mb', '0', '--threads', '2'], stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
time.sleep(1.0)
tiles = [f'/iiif/3/img/{x},{y},512,512/512,/0/default.jpg' for x in range(0, 2048, 512) for y in range(0, 1024, 512)]
def tile_loop(stop, lat, conns=4):
    def one(k):
        c = http.client.HTTPConnection('127.0.0.1', port, timeout=30)
        i = k
        while not stop.is_set():
            t0 = time.time(); c.request('GET', tiles[i % len(tiles)]); r = c.getresponse(); r.read()
            lat.append((time.time() - t0) * 1000); i += 1
    ts = [threading.Thread(target=one, args=(k,)) for k in range(conns)]
    for t in ts: t.start()
    return ts
def health_loop(stop, lat):
    while not stop.is_set():
        c = http.client.HTTPConnection('127.0.0.1', port, timeout=30)
        t0 = time.time(); c.request('GET', '/health'); c.getresponse().read(); c.close()
        lat.append((time.time() - t0) * 1000); time.sleep(0.05)
def pct(a, p):
    a = sorted(a); return a[min(len(a) - 1, int(len(a) * p))] if a else float('nan')
def phase(busy, secs=8):
    stop = threading.Event(); lat = []; hl = []; writes = []
    ts = tile_loop(stop, lat) + [threading.Thread(target=health_loop, args=(stop, hl))]
    ts[-1].start()
    db = None
    if busy:
        db = sqlite3.connect(f'{data}/catalog.sqlite', timeout=30, isolation_level=None)
        db.execute('BEGIN IMMEDIATE')
        def writer():
            n = 0
            while not stop.is_set():
                c = http.client.HTTPConnection('127.0.0.1', port, timeout=60)
                t0 = time.time()
                c.request('POST', '/api/relics', body=json.dumps({'accession': f'P-{time.time()}-{n}', 'title': {'zh': '山水'}}),
                          headers={'Authorization': 'Bearer ' + token, 'Content-Type': 'application/json'})
                r = c.getresponse(); r.read(); c.close(); n += 1
                writes.append((r.status, (time.time() - t0) * 1000))
        ws = [threading.Thread(target=writer) for _ in range(2)]
        for w in ws: w.start(); ts.append(w)
    time.sleep(secs); stop.set()
    for t in ts: t.join()
    if db: db.execute('ROLLBACK'); db.close()
    return lat, hl, writes
for name, busy in (('idle', False), ('write-lock held', True)):
    lat, hl, writes = phase(busy)
    st = {}
    for s, _ in writes: st[s] = st.get(s, 0) + 1
    print(f'{name:16s} tiles n={len(lat)} p50={pct(lat,.5):.1f} p99={pct(lat,.99):.1f} max={max(lat):.1f} ms; '
          f'/health n={len(hl)} p99={pct(hl,.99):.1f} max={max(hl):.1f} ms; writes {st} '
          f'max {max([w for _, w in writes], default=0):.0f} ms')
srv.terminate(); srv.wait()
