/*
 * api.c: the JSON API under /api/ (docs/api.md is the contract). This file is the plumbing:
 * its own route table (path pattern, methods, the least role, handler), authentication and
 * the CSRF rule applied once for every route, the error format, argument and body helpers,
 * and the small read-only endpoints (health, vocabularies, images, audit). Accounts are in
 * api_auth.c, relic records in api_relics.c. The catalog does the work and the access
 * checks on data; this layer maps HTTP onto it.
 *
 * Nothing here is put in the shared response cache (mhd.c keys it on path and Accept only),
 * except the vocabularies, which are the same for every caller.
 */
#define _GNU_SOURCE
#include "api_internal.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define DQ_API_VERSION "0.4.0"

/* ---------------------------------------------------------------- responses */

static const char *code_of(int status)
{
    switch (status) {
    case 401:
        return "unauthorized";
    case 403:
        return "forbidden";
    case 404:
        return "not_found";
    case 409:
        return "conflict";
    case 412:
    case 428: /* docs/api.md has one code for both preconditions; the status tells them apart */
        return "precondition_failed";
    case 413:
        return "too_large";
    case 422:
        return "invalid";
    case 429:
        return "too_many_requests";
    case 503:
        return "unavailable";
    default:
        return status >= 500 ? "internal" : "bad_request";
    }
}

void dq_api_error(dq_http_resp_t *resp, int status, const char *msg, const char *fields_json)
{
    resp->status = status;
    resp->content_type = "application/json";
    resp->cacheable = 0;
    resp->no_etag = 1;
    dq_buf_reset(&resp->body);
    dq_buf_printf(&resp->body, "{\"error\":{\"code\":\"%s\",\"message\":\"", code_of(status));
    dq_buf_json_str(&resp->body, msg, strlen(msg));
    dq_buf_puts(&resp->body, "\"");
    if (status == 422 && fields_json && *fields_json)
        dq_buf_printf(&resp->body, ",\"fields\":%s", fields_json);
    dq_buf_puts(&resp->body, "}}\n");
    /* RFC 9110 §10.2.3: a 503 for a busy catalog (DQ_EBUSY) says when to try again. */
    if (status == 503)
        dq_http_resp_header(resp, "Retry-After", "1");
    /* RFC 9110 §11.6.1: a 401 names the scheme that would work (RFC 6750 §3 for Bearer). */
    if (status == 401)
        dq_http_resp_header(resp, "WWW-Authenticate", "Bearer realm=\"danqing\"");
    dq_http_resp_header(resp, "Cache-Control", "no-store");
}

void dq_api_error_err(dq_http_resp_t *resp, const dq_err_t *err)
{
    int status = err->http_status ? err->http_status : dq_err_status(err->code);
    if (status < 400)
        status = 500;
    /* A 500's message may hold a database message: say less to the client, log it here. A
     * 503 (a busy catalog) says what it is. */
    if (status >= 500 && status != 503) {
        dq_log(DQ_LOG_ERROR, "api", "%s", err->msg);
        dq_api_error(resp, status, "internal error", NULL);
        return;
    }
    dq_api_error(resp, status, err->msg, NULL);
}

void dq_api_json(dq_http_resp_t *resp, int status, dq_buf_t *body)
{
    resp->status = status;
    resp->content_type = "application/json";
    dq_buf_free(&resp->body);
    resp->body = *body;
    memset(body, 0, sizeof(*body));
    /* Answers depend on who asks: browsers may keep them but must revalidate, shared caches
     * must not store them (RFC 9111 §5.2.2.7 private). */
    dq_http_resp_header(resp, "Cache-Control", "private, no-cache");
    dq_http_resp_header(resp, "Vary", "Cookie, Authorization");
}

char *dq_api_base_url(dq_api_t *c)
{
    dq_buf_t b = {0};
    dq_http_base_url(c->srv, c->req, &b);
    return dq_buf_steal(&b, NULL);
}

char *dq_api_arg(dq_api_t *c, const char *name, int *bad)
{
    const char *raw = c->req->arg(c->req, name);
    if (!raw)
        return NULL;
    /* application/x-www-form-urlencoded (what URLSearchParams writes): '+' is a space. */
    char *tmp = dq_xstrdup(raw);
    for (char *p = tmp; *p; p++)
        if (*p == '+')
            *p = ' ';
    dq_err_t err = {0};
    char *v = dq_str_pct_decode(tmp, strlen(tmp), &err);
    free(tmp);
    if (!v) {
        dq_buf_t msg = {0};
        dq_buf_printf(&msg, "query argument '%s': %s", name, err.msg);
        dq_api_error(c->resp, 400, msg.data, NULL);
        dq_buf_free(&msg);
        *bad = 1;
    }
    return v;
}

json_t *dq_api_body(dq_api_t *c, int want_array)
{
    if (c->req->body_len > DQ_API_MAX_BODY) {
        dq_api_error(c->resp, 413, "request body larger than 1 MiB", NULL);
        return NULL;
    }
    if (!c->req->body || c->req->body_len == 0) {
        dq_api_error(c->resp, 400, "a JSON body is required", NULL);
        return NULL;
    }
    json_error_t je;
    /* Duplicate keys are refused: two "restricted" members must not be resolved silently. */
    json_t *j = json_loadb(c->req->body, c->req->body_len, JSON_REJECT_DUPLICATES, &je);
    if (!j) {
        dq_buf_t msg = {0};
        dq_buf_printf(&msg, "body is not valid JSON: %s (line %d, column %d)", je.text, je.line,
                      je.column);
        dq_api_error(c->resp, 400, msg.data, NULL);
        dq_buf_free(&msg);
        return NULL;
    }
    if (want_array ? !json_is_array(j) : !json_is_object(j)) {
        json_decref(j);
        dq_api_error(c->resp, 400,
                     want_array ? "body must be a JSON array" : "body must be a JSON object", NULL);
        return NULL;
    }
    return j;
}

/* ---------------------------------------------------------------- small endpoints */

static void api_health(dq_api_t *c)
{
    int64_t relics = 0, images = 0;
    dq_err_t err = {0};
    if (dq_catalog_counts(c->srv->catalog, &c->actor, &relics, &images, &err) < 0) {
        dq_api_error_err(c->resp, &err);
        return;
    }
    dq_buf_t b = {0};
    dq_buf_printf(&b, "{\"status\":\"ok\",\"version\":\"%s\",\"records\":%lld,\"images\":%lld}\n",
                  DQ_API_VERSION, (long long)relics, (long long)images);
    dq_api_json(c->resp, 200, &b);
    c->resp->no_etag = 1;
}

static void api_vocab(dq_api_t *c)
{
    dq_buf_t b = {0};
    dq_err_t err = {0};
    if (dq_catalog_vocab(c->srv->catalog, c->seg[1], &b, &err) < 0) {
        dq_buf_free(&b);
        dq_api_error_err(c->resp, &err);
        return;
    }
    c->resp->status = 200;
    c->resp->content_type = "application/json";
    dq_buf_free(&c->resp->body);
    c->resp->body = b;
    /* The vocabularies are compiled in: the same for every caller, so cacheable. */
    c->resp->cacheable = 1;
    dq_http_resp_header(c->resp, "Cache-Control", "public, max-age=3600");
}

/* Image records without their file paths (a client has no business with the data
 * directory's layout); the original file name is shown to curators only. */
static void put_image(dq_buf_t *b, const dq_image_rec_t *r, int with_filename)
{
    dq_buf_puts(b, "{\"id\":\"");
    dq_buf_json_str(b, r->id, strlen(r->id));
    dq_buf_printf(b,
                  "\",\"width\":%d,\"height\":%d,\"levels\":%d,\"tile_size\":%d,\"bands\":%d,"
                  "\"master_sha256\":\"%s\",\"master_format\":\"%s\",\"master_size\":%llu,"
                  "\"icc_converted\":%s,\"created_at\":\"%s\",\"updated_at\":\"%s\"",
                  r->width, r->height, r->levels, r->tile_size, r->bands, r->master_sha256,
                  r->master_format, (unsigned long long)r->master_size,
                  r->icc_converted ? "true" : "false", r->created_at, r->updated_at);
    if (with_filename) {
        dq_buf_puts(b, ",\"orig_filename\":\"");
        dq_buf_json_str(b, r->orig_filename, strlen(r->orig_filename));
        dq_buf_putc(b, '"');
    }
    dq_buf_printf(b, ",\"info\":\"/iiif/3/%s/info.json\"}", r->id);
}

typedef struct {
    dq_image_rec_t *v;
    size_t n, cap;
} recs_t;

static int collect(void *ud, const dq_image_rec_t *rec)
{
    recs_t *r = ud;
    if (r->n == r->cap) {
        r->cap = r->cap ? 2 * r->cap : 64;
        r->v = dq_xrealloc(r->v, r->cap * sizeof(*r->v));
    }
    r->v[r->n++] = *rec;
    return 0;
}

static void api_images(dq_api_t *c)
{
    recs_t recs = {0};
    dq_buf_t b = {0};
    dq_err_t err = {0};
    /* Collect first, filter after: the list callback runs under the catalog's lock, and the
     * visibility check is another catalog call. */
    if (dq_catalog_image_list(c->srv->catalog, collect, &recs, &err) < 0) {
        dq_api_error_err(c->resp, &err);
        goto out;
    }
    dq_buf_puts(&b, "{\"items\":[");
    size_t n = 0;
    for (size_t i = 0; i < recs.n; i++) {
        if (!dq_catalog_image_visible(c->srv->catalog, recs.v[i].id, &c->actor))
            continue;
        if (n++)
            dq_buf_putc(&b, ',');
        put_image(&b, &recs.v[i], c->actor.role >= DQ_ROLE_CURATOR);
    }
    dq_buf_printf(&b, "],\"total\":%zu}\n", n);
    dq_api_json(c->resp, 200, &b);
out:
    free(recs.v);
    dq_buf_free(&b);
}

static void api_image(dq_api_t *c)
{
    dq_image_rec_t rec;
    dq_err_t err = {0};
    /* Hidden and absent answer alike (docs/api.md Roles: a hidden thing is a 404). */
    if (!dq_catalog_image_visible(c->srv->catalog, c->seg[1], &c->actor) ||
        dq_catalog_image_get(c->srv->catalog, c->seg[1], &rec, &err) < 0) {
        dq_api_error(c->resp, 404, "no such image", NULL);
        return;
    }
    dq_buf_t b = {0};
    put_image(&b, &rec, c->actor.role >= DQ_ROLE_CURATOR);
    dq_buf_putc(&b, '\n');
    dq_api_json(c->resp, 200, &b);
}

static void api_audit(dq_api_t *c)
{
    int bad = 0;
    char *object = dq_api_arg(c, "object", &bad);
    char *limit_s = bad ? NULL : dq_api_arg(c, "limit", &bad);
    char *cursor = bad ? NULL : dq_api_arg(c, "cursor", &bad);
    dq_buf_t b = {0};
    dq_err_t err = {0};
    uint64_t limit = 0;
    if (bad)
        goto out;
    if (limit_s && (dq_str_to_u64(limit_s, strlen(limit_s), &limit) < 0 || limit > 500)) {
        dq_api_error(c->resp, 400, "limit must be 1..500", NULL);
        goto out;
    }
    if (dq_catalog_audit_list(c->srv->catalog, object, (int)limit, cursor, &b, &err) < 0) {
        dq_api_error_err(c->resp, &err);
        goto out;
    }
    dq_api_json(c->resp, 200, &b);
out:
    free(object);
    free(limit_s);
    free(cursor);
    dq_buf_free(&b);
}

/* ---------------------------------------------------------------- the route table */

#define R_GET (DQ_HTTP_GET | DQ_HTTP_HEAD)
#define WRITES (DQ_HTTP_POST | DQ_HTTP_PUT | DQ_HTTP_PATCH | DQ_HTTP_DELETE)

typedef struct {
    int methods;
    const char *pattern; /* segments after /api/; "*" matches any one segment */
    int min_role;        /* below it: 401 for anonymous, 403 for a signed-in user */
    int no_csrf;         /* 1: a cookie write without X-Requested-With is still allowed */
    void (*fn)(dq_api_t *c);
} api_route_t;

/* Routes are data (house style 5); docs/api.md "Endpoints" is the same table in prose. Roles
 * here are the gate; the catalog checks them again on every write. */
static const api_route_t api_routes[] = {
    {R_GET, "health", DQ_ROLE_ANON, 0, api_health},
    /* Login takes no cookie authority (it creates one); it is guarded by requiring a JSON
     * content type instead, which no cross-site form can send (see api_auth.c). */
    {DQ_HTTP_POST, "login", DQ_ROLE_ANON, 1, dq_api_login},
    {DQ_HTTP_POST, "logout", DQ_ROLE_ANON, 0, dq_api_logout},
    {R_GET, "me", DQ_ROLE_ANON, 0, dq_api_me},
    {R_GET, "relics", DQ_ROLE_ANON, 0, dq_api_relic_search},
    {DQ_HTTP_POST, "relics", DQ_ROLE_CURATOR, 0, dq_api_relic_create},
    {R_GET, "relics/*", DQ_ROLE_ANON, 0, dq_api_relic_get},
    {DQ_HTTP_PUT, "relics/*", DQ_ROLE_CURATOR, 0, dq_api_relic_replace},
    {DQ_HTTP_PATCH, "relics/*", DQ_ROLE_CURATOR, 0, dq_api_relic_patch},
    {DQ_HTTP_DELETE, "relics/*", DQ_ROLE_CURATOR, 0, dq_api_relic_delete},
    {DQ_HTTP_PUT, "relics/*/images", DQ_ROLE_CURATOR, 0, dq_api_relic_images},
    {R_GET, "relics/*/cite", DQ_ROLE_ANON, 0, dq_api_relic_cite}, /* network (linkedart.c) */
    {R_GET, "relics/*/download", DQ_ROLE_ANON, 0, dq_api_relic_download}, /* api_download.c */
    {R_GET, "vocab/*", DQ_ROLE_ANON, 0, api_vocab},
    {R_GET, "images", DQ_ROLE_ANON, 0, api_images},
    {R_GET, "images/*", DQ_ROLE_ANON, 0, api_image},
    {R_GET, "audit", DQ_ROLE_ADMIN, 0, api_audit},
    {R_GET, "users", DQ_ROLE_ADMIN, 0, dq_api_users_list},
    {DQ_HTTP_POST, "users", DQ_ROLE_ADMIN, 0, dq_api_users_add},
    {DQ_HTTP_PATCH, "users/*", DQ_ROLE_ADMIN, 0, dq_api_users_patch},
    {DQ_HTTP_DELETE, "users/*", DQ_ROLE_ADMIN, 0, dq_api_users_delete},
    /* ======== annotations and tours (api_annotations.c, api_tours.c) ======== */
    {R_GET, "relics/*/annotations", DQ_ROLE_ANON, 0, dq_api_anno_container},
    {DQ_HTTP_POST, "relics/*/annotations", DQ_ROLE_EDUCATOR, 0, dq_api_anno_create},
    {R_GET, "relics/*/annotations/*", DQ_ROLE_ANON, 0, dq_api_anno_get},
    {DQ_HTTP_PUT, "relics/*/annotations/*", DQ_ROLE_EDUCATOR, 0, dq_api_anno_replace},
    {DQ_HTTP_DELETE, "relics/*/annotations/*", DQ_ROLE_EDUCATOR, 0, dq_api_anno_delete},
    {R_GET, "relics/*/tours", DQ_ROLE_ANON, 0, dq_api_tours_list},
    {DQ_HTTP_POST, "relics/*/tours", DQ_ROLE_EDUCATOR, 0, dq_api_tour_create},
    {R_GET, "tours/*", DQ_ROLE_ANON, 0, dq_api_tour_get},
    {DQ_HTTP_PUT, "tours/*", DQ_ROLE_EDUCATOR, 0, dq_api_tour_replace},
    {DQ_HTTP_DELETE, "tours/*", DQ_ROLE_EDUCATOR, 0, dq_api_tour_delete},
    {R_GET, "content-state", DQ_ROLE_ANON, 0, dq_api_content_state},
    /* ======== end annotations and tours ======== */
    /* ======== lessons and glossary (api_lessons.c; issue 17) ======== */
    {R_GET, "lessons", DQ_ROLE_ANON, 0, dq_api_lessons_list},
    {DQ_HTTP_POST, "lessons", DQ_ROLE_EDUCATOR, 0, dq_api_lesson_create},
    {R_GET, "lessons/*", DQ_ROLE_ANON, 0, dq_api_lesson_get},
    {DQ_HTTP_PUT, "lessons/*", DQ_ROLE_EDUCATOR, 0, dq_api_lesson_replace},
    {DQ_HTTP_DELETE, "lessons/*", DQ_ROLE_EDUCATOR, 0, dq_api_lesson_delete},
    {DQ_HTTP_POST, "lessons/*/check", DQ_ROLE_ANON, 0, dq_api_lesson_check},
    {R_GET, "glossary", DQ_ROLE_ANON, 0, dq_api_glossary_search},
    {DQ_HTTP_POST, "glossary", DQ_ROLE_EDUCATOR, 0, dq_api_glossary_create},
    {R_GET, "glossary/*", DQ_ROLE_ANON, 0, dq_api_glossary_get},
    {DQ_HTTP_PUT, "glossary/*", DQ_ROLE_EDUCATOR, 0, dq_api_glossary_replace},
    {DQ_HTTP_DELETE, "glossary/*", DQ_ROLE_EDUCATOR, 0, dq_api_glossary_delete},
    {DQ_HTTP_POST, "classes", DQ_ROLE_EDUCATOR, 0, dq_api_class_open},
    {R_GET, "classes/*", DQ_ROLE_EDUCATOR, 0, dq_api_class_dashboard},
    {DQ_HTTP_POST, "classes/*/join", DQ_ROLE_ANON, 0, dq_api_class_join},
    {DQ_HTTP_POST, "classes/*/state", DQ_ROLE_EDUCATOR, 0, dq_api_class_state},
    {DQ_HTTP_POST, "classes/*/progress", DQ_ROLE_ANON, 0, dq_api_class_progress},
    {DQ_HTTP_POST, "classes/*/answer", DQ_ROLE_ANON, 0, dq_api_class_answer},
    {R_GET, "classes/*/events", DQ_ROLE_ANON, 0, dq_api_class_events},
    /* ======== end lessons and glossary ======== */
    /* ======== spectral captures (api_spectral.c; issue 11) ======== */
    {R_GET, "relics/*/captures", DQ_ROLE_ANON, 0, dq_api_relic_captures},
    {R_GET, "captures/*", DQ_ROLE_ANON, 0, dq_api_capture_get},
    {R_GET, "captures/*/spectrum", DQ_ROLE_ANON, 0, dq_api_capture_spectrum},
    /* ======== end spectral captures ======== */
    /* ======== similar works (api_style.c; issue 13) ======== */
    {R_GET, "relics/*/similar", DQ_ROLE_ANON, 0, dq_api_style_similar},
    {R_GET, "relics/*/palette", DQ_ROLE_ANON, 0, dq_api_style_palette},
    {R_GET, "style/map", DQ_ROLE_ANON, 0, dq_api_style_map},
    {DQ_HTTP_POST, "similar", DQ_ROLE_ANON, 0, dq_api_style_search},
    /* ======== end similar works ======== */
    /* ======== scene layers (api_scene.c; issue 14) ======== */
    {R_GET, "images/*/scene", DQ_ROLE_ANON, 0, dq_api_scene_list},
    {DQ_HTTP_POST, "images/*/scene", DQ_ROLE_CURATOR, 0, dq_api_scene_save},
    {R_GET, "images/*/scene/*", DQ_ROLE_ANON, 0, dq_api_scene_get},
    /* ======== end scene layers ======== */
    /* ======== condition records (api_condition.c; issue 12) ======== */
    {R_GET, "relics/*/condition", DQ_ROLE_ANON, 0, dq_api_condition_list},
    {DQ_HTTP_POST, "relics/*/condition", DQ_ROLE_CONSERVATOR, 0, dq_api_condition_create},
    {R_GET, "relics/*/condition/*", DQ_ROLE_ANON, 0, dq_api_condition_get},
    {DQ_HTTP_PUT, "relics/*/condition/*", DQ_ROLE_CONSERVATOR, 0, dq_api_condition_replace},
    {DQ_HTTP_DELETE, "relics/*/condition/*", DQ_ROLE_CONSERVATOR, 0, dq_api_condition_delete},
    {DQ_HTTP_POST, "relics/*/condition/jobs", DQ_ROLE_CONSERVATOR, 0, dq_api_condition_job_create},
    {R_GET, "relics/*/condition/jobs/*", DQ_ROLE_CONSERVATOR, 0, dq_api_condition_job_get},
    {R_GET, "relics/*/condition/*/changes/*", DQ_ROLE_ANON, 0, dq_api_condition_changes_file},
    {R_GET, "images/*/outline", DQ_ROLE_ANON, 0, dq_api_restoration_outline},
    /* ======== end condition records ======== */
};

static int pattern_matches(const char *pattern, char *const *seg, int n_seg)
{
    int i = 0;
    for (const char *p = pattern; *p; i++) {
        const char *e = strchr(p, '/');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        if (i >= n_seg)
            return 0;
        if (!(n == 1 && *p == '*') && (strlen(seg[i]) != n || memcmp(seg[i], p, n) != 0))
            return 0;
        p += n + (e ? 1 : 0);
    }
    return i == n_seg;
}

/* Splits the path after /api/ into decoded segments; 0 or -1 (400 answered). */
static int split(dq_api_t *c)
{
    const char *p = c->req->path + strlen("/api/");
    size_t len = c->req->path_len - strlen("/api/");
    /* One trailing slash is forgiven ("/api/relics/" is "/api/relics"). */
    if (len && p[len - 1] == '/')
        len--;
    while (len) {
        const char *e = memchr(p, '/', len);
        size_t n = e ? (size_t)(e - p) : len;
        if (c->n_seg == DQ_API_MAX_SEGS || n == 0) {
            dq_api_error(c->resp, 404, "no such API resource", NULL);
            return -1;
        }
        dq_err_t err = {0};
        c->seg[c->n_seg] = dq_str_pct_decode(p, n, &err);
        if (!c->seg[c->n_seg]) {
            dq_api_error(c->resp, 400, err.msg, NULL);
            return -1;
        }
        c->n_seg++;
        p += n + (e ? 1 : 0);
        len -= n + (e ? 1 : 0);
    }
    return 0;
}

/* Everything that is decided before a handler runs: the route, who asks, the CSRF rule and the
 * role. Returns the route, or NULL with an error answered on c->resp. Runs twice for a request
 * with a body (from dq_http_api_body_limit on its headers, and again for the handler). */
static const api_route_t *gate(dq_api_t *c)
{
    const dq_http_req_t *req = c->req;
    dq_http_resp_t *resp = c->resp;
    dq_err_t err = {0};
    if (split(c) < 0)
        return NULL;
    const api_route_t *route = NULL;
    int allowed = 0;
    for (size_t i = 0; i < DQ_ARRAY_LEN(api_routes); i++) {
        if (!pattern_matches(api_routes[i].pattern, c->seg, c->n_seg))
            continue;
        allowed |= api_routes[i].methods;
        if (api_routes[i].methods & req->method)
            route = &api_routes[i];
    }
    if (!allowed) {
        dq_api_error(resp, 404, "no such API resource", NULL);
        return NULL;
    }
    if (!route) {
        /* RFC 9110 §15.5.6: a 405 lists the methods the resource has. */
        dq_buf_t allow = {0};
        static const char *const names[] = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"};
        for (int i = 0; i < 6; i++)
            if (allowed & (1 << i))
                dq_buf_printf(&allow, "%s%s", allow.len ? ", " : "", names[i]);
        dq_api_error(resp, 405, "method not allowed on this resource", NULL);
        dq_http_resp_header(resp, "Allow", allow.data);
        dq_buf_free(&allow);
        return NULL;
    }
    if (dq_http_actor(c->srv, req, &c->actor, &c->via_cookie, &err) < 0) {
        dq_api_error_err(resp, &err);
        return NULL;
    }
    /* CSRF: a browser attaches the session cookie to any request to this origin, but only
     * same-origin script can add a custom header (a cross-site one would need a CORS
     * preflight we never grant with credentials). SameSite=Strict is the first guard; this is
     * the second, for browsers and proxies that drop SameSite. */
    if ((req->method & WRITES) && c->via_cookie && !route->no_csrf) {
        const char *xrw = req->header(req, "X-Requested-With");
        if (!xrw || strcmp(xrw, "danqing") != 0) {
            dq_api_error(resp, 403, "cookie-authenticated writes need X-Requested-With: danqing",
                         NULL);
            return NULL;
        }
    }
    if (c->actor.role < route->min_role) {
        if (c->actor.role == DQ_ROLE_ANON)
            dq_api_error(resp, 401, "sign in first", NULL);
        else
            dq_api_error(resp, 403, "your role may not do this", NULL);
        return NULL;
    }
    return route;
}

static void free_segs(dq_api_t *c)
{
    for (int i = 0; i < c->n_seg; i++)
        free(c->seg[i]);
    c->n_seg = 0;
}

/* Body limits (issue 10): logins, accounts, annotations and image lists take 64 KiB; the
 * handlers named here take whole relic documents or tours, up to DQ_API_MAX_BODY. */
static void (*const large_bodies[])(dq_api_t *c) = {
    dq_api_relic_create, dq_api_relic_replace, dq_api_relic_patch,
    dq_api_tour_create,  dq_api_tour_replace,  dq_api_lesson_create, dq_api_lesson_replace,
    dq_api_style_search, /* an uploaded image */
    dq_api_scene_save,   /* layers as PNG data URLs */
    dq_api_condition_create, dq_api_condition_replace, /* "changes" may carry region lists */
};

size_t dq_http_api_body_limit(dq_server_t *srv, const dq_http_req_t *req, dq_http_resp_t *resp)
{
    dq_api_t c = {.srv = srv, .req = req, .resp = resp};
    const api_route_t *route = gate(&c);
    free_segs(&c);
    if (!route)
        return 0;
    for (size_t i = 0; i < DQ_ARRAY_LEN(large_bodies); i++)
        if (route->fn == large_bodies[i])
            return DQ_API_MAX_BODY;
    if (route->fn == dq_api_condition_job_create) /* a capture (issue 12) */
        return DQ_API_MAX_CAPTURE;
    return 64u << 10;
}

void dq_http_api(dq_server_t *srv, const dq_http_req_t *req, dq_http_resp_t *resp)
{
    dq_api_t c = {.srv = srv, .req = req, .resp = resp};
    const api_route_t *route = gate(&c);
    if (route)
        route->fn(&c);
    free_segs(&c);
}

void dq_api_vocabs_load(dq_api_t *c, dq_api_vocabs_t *v)
{
    memset(v, 0, sizeof(*v));
    v->base = dq_api_base_url(c);
    dq_err_t err = {0};
    if (dq_catalog_vocab(c->srv->catalog, "dynasties", &v->dyn, &err) < 0)
        dq_buf_reset(&v->dyn);
    if (dq_catalog_vocab(c->srv->catalog, "object_types", &v->type, &err) < 0)
        dq_buf_reset(&v->type);
    if (dq_catalog_vocab(c->srv->catalog, "subjects", &v->subj, &err) < 0)
        dq_buf_reset(&v->subj);
}

void dq_api_vocabs_free(dq_api_vocabs_t *v)
{
    free(v->base);
    dq_buf_free(&v->dyn);
    dq_buf_free(&v->type);
    dq_buf_free(&v->subj);
}
