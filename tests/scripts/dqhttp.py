"""dqhttp.py: what the issue-15 script tests share (not a test itself): one HTTP request to a
loopback server that never raises, and a free loopback port."""
import http.client
import json
import random
import socket
import subprocess
import time


def request(port, method, path, body=None, headers=None, timeout=20):
    """(status, headers dict lower-cased, body bytes); status -1 on a transport error. A dict
    or list body is sent as JSON."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        data = json.dumps(body).encode() if isinstance(body, (dict, list)) else body
        h = dict(headers or {})
        if data is not None:
            h.setdefault("Content-Type", "application/json")
        conn.request(method, path, body=data, headers=h)
        r = conn.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
    except (OSError, http.client.HTTPException) as e:
        return -1, {}, str(e).encode()
    finally:
        conn.close()


def free_port():
    """A loopback port free now (another process may take it before it is bound)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def stable_port():
    """A loopback port free now and below the kernel's ephemeral range, for a server that must
    come back on the same port after it was killed: while it is down, no outgoing connection
    of this machine can take the port as its local port (those come from the ephemeral
    range), which a port from free_port() cannot promise. None when 200 tries found none."""
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            low = int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        low = 32768
    rnd = random.Random()
    for _ in range(200):
        port = rnd.randrange(10000, max(low, 10001))
        s = socket.socket()
        try:
            s.bind(("127.0.0.1", port))
            return port
        except OSError:
            continue
        finally:
            s.close()
    return None


def wait_ready(port, seconds=60.0):
    """Bounded wait until /health answers 200: a server opens its port before its search
    index is built and says 503 "starting" until then. True when it did."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if request(port, "GET", "/health", timeout=5)[0] == 200:
            return True
        time.sleep(0.01)
    return False


def serve(binary, data, extra=()):
    """Starts `danqing serve` on 127.0.0.1 port 0 over data; (process, port) once it says
    ready. The server prints its URL first; a failed start raises RuntimeError (the process
    is gone)."""
    p = subprocess.Popen([binary, "--data", data, "serve", "--listen", "127.0.0.1:0",
                          "--log-level", "2", *extra], stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL, text=True)
    line = p.stdout.readline()
    try:
        port = int(line.strip().rstrip("/").rsplit(":", 1)[1])
    except (IndexError, ValueError):
        port = 0
    if port <= 0 or not wait_ready(port):
        p.kill()
        p.wait()
        raise RuntimeError(f"server did not start: {line!r}")
    return p, port


def stop(p):
    """Stops a server from serve(): SIGTERM, then SIGKILL after 30 s."""
    if p.poll() is None:
        p.terminate()
        try:
            p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
    p.stdout.close()


def poll(cond, seconds=20.0):
    """Bounded wait for cond(), retried every 20 ms until it holds (no sleep used for timing);
    its last value."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(0.02)
    return cond()
