/*
 * iiif_auth.c: the IIIF Authorization Flow API 2.0 services of restricted images (issue 16;
 * docs/api.md "IIIF Authorization Flow"): under /iiif/auth/2/ the access service (our sign-in
 * page in a popup mode, and the POST that grants the access cookie), the token service (a page
 * that posts an access token to the viewer), the probe service per image and the logout
 * service; plus who an image request's access cookie names (for iiif_image.c) and the
 * manifest decoration that declares the services on restricted images' ImageService3. The
 * documents are iiif/auth.c's; the credentials are the catalog's (catalog.h "IIIF
 * Authorization Flow 2.0"). Nothing here logs or echoes a cookie or a token except the token
 * service, whose whole job is to hand its token to the viewer.
 *
 * Which cookie carries access, and why a second one: the session cookie dq_session is
 * SameSite=Strict, so a browser sends it only when the page that asks is on our own site.
 * That is what keeps the JSON API's writes safe, and it must stay so; but a viewer on another
 * site (Mirador at a university) loads our tiles and our token service from its own page, a
 * cross-site context where a Strict (or Lax) cookie is never sent. So the access service
 * grants a separate cookie, dq_iiif, that only reads: its Path is /iiif/ (the JSON API never
 * sees it) and it is honoured only by image requests, the token service and the logout
 * service. Over https it is SameSite=None; Secure, the only way a browser sends a cookie to
 * a cross-site iframe or <img> (RFC 6265bis §5.4.7; browsers refuse None without Secure).
 * Over plain http it can only be SameSite=Lax, which browsers send to same-site requests
 * (127.0.0.1:8080 and 127.0.0.1:9000 are one site: ports do not count), so cross-site viewers
 * need https; docs/api.md says what works where.
 */
#define _GNU_SOURCE
#include "api_internal.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "iiif/iiif.h"
#include "image/image.h"

#define ACCESS_COOKIE "dq_iiif"
/* The origins the access cookie was granted for, most recent first, '|' between them (a
 * character that no origin holds and a cookie value may). */
#define ORIGINS_COOKIE "dq_iiif_origins"
#define ORIGINS_MAX 8
#define ORIGINS_CAP (ORIGINS_MAX * (DQ_IIIF_AUTH_ORIGIN_MAX + 1) + 1)

/* ---------------------------------------------------------------- cookies */

/* 1 when the client reached us over https as it sees us (api_auth.c's rule: the configured
 * public URL, else what a trusted proxy says). */
static int over_https(dq_server_t *srv, const dq_http_req_t *req)
{
    dq_buf_t base = {0};
    dq_http_base_url(srv, req, &base);
    int secure = dq_str_starts(base.data, "https://");
    dq_buf_free(&base);
    return secure;
}

/* Set-Cookie for one of our IIIF cookies (value "" and max_age 0 delete it). HttpOnly: no
 * script, the viewer's included, may read it (the spec's premise: the client never sees the
 * aspect). */
static void set_cookie(dq_server_t *srv, const dq_http_req_t *req, dq_http_resp_t *resp,
                       const char *name, const char *path, const char *value, long max_age)
{
    dq_buf_t b = {0};
    dq_buf_printf(&b, "%s=%s; HttpOnly; Path=%s; Max-Age=%ld; %s", name, value, path, max_age,
                  over_https(srv, req) ? "SameSite=None; Secure" : "SameSite=Lax");
    dq_http_resp_header(resp, "Set-Cookie", b.data);
    dq_buf_free(&b);
}

static void access_cookie(dq_server_t *srv, const dq_http_req_t *req, dq_http_resp_t *resp,
                          const char *value, long max_age)
{
    set_cookie(srv, req, resp, ACCESS_COOKIE, "/iiif/", value, max_age);
}

/* ---------------------------------------------------------------- origins */

/* Auth 2.0 §3.2: "The server MAY use this information [the origin given to the access
 * service] to validate the origin supplied in subsequent requests to the access token
 * service." We do: a token goes only to a site the user signed in for in the popup, which
 * named it, so a page the user never chose cannot frame the token service and learn whether
 * they are signed in. The list rides in a cookie of its own beside the access cookie (only
 * the token and access services see it: Path=/iiif/auth/2/); the user could edit it, but
 * gains nothing a sign-in would not give. */

/* 1 when origin is one of the '|'-separated entries of list. */
static int origin_listed(const char *list, const char *origin)
{
    size_t ol = strlen(origin);
    for (const char *p = list; p && *p;) {
        const char *e = strchr(p, '|');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        if (n == ol && memcmp(p, origin, n) == 0)
            return 1;
        p = e ? e + 1 : NULL;
    }
    return 0;
}

/* The new list: origin first, then the old list's valid entries without it, at most
 * ORIGINS_MAX in all. */
static void origins_add(const char *old, const char *origin, dq_buf_t *out)
{
    int n = 1;
    dq_buf_puts(out, origin);
    for (const char *p = old; p && *p && n < ORIGINS_MAX;) {
        const char *e = strchr(p, '|');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        char o[DQ_IIIF_AUTH_ORIGIN_MAX + 1];
        if (dq_iiif_auth_origin_check(p, len, o) && strcmp(o, origin) != 0) {
            dq_buf_printf(out, "|%s", o);
            n++;
        }
        p = e ? e + 1 : NULL;
    }
}

int dq_http_iiif_access_actor(dq_server_t *srv, const dq_http_req_t *req, dq_actor_t *who)
{
    char tok[DQ_TOKEN_MAX];
    dq_err_t err = {0};
    memset(who, 0, sizeof(*who));
    who->role = DQ_ROLE_ANON;
    if (!dq_http_cookie(req, ACCESS_COOKIE, tok, sizeof(tok)))
        return 0;
    /* A stale cookie is no error: the browser is simply not signed in any more. */
    if (dq_catalog_iiif_authenticate(srv->catalog, DQ_IIIF_CRED_COOKIE, tok, who, NULL, &err) < 0) {
        memset(who, 0, sizeof(*who));
        who->role = DQ_ROLE_ANON;
        return 0;
    }
    return 1;
}

/* ---------------------------------------------------------------- pages */

static void no_store(dq_http_resp_t *resp)
{
    resp->no_etag = 1;
    resp->cacheable = 0;
    dq_http_resp_header(resp, "Cache-Control", "no-store");
    dq_http_resp_header(resp, "X-Content-Type-Options", "nosniff");
    dq_http_resp_header(resp, "Referrer-Policy", "no-referrer");
}

/* The access service (§3): our sign-in in a popup mode. The page (web/js/iiif-access.js)
 * signs in through POST /api/login like the site's own dialog, or, for a browser already
 * signed in, offers "continue": either way a click, the user gesture Appendix A asks for
 * before a browser will send the cookie to third-party contexts; then it POSTs here for the
 * access cookie and closes itself, which the viewer is waiting for (§3.3.1.1). */
static void access_page(dq_http_resp_t *resp)
{
    resp->content_type = "text/html; charset=utf-8";
    dq_buf_puts(&resp->body,
                "<!doctype html>\n<html lang=\"zh-Hans\"><head><meta charset=\"utf-8\">\n"
                "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
                "<title>登录 · Sign in — 丹青 danqing</title>\n"
                "<link rel=\"stylesheet\" href=\"/static/css/fonts.css\">\n"
                "<link rel=\"stylesheet\" href=\"/static/css/app.css\">\n"
                "<link rel=\"stylesheet\" href=\"/static/css/iiif-access.css\">\n"
                "<script type=\"module\" src=\"/static/js/iiif-access.js\"></script>\n"
                "</head><body class=\"iiif-access\">\n<main id=\"main\">\n"
                "<h1><span lang=\"zh\">登录丹青</span> · <span lang=\"en\">Sign in to "
                "danqing</span></h1>\n"
                "<noscript><p>登录需要启用 JavaScript。Signing in needs JavaScript.</p>"
                "</noscript>\n</main>\n</body></html>\n");
    no_store(resp);
    /* The app's policy, and no framing at all: a sign-in page inside someone else's frame
     * is how clickjacking steals a click. */
    dq_http_resp_header(resp, "Content-Security-Policy",
                        "default-src 'self'; script-src 'self'; style-src 'self'; "
                        "img-src 'self' data:; connect-src 'self'; font-src 'self'; "
                        "object-src 'none'; base-uri 'none'; frame-ancestors 'none'");
}

/* POST /iiif/auth/2/access: the signed-in session (first-party, so its Strict cookie is
 * sent) gets the access cookie. The CSRF header rule of docs/api.md applies: a cross-site
 * form cannot send it, and a cross-site fetch with it needs a preflight nothing allows. */
static void access_grant(dq_server_t *srv, const dq_http_req_t *req, dq_http_resp_t *resp)
{
    const char *xrw = req->header(req, "X-Requested-With");
    char session[DQ_TOKEN_MAX], cookie[DQ_TOKEN_MAX] = "";
    dq_actor_t who;
    dq_err_t err = {0};
    if (!xrw || strcmp(xrw, "danqing") != 0) {
        dq_api_error(resp, 403, "this needs the header X-Requested-With: danqing", NULL);
        return;
    }
    const char *enc = req->arg(req, "origin");
    char *dec = enc ? dq_str_pct_decode(enc, strlen(enc), &err) : NULL;
    char origin[DQ_IIIF_AUTH_ORIGIN_MAX + 1];
    int origin_ok = dec && dq_iiif_auth_origin_check(dec, strlen(dec), origin);
    free(dec);
    if (!origin_ok) {
        dq_api_error(resp, 400, "origin must be the viewer's origin, scheme://host[:port]", NULL);
        return;
    }
    if (!dq_http_cookie(req, "dq_session", session, sizeof(session))) {
        dq_api_error(resp, 401, "not signed in", NULL);
        return;
    }
    if (dq_catalog_iiif_grant(srv->catalog, session, DQ_IIIF_COOKIE_TTL, cookie, &who, &err) < 0) {
        dq_api_error_err(resp, &err);
        return;
    }
    dq_buf_t b = {0};
    dq_buf_puts(&b, "{\"user\":\"");
    dq_buf_json_str(&b, who.user, strlen(who.user));
    dq_buf_printf(&b, "\",\"role\":\"%s\",\"expires_in\":%d}\n", dq_catalog_role_name(who.role),
                  DQ_IIIF_COOKIE_TTL);
    dq_api_json(resp, 200, &b); /* private, no-cache: nothing else to add */
    resp->no_etag = 1;
    access_cookie(srv, req, resp, cookie, DQ_IIIF_COOKIE_TTL);
    char old[ORIGINS_CAP] = "";
    dq_buf_t list = {0};
    dq_http_cookie(req, ORIGINS_COOKIE, old, sizeof(old));
    origins_add(old, origin, &list);
    set_cookie(srv, req, resp, ORIGINS_COOKIE, "/iiif/auth/2/", list.data, DQ_IIIF_COOKIE_TTL);
    dq_buf_free(&list);
    explicit_bzero(cookie, sizeof(cookie));
    explicit_bzero(session, sizeof(session));
}

/* The token service (§4): a page that posts an access token, or the error why not, to the
 * viewer that framed it. Always 200 (§4.3: so that the frame loads and its script runs). */
static void token(dq_server_t *srv, const dq_http_req_t *req, dq_http_resp_t *resp)
{
    dq_iiif_auth_query_t q;
    dq_err_t qerr = {0}, err = {0};
    dq_buf_t msg = {0};
    char cred[DQ_TOKEN_MAX], tok[DQ_TOKEN_MAX] = "";
    dq_actor_t who;
    int expired = 0;
    int rc =
        dq_iiif_auth_query_parse(req->arg(req, "messageId"), req->arg(req, "origin"), &q, &qerr);
    if (rc < 0) {
        dq_iiif_auth_token_error(q.has_message_id ? q.message_id : "", "invalidRequest", &msg);
    } else {
        /* The access cookie, else (a viewer on our own site) the session cookie itself: both
         * are what the browser will send with the image requests of that same context. */
        int from = DQ_IIIF_CRED_COOKIE;
        int have = dq_http_cookie(req, ACCESS_COOKIE, cred, sizeof(cred));
        if (!have && dq_http_cookie(req, "dq_session", cred, sizeof(cred))) {
            from = DQ_CRED_SESSION;
            have = 1;
        }
        char origins[ORIGINS_CAP] = "";
        if (from == DQ_IIIF_CRED_COOKIE)
            dq_http_cookie(req, ORIGINS_COOKIE, origins, sizeof(origins));
        if (!have)
            dq_iiif_auth_token_error(q.message_id, "missingAspect", &msg);
        else if (from == DQ_IIIF_CRED_COOKIE && !origin_listed(origins, q.origin))
            dq_iiif_auth_token_error(q.message_id, "invalidOrigin", &msg);
        else if (dq_catalog_iiif_token(srv->catalog, from, cred, DQ_IIIF_TOKEN_TTL, tok, &who,
                                       &expired, &err) < 0)
            dq_iiif_auth_token_error(q.message_id,
                                     err.http_status != 401 ? "unavailable"
                                     : expired              ? "expiredAspect"
                                                            : "invalidAspect",
                                     &msg);
        else
            dq_iiif_auth_token_message(q.message_id, tok, DQ_IIIF_TOKEN_TTL, &msg);
        if (err.http_status >= 500)
            dq_log(DQ_LOG_WARN, "iiif-auth", "token service: %s", err.msg);
    }
    resp->status = 200;
    resp->content_type = "text/html; charset=utf-8";
    dq_iiif_auth_token_page(msg.data, q.has_origin ? q.origin : NULL, &resp->body);
    no_store(resp);
    dq_http_resp_header(resp, "Content-Security-Policy", dq_iiif_auth_token_csp);
    dq_buf_free(&msg);
    explicit_bzero(cred, sizeof(cred));
    explicit_bzero(tok, sizeof(tok));
}

/* The probe service of one image (§5): what an image request with the access token's
 * aspect would get. Answers 200 whatever the verdict (§5.2 status); CORS for every origin
 * (mhd.c's Access-Control-Allow-Origin: *, and the preflight allows Authorization): the
 * token is the credential, cookies play no part. */
static void probe(dq_server_t *srv, const dq_http_req_t *req, dq_http_resp_t *resp,
                  const char *enc_id, size_t enc_len)
{
    dq_err_t err = {0};
    char *id = dq_str_pct_decode(enc_id, enc_len, &err);
    struct dq_pyramid *pyr = NULL;
    if (!id || !*id || strchr(id, '/') || strlen(id) > DQ_IIIF_ID_MAX) {
        dq_http_resp_error(resp, 404, "not found");
        goto out;
    }
    /* Only an image that exists has a probe service. */
    if (!(pyr = dq_registry_get(srv->registry, id, &err))) {
        dq_http_resp_error(resp, err.http_status ? err.http_status : 500, err.msg);
        goto out;
    }
    int why = 0;
    dq_actor_t anon = {.role = DQ_ROLE_ANON}, who;
    if (!dq_catalog_image_visible(srv->catalog, id, &anon)) {
        const char *auth = req->header(req, "Authorization");
        int expired = 0;
        if (!auth) {
            why = DQ_IIIF_PROBE_NO_TOKEN;
        } else if (strncasecmp(auth, "Bearer ", 7) != 0 ||
                   dq_catalog_iiif_authenticate(srv->catalog, DQ_IIIF_CRED_TOKEN, auth + 7, &who,
                                                &expired, &err) < 0) {
            why = expired ? DQ_IIIF_PROBE_EXPIRED : DQ_IIIF_PROBE_BAD_TOKEN;
        } else if (!dq_catalog_image_visible(srv->catalog, id, &who)) {
            why = DQ_IIIF_PROBE_NOT_ALLOWED;
        }
    }
    resp->status = 200;
    dq_iiif_auth_probe_result(why, &resp->body);
    resp->content_type = "application/json";
    no_store(resp);
    dq_http_resp_header(resp, "Vary", "Authorization");
out:
    dq_pyramid_unref(pyr);
    free(id);
}

/* The logout service (§6): ends the session behind the access cookie and the session cookie
 * (with every access cookie and token of it), deletes both cookies and says so. */
static void logout(dq_server_t *srv, const dq_http_req_t *req, dq_http_resp_t *resp)
{
    char cred[DQ_TOKEN_MAX];
    dq_err_t err = {0};
    int failed = 0;
    if (dq_http_cookie(req, ACCESS_COOKIE, cred, sizeof(cred)))
        failed |= dq_catalog_iiif_logout(srv->catalog, DQ_IIIF_CRED_COOKIE, cred, &err) < 0;
    if (dq_http_cookie(req, "dq_session", cred, sizeof(cred)))
        failed |= dq_catalog_iiif_logout(srv->catalog, DQ_CRED_SESSION, cred, &err) < 0;
    explicit_bzero(cred, sizeof(cred));
    if (failed) {
        dq_log(DQ_LOG_WARN, "iiif-auth", "logout: %s", err.msg);
        dq_http_resp_error(resp, err.http_status ? err.http_status : 500, err.msg);
        no_store(resp);
        return;
    }
    resp->status = 200;
    resp->content_type = "text/html; charset=utf-8";
    dq_buf_puts(&resp->body,
                "<!doctype html>\n<html lang=\"zh-Hans\"><head><meta charset=\"utf-8\">"
                "<title>已退出 · Signed out — 丹青 danqing</title></head><body>\n"
                "<h1 id=\"signed-out\">已退出丹青 · Signed out of danqing</h1>\n"
                "<p>受限图像需重新登录后才能查看。Restricted images need a new sign-in.</p>\n"
                "</body></html>\n");
    no_store(resp);
    dq_http_resp_header(resp, "Content-Security-Policy", "default-src 'none'");
    access_cookie(srv, req, resp, "", 0);
    set_cookie(srv, req, resp, ORIGINS_COOKIE, "/iiif/auth/2/", "", 0);
    /* api_auth.c's session cookie, deleted with the attributes it was set with. */
    dq_http_resp_header(resp, "Set-Cookie",
                        "dq_session=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0");
}

size_t dq_http_iiif_auth_body_limit(dq_server_t *srv, const dq_http_req_t *req,
                                    dq_http_resp_t *resp)
{
    (void)srv;
    static const char access[] = "/iiif/auth/2/access";
    const char *xrw = req->header(req, "X-Requested-With");
    if (req->method != DQ_HTTP_POST || req->path_len != sizeof(access) - 1 ||
        memcmp(req->path, access, sizeof(access) - 1) != 0) {
        dq_http_resp_error(resp, 405, "method not allowed");
        return 0;
    }
    /* The grant reads nothing from its body; the CSRF rule is checked before any byte. */
    if (!xrw || strcmp(xrw, "danqing") != 0) {
        dq_api_error(resp, 403, "this needs the header X-Requested-With: danqing", NULL);
        return 0;
    }
    return 1024;
}

void dq_http_iiif_auth(dq_server_t *srv, const dq_http_req_t *req, dq_http_resp_t *resp)
{
    static const char prefix[] = "/iiif/auth/2/";
    const char *rest = req->path + sizeof(prefix) - 1;
    size_t rest_len = req->path_len - (sizeof(prefix) - 1);
    int get = req->method & (DQ_HTTP_GET | DQ_HTTP_HEAD);
#define IS(s) (rest_len == sizeof(s) - 1 && memcmp(rest, s, sizeof(s) - 1) == 0)
    if (IS("access") && get)
        access_page(resp);
    else if (IS("access") && req->method == DQ_HTTP_POST)
        access_grant(srv, req, resp);
    else if (IS("token") && get)
        token(srv, req, resp);
    else if (IS("logout") && get)
        logout(srv, req, resp);
    else if (rest_len > 6 && memcmp(rest, "probe/", 6) == 0 && get)
        probe(srv, req, resp, rest + 6, rest_len - 6);
    else if (IS("access") || IS("token") || IS("logout") ||
             (rest_len > 6 && memcmp(rest, "probe/", 6) == 0))
        dq_http_resp_error(resp, 405, "method not allowed");
    else
        dq_http_resp_error(resp, 404, "not found");
#undef IS
}

/* ---------------------------------------------------------------- manifests */

/* The image id of an ImageService3 id "{base}/iiif/3/{id}" (a new string), else NULL. */
static char *service_image(const char *svc_id, const char *base)
{
    size_t bl = strlen(base);
    if (!svc_id || strncmp(svc_id, base, bl) != 0 || strncmp(svc_id + bl, "/iiif/3/", 8) != 0)
        return NULL;
    const char *seg = svc_id + bl + 8;
    if (!*seg || strchr(seg, '/'))
        return NULL;
    dq_err_t err = {0};
    return dq_str_pct_decode(seg, strlen(seg), &err);
}

/* Walks j and gives every ImageService3 of a restricted image its probe service; returns
 * how many it gave. */
static int decorate(dq_api_t *c, json_t *j, const char *base)
{
    int n = 0;
    if (json_is_array(j)) {
        size_t i;
        json_t *e;
        json_array_foreach(j, i, e) n += decorate(c, e, base);
        return n;
    }
    if (!json_is_object(j))
        return 0;
    const char *type = json_string_value(json_object_get(j, "type"));
    if (type && strcmp(type, "ImageService3") == 0 && !json_object_get(j, "service")) {
        char *id = service_image(json_string_value(json_object_get(j, "id")), base);
        dq_actor_t anon = {.role = DQ_ROLE_ANON};
        if (id && !dq_catalog_image_visible(c->srv->catalog, id, &anon)) {
            dq_buf_t s = {0};
            dq_iiif_auth_services(base, id, 0, &s);
            json_t *svc = json_loadb(s.data, s.len, 0, NULL);
            DQ_ASSERT(svc != NULL); /* our own builder's output */
            json_object_set_new(j, "service", svc);
            dq_buf_free(&s);
            n++;
        }
        free(id);
        return n;
    }
    const char *k;
    json_t *v;
    json_object_foreach(j, k, v) n += decorate(c, v, base);
    return n;
}

void dq_api_iiif_auth_manifest_decorate(dq_api_t *c, dq_buf_t *manifest)
{
    json_t *m = json_loadb(manifest->data, manifest->len, 0, NULL);
    char *base = dq_api_base_url(c);
    /* Auth 2.0 §2.1: the services of an image service "MAY additionally be declared in the
     * Manifest", and then the Auth context comes first in the document's @context. */
    if (json_is_object(m) && decorate(c, m, base) > 0) {
        json_t *ctx = json_array();
        json_array_append_new(ctx, json_string(DQ_IIIF_AUTH_CONTEXT));
        json_t *old = json_object_get(m, "@context");
        if (json_is_array(old))
            json_array_extend(ctx, old);
        else if (old)
            json_array_append(ctx, old);
        json_object_set_new(m, "@context", ctx);
        char *out = json_dumps(m, JSON_COMPACT | JSON_PRESERVE_ORDER);
        DQ_ASSERT(out != NULL);
        dq_buf_reset(manifest);
        dq_buf_puts(manifest, out);
        free(out);
    }
    free(base);
    json_decref(m);
}
