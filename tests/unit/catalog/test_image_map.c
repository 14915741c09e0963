/*
 * test_image_map.c: the in-memory image map (image_map.c) and the change feed that keeps it
 * coherent (catalog.c), through the public interface: two handles on one catalog stand for
 * two processes. Also the catalog URL forms and the bounded write wait (DQ_EBUSY while another
 * connection holds the write lock, reads unaffected).
 */
#include "dq_test.h"
#include "dq_pg_test.h"

#include "catalog/catalog.h"

#include <limits.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const dq_actor_t anon = {"", DQ_ROLE_ANON};
static const dq_actor_t viewer = {"vera", DQ_ROLE_VIEWER};
static const dq_actor_t curator = {"cora", DQ_ROLE_CURATOR};
static const dq_actor_t admin = {"root", DQ_ROLE_ADMIN};

/* A fresh temporary directory (new string); removed by rm_dir (and by the runner). */
static char *mkdir_tmp(void)
{
    return dq_test_tmpdir("imap");
}

static void rm_dir(char *d)
{
    dq_test_rm_rf(d);
    free(d);
}

static dq_catalog_t *open_ok(const char *where)
{
    dq_err_t err = {0};
    dq_catalog_t *c = dq_test_catalog_open(where, &err);
    if (!c)
        fprintf(stderr, "open %s: %s\n", where, err.msg);
    DQ_REQUIRE(c != NULL);
    return c;
}

static void put_image(dq_catalog_t *c, const char *id, int width)
{
    dq_image_rec_t r = {0};
    dq_err_t err = {0};
    snprintf(r.id, sizeof(r.id), "%s", id);
    memset(r.master_sha256, 'a', 64);
    memset(r.pyramid_sha256, 'b', 64);
    snprintf(r.master_path, sizeof(r.master_path), "masters/aa/%s", id);
    snprintf(r.pyramid_path, sizeof(r.pyramid_path), "pyramids/%s.tif", id);
    snprintf(r.master_format, sizeof(r.master_format), "png");
    snprintf(r.orig_filename, sizeof(r.orig_filename), "%s.png", id);
    r.width = width, r.height = 300, r.levels = 2, r.tile_size = 256, r.bands = 3;
    DQ_REQUIRE(dq_catalog_image_put(c, &r, DQ_CATALOG_REPLACE, "test", &err) == 0);
}

/* Creates a relic linking image_id; returns its id (new string). */
static char *relic_with(dq_catalog_t *c, const char *acc, int restricted, const char *image_id)
{
    char *json = dq_xasprintf("{\"accession\":\"%s\",\"title\":{\"zh\":\"山水\"},\"restricted\":%s,"
                              "\"images\":[{\"image_id\":\"%s\",\"role\":\"main\"}]}",
                              acc, restricted ? "true" : "false", image_id);
    dq_buf_t out = {0};
    dq_err_t err = {0};
    DQ_REQUIRE(dq_catalog_relic_create(c, json, strlen(json), &curator, &out, NULL, &err) == 0);
    const char *p = strstr(out.data, "\"id\":\"") + 6;
    char *id = dq_xstrndup(p, (size_t)(strchr(p, '"') - p));
    dq_buf_free(&out);
    free(json);
    return id;
}

static int64_t anon_images(dq_catalog_t *c)
{
    int64_t n = -1;
    dq_err_t err = {0};
    DQ_CHECK(dq_catalog_counts(c, &anon, NULL, &n, &err) == 0);
    return n;
}

DQ_TEST(catalog_urls)
{
    char *d = mkdir_tmp();
    char *url = dq_xasprintf("sqlite:%s/sub/my.sqlite", d);
    dq_catalog_t *c = open_ok(url);
    put_image(c, "x", 400);
    dq_catalog_close(c);
    char *file = dq_xasprintf("%s/sub/my.sqlite", d);
    DQ_CHECK(access(file, F_OK) == 0); /* (sqlite: URLs are SQLite on either pass) */
    c = open_ok(url); /* reopened: the row is there */
    dq_image_rec_t got;
    dq_err_t err = {0};
    DQ_CHECK(dq_catalog_image_get(c, "x", &got, &err) == 0 && got.width == 400);
    dq_catalog_close(c);
    /* port 1: nothing listens there, so the PostgreSQL URLs fail at once */
    static const char *const bad[] = {"postgres://127.0.0.1:1/danqing",
                                      "postgresql://127.0.0.1:1/x", "ftp://x/y", "sqlite:", ""};
    for (size_t i = 0; i < DQ_ARRAY_LEN(bad); i++) {
        dq_err_t e = {0};
        DQ_CHECK(dq_catalog_open(bad[i], &e) == NULL);
        DQ_CHECK(e.code != DQ_OK && e.msg[0]);
    }
    dq_err_t e = {0};
    DQ_CHECK(dq_catalog_open("postgres://127.0.0.1:1/danqing", &e) == NULL);
    DQ_CHECK(strstr(e.msg, "PostgreSQL") != NULL);
    free(file);
    free(url);
    rm_dir(d);
}

DQ_TEST(another_process_writes_reach_the_map_by_refresh)
{
    char *d = mkdir_tmp();
    dq_catalog_t *a = open_ok(d), *b = open_ok(d);
    dq_err_t err = {0};
    put_image(a, "i1", 400);
    put_image(a, "i2", 400);
    /* b builds its map now (first use); later writes by a reach it by the feed */
    DQ_CHECK_INT(anon_images(b), 2);
    char *r1 = relic_with(a, "R-1", 1, "i1");
    DQ_CHECK(dq_catalog_image_visible(a, "i1", &anon) == 0); /* a's own write: at once */
    DQ_CHECK_INT(dq_catalog_refresh(b, &err), 1);
    DQ_CHECK(dq_catalog_image_visible(b, "i1", &anon) == 0);
    DQ_CHECK(dq_catalog_image_visible(b, "i1", &viewer) == 1);
    DQ_CHECK(dq_catalog_image_visible(b, "i2", &anon) == 1);
    DQ_CHECK_INT(anon_images(b), 1);
    DQ_CHECK_INT(dq_catalog_refresh(b, &err), 0); /* nothing new */
    /* a second, public relic linking i1 makes it visible; deleting it hides i1 again */
    char *r2 = relic_with(a, "R-2", 0, "i1");
    DQ_CHECK_INT(dq_catalog_refresh(b, &err), 1);
    DQ_CHECK(dq_catalog_image_visible(b, "i1", &anon) == 1);
    DQ_REQUIRE(dq_catalog_relic_delete(a, r2, -1, &curator, &err) == 0);
    DQ_CHECK_INT(dq_catalog_refresh(b, &err), 1);
    DQ_CHECK(dq_catalog_image_visible(b, "i1", &anon) == 0);
    /* the restricted relic made public, then its links moved to i2 */
    const char *pub = "{\"restricted\":false}";
    DQ_REQUIRE(dq_catalog_relic_patch(a, r1, pub, strlen(pub), -1, &curator, NULL, NULL, &err) ==
               0);
    DQ_CHECK_INT(dq_catalog_refresh(b, &err), 1);
    DQ_CHECK(dq_catalog_image_visible(b, "i1", &anon) == 1);
    const char *sec = "{\"restricted\":true}";
    DQ_REQUIRE(dq_catalog_relic_patch(a, r1, sec, strlen(sec), -1, &curator, NULL, NULL, &err) ==
               0);
    const char *to_i2 = "[{\"image_id\":\"i2\",\"role\":\"main\"}]";
    DQ_REQUIRE(dq_catalog_relic_set_images(a, r1, to_i2, strlen(to_i2), -1, &curator, NULL, NULL,
                                           &err) == 0);
    DQ_CHECK_INT(dq_catalog_refresh(b, &err), 1);
    DQ_CHECK(dq_catalog_image_visible(b, "i1", &anon) == 1);
    DQ_CHECK(dq_catalog_image_visible(b, "i2", &anon) == 0);
    /* image rows: a replacement's geometry and a deletion */
    put_image(a, "i1", 999);
    DQ_REQUIRE(dq_catalog_image_delete(a, "i2", "test", &err) == 0);
    DQ_CHECK_INT(dq_catalog_refresh(b, &err), 1);
    dq_image_rec_t got;
    DQ_CHECK(dq_catalog_image_get(b, "i1", &got, &err) == 0 && got.width == 999);
    DQ_CHECK(dq_catalog_image_get(b, "i2", &got, &err) < 0 && err.http_status == 404);
    int64_t all = -1;
    DQ_CHECK(dq_catalog_counts(b, &viewer, NULL, &all, &err) == 0);
    DQ_CHECK_INT(all, 1);
    free(r1);
    free(r2);
    dq_catalog_close(a);
    dq_catalog_close(b);
    rm_dir(d);
}

DQ_TEST(refresh_reports_only_changes_to_served_content)
{
    char *d = mkdir_tmp();
    dq_catalog_t *a = open_ok(d), *b = open_ok(d);
    dq_err_t err = {0};
    DQ_CHECK_INT(dq_catalog_refresh(b, &err), 0); /* builds the map */
    /* accounts and failed logins change nothing a cached response holds */
    DQ_REQUIRE(dq_catalog_user_add(a, "alice", DQ_ROLE_VIEWER, "alice-pass-1", &admin, &err) == 0);
    DQ_REQUIRE(dq_catalog_login_failed(a, "alice", "127.0.0.1", &err) == 0);
    DQ_CHECK_INT(dq_catalog_refresh(b, &err), 0);
    put_image(a, "i1", 400);
    DQ_CHECK_INT(dq_catalog_refresh(b, &err), 1);
    DQ_CHECK_INT(dq_catalog_refresh(b, &err), 0);
    /* this process's own content writes are reported too (once) */
    put_image(b, "i2", 400);
    DQ_CHECK_INT(dq_catalog_refresh(b, &err), 1);
    DQ_CHECK_INT(dq_catalog_refresh(b, &err), 0);
    dq_catalog_close(a);
    dq_catalog_close(b);
    rm_dir(d);
}

DQ_TEST(a_held_write_lock_makes_writes_busy_not_reads)
{
    char *d = mkdir_tmp();
    dq_catalog_t *c = open_ok(d);
    dq_err_t err = {0};
    put_image(c, "i1", 400);
    dq_catalog_set_write_wait(c, 100);
    sqlite3 *db = NULL;
    PGconn *pg = NULL; /* the PostgreSQL pass: another connection holds the writers' lock */
    char *path = dq_xasprintf("%s/catalog.sqlite", d);
    if (dq_test_on_pg()) {
        pg = dq_pg_test_hold_writers(d);
    } else {
        DQ_REQUIRE(sqlite3_open(path, &db) == SQLITE_OK);
        DQ_REQUIRE(sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) == SQLITE_OK);
    }
    /* a write gives up: DQ_EBUSY, 503 */
    dq_image_rec_t got;
    DQ_REQUIRE(dq_catalog_image_get(c, "i1", &got, &err) == 0);
    got.width = 500;
    DQ_CHECK(dq_catalog_image_put(c, &got, DQ_CATALOG_REPLACE, "test", &err) < 0);
    DQ_CHECK_INT(err.code, DQ_EBUSY);
    DQ_CHECK_INT(err.http_status, 503);
    err = (dq_err_t){0};
    DQ_CHECK(dq_catalog_user_add(c, "bob", DQ_ROLE_VIEWER, "bob-pass-12", &admin, &err) < 0);
    DQ_CHECK_INT(err.http_status, 503);
    /* reads go on */
    int64_t n = -1, seq = -1;
    DQ_CHECK(dq_catalog_counts(c, &viewer, &n, NULL, &err) == 0 && n == 0);
    DQ_CHECK(dq_catalog_audit_count(c, &seq, &err) == 0 && seq == 1);
    DQ_CHECK(dq_catalog_image_get(c, "i1", &got, &err) == 0 && got.width == 400);
    dq_relic_query_t q = {.q = "山水", .has_images = -1, .year_from = INT_MIN, .year_to = INT_MAX};
    dq_buf_t out = {0};
    DQ_CHECK(dq_catalog_relic_search(c, &q, &anon, &out, &err) == 0);
    dq_buf_free(&out);
    /* and writes work once the lock goes */
    if (pg)
        PQfinish(pg);
    else
        DQ_REQUIRE(sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL) == SQLITE_OK);
    got.width = 500;
    DQ_CHECK(dq_catalog_image_put(c, &got, DQ_CATALOG_REPLACE, "test", &err) == 0);
    DQ_CHECK(dq_catalog_image_get(c, "i1", &got, &err) == 0 && got.width == 500);
    sqlite3_close(db);
    free(path);
    dq_catalog_close(c);
    rm_dir(d);
}
