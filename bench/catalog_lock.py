#!/usr/bin/env python3
# Issue 9: how long tiles, /health, /api/health and a search take while an API write waits for
# the catalog's write lock, which another connection (here: this script, BEGIN IMMEDIATE)
# holds, as a `danqing import` in another process would. Before the store rework every
# catalog read waited for that write (about 10 s) and the write answered 500; now reads take
# milliseconds and the write answers 503 + Retry-After after DQ_CATALOG_WRITE_WAIT_MS.
# usage: bench/catalog_lock.py BIN DATA_DIR ADMIN_TOKEN IMAGE_ID [PORT]
#   DATA_DIR holds an ingested IMAGE_ID of at least 2048x1024 (bench/make-master.sh, then
#   `BIN ingest MASTER --id IMAGE_ID --data DATA_DIR`); ADMIN_TOKEN from `BIN user token`.
import json, sqlite3, subprocess, sys, threading, time, urllib.error, urllib.request

binary, data, token, image = sys.argv[1:5]
port = int(sys.argv[5]) if len(sys.argv) > 5 else 18777
base = f'http://127.0.0.1:{port}'
srv = subprocess.Popen([binary, 'serve', '--listen', f'127.0.0.1:{port}', '--data', data,
                        '--cache-mb', '0'], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def ask(path, body=None, method='GET'):
    t0 = time.time()
    req = urllib.request.Request(base + path, data=body, method=method,
                                 headers={'Authorization': 'Bearer ' + token,
                                          'Content-Type': 'application/json'})
    try:
        r = urllib.request.urlopen(req, timeout=60)
        status, retry = r.status, r.headers.get('Retry-After')
    except urllib.error.HTTPError as e:
        status, retry = e.code, e.headers.get('Retry-After')
    return status, (time.time() - t0) * 1000, retry


try:
    for _ in range(100):
        try:
            urllib.request.urlopen(base + '/health', timeout=1)
            break
        except Exception:
            time.sleep(0.1)
    db = sqlite3.connect(f'{data}/catalog.sqlite', isolation_level=None)
    db.execute('BEGIN IMMEDIATE')
    result = {}
    doc = json.dumps({'accession': f'LOCK-{time.time()}', 'title': {'zh': '山水'}}).encode()
    writer = threading.Thread(target=lambda: result.update(w=ask('/api/relics', doc, 'POST')))
    writer.start()
    time.sleep(0.3)  # the write reaches the server and waits for the lock
    for name, path in [('tile (uncached)', f'/iiif/3/{image}/1024,0,1024,1024/256,/0/default.jpg'),
                       ('/api/health', '/api/health'), ('/health', '/health'),
                       ('tile', f'/iiif/3/{image}/0,0,1024,1024/256,/0/default.jpg'),
                       ('search', '/api/relics?q=%E5%B1%B1%E6%B0%B4')]:
        status, ms, _ = ask(path)
        print(f'{name:16s} {status} {ms:9.1f} ms  (an API write is waiting for the lock)')
    writer.join()
    status, ms, retry = result['w']
    print(f'{"API write":16s} {status} {ms:9.1f} ms  Retry-After: {retry}')
    db.execute('ROLLBACK')
    db.close()
finally:
    srv.terminate()
    srv.wait()
