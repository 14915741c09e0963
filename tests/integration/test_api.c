/*
 * Integration tests of the JSON API and the IIIF Presentation endpoints: the real binary on a
 * loopback port, accounts made with `danqing user`, images with `danqing ingest`, real HTTP.
 * Login/logout/me and cookie flags, 401/403 per role for every write, the CSRF header for
 * cookie writes, relic CRUD with ETag/If-Match (428, 412), 422 field errors, 409, 413,
 * restricted records and images hidden from anonymous callers (and kept out of the shared
 * response cache), audit rows, vocabularies, health, image records, account admin, and
 * Manifests and Collections checked against Presentation 3.0 with every id resolved on the
 * running server.
 */
#include <jansson.h>
#include <vips/vips.h>

#include "../dq_fixture.h"
#include "catalog/catalog.h" /* DQ_ROLE_* */

/* dq_http_test.h's client sends no body; this file has its own (req). */
__attribute__((unused)) static void *unused_dqt_http = (void *)dqt_http;

typedef struct {
    char *dir, *data;
    dqt_server_t srv;
    char *cur_token; /* "Authorization: Bearer dq_...\r\n" of the curator */
    char base[64];   /* "http://127.0.0.1:PORT" */
} fx_t;

static void setup(fx_t *f)
{
    memset(f, 0, sizeof(*f));
    DQ_REQUIRE(VIPS_INIT("test") == 0);
    f->dir = dqt_tmpdir();
    f->data = dq_xasprintf("%s/data", f->dir);
    char *master = dq_xasprintf("%s/m.png", f->dir);
    DQ_REQUIRE(dqt_make_master(master, 1200, 800, DQT_MASTER_GRADIENT) == 0);
    DQ_REQUIRE(dqt_sh("%s ingest %s --id pub-img --data %s >/dev/null 2>&1", dqt_bin(), master,
                      f->data) == 0);
    DQ_REQUIRE(dqt_sh("%s ingest %s --id secret-img --data %s >/dev/null 2>&1", dqt_bin(), master,
                      f->data) == 0);
    static const char *const users[][3] = {{"admin", "admin", "adminpass1"},
                                           {"cura", "curator", "curapass1"},
                                           {"cons", "conservator", "conspass1"},
                                           {"vier", "viewer", "vierpass1"}};
    for (size_t i = 0; i < DQ_ARRAY_LEN(users); i++)
        DQ_REQUIRE(dqt_sh("%s --data %s user add %s --role %s --password %s >/dev/null 2>&1",
                          dqt_bin(), f->data, users[i][0], users[i][1], users[i][2]) == 0);
    char *tok = dqt_token(f->data, "cura");
    DQ_REQUIRE(tok && dq_str_starts(tok, "dq_"));
    f->cur_token = dq_xasprintf("Authorization: Bearer %s\r\n", tok);
    free(tok);
    free(master);
    /* the test client plays the TLS proxy too (X-Forwarded-Proto below) */
    DQ_REQUIRE(dqt_server_start(&f->srv, f->data, "--trusted-proxy 127.0.0.1") == 0);
    snprintf(f->base, sizeof(f->base), "http://127.0.0.1:%d", f->srv.port);
}

static void teardown(fx_t *f)
{
    DQ_CHECK_INT(dqt_server_stop(&f->srv), 0);
    dqt_sh("rm -rf %s", f->dir);
    free(f->dir);
    free(f->data);
    free(f->cur_token);
}

/* One request with an optional body (Content-Length set), Connection: close. */
static int req(fx_t *f, const char *method, const char *path, const char *headers, const char *body,
               dqt_resp_t *r)
{
    return dqt_http_body(f->srv.port, method, path, headers, body, r);
}

/* Request, returning only the status. */
static int status_of(fx_t *f, const char *method, const char *path, const char *headers,
                     const char *body)
{
    dqt_resp_t r;
    int st = req(f, method, path, headers, body, &r) == 0 ? r.status : -1;
    dqt_resp_free(&r);
    return st;
}

static json_t *body_json(const dqt_resp_t *r)
{
    return json_loadb(r->body.data ? r->body.data : "", r->body.len, 0, NULL);
}

static const char *jget(const json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

/* The JSON error code of a response ("" when it has none). */
static char *err_code(const dqt_resp_t *r)
{
    json_t *j = body_json(r);
    const char *c = json_string_value(json_object_get(json_object_get(j, "error"), "code"));
    char *s = dq_xstrdup(c ? c : "");
    json_decref(j);
    return s;
}

/* Signs in; returns "Cookie: dq_session=...\r\nX-Requested-With: danqing\r\n" (csrf 1) or the
 * cookie line alone (csrf 0). */
static char *login(fx_t *f, const char *user, const char *pw, int csrf)
{
    char *body = dq_xasprintf("{\"user\":\"%s\",\"password\":\"%s\"}", user, pw);
    dqt_resp_t r;
    DQ_REQUIRE(req(f, "POST", "/api/login", "Content-Type: application/json\r\n", body, &r) == 0);
    free(body);
    DQ_REQUIRE(r.status == 200);
    char *sc = dqt_header(&r, "Set-Cookie");
    DQ_REQUIRE(sc && dq_str_starts(sc, "dq_session="));
    char *val = dq_xstrndup(sc, strcspn(sc, ";"));
    char *h = dq_xasprintf("Cookie: %s\r\n%s", val, csrf ? "X-Requested-With: danqing\r\n" : "");
    free(val);
    free(sc);
    dqt_resp_free(&r);
    return h;
}

static char *cat2(const char *a, const char *b)
{
    return dq_xasprintf("%s%s", a, b);
}

/* Creates a relic with the curator's token; returns its id (new string). */
static char *create(fx_t *f, const char *json)
{
    dqt_resp_t r;
    DQ_REQUIRE(req(f, "POST", "/api/relics", f->cur_token, json, &r) == 0);
    if (r.status != 201)
        fprintf(stderr, "create: %d %s\n", r.status, r.body.data);
    DQ_REQUIRE(r.status == 201);
    json_t *j = body_json(&r);
    char *id = dq_xstrdup(jget(j, "id"));
    json_decref(j);
    dqt_resp_free(&r);
    return id;
}

/* GETs an absolute URL of this server; returns the status. */
static int get_abs(fx_t *f, const char *url)
{
    if (!url || !dq_str_starts(url, f->base))
        return -1;
    return status_of(f, "GET", url + strlen(f->base), NULL, NULL);
}

#define DOC(acc, extra)                                                                            \
    "{\"accession\":\"" acc "\",\"title\":{\"zh\":\"山水\",\"en\":\"Landscape\"}" extra "}"

/* ---------------------------------------------------------------- accounts */

DQ_TEST(login_logout_me_and_cookie_flags)
{
    fx_t f;
    setup(&f);
    dqt_resp_t r;
    DQ_REQUIRE(req(&f, "GET", "/api/me", NULL, NULL, &r) == 0);
    DQ_CHECK_INT(r.status, 401);
    char *code = err_code(&r);
    DQ_CHECK_STR(code, "unauthorized");
    free(code);
    char *wa = dqt_header(&r, "WWW-Authenticate");
    DQ_CHECK(wa && dq_str_starts(wa, "Bearer"));
    free(wa);
    dqt_resp_free(&r);
    /* login needs a JSON content type and an object */
    DQ_CHECK_INT(
        status_of(&f, "POST", "/api/login", NULL, "{\"user\":\"vier\",\"password\":\"vierpass1\"}"),
        400);
    DQ_CHECK_INT(status_of(&f, "POST", "/api/login", "Content-Type: application/json\r\n", "[1]"),
                 400);
    DQ_CHECK_INT(status_of(&f, "POST", "/api/login", "Content-Type: application/json\r\n", "{"),
                 400);
    /* wrong password and unknown user answer alike */
    dqt_resp_t r1, r2;
    DQ_REQUIRE(req(&f, "POST", "/api/login", "Content-Type: application/json\r\n",
                   "{\"user\":\"vier\",\"password\":\"nope-nope\"}", &r1) == 0);
    DQ_REQUIRE(req(&f, "POST", "/api/login", "Content-Type: application/json\r\n",
                   "{\"user\":\"ghost\",\"password\":\"nope-nope\"}", &r2) == 0);
    DQ_CHECK_INT(r1.status, 401);
    DQ_CHECK_INT(r2.status, 401);
    DQ_CHECK_STR(r1.body.data, r2.body.data);
    dqt_resp_free(&r1);
    dqt_resp_free(&r2);
    /* the right password: cookie flags per RFC 6265 and docs/api.md */
    DQ_REQUIRE(req(&f, "POST", "/api/login", "Content-Type: application/json; charset=utf-8\r\n",
                   "{\"user\":\"vier\",\"password\":\"vierpass1\"}", &r) == 0);
    DQ_CHECK_INT(r.status, 200);
    json_t *j = body_json(&r);
    DQ_CHECK_STR(jget(j, "user"), "vier");
    DQ_CHECK_STR(jget(j, "role"), "viewer");
    json_decref(j);
    char *sc = dqt_header(&r, "Set-Cookie");
    DQ_REQUIRE(sc != NULL);
    DQ_CHECK(strstr(sc, "HttpOnly") != NULL);
    DQ_CHECK(strstr(sc, "SameSite=Strict") != NULL);
    DQ_CHECK(strstr(sc, "Path=/") != NULL);
    DQ_CHECK(strstr(sc, "Max-Age=") != NULL);
    DQ_CHECK(strstr(sc, "Secure") == NULL);
    char *cookie = dq_xasprintf("Cookie: theme=dark; %.*s\r\n", (int)strcspn(sc, ";"), sc);
    free(sc);
    dqt_resp_free(&r);
    /* behind an https proxy the cookie is Secure */
    DQ_REQUIRE(req(&f, "POST", "/api/login",
                   "Content-Type: application/json\r\nX-Forwarded-Proto: https\r\n",
                   "{\"user\":\"vier\",\"password\":\"vierpass1\"}", &r) == 0);
    sc = dqt_header(&r, "Set-Cookie");
    DQ_CHECK(sc && strstr(sc, "; Secure"));
    free(sc);
    dqt_resp_free(&r);
    /* me */
    DQ_REQUIRE(req(&f, "GET", "/api/me", cookie, NULL, &r) == 0);
    DQ_CHECK_INT(r.status, 200);
    DQ_CHECK(strstr(r.body.data, "\"role\":\"viewer\"") != NULL);
    dqt_resp_free(&r);
    /* API tokens */
    DQ_REQUIRE(req(&f, "GET", "/api/me", f.cur_token, NULL, &r) == 0);
    DQ_CHECK_INT(r.status, 200);
    DQ_CHECK(strstr(r.body.data, "\"role\":\"curator\"") != NULL);
    dqt_resp_free(&r);
    DQ_CHECK_INT(
        status_of(&f, "GET", "/api/me",
                  "Authorization: Bearer dq_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\r\n", NULL),
        401);
    DQ_CHECK_INT(status_of(&f, "GET", "/api/me", "Authorization: Basic YTpi\r\n", NULL), 401);
    /* logout is a cookie write: it needs the CSRF header */
    DQ_CHECK_INT(status_of(&f, "POST", "/api/logout", cookie, NULL), 403);
    char *with = cat2(cookie, "X-Requested-With: danqing\r\n");
    DQ_REQUIRE(req(&f, "POST", "/api/logout", with, NULL, &r) == 0);
    DQ_CHECK_INT(r.status, 204);
    sc = dqt_header(&r, "Set-Cookie");
    DQ_CHECK(sc && strstr(sc, "Max-Age=0") && dq_str_starts(sc, "dq_session=;"));
    free(sc);
    dqt_resp_free(&r);
    DQ_CHECK_INT(status_of(&f, "GET", "/api/me", cookie, NULL), 401);
    /* unknown resources and methods */
    DQ_REQUIRE(req(&f, "GET", "/api/nothing-here", NULL, NULL, &r) == 0);
    DQ_CHECK_INT(r.status, 404);
    code = err_code(&r);
    DQ_CHECK_STR(code, "not_found");
    free(code);
    dqt_resp_free(&r);
    DQ_REQUIRE(req(&f, "DELETE", "/api/health", NULL, NULL, &r) == 0);
    DQ_CHECK_INT(r.status, 405);
    char *allow = dqt_header(&r, "Allow");
    DQ_CHECK(allow && strstr(allow, "GET"));
    free(allow);
    dqt_resp_free(&r);
    free(with);
    free(cookie);
    teardown(&f);
}

DQ_TEST(users_admin)
{
    fx_t f;
    setup(&f);
    char *adm = login(&f, "admin", "adminpass1", 1);
    dqt_resp_t r;
    DQ_REQUIRE(req(&f, "GET", "/api/users", adm, NULL, &r) == 0);
    DQ_CHECK_INT(r.status, 200);
    json_t *j = body_json(&r);
    DQ_CHECK_INT(json_array_size(json_object_get(j, "items")), 4);
    DQ_CHECK(strstr(r.body.data, "pass") == NULL && strstr(r.body.data, "argon") == NULL);
    json_decref(j);
    dqt_resp_free(&r);
    DQ_REQUIRE(req(&f, "POST", "/api/users", adm,
                   "{\"user\":\"xu\",\"role\":\"viewer\",\"password\":\"xupass123\"}", &r) == 0);
    DQ_CHECK_INT(r.status, 201);
    char *loc = dqt_header(&r, "Location");
    DQ_CHECK_STR(loc, "/api/users/xu");
    free(loc);
    dqt_resp_free(&r);
    DQ_CHECK_INT(status_of(&f, "POST", "/api/users", adm,
                           "{\"user\":\"xu\",\"role\":\"viewer\",\"password\":\"xupass123\"}"),
                 409);
    DQ_REQUIRE(req(&f, "POST", "/api/users", adm,
                   "{\"user\":\"yu\",\"role\":\"emperor\",\"password\":\"yupass123\"}", &r) == 0);
    DQ_CHECK_INT(r.status, 422);
    DQ_CHECK(strstr(r.body.data, "\"fields\":{\"role\"") != NULL);
    dqt_resp_free(&r);
    DQ_CHECK_INT(status_of(&f, "POST", "/api/users", adm,
                           "{\"user\":\"yu\",\"role\":\"viewer\",\"password\":\"short\"}"),
                 422);
    DQ_CHECK_INT(status_of(&f, "POST", "/api/users", adm,
                           "{\"user\":\"yu\",\"role\":\"viewer\",\"password\":\"p\",\"x\":1}"),
                 422);
    /* the new account works; a role change applies at its next request */
    char *xu = login(&f, "xu", "xupass123", 1);
    DQ_CHECK_INT(status_of(&f, "POST", "/api/relics", xu, DOC("X-1", "")), 403);
    DQ_CHECK_INT(status_of(&f, "PATCH", "/api/users/xu", adm, "{\"role\":\"curator\"}"), 200);
    DQ_CHECK_INT(status_of(&f, "POST", "/api/relics", xu, DOC("X-1", "")), 201);
    /* a new password ends its sessions */
    DQ_CHECK_INT(status_of(&f, "PATCH", "/api/users/xu", adm, "{\"password\":\"newpass123\"}"),
                 200);
    DQ_CHECK_INT(status_of(&f, "GET", "/api/me", xu, NULL), 401);
    DQ_CHECK_INT(status_of(&f, "DELETE", "/api/users/xu", adm, NULL), 204);
    DQ_CHECK_INT(status_of(&f, "DELETE", "/api/users/xu", adm, NULL), 404);
    DQ_CHECK_INT(status_of(&f, "DELETE", "/api/users/admin", adm, NULL), 409);
    /* only admins */
    DQ_CHECK_INT(status_of(&f, "GET", "/api/users", f.cur_token, NULL), 403);
    DQ_CHECK_INT(status_of(&f, "GET", "/api/users", NULL, NULL), 401);
    free(xu);
    free(adm);
    teardown(&f);
}

/* ---------------------------------------------------------------- roles and CSRF */

DQ_TEST(roles_and_csrf_for_every_write)
{
    fx_t f;
    setup(&f);
    char *id = create(&f, DOC("R-1", ""));
    char *p_one = dq_xasprintf("/api/relics/%s", id);
    char *p_img = dq_xasprintf("/api/relics/%s/images", id);
    const struct {
        const char *method, *path, *body;
        int role; /* the least role */
    } w[] = {
        {.method = "POST", .path = "/api/relics", .body = DOC("R-2", ""), .role = DQ_ROLE_CURATOR},
        {.method = "PUT", .path = p_one, .body = DOC("R-1", ""), .role = DQ_ROLE_CURATOR},
        {.method = "PATCH",
         .path = p_one,
         .body = "{\"date_text\":\"x\"}",
         .role = DQ_ROLE_CURATOR},
        {.method = "PUT", .path = p_img, .body = "[]", .role = DQ_ROLE_CURATOR},
        {.method = "DELETE", .path = p_one, .body = NULL, .role = DQ_ROLE_CURATOR},
        {.method = "POST", .path = "/api/users", .body = "{}", .role = DQ_ROLE_ADMIN},
        {.method = "PATCH", .path = "/api/users/vier", .body = "{}", .role = DQ_ROLE_ADMIN},
        {.method = "DELETE", .path = "/api/users/cons", .body = NULL, .role = DQ_ROLE_ADMIN},
    };
    char *vier = login(&f, "vier", "vierpass1", 1);
    char *cons = login(&f, "cons", "conspass1", 1);
    char *cura_nocsrf = login(&f, "cura", "curapass1", 0);
    char *cura = cat2(cura_nocsrf, "X-Requested-With: danqing\r\n");
    char *adm_nocsrf = login(&f, "admin", "adminpass1", 0);
    for (size_t i = 0; i < DQ_ARRAY_LEN(w); i++) {
        /* If-Match "*" so that a request past the gates is not stopped by a precondition */
        const char *im = "If-Match: *\r\n";
        char *h_anon = dq_xstrdup(im);
        char *h_v = cat2(vier, im), *h_c = cat2(cons, im), *h_cu = cat2(cura, im);
        char *h_nc = cat2(cura_nocsrf, im), *h_anc = cat2(adm_nocsrf, im);
        DQ_CHECK_INT(status_of(&f, w[i].method, w[i].path, h_anon, w[i].body), 401);
        DQ_CHECK_INT(status_of(&f, w[i].method, w[i].path, h_v, w[i].body), 403);
        DQ_CHECK_INT(status_of(&f, w[i].method, w[i].path, h_c, w[i].body), 403);
        /* CSRF: a cookie without X-Requested-With never writes, whatever the role */
        DQ_CHECK_INT(status_of(&f, w[i].method, w[i].path,
                               w[i].role == DQ_ROLE_ADMIN ? h_anc : h_nc, w[i].body),
                     403);
        if (w[i].role == DQ_ROLE_ADMIN)
            DQ_CHECK_INT(status_of(&f, w[i].method, w[i].path, h_cu, w[i].body), 403);
        free(h_anon);
        free(h_v);
        free(h_c);
        free(h_cu);
        free(h_nc);
        free(h_anc);
    }
    /* past the gates: curator cookie + header, and the token without it */
    DQ_CHECK_INT(status_of(&f, "POST", "/api/relics", cura, DOC("R-3", "")), 201);
    char *tok_im = cat2(f.cur_token, "If-Match: *\r\n");
    DQ_CHECK_INT(status_of(&f, "PATCH", p_one, tok_im, "{\"date_text\":\"Song\"}"), 200);
    /* reads that need a role */
    DQ_CHECK_INT(status_of(&f, "GET", "/api/audit", NULL, NULL), 401);
    DQ_CHECK_INT(status_of(&f, "GET", "/api/audit", cura, NULL), 403);
    DQ_CHECK_INT(status_of(&f, "GET", "/api/audit", adm_nocsrf, NULL), 200);
    free(tok_im);
    free(vier);
    free(cons);
    free(cura);
    free(cura_nocsrf);
    free(adm_nocsrf);
    free(p_one);
    free(p_img);
    free(id);
    teardown(&f);
}

/* ---------------------------------------------------------------- relic records */

DQ_TEST(relic_crud_etag_if_match_errors_audit)
{
    fx_t f;
    setup(&f);
    dqt_resp_t r;
    DQ_REQUIRE(req(&f, "POST", "/api/relics", f.cur_token,
                   DOC("ACC-1", ",\"dynasty\":\"song\",\"year_from\":1100,\"year_to\":1125"),
                   &r) == 0);
    DQ_CHECK_INT(r.status, 201);
    char *etag = dqt_header(&r, "ETag");
    DQ_CHECK_STR(etag, "\"v1\"");
    free(etag);
    json_t *j = body_json(&r);
    char *id = dq_xstrdup(jget(j, "id"));
    DQ_CHECK_INT(json_integer_value(json_object_get(j, "version")), 1);
    json_decref(j);
    char *loc = dqt_header(&r, "Location");
    char *path = dq_xasprintf("/api/relics/%s", id);
    DQ_CHECK_STR(loc, path);
    free(loc);
    dqt_resp_free(&r);
    /* read, conditional read */
    DQ_REQUIRE(req(&f, "GET", path, NULL, NULL, &r) == 0);
    DQ_CHECK_INT(r.status, 200);
    etag = dqt_header(&r, "ETag");
    DQ_CHECK_STR(etag, "\"v1\"");
    free(etag);
    dqt_resp_free(&r);
    DQ_CHECK_INT(status_of(&f, "GET", path, "If-None-Match: \"v1\"\r\n", NULL), 304);
    DQ_CHECK_INT(status_of(&f, "GET", path, "If-None-Match: \"v9\"\r\n", NULL), 200);
    /* replace: If-Match required (428), stale (412), right (200, v2) */
    char *tok = f.cur_token;
    const char *doc2 = DOC("ACC-1", ",\"dynasty\":\"song\",\"date_text\":\"c. 1100\"");
    DQ_REQUIRE(req(&f, "PUT", path, tok, doc2, &r) == 0);
    DQ_CHECK_INT(r.status, 428);
    char *code = err_code(&r);
    DQ_CHECK_STR(code, "precondition_failed");
    free(code);
    dqt_resp_free(&r);
    char *h = cat2(tok, "If-Match: \"v7\"\r\n");
    DQ_CHECK_INT(status_of(&f, "PUT", path, h, doc2), 412);
    free(h);
    h = cat2(tok, "If-Match: W/\"v1\"\r\n"); /* weak tags never match (RFC 9110 §13.1.1) */
    DQ_CHECK_INT(status_of(&f, "PUT", path, h, doc2), 412);
    free(h);
    h = cat2(tok, "If-Match: \"v1\"\r\n");
    DQ_REQUIRE(req(&f, "PUT", path, h, doc2, &r) == 0);
    DQ_CHECK_INT(r.status, 200);
    etag = dqt_header(&r, "ETag");
    DQ_CHECK_STR(etag, "\"v2\"");
    free(etag);
    dqt_resp_free(&r);
    /* the same If-Match again is now stale */
    DQ_CHECK_INT(status_of(&f, "PUT", path, h, doc2), 412);
    free(h);
    /* merge patch, with a list holding the current tag */
    h = cat2(tok, "If-Match: \"v1\", \"v2\"\r\nContent-Type: application/merge-patch+json\r\n");
    DQ_REQUIRE(req(&f, "PATCH", path, h, "{\"date_text\":null,\"school\":\"Academy\"}", &r) == 0);
    DQ_CHECK_INT(r.status, 200);
    j = body_json(&r);
    DQ_CHECK_INT(json_integer_value(json_object_get(j, "version")), 3);
    DQ_CHECK_STR(jget(j, "school"), "Academy");
    DQ_CHECK(json_object_get(j, "date_text") == NULL);
    json_decref(j);
    dqt_resp_free(&r);
    free(h);
    /* 422 with fields */
    h = cat2(tok, "If-Match: \"v3\"\r\n");
    DQ_REQUIRE(req(&f, "PATCH", path, h, "{\"dynasty\":\"atlantis\",\"year_from\":\"soon\"}", &r) ==
               0);
    DQ_CHECK_INT(r.status, 422);
    j = body_json(&r);
    const json_t *err = json_object_get(j, "error");
    DQ_CHECK_STR(jget(err, "code"), "invalid");
    DQ_CHECK(json_object_get(json_object_get(err, "fields"), "dynasty") != NULL);
    DQ_CHECK(json_object_get(json_object_get(err, "fields"), "year_from") != NULL);
    json_decref(j);
    dqt_resp_free(&r);
    DQ_REQUIRE(req(&f, "POST", "/api/relics", tok, "{\"accession\":\"ACC-9\"}", &r) == 0);
    DQ_CHECK_INT(r.status, 422);
    DQ_CHECK(strstr(r.body.data, "title.zh") != NULL);
    dqt_resp_free(&r);
    DQ_CHECK_INT(status_of(&f, "POST", "/api/relics", tok, DOC("ACC-9", ",\"colour\":1")), 422);
    /* 409, 400, 413 */
    DQ_REQUIRE(req(&f, "POST", "/api/relics", tok, DOC("ACC-1", ""), &r) == 0);
    DQ_CHECK_INT(r.status, 409);
    code = err_code(&r);
    DQ_CHECK_STR(code, "conflict");
    free(code);
    dqt_resp_free(&r);
    DQ_CHECK_INT(status_of(&f, "POST", "/api/relics", tok, "[1,2]"), 400);
    DQ_CHECK_INT(status_of(&f, "POST", "/api/relics", tok, "{\"accession\":"), 400);
    DQ_CHECK_INT(status_of(&f, "POST", "/api/relics", tok, "{\"a\":1,\"a\":2}"), 400);
    DQ_CHECK_INT(status_of(&f, "PUT", "/api/relics/x/images", tok, "{}"), 400);
    char *big = dq_xmalloc(2u << 20);
    memset(big, ' ', 2u << 20);
    big[0] = '{';
    big[(2u << 20) - 2] = '}';
    big[(2u << 20) - 1] = '\0';
    DQ_REQUIRE(req(&f, "POST", "/api/relics", tok, big, &r) == 0);
    DQ_CHECK_INT(r.status, 413);
    code = err_code(&r);
    DQ_CHECK_STR(code, "too_large");
    free(code);
    dqt_resp_free(&r);
    free(big);
    /* image links: unknown images are 422, known ones are linked */
    char *p_img = dq_xasprintf("%s/images", path);
    DQ_CHECK_INT(status_of(&f, "PUT", p_img, h, "[{\"image_id\":\"nope\",\"role\":\"main\"}]"),
                 422);
    DQ_REQUIRE(req(&f, "PUT", p_img, h, "[{\"image_id\":\"pub-img\",\"role\":\"main\"}]", &r) == 0);
    DQ_CHECK_INT(r.status, 200);
    DQ_CHECK(strstr(r.body.data, "pub-img") != NULL);
    dqt_resp_free(&r);
    free(h);
    /* delete: 428, then 204, then 404 */
    DQ_CHECK_INT(status_of(&f, "DELETE", path, tok, NULL), 428);
    h = cat2(tok, "If-Match: \"v4\"\r\n");
    DQ_CHECK_INT(status_of(&f, "DELETE", path, h, NULL), 204);
    DQ_CHECK_INT(status_of(&f, "GET", path, NULL, NULL), 404);
    DQ_CHECK_INT(status_of(&f, "DELETE", path, h, NULL), 404);
    free(h);
    /* the audit trail names the curator for every write */
    char *adm = login(&f, "admin", "adminpass1", 0);
    char *q = dq_xasprintf("/api/audit?object=%s&limit=50", id);
    DQ_REQUIRE(req(&f, "GET", q, adm, NULL, &r) == 0);
    DQ_CHECK_INT(r.status, 200);
    j = body_json(&r);
    const json_t *items = json_object_get(j, "items");
    DQ_CHECK(json_array_size(items) >= 5); /* create, replace, patch, images, delete */
    size_t i;
    json_t *e;
    json_array_foreach(items, i, e) DQ_CHECK_STR(jget(e, "who"), "cura");
    json_decref(j);
    dqt_resp_free(&r);
    DQ_CHECK_INT(status_of(&f, "GET", "/api/audit?limit=9999", adm, NULL), 400);
    free(q);
    free(adm);
    free(p_img);
    free(path);
    free(id);
    teardown(&f);
}

/* ---------------------------------------------------------------- visibility */

/* Cache hits so far, from /health. */
static long long cache_hits(fx_t *f)
{
    dqt_resp_t r;
    DQ_REQUIRE(req(f, "GET", "/health", NULL, NULL, &r) == 0);
    json_t *j = body_json(&r);
    long long n = json_integer_value(json_object_get(json_object_get(j, "cache"), "hits"));
    json_decref(j);
    dqt_resp_free(&r);
    return n;
}

DQ_TEST(restricted_hidden_from_anonymous_and_never_cached)
{
    fx_t f;
    setup(&f);
    char *pub = create(&f, DOC("PUB-1", ",\"object_type\":\"handscroll\",\"images\":[{\"image_id\":"
                                        "\"pub-img\",\"role\":\"main\"}]"));
    char *sec = create(&f, DOC("SEC-1", ",\"restricted\":true,\"images\":[{\"image_id\":"
                                        "\"secret-img\",\"role\":\"main\"}]"));
    char *vier = login(&f, "vier", "vierpass1", 0);
    char *p_sec = dq_xasprintf("/api/relics/%s", sec);
    char *m_sec = dq_xasprintf("/iiif/presentation/3/%s/manifest", sec);
    /* records */
    DQ_CHECK_INT(status_of(&f, "GET", p_sec, NULL, NULL), 404);
    DQ_CHECK_INT(status_of(&f, "GET", p_sec, vier, NULL), 200);
    dqt_resp_t r;
    DQ_REQUIRE(req(&f, "GET", "/api/relics", NULL, NULL, &r) == 0);
    DQ_CHECK_INT(r.status, 200);
    json_t *j = body_json(&r);
    DQ_CHECK_INT(json_integer_value(json_object_get(j, "total")), 1);
    DQ_CHECK(strstr(r.body.data, "SEC-1") == NULL);
    json_decref(j);
    dqt_resp_free(&r);
    DQ_REQUIRE(req(&f, "GET", "/api/relics?q=%E5%B1%B1%E6%B0%B4&facets=1", NULL, NULL, &r) == 0);
    DQ_CHECK_INT(r.status, 200);
    DQ_CHECK(strstr(r.body.data, "SEC-1") == NULL);
    dqt_resp_free(&r);
    DQ_REQUIRE(req(&f, "GET", "/api/relics", vier, NULL, &r) == 0);
    j = body_json(&r);
    DQ_CHECK_INT(json_integer_value(json_object_get(j, "total")), 2);
    json_decref(j);
    dqt_resp_free(&r);
    /* counts */
    DQ_REQUIRE(req(&f, "GET", "/api/health", NULL, NULL, &r) == 0);
    j = body_json(&r);
    DQ_CHECK_STR(jget(j, "status"), "ok");
    DQ_CHECK_INT(json_integer_value(json_object_get(j, "records")), 1);
    json_decref(j);
    dqt_resp_free(&r);
    DQ_REQUIRE(req(&f, "GET", "/api/health", vier, NULL, &r) == 0);
    j = body_json(&r);
    DQ_CHECK_INT(json_integer_value(json_object_get(j, "records")), 2);
    json_decref(j);
    dqt_resp_free(&r);
    /* manifests */
    DQ_CHECK_INT(status_of(&f, "GET", m_sec, NULL, NULL), 404);
    DQ_CHECK_INT(status_of(&f, "GET", m_sec, vier, NULL), 200);
    /* image records */
    DQ_REQUIRE(req(&f, "GET", "/api/images", NULL, NULL, &r) == 0);
    DQ_CHECK(strstr(r.body.data, "pub-img") && !strstr(r.body.data, "secret-img"));
    DQ_CHECK(strstr(r.body.data, "pyramids/") == NULL); /* no data-dir paths */
    dqt_resp_free(&r);
    DQ_CHECK_INT(status_of(&f, "GET", "/api/images/secret-img", NULL, NULL), 404);
    DQ_CHECK_INT(status_of(&f, "GET", "/api/images/secret-img", vier, NULL), 200);
    /* IIIF images: hidden from anonymous even after a viewer fetched them (never cached) */
    const char *tile = "/iiif/3/secret-img/0,0,256,256/256,/0/default.jpg";
    long long h0 = cache_hits(&f);
    DQ_CHECK_INT(status_of(&f, "GET", tile, vier, NULL), 200);
    DQ_CHECK_INT(status_of(&f, "GET", tile, vier, NULL), 200);
    /* IIIF Auth 2.0 (issue 16): restricted pixels are 401; the info.json declares the probe
     * service, so anyone may read it (never from the shared cache) */
    DQ_CHECK_INT(status_of(&f, "GET", tile, NULL, NULL), 401);
    DQ_CHECK_INT(status_of(&f, "GET", "/iiif/3/secret-img/info.json", vier, NULL), 200);
    DQ_REQUIRE(req(&f, "GET", "/iiif/3/secret-img/info.json", NULL, NULL, &r) == 0);
    DQ_CHECK_INT(r.status, 200);
    DQ_CHECK(strstr(r.body.data, "AuthProbeService2") != NULL);
    dqt_resp_free(&r);
    DQ_CHECK_INT(status_of(&f, "GET", "/iiif/2/secret-img/info.json", NULL, NULL), 200);
    DQ_CHECK_INT(cache_hits(&f) - h0, 0);
    DQ_REQUIRE(req(&f, "GET", tile, vier, NULL, &r) == 0);
    char *cc = dqt_header(&r, "Cache-Control");
    DQ_CHECK(cc && strstr(cc, "private"));
    free(cc);
    dqt_resp_free(&r);
    /* public images keep the fast path */
    const char *ptile = "/iiif/3/pub-img/0,0,256,256/256,/0/default.jpg";
    h0 = cache_hits(&f);
    DQ_CHECK_INT(status_of(&f, "GET", ptile, NULL, NULL), 200);
    DQ_CHECK_INT(status_of(&f, "GET", ptile, NULL, NULL), 200);
    DQ_CHECK_INT(cache_hits(&f) - h0, 1);
    /* ... until their record turns restricted: the cached tile is retired with it */
    char *p_pub = dq_xasprintf("/api/relics/%s", pub);
    char *h = cat2(f.cur_token, "If-Match: \"v1\"\r\n");
    DQ_CHECK_INT(status_of(&f, "PATCH", p_pub, h, "{\"restricted\":true}"), 200);
    DQ_CHECK_INT(status_of(&f, "GET", ptile, NULL, NULL), 401);
    DQ_CHECK_INT(status_of(&f, "GET", ptile, vier, NULL), 200);
    free(h);
    free(p_pub);
    free(vier);
    free(p_sec);
    free(m_sec);
    free(pub);
    free(sec);
    teardown(&f);
}

/* ---------------------------------------------------------------- vocab, health */

DQ_TEST(vocab_and_health)
{
    fx_t f;
    setup(&f);
    dqt_resp_t r;
    DQ_REQUIRE(req(&f, "GET", "/api/vocab/dynasties", NULL, NULL, &r) == 0);
    DQ_CHECK_INT(r.status, 200);
    json_t *j = body_json(&r);
    DQ_CHECK(json_is_array(j));
    int song = 0;
    size_t i;
    json_t *e;
    json_array_foreach(j, i, e) if (jget(e, "key") && strcmp(jget(e, "key"), "song") == 0) song =
        jget(e, "zh") && strcmp(jget(e, "zh"), "宋") == 0;
    DQ_CHECK(song);
    json_decref(j);
    dqt_resp_free(&r);
    DQ_CHECK_INT(status_of(&f, "GET", "/api/vocab/object_types", NULL, NULL), 200);
    DQ_CHECK_INT(status_of(&f, "GET", "/api/vocab/subjects", NULL, NULL), 200);
    DQ_CHECK_INT(status_of(&f, "GET", "/api/vocab/colours", NULL, NULL), 404);
    DQ_REQUIRE(req(&f, "GET", "/api/health", NULL, NULL, &r) == 0);
    j = body_json(&r);
    DQ_CHECK_STR(jget(j, "status"), "ok");
    DQ_CHECK(jget(j, "version") != NULL);
    DQ_CHECK_INT(json_integer_value(json_object_get(j, "images")), 2);
    DQ_CHECK_INT(json_integer_value(json_object_get(j, "records")), 0);
    json_decref(j);
    dqt_resp_free(&r);
    /* bad query arguments */
    DQ_CHECK_INT(status_of(&f, "GET", "/api/relics?limit=0", NULL, NULL), 400);
    DQ_CHECK_INT(status_of(&f, "GET", "/api/relics?year_from=soon", NULL, NULL), 400);
    DQ_CHECK_INT(status_of(&f, "GET", "/api/relics?q=%zz", NULL, NULL), 400);
    DQ_CHECK_INT(status_of(&f, "GET", "/api/relics?has_images=2", NULL, NULL), 400);
    teardown(&f);
}

/* ---------------------------------------------------------------- Presentation 3.0 */

/* Checks one Manifest against Presentation 3.0 and resolves its ids on the server. */
static void check_manifest(fx_t *f, const char *path, int rtl)
{
    dqt_resp_t r;
    DQ_REQUIRE(req(f, "GET", path, NULL, NULL, &r) == 0);
    DQ_REQUIRE(r.status == 200);
    json_t *m = body_json(&r);
    DQ_REQUIRE(m != NULL);
    DQ_CHECK_STR(jget(m, "@context"), "http://iiif.io/api/presentation/3/context.json");
    char *self = dq_xasprintf("%s%s", f->base, path);
    DQ_CHECK_STR(jget(m, "id"), self);
    free(self);
    DQ_CHECK_INT(get_abs(f, jget(m, "id")), 200);
    DQ_CHECK_STR(jget(m, "type"), "Manifest");
    DQ_CHECK(json_is_array(json_object_get(json_object_get(m, "label"), "zh")));
    /* items: canvases with sizes, painted by ImageService3 images that resolve */
    const json_t *items = json_object_get(m, "items");
    DQ_CHECK(json_array_size(items) >= 1);
    size_t i;
    json_t *c;
    json_array_foreach(items, i, c)
    {
        DQ_CHECK_STR(jget(c, "type"), "Canvas");
        DQ_CHECK_INT(json_integer_value(json_object_get(c, "width")), 1200);
        DQ_CHECK_INT(json_integer_value(json_object_get(c, "height")), 800);
        const json_t *page = json_array_get(json_object_get(c, "items"), 0);
        DQ_CHECK_STR(jget(page, "type"), "AnnotationPage");
        const json_t *a = json_array_get(json_object_get(page, "items"), 0);
        DQ_CHECK_STR(jget(a, "motivation"), "painting");
        DQ_CHECK_STR(jget(a, "target"), jget(c, "id"));
        const json_t *body = json_object_get(a, "body");
        DQ_CHECK_STR(jget(body, "type"), "Image");
        DQ_CHECK_INT(get_abs(f, jget(body, "id")), 200);
        const json_t *svc = json_array_get(json_object_get(body, "service"), 0);
        DQ_CHECK_STR(jget(svc, "type"), "ImageService3");
        char *info = dq_xasprintf("%s/info.json", jget(svc, "id"));
        DQ_CHECK_INT(get_abs(f, info), 200);
        free(info);
    }
    const json_t *th = json_array_get(json_object_get(m, "thumbnail"), 0);
    DQ_CHECK_INT(get_abs(f, jget(th, "id")), 200);
    if (rtl) {
        DQ_CHECK_STR(jget(m, "viewingDirection"), "right-to-left");
        DQ_CHECK_STR(json_string_value(json_array_get(json_object_get(m, "behavior"), 0)),
                     "continuous");
    }
    DQ_CHECK(dq_str_starts(jget(m, "rights"), "http://"));
    DQ_CHECK(json_object_get(json_object_get(m, "requiredStatement"), "value") != NULL);
    DQ_CHECK_STR(jget(json_array_get(json_object_get(m, "provider"), 0), "type"), "Agent");
    const json_t *see = json_array_get(json_object_get(m, "seeAlso"), 0);
    DQ_CHECK(strstr(jget(see, "id"), "/api/relics/") != NULL);
    DQ_CHECK_INT(get_abs(f, jget(see, "id")), 200);
    const json_t *part = json_array_get(json_object_get(m, "partOf"), 0);
    DQ_CHECK_INT(get_abs(f, jget(part, "id")), 200);
    json_decref(m);
    dqt_resp_free(&r);
}

DQ_TEST(manifests_and_collections_resolve)
{
    fx_t f;
    setup(&f);
    char *scroll =
        create(&f, DOC("M-000", ",\"object_type\":\"handscroll\",\"dynasty\":\"song\","
                                "\"rights\":\"http://rightsstatements.org/vocab/InC/1.0/\","
                                "\"images\":[{\"image_id\":\"pub-img\",\"role\":\"main\"},"
                                "{\"image_id\":\"secret-img\",\"role\":\"detail\"}]"));
    char *path = dq_xasprintf("/iiif/presentation/3/%s/manifest", scroll);
    check_manifest(&f, path, 1);
    dqt_resp_t r;
    DQ_REQUIRE(req(&f, "GET", path, "Accept: application/ld+json\r\n", NULL, &r) == 0);
    char *ct = dqt_header(&r, "Content-Type");
    DQ_CHECK(ct && dq_str_starts(ct, "application/ld+json") &&
             strstr(ct, "presentation/3/context.json"));
    free(ct);
    dqt_resp_free(&r);
    /* no images, no manifest; unknown relic and unknown resource */
    char *bare = create(&f, DOC("M-BARE", ""));
    char *bpath = dq_xasprintf("/iiif/presentation/3/%s/manifest", bare);
    DQ_CHECK_INT(status_of(&f, "GET", bpath, NULL, NULL), 404);
    DQ_CHECK_INT(status_of(&f, "GET", "/iiif/presentation/3/dq-0000-9999/manifest", NULL, NULL),
                 404);
    DQ_CHECK_INT(status_of(&f, "GET", "/iiif/presentation/3/x/y/z", NULL, NULL), 404);
    DQ_CHECK_INT(
        status_of(&f, "GET", "/iiif/presentation/3/collection/dynasty-atlantis", NULL, NULL), 404);
    /* 104 more with images: "all" spans two pages */
    for (int i = 1; i <= 104; i++) {
        char doc[256];
        snprintf(doc, sizeof(doc),
                 "{\"accession\":\"M-%03d\",\"title\":{\"en\":\"Work %d\"},\"dynasty\":\"%s\","
                 "\"images\":[{\"image_id\":\"pub-img\",\"role\":\"main\"}]}",
                 i, i, i % 2 ? "tang" : "song");
        free(create(&f, doc));
    }
    DQ_REQUIRE(req(&f, "GET", "/iiif/presentation/3/collection/all", NULL, NULL, &r) == 0);
    DQ_CHECK_INT(r.status, 200);
    json_t *top = body_json(&r);
    dqt_resp_free(&r);
    DQ_CHECK_STR(jget(top, "type"), "Collection");
    DQ_CHECK_STR(jget(top, "@context"), "http://iiif.io/api/presentation/3/context.json");
    const json_t *pages = json_object_get(top, "items");
    DQ_REQUIRE(json_array_size(pages) == 2); /* 105 with images (M-BARE has none) */
    int n_manifests = 0;
    for (size_t p = 0; p < 2; p++) {
        const char *pid = jget(json_array_get(pages, p), "id");
        DQ_REQUIRE(pid && dq_str_starts(pid, f.base));
        DQ_REQUIRE(req(&f, "GET", pid + strlen(f.base), NULL, NULL, &r) == 0);
        DQ_CHECK_INT(r.status, 200);
        json_t *pg = body_json(&r);
        dqt_resp_free(&r);
        DQ_CHECK_STR(jget(pg, "id"), pid);
        DQ_CHECK_STR(jget(json_array_get(json_object_get(pg, "partOf"), 0), "id"), jget(top, "id"));
        if (p == 0) {
            DQ_CHECK_INT(get_abs(&f, jget(pg, "next")), 200);
            DQ_CHECK(json_object_get(pg, "prev") == NULL);
        } else {
            DQ_CHECK_INT(get_abs(&f, jget(pg, "prev")), 200);
            DQ_CHECK(json_object_get(pg, "next") == NULL);
        }
        size_t i;
        json_t *e;
        json_array_foreach(json_object_get(pg, "items"), i, e)
        {
            DQ_CHECK_STR(jget(e, "type"), "Manifest");
            DQ_CHECK_INT(get_abs(&f, jget(e, "id")), 200);
            n_manifests++;
        }
        json_decref(pg);
    }
    DQ_CHECK_INT(n_manifests, 105);
    DQ_CHECK_INT(status_of(&f, "GET", "/iiif/presentation/3/collection/all?page=3", NULL, NULL),
                 404);
    DQ_CHECK_INT(status_of(&f, "GET", "/iiif/presentation/3/collection/all?page=x", NULL, NULL),
                 400);
    json_decref(top);
    /* a dynasty collection fits on one page and lists its manifests directly */
    DQ_REQUIRE(req(&f, "GET", "/iiif/presentation/3/collection/dynasty-song", NULL, NULL, &r) == 0);
    DQ_CHECK_INT(r.status, 200);
    json_t *dyn = body_json(&r);
    dqt_resp_free(&r);
    DQ_CHECK_INT(json_array_size(json_object_get(dyn, "items")), 53);
    DQ_CHECK_STR(jget(json_array_get(json_object_get(dyn, "items"), 0), "type"), "Manifest");
    json_decref(dyn);
    /* the root lists all, then each dynasty and type that has works, every id resolving */
    DQ_REQUIRE(req(&f, "GET", "/iiif/presentation/3/collection", NULL, NULL, &r) == 0);
    DQ_CHECK_INT(r.status, 200);
    json_t *root = body_json(&r);
    dqt_resp_free(&r);
    size_t i;
    json_t *e;
    DQ_CHECK(json_array_size(json_object_get(root, "items")) >= 4); /* all, song, tang, scroll */
    json_array_foreach(json_object_get(root, "items"), i, e)
        DQ_CHECK_INT(get_abs(&f, jget(e, "id")), 200);
    json_decref(root);
    free(path);
    free(bpath);
    free(bare);
    free(scroll);
    teardown(&f);
}
