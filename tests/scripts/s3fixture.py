"""s3fixture.py: what the S3 script tests share (not a test itself; moved out of
test_blob_s3.py): s3rver on 127.0.0.1 behind a proxy that checks AWS Signature Version 4 and the
payload checksums the way S3 does and injects faults, and helpers that run danqing against it.
Processes started here are kept in `procs` for the caller's cleanup."""
import hashlib
import hmac
import http.client
import http.server
import os
import re
import shutil
import signal
import subprocess
import threading
import urllib.error
import urllib.parse
import urllib.request

root = os.environ.get('DQ_ROOT', os.getcwd())
binary = os.environ.get('DQ_BIN', os.path.join(root, 'build/danqing'))
BUCKET, AK, SK, REGION = 'danqing', 'S3RVER', 'S3RVER', 'us-east-1'
procs = []

# ---------------------------------------------------------------- s3rver

class S3rver:
    def __init__(self, directory):
        self.dir = directory
        self.proc = None
        self.port = None

    def start(self):
        self.proc = subprocess.Popen(['node', os.path.join(root, 'tests/scripts/s3rver.cjs'),
                                      self.dir, BUCKET], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True, cwd=root)
        procs.append(self.proc)
        line = self.proc.stdout.readline()  # "PORT n", or '' when it died
        m = re.match(r'PORT (\d+)', line)
        if not m:
            raise RuntimeError('s3rver did not start: %r' % line)
        self.port = int(m.group(1))

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.stdin.close()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


# ---------------------------------------------------------------- the checking proxy

def sigv4_expected(method, raw_path, headers, signed, payload_hash, secret, amz_date, scope):
    """AWS General Reference, "Create a canonical request for Signature Version 4" and
    "Create a string to sign", written from the documentation (not from our C code)."""
    path, _, query = raw_path.partition('?')
    pairs = []
    for item in query.split('&') if query else []:
        k, _, v = item.partition('=')
        q = lambda s: urllib.parse.quote(urllib.parse.unquote(s), safe='-_.~')
        pairs.append((q(k), q(v)))
    canon_query = '&'.join('%s=%s' % kv for kv in sorted(pairs))
    canon_headers = ''.join('%s:%s\n' % (h, ' '.join((headers.get(h) or '').split()))
                            for h in signed)
    creq = '\n'.join([method, path, canon_query, canon_headers, ';'.join(signed), payload_hash])
    sts = '\n'.join(['AWS4-HMAC-SHA256', amz_date, scope,
                     hashlib.sha256(creq.encode()).hexdigest()])
    date, region, service, _ = scope.split('/')
    k = hmac.new(('AWS4' + secret).encode(), date.encode(), hashlib.sha256).digest()
    for part in (region, service, 'aws4_request'):
        k = hmac.new(k, part.encode(), hashlib.sha256).digest()
    return hmac.new(k, sts.encode(), hashlib.sha256).hexdigest()


class Proxy:
    def __init__(self, s3):
        self.s3 = s3
        self.lock = threading.Lock()
        self.log = []          # (method, path, status)
        self.bad = []          # why a request was refused
        self.fail_next = 0     # answer this many next requests 503 SlowDown
        self.kill_on_part = 0  # SIGKILL s3rver when this UploadPart arrives
        self.parts_seen = 0
        self.ranged = 0        # GETs that carried both Range and If-Match
        self.methods = {}      # requests seen, by method (benches count HEADs with it)
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = 'HTTP/1.1'

            def log_message(self, *a):
                pass

            def reply(self, status, body=b'', headers=()):
                self.send_response(status)
                for k, v in headers:
                    self.send_header(k, v)
                if not any(k.lower() == 'content-length' for k, _ in headers):
                    self.send_header('Content-Length', str(len(body)))
                self.end_headers()
                if self.command != 'HEAD':
                    self.wfile.write(body)
                with proxy.lock:
                    proxy.log.append((self.command, self.path, status))

            def error(self, status, code, why):
                with proxy.lock:
                    proxy.bad.append('%s %s: %s' % (self.command, self.path, why))
                body = ('<?xml version="1.0"?><Error><Code>%s</Code><Message>%s</Message>'
                        '</Error>' % (code, why)).encode()
                self.reply(status, body, [('Content-Type', 'application/xml')])

            def verify(self, body):
                h = {k.lower(): v for k, v in self.headers.items()}
                m = re.match(r'AWS4-HMAC-SHA256 Credential=([^/]+)/(\d{8}/[^/]+/[^/]+/aws4_request)'
                             r', SignedHeaders=([a-z0-9;-]+), Signature=([0-9a-f]{64})$',
                             h.get('authorization', ''))
                if not m:
                    return 'no SigV4 Authorization header'
                ak, scope, signed, sig = m.group(1), m.group(2), m.group(3).split(';'), m.group(4)
                need = {'host', 'x-amz-date', 'x-amz-content-sha256'}
                need |= {x for x in ('range', 'content-md5', 'if-match') if x in h}
                if not need <= set(signed):
                    return 'unsigned headers: %s' % sorted(need - set(signed))
                if ak != AK:
                    return 'unknown access key'
                if h['x-amz-content-sha256'] != hashlib.sha256(body).hexdigest():
                    return 'x-amz-content-sha256 does not match the body'
                if 'content-md5' in h:
                    import base64
                    if base64.b64decode(h['content-md5']) != hashlib.md5(body).digest():
                        return 'Content-MD5 does not match the body'
                want = sigv4_expected(self.command, self.path, h, signed,
                                      h['x-amz-content-sha256'], SK, h['x-amz-date'], scope)
                return None if hmac.compare_digest(want, sig) else 'signature mismatch'

            def handle_any(self):
                n = int(self.headers.get('Content-Length') or 0)
                body = self.rfile.read(n) if n else b''
                why = self.verify(body)
                if why:
                    code = 'SignatureDoesNotMatch' if 'signature' in why else 'BadDigest'
                    return self.error(403 if code.startswith('Sig') else 400, code, why)
                with proxy.lock:
                    proxy.methods[self.command] = proxy.methods.get(self.command, 0) + 1
                    if self.command == 'GET' and self.headers.get('Range') and \
                            self.headers.get('If-Match'):
                        proxy.ranged += 1
                    inject = proxy.fail_next > 0
                    if inject:
                        proxy.fail_next -= 1
                    kill = False
                    if self.command == 'PUT' and 'partNumber=' in self.path:
                        proxy.parts_seen += 1
                        kill = proxy.kill_on_part and proxy.parts_seen == proxy.kill_on_part
                if inject:
                    body = b'<Error><Code>SlowDown</Code><Message>injected</Message></Error>'
                    return self.reply(503, body, [('Content-Type', 'application/xml')])
                if kill:
                    proxy.s3.kill()
                try:
                    c = http.client.HTTPConnection('127.0.0.1', proxy.s3.port, timeout=60)
                    fwd = {k: v for k, v in self.headers.items() if k.lower() != 'connection'}
                    c.request(self.command, self.path, body, fwd)
                    r = c.getresponse()
                    data = r.read()
                    c.close()
                except OSError:
                    # The store is gone: drop the connection without an answer, as a dead
                    # server's would be.
                    with proxy.lock:
                        proxy.log.append((self.command, self.path, 0))
                    self.close_connection = True
                    return
                keep = [(k, v) for k, v in r.getheaders()
                        if k.lower() not in ('transfer-encoding', 'connection', 'keep-alive')]
                self.reply(r.status, data, keep)

            do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = handle_any

        self.server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


# ---------------------------------------------------------------- helpers

def env(secret=SK):
    e = dict(os.environ)
    e.update(AWS_ACCESS_KEY_ID=AK, AWS_SECRET_ACCESS_KEY=secret, AWS_REGION=REGION)
    e.pop('AWS_SESSION_TOKEN', None)
    return e


def dq(args, data, store=None, extra=(), secret=SK, check_rc=True):
    cmd = [binary, '--data', data]
    if store:
        cmd += ['--store', store]
    cmd += list(extra) + list(args)
    r = subprocess.run(cmd, capture_output=True, text=True, cwd=root, env=env(secret),
                       timeout=600)
    if check_rc and r.returncode != 0:
        raise RuntimeError('%s: rc %d: %s' % (' '.join(args), r.returncode, r.stderr))
    return r


def sha(b):
    return hashlib.sha256(b).hexdigest()


def serve(data, store=None, extra=()):
    cmd = [binary, '--data', data]
    if store:
        cmd += ['--store', store]
    cmd += list(extra) + ['serve', '--listen', '127.0.0.1:0']
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                         cwd=root, env=env(), start_new_session=True)
    procs.append(p)
    for _ in range(200):  # bounded: the first lines name the port
        line = p.stdout.readline()
        m = re.search(r'listening on (http://127\.0\.0\.1:\d+)/', line)
        if m:
            threading.Thread(target=p.stdout.read, daemon=True).start()  # keep the pipe drained
            return p, m.group(1)
        if not line and p.poll() is not None:
            break
    raise RuntimeError('server did not start')


def stop_server(p):
    if p.poll() is None:
        os.killpg(p.pid, signal.SIGTERM)
        try:
            p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()


def get(url):
    try:
        with urllib.request.urlopen(url, timeout=120) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def cleanup(proxy, tmp):
    """Stops every process started here (servers by their process group), the proxy, and
    removes tmp: what a test's `finally` does, also after a failure."""
    for p in procs:
        if p.poll() is None:
            try:
                os.killpg(p.pid, signal.SIGKILL) if p.args[0] == binary else p.kill()
            except OSError:
                pass
            p.wait()
    if proxy:
        proxy.stop()
    shutil.rmtree(tmp, ignore_errors=True)
