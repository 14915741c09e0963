#!/usr/bin/env python3
"""test_iiif_auth.py (issue 16): the IIIF Authorization Flow API 2.0 walked the way the
specification (https://iiif.io/api/auth/2.0/) describes a client, against one real
`danqing serve` ($DQ_BIN) on loopback port 0:

  §2.1  read the restricted image's info.json: Auth context first, the probe service with its
        active access service (label, heading, note, confirmLabel in zh and en), its token and
        logout services; a public image's info.json and manifest carry none of it;
  §5    probe without a token: HTTP 200, status 401 with heading and note; CORS for any origin
        (the preflight allows Authorization);
  §3    open the access service with ?origin= (the sign-in page), sign in through the real
        POST /api/login as a viewer, and let the page's POST grant the access cookie;
  §4    open the token service with messageId and origin and read the message the page posts:
        AuthAccessToken2 (messageId echoed, expiresIn), posted with targetOrigin = origin, its
        one script allowed by the page's CSP hash; the errors invalidRequest, missingAspect,
        invalidAspect; a hostile messageId stays text;
  §5    probe with the token: status 200; the tile with the access cookie 200, without 401;
  §6    logout: cookies deleted, the token probes 401, the cookie gets no tile, the session
        is over; /api/logout ends the IIIF credentials of its session too.
Anonymous callers never get a byte of the restricted image. The browser half (a viewer on a
second origin doing the real postMessage flow) is tests/web/scenarios/70-iiif-auth.mjs."""
import base64
import hashlib
import http.client
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from urllib.parse import quote

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from dqhttp import request, serve, stop  # noqa: E402
from dqnet import Counter  # noqa: E402

ROOT = os.environ.get("DQ_ROOT") or os.getcwd()
BIN = os.environ.get("DQ_BIN") or os.path.join(ROOT, "build/danqing")
AUTH_CTX = "http://iiif.io/api/auth/2/context.json"
VIEWER = "http://viewer.example:9000"
T = Counter()
check = T.check


def set_cookie(h, name):
    """(value, attributes text) of cookie name in a Set-Cookie header, else (None, '')."""
    for part in (h.get("set-cookie") or "").split(", "):
        if part.startswith(name + "="):
            v = part.split(";", 1)
            return v[0][len(name) + 1:], part
    return None, ""


def set_cookies(port, method, path, headers):
    """(status, every Set-Cookie value, body): dqhttp.request keeps one header per name."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
    try:
        conn.request(method, path, headers=headers)
        r = conn.getresponse()
        return r.status, [v for k, v in r.getheaders() if k.lower() == "set-cookie"], r.read()
    finally:
        conn.close()


def lmap_ok(v):
    return isinstance(v, dict) and v.get("en") and v.get("zh")


def token_page(port, message_id, origin, cookie=None):
    """Opens the token service as §4.2's iframe would; returns (status, headers, data block as
    JSON or None, body text)."""
    q = []
    if message_id is not None:
        q.append("messageId=" + quote(message_id, safe=""))
    if origin is not None:
        q.append("origin=" + quote(origin, safe=""))
    st, h, body = request(port, "GET", "/iiif/auth/2/token?" + "&".join(q),
                          headers={"Cookie": cookie} if cookie else None)
    text = body.decode("utf-8", "replace")
    m = re.search(r'<script type="application/json" id="m">(.*?)</script>', text, re.S)
    return st, h, (json.loads(m.group(1)) if m else None), text


def main():
    tmp = tempfile.mkdtemp(prefix="iiifauth.")
    procs = []
    try:
        data = f"{tmp}/data"
        subprocess.run(["vips", "xyz", f"{tmp}/a.v", "600", "400"], check=True)
        subprocess.run(["vips", "colourspace", f"{tmp}/a.v", f"{tmp}/a.png", "srgb"], check=True)
        for img in ("pub-img", "sec-img"):
            subprocess.run([BIN, "--data", data, "ingest", f"{tmp}/a.png", "--id", img],
                           check=True, capture_output=True)
        for name, role in (("cura", "curator"), ("rita", "viewer")):
            subprocess.run([BIN, "--data", data, "user", "add", name, "--role", role,
                            "--password", f"{name}-pass-1"], check=True, capture_output=True)
        tok = subprocess.run([BIN, "--data", data, "user", "token", "cura"], check=True,
                             capture_output=True, text=True).stdout.split()[0]
        api = {"Authorization": f"Bearer {tok}"}
        srv, port = serve(BIN, data)
        procs.append(srv)
        base = f"http://127.0.0.1:{port}"
        relics = {}
        for img, restricted in (("pub-img", False), ("sec-img", True)):
            st, _, body = request(port, "POST", "/api/relics",
                                  {"accession": img.upper(), "title": {"en": img},
                                   "restricted": restricted,
                                   "images": [{"image_id": img, "role": "main"}]}, api)
            check(st == 201, f"relic with {img} (restricted={restricted})")
            relics[img] = json.loads(body)["id"] if st == 201 else ""

        # §2.1: the services, found the way a client finds them.
        st, h, body = request(port, "GET", "/iiif/3/sec-img/info.json")
        info = json.loads(body) if st == 200 else {}
        check(st == 200, f"restricted info.json is readable by anyone ({st})")
        ctx = info.get("@context")
        check(isinstance(ctx, list) and ctx[0] == AUTH_CTX and
              ctx[-1] == "http://iiif.io/api/image/3/context.json",
              f"info.json @context lists the Auth context first: {ctx}")
        probes = [s for s in info.get("service", []) if s.get("type") == "AuthProbeService2"]
        check(len(probes) == 1 and probes[0]["id"] == f"{base}/iiif/auth/2/probe/sec-img",
              "one AuthProbeService2 for the image")
        probe_id = probes[0]["id"] if probes else ""
        access = [s for s in (probes[0].get("service", []) if probes else [])
                  if s.get("type") == "AuthAccessService2"]
        acc = access[0] if access else {}
        check(acc.get("profile") == "active" and acc.get("id") == f"{base}/iiif/auth/2/access",
              "an active AuthAccessService2 at our sign-in")
        check(all(lmap_ok(acc.get(k)) for k in ("label", "heading", "note", "confirmLabel")),
              "label, heading, note and confirmLabel in zh and en")
        inner = {s.get("type"): s for s in acc.get("service", [])}
        token_id = inner.get("AuthAccessTokenService2", {}).get("id")
        logout_svc = inner.get("AuthLogoutService2", {})
        check(token_id == f"{base}/iiif/auth/2/token" and
              logout_svc.get("id") == f"{base}/iiif/auth/2/logout" and
              lmap_ok(logout_svc.get("label")),
              "exactly one token service and a labelled logout service (§3.1 service)")
        st, _, body2 = request(port, "GET", "/iiif/2/sec-img/info.json")
        i2 = json.loads(body2) if st == 200 else {}
        check(st == 200 and i2.get("service", [{}])[0].get("@context") == AUTH_CTX,
              "Image 2.1 info.json: the probe carries its own @context")
        st, _, body = request(port, "GET", "/iiif/3/pub-img/info.json")
        pub = json.loads(body) if st == 200 else {}
        check(st == 200 and "service" not in pub and isinstance(pub.get("@context"), str),
              "public info.json unchanged: no auth services")

        # §5: probe without a token.
        st, h, body = request(port, "GET", "/iiif/auth/2/probe/sec-img",
                              headers={"Origin": VIEWER})
        pr = json.loads(body) if st == 200 else {}
        check(st == 200 and pr.get("type") == "AuthProbeResult2" and pr.get("status") == 401 and
              pr.get("@context") == AUTH_CTX, f"probe without token: 200 / status 401 ({st})")
        check(lmap_ok(pr.get("heading")) and lmap_ok(pr.get("note")),
              "probe 401 has heading and note in zh and en")
        check(h.get("access-control-allow-origin") == "*", "probe: CORS for any origin")
        st, h, _ = request(port, "OPTIONS", "/iiif/auth/2/probe/sec-img",
                           headers={"Origin": VIEWER, "Access-Control-Request-Method": "GET",
                                    "Access-Control-Request-Headers": "authorization"})
        check(st == 204 and "Authorization" in h.get("access-control-allow-headers", ""),
              "probe preflight allows the Authorization header")
        st, _, body = request(port, "GET", "/iiif/auth/2/probe/pub-img")
        check(st == 200 and json.loads(body).get("status") == 200, "public image probes 200")
        st, _, _ = request(port, "GET", "/iiif/auth/2/probe/no-such-img")
        check(st == 404, "no probe for an unknown image")

        tile = "/iiif/3/sec-img/0,0,256,256/256,/0/default.jpg"
        render = "/iiif/3/sec-img/full/100,/0/default.png"
        for what, path in (("tile", tile), ("render", render),
                           ("2.1 tile", "/iiif/2/sec-img/0,0,256,256/256,/0/default.jpg")):
            st, h, body = request(port, "GET", path)
            check(st == 401 and not h.get("content-type", "").startswith("image/") and
                  b"\xff\xd8" not in body and b"PNG" not in body,
                  f"anonymous {what}: 401 and no pixels ({st})")
        st, h, _ = request(port, "GET", "/iiif/3/pub-img/0,0,256,256/256,/0/default.jpg")
        check(st == 200 and h.get("content-type") == "image/jpeg", "public tile unchanged")

        # §4 before signing in: the token service says why not.
        st, h, page, text = token_page(port, "m0", VIEWER)
        msg = (page or {}).get("message", {})
        check(st == 200 and msg.get("type") == "AuthAccessTokenError2" and
              msg.get("profile") == "missingAspect" and msg.get("messageId") == "m0",
              f"token without a sign-in: missingAspect ({msg.get('profile')})")
        check(lmap_ok(msg.get("heading")) and lmap_ok(msg.get("note")),
              "token error has heading and note in zh and en")
        scripts = re.findall(r"<script>(.*?)</script>", text, re.S)
        digest = base64.b64encode(hashlib.sha256(scripts[0].encode()).digest()).decode() \
            if len(scripts) == 1 else ""
        csp = h.get("content-security-policy", "")
        check(len(scripts) == 1 and f"'sha256-{digest}'" in csp and "default-src 'none'" in csp
              and "frame-ancestors" not in csp,
              "token page: one script, allowed by its CSP hash; any site may frame it")
        check("postMessage(d.message,d.origin)" in (scripts[0] if scripts else "") and
              page.get("origin") == "http://viewer.example:9000",
              "the script posts the message with targetOrigin = the origin asked for")

        # §3: the access service: our sign-in page, then the grant it asks for.
        st, h, body = request(port, "GET", "/iiif/auth/2/access?origin=" + quote(VIEWER))
        check(st == 200 and b"/static/js/iiif-access.js" in body and
              "frame-ancestors 'none'" in h.get("content-security-policy", ""),
              "access service: the sign-in page, never framed")
        st, _, _ = request(port, "POST", "/iiif/auth/2/access?origin=" + quote(VIEWER),
                           headers={"X-Requested-With": "danqing"})
        check(st == 401, f"grant without a session: 401 ({st})")
        st, h, body = request(port, "POST", "/api/login",
                              {"user": "rita", "password": "rita-pass-1"})
        session, _ = set_cookie(h, "dq_session")
        check(st == 200 and session, "rita (viewer) signs in through POST /api/login")
        cs = {"Cookie": f"dq_session={session}"}
        st, _, _ = request(port, "POST", "/iiif/auth/2/access?origin=" + quote(VIEWER), headers=cs)
        check(st == 403, f"grant without the CSRF header: 403 ({st})")
        st, _, _ = request(port, "POST", "/iiif/auth/2/access?origin=javascript%3Ax",
                           headers={**cs, "X-Requested-With": "danqing"})
        check(st == 400, f"grant for no valid origin: 400 ({st})")
        st, cookies, body = set_cookies(port, "POST", "/iiif/auth/2/access?origin=" + quote(VIEWER),
                                        {**cs, "X-Requested-With": "danqing"})
        got = {c.split("=", 1)[0]: c for c in cookies}
        access_cookie = got.get("dq_iiif", "=;").split("=", 1)[1].split(";")[0]
        attrs = got.get("dq_iiif", "")
        check(st == 200 and access_cookie.startswith("dqa_"),
              f"the access service grants the access cookie ({st})")
        check("HttpOnly" in attrs and "Path=/iiif/;" in attrs and "SameSite=Lax" in attrs and
              "Secure" not in attrs, f"plain http: HttpOnly, Path=/iiif/, SameSite=Lax ({attrs})")
        origins = got.get("dq_iiif_origins", "=;").split("=", 1)[1].split(";")[0]
        check(origins == "http://viewer.example:9000" and
              "Path=/iiif/auth/2/" in got.get("dq_iiif_origins", ""),
              f"and remembers the origin it was granted for ({origins})")
        ca = {"Cookie": f"dq_iiif={access_cookie}; dq_iiif_origins={origins}"}
        st, _, page, _ = token_page(port, "o1", "https://evil.example", ca["Cookie"])
        check((page or {}).get("message", {}).get("profile") == "invalidOrigin" and
              "accessToken" not in page["message"],
              "a token for a site the user did not sign in for: invalidOrigin, no token")
        st, _, page, _ = token_page(port, "o2", VIEWER, f"dq_iiif={access_cookie}")
        check((page or {}).get("message", {}).get("profile") == "invalidOrigin",
              "the access cookie without its origins: invalidOrigin")
        st, cookies, _ = set_cookies(port, "POST", "/iiif/auth/2/access?origin=" +
                                     quote("https://other.example"),
                                     {"Cookie": f"dq_session={session}; dq_iiif_origins={origins}",
                                      "X-Requested-With": "danqing"})
        both = [c for c in cookies if c.startswith("dq_iiif_origins=")]
        check(st == 200 and both and both[0].startswith(
            "dq_iiif_origins=https://other.example|http://viewer.example:9000;"),
            f"a second grant adds its origin first ({both})")

        # §4: the token service with the access cookie, as the viewer's iframe loads it.
        st, h, page, text = token_page(port, "ae3415", VIEWER, ca["Cookie"])
        msg = (page or {}).get("message", {})
        access_token = msg.get("accessToken", "")
        check(st == 200 and msg.get("type") == "AuthAccessToken2" and
              msg.get("@context") == AUTH_CTX and msg.get("messageId") == "ae3415" and
              access_token.startswith("dqt_") and msg.get("expiresIn") == 600,
              f"token service posts AuthAccessToken2 ({msg.get('type')})")
        check(access_token not in (access_cookie, session),
              "the access token differs from every cookie (§4.4 warning)")
        st, _, page, _ = token_page(port, None, VIEWER, ca["Cookie"])
        check((page or {}).get("message", {}).get("profile") == "invalidRequest",
              "token without messageId: invalidRequest")
        st, _, page, text = token_page(port, "m1", "javascript:alert(1)", ca["Cookie"])
        check(st == 200 and page is None and "<script>" not in text and "dqt_" not in text,
              "token with a bad origin: nothing posted, no token on the page")
        st, _, page, _ = token_page(port, "m2", VIEWER,
                                    "dq_iiif=dqa_" + "A" * 43 + f"; dq_iiif_origins={VIEWER}")
        check((page or {}).get("message", {}).get("profile") == "invalidAspect",
              "token with an unknown access cookie: invalidAspect")
        evil = "</script><script>alert(1)</script>"
        st, _, page, text = token_page(port, evil, VIEWER, ca["Cookie"])
        check(page is not None and page["message"].get("messageId") == evil and
              "<script>alert" not in text, "a hostile messageId stays text inside the page")
        st, _, page, _ = token_page(port, "s1", VIEWER, cs["Cookie"])
        check((page or {}).get("message", {}).get("type") == "AuthAccessToken2",
              "the session cookie also yields a token (viewers on our own site)")

        # §5: probe with the token; the tile with the cookie.
        bearer = {"Authorization": f"Bearer {access_token}", "Origin": VIEWER}
        st, h, body = request(port, "GET", "/iiif/auth/2/probe/sec-img", headers=bearer)
        pr = json.loads(body) if st == 200 else {}
        check(st == 200 and pr.get("status") == 200 and "location" not in pr and
              "heading" not in pr, f"probe with the token: status 200 ({pr.get('status')})")
        st, _, body = request(port, "GET", "/iiif/auth/2/probe/sec-img",
                              headers={"Authorization": "Bearer dqt_" + "B" * 43})
        check(json.loads(body).get("status") == 401, "probe with an unknown token: 401")
        st, _, body = request(port, "GET", "/iiif/auth/2/probe/sec-img",
                              headers={"Authorization": f"Bearer {access_cookie}"})
        check(json.loads(body).get("status") == 401, "the access cookie is no token")
        st, h, body = request(port, "GET", tile, headers=ca)
        check(st == 200 and h.get("content-type") == "image/jpeg" and body[:2] == b"\xff\xd8",
              f"tile with the access cookie: 200 image/jpeg ({st})")
        check(h.get("cache-control") == "private, no-cache",
              f"private to that browser, revalidated at each use ({h.get('cache-control')})")
        tile_tag = h.get("etag", "")
        st, _, body = request(port, "GET", tile, headers={**ca, "If-None-Match": tile_tag})
        check(st == 304 and body == b"", f"revalidation with access: bodiless 304 ({st})")
        st, _, _ = request(port, "GET", tile)
        check(st == 401, f"the same tile without it: 401 ({st})")
        st, _, _ = request(port, "GET", tile, headers={"Authorization": f"Bearer {access_token}"})
        check(st == 401, "the access token opens no pixels (only the probe)")

        # The manifest of the restricted relic declares the services too.
        st, _, body = request(port, "GET",
                              f"/iiif/presentation/3/{relics['sec-img']}/manifest", headers=cs)
        man = json.loads(body) if st == 200 else {}
        svc = man.get("items", [{}])[0].get("items", [{}])[0].get("items", [{}])[0] \
            .get("body", {}).get("service", [{}])[0]
        check(st == 200 and man.get("@context", [None])[0] == AUTH_CTX and
              svc.get("type") == "ImageService3" and
              svc.get("service", [{}])[0].get("id") == probe_id,
              "restricted manifest: Auth context first, the probe on the ImageService3")
        st, _, body = request(port, "GET", f"/iiif/presentation/3/{relics['pub-img']}/manifest")
        check(st == 200 and b"AuthProbeService2" not in body and
              json.loads(body).get("@context") == "http://iiif.io/api/presentation/3/context.json",
              "public manifest unchanged")

        # §6: logout ends the cookie, the tokens and the session.
        st, cookies, body = set_cookies(port, "GET", "/iiif/auth/2/logout",
                                        {"Cookie": f"dq_iiif={access_cookie}"})
        check(st == 200 and b"signed-out" in body and
              any(c.startswith("dq_iiif=;") and "Max-Age=0" in c for c in cookies) and
              any(c.startswith("dq_session=;") and "Max-Age=0" in c for c in cookies),
              f"logout: 200, both cookies deleted ({st}, {cookies})")
        st, _, body = request(port, "GET", "/iiif/auth/2/probe/sec-img", headers=bearer)
        check(json.loads(body).get("status") == 401, "after logout the token probes 401")
        st, _, _ = request(port, "GET", tile, headers=ca)
        check(st == 401, "after logout the access cookie gets no tile")
        st, _, body = request(port, "GET", tile, headers={**ca, "If-None-Match": tile_tag})
        check(st == 401 and not body.startswith(b"\xff\xd8"),
              f"after logout a browser revalidating its cached tile gets 401, not 304 ({st})")
        st, _, page, _ = token_page(port, "m3", VIEWER, ca["Cookie"])
        check((page or {}).get("message", {}).get("profile") == "invalidAspect",
              "after logout the token service refuses the cookie")
        st, _, _ = request(port, "GET", "/api/me", headers=cs)
        check(st == 401, "after logout the session itself is over")

        # /api/logout (the site's own sign-out) ends the IIIF credentials of that session.
        st, h, _ = request(port, "POST", "/api/login", {"user": "rita", "password": "rita-pass-1"})
        s2, _ = set_cookie(h, "dq_session")
        st, cookies, _ = set_cookies(port, "POST", "/iiif/auth/2/access?origin=" + quote(VIEWER),
                                     {"Cookie": f"dq_session={s2}", "X-Requested-With": "danqing"})
        c2 = next((c.split(";")[0][8:] for c in cookies if c.startswith("dq_iiif=")), "")
        _, _, page, _ = token_page(port, "m4", VIEWER, f"dq_iiif={c2}; dq_iiif_origins={VIEWER}")
        t2 = (page or {}).get("message", {}).get("accessToken", "")
        _, _, body = request(port, "GET", "/iiif/auth/2/probe/sec-img",
                             headers={"Authorization": f"Bearer {t2}"})
        check(json.loads(body).get("status") == 200, "second sign-in: the new token probes 200")
        st, _, _ = request(port, "POST", "/api/logout",
                           headers={"Cookie": f"dq_session={s2}", "X-Requested-With": "danqing"})
        check(st == 204, "POST /api/logout")
        _, _, body = request(port, "GET", "/iiif/auth/2/probe/sec-img",
                             headers={"Authorization": f"Bearer {t2}"})
        check(json.loads(body).get("status") == 401, "after /api/logout the token probes 401")
        st, _, _ = request(port, "GET", tile, headers={"Cookie": f"dq_iiif={c2}"})
        check(st == 401, "after /api/logout the access cookie gets no tile")
    finally:
        for p in procs:
            stop(p)
        shutil.rmtree(tmp, ignore_errors=True)
    return T.summary()


if __name__ == "__main__":
    sys.exit(main())
