/*
 * Integration tests of the web front end's static serving (src/http/static.c): the real
 * binary with --web pointing at a small temporary web root. Content types, the SPA
 * fallback for client routes, ETag/304, Cache-Control, routes that must not fall to the
 * app (/api/, /iiif/), and traversal attempts, plain, encoded, double-encoded and through a
 * symlink out of the root.
 */
#include "../dq_http_test.h"

typedef struct {
    char *dir, *data, *web;
    dqt_server_t srv;
} fixture_t;

static void put(const char *dir, const char *name, const char *text)
{
    char *p = dq_xasprintf("%s/%s", dir, name);
    FILE *f = fopen(p, "w");
    DQ_ASSERT(f != NULL);
    fputs(text, f);
    fclose(f);
    free(p);
}

static void setup(fixture_t *f)
{
    f->dir = dqt_tmpdir();
    f->data = dq_xasprintf("%s/data", f->dir);
    f->web = dq_xasprintf("%s/web", f->dir);
    DQ_REQUIRE(
        dqt_sh("mkdir -p %s/js %s/vendor/osd %s/fonts %s", f->web, f->web, f->web, f->data) == 0);
    put(f->web, "index.html", "<!doctype html><title>app</title><main id=\"main\"></main>\n");
    put(f->web, "js/app.js", "export const x = 1;\n");
    put(f->web, "vendor/osd/osd.min.js", "var OpenSeadragon;\n");
    put(f->web, "fonts/kai.woff2", "wOF2");
    put(f->dir, "secret.txt", "secret\n");
    /* a symlink that points out of the root must not be followed */
    DQ_REQUIRE(dqt_sh("ln -s %s/secret.txt %s/js/leak.js", f->dir, f->web) == 0);
    char *extra = dq_xasprintf("--web %s", f->web);
    DQ_REQUIRE(dqt_server_start(&f->srv, f->data, extra) == 0);
    free(extra);
}

static void teardown(fixture_t *f)
{
    DQ_CHECK_INT(dqt_server_stop(&f->srv), 0);
    dqt_sh("rm -rf %s", f->dir);
    free(f->dir);
    free(f->data);
    free(f->web);
}

/* GET path; checks the status and, when type is not NULL, the Content-Type prefix. */
static void expect(fixture_t *f, const char *path, int status, const char *type)
{
    dqt_resp_t r;
    DQ_REQUIRE(dqt_http(f->srv.port, "GET", path, NULL, &r) == 0);
    if (r.status != status)
        fprintf(stderr, "    %s -> %d (want %d)\n", path, r.status, status);
    DQ_CHECK_INT(r.status, status);
    if (type) {
        char *ct = dqt_header(&r, "Content-Type");
        DQ_CHECK(ct && strncmp(ct, type, strlen(type)) == 0);
        free(ct);
    }
    dqt_resp_free(&r);
}

DQ_TEST(content_types_and_app_routes)
{
    fixture_t f;
    setup(&f);
    expect(&f, "/", 200, "text/html");
    expect(&f, "/search", 200, "text/html");
    expect(&f, "/relic/dq-2026-0001", 200, "text/html");
    expect(&f, "/scroll/dq-2026-0001/", 200, "text/html");
    expect(&f, "/compare", 200, "text/html");
    expect(&f, "/index.html", 200, "text/html");
    expect(&f, "/static/js/app.js", 200, "text/javascript");
    expect(&f, "/static/fonts/kai.woff2", 200, "font/woff2");
    /* a path with an extension is a file, never the app */
    expect(&f, "/favicon.ico", 404, NULL);
    expect(&f, "/static/js/missing.js", 404, NULL);
    expect(&f, "/static/js", 404, NULL);
    /* the API and IIIF never fall through to the app */
    expect(&f, "/iiif/4/x", 404, NULL);
    expect(&f, "/health", 200, "application/json");
    dqt_resp_t r;
    DQ_REQUIRE(dqt_http(f.srv.port, "GET", "/", NULL, &r) == 0);
    DQ_CHECK(strstr(r.body.data, "<main id=\"main\">") != NULL);
    char *csp = dqt_header(&r, "Content-Security-Policy");
    DQ_CHECK(csp && strstr(csp, "script-src 'self'"));
    free(csp);
    dqt_resp_free(&r);
    teardown(&f);
}

DQ_TEST(etag_304_and_cache_control)
{
    fixture_t f;
    setup(&f);
    dqt_resp_t r;
    DQ_REQUIRE(dqt_http(f.srv.port, "GET", "/static/js/app.js", NULL, &r) == 0);
    char *etag = dqt_header(&r, "ETag");
    char *cc = dqt_header(&r, "Cache-Control");
    DQ_REQUIRE(etag != NULL);
    DQ_CHECK(cc && strcmp(cc, "no-cache") == 0);
    DQ_CHECK_INT((int)r.body.len, 20);
    dqt_resp_free(&r);
    char *inm = dq_xasprintf("If-None-Match: %s\r\n", etag);
    DQ_REQUIRE(dqt_http(f.srv.port, "GET", "/static/js/app.js", inm, &r) == 0);
    DQ_CHECK_INT(r.status, 304);
    DQ_CHECK_INT((int)r.body.len, 0);
    dqt_resp_free(&r);
    /* a changed file gets a new validator */
    put(f.web, "js/app.js", "export const x = 22;\n");
    DQ_REQUIRE(dqt_http(f.srv.port, "GET", "/static/js/app.js", inm, &r) == 0);
    DQ_CHECK_INT(r.status, 200);
    dqt_resp_free(&r);
    DQ_REQUIRE(dqt_http(f.srv.port, "GET", "/static/vendor/osd/osd.min.js", NULL, &r) == 0);
    char *cc2 = dqt_header(&r, "Cache-Control");
    DQ_CHECK(cc2 && strstr(cc2, "max-age=604800"));
    free(cc2);
    dqt_resp_free(&r);
    DQ_REQUIRE(dqt_http(f.srv.port, "HEAD", "/static/js/app.js", NULL, &r) == 0);
    DQ_CHECK_INT(r.status, 200);
    DQ_CHECK_INT((int)r.body.len, 0);
    dqt_resp_free(&r);
    free(inm);
    free(etag);
    free(cc);
    teardown(&f);
}

DQ_TEST(traversal_is_refused)
{
    fixture_t f;
    setup(&f);
    static const char *const bad[] = {
        "/static/../secret.txt",
        "/static/js/../../secret.txt",
        "/static/%2e%2e/secret.txt",
        "/static/%2E%2E/%2e%2e/etc/passwd",
        "/static/js%2f..%2f..%2fsecret.txt",
        "/static/%252e%252e/secret.txt", /* double encoding */
        "/static/..%5csecret.txt",       /* backslash */
        "/static/./js/app.js",
        "/static//js/app.js",
        "/static/js/app.js%00.html",
        "/..",
        "/relic/../../secret",
        "/static/js/leak.js", /* symlink out of the root */
    };
    for (size_t i = 0; i < DQ_ARRAY_LEN(bad); i++) {
        dqt_resp_t r;
        DQ_REQUIRE(dqt_http(f.srv.port, "GET", bad[i], NULL, &r) == 0);
        if (r.status != 400 && r.status != 404)
            fprintf(stderr, "    %s -> %d\n", bad[i], r.status);
        DQ_CHECK(r.status == 400 || r.status == 404);
        DQ_CHECK(!r.body.data || !strstr(r.body.data, "secret"));
        dqt_resp_free(&r);
    }
    teardown(&f);
}
