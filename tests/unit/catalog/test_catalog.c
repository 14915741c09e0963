/*
 * test_catalog.c: the catalog through its public interface on a real SQLite file in a fresh
 * temporary data dir: migrations (idempotent on reopen), put/get/list/delete, 404s, the
 * replace flag, the audit trail, the pending journal, id validation and concurrent reads.
 */
#include "dq_test.h"
#include "dq_pg_test.h"

#include "catalog/catalog.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

static char *mkdata(void)
{
    char *d = dq_test_tmpdir("dq_catalog");
    char *data = dq_xasprintf("%s/data", d);
    free(d);
    return data;
}

typedef struct {
    char ids[16][DQ_IMAGE_ID_MAX + 1];
    int n;
    int stop_after; /* 0: never */
} list_ctx_t;

static int collect(void *ud, const dq_image_rec_t *rec)
{
    list_ctx_t *ctx = ud;
    if (ctx->n < 16)
        snprintf(ctx->ids[ctx->n], sizeof(ctx->ids[0]), "%s", rec->id);
    ctx->n++;
    return ctx->stop_after && ctx->n >= ctx->stop_after;
}

static void fill(dq_image_rec_t *r, const char *id, char hexdigit)
{
    memset(r, 0, sizeof(*r));
    snprintf(r->id, sizeof(r->id), "%s", id);
    memset(r->master_sha256, hexdigit, 64);
    memset(r->pyramid_sha256, 'f', 64);
    snprintf(r->master_path, sizeof(r->master_path), "masters/%.2s/%s", r->master_sha256,
             r->master_sha256);
    snprintf(r->pyramid_path, sizeof(r->pyramid_path), "pyramids/%s.tif", id);
    snprintf(r->master_format, sizeof(r->master_format), "jpeg");
    snprintf(r->orig_filename, sizeof(r->orig_filename), "scroll \"1\".jpg");
    r->master_size = 1234;
    r->pyramid_size = 5678;
    r->width = 4000;
    r->height = 3000;
    r->levels = 5;
    r->tile_size = 256;
    r->bands = 3;
}

DQ_TEST(open_creates_and_reopen_is_idempotent)
{
    char *dir = mkdata();
    dq_err_t err = {0};
    dq_catalog_t *c = dq_test_catalog_open(dir, &err);
    DQ_REQUIRE(c != NULL);
    int v = 0;
    DQ_CHECK(dq_catalog_schema_version(c, &v, &err) == 0);
    DQ_CHECK(v >= 2);
    dq_image_rec_t r;
    fill(&r, "a", 'a');
    DQ_CHECK(dq_catalog_image_put(c, &r, 0, "test", &err) == 0);
    dq_catalog_close(c);
    for (int i = 0; i < 3; i++) {
        c = dq_test_catalog_open(dir, &err);
        DQ_REQUIRE(c != NULL);
        int v2 = 0;
        DQ_CHECK(dq_catalog_schema_version(c, &v2, &err) == 0);
        DQ_CHECK_INT(v2, v);
        dq_image_rec_t got;
        DQ_CHECK(dq_catalog_image_get(c, "a", &got, &err) == 0);
        dq_catalog_close(c);
    }
    char *p = dq_xasprintf("%s/catalog.sqlite", dir);
    DQ_CHECK(dq_fs_exists(p) == !dq_test_on_pg()); /* on PostgreSQL: no file at all */
    free(p);
    free(dir);
}

DQ_TEST(put_get_list_delete)
{
    char *dir = mkdata();
    dq_err_t err = {0};
    dq_catalog_t *c = dq_test_catalog_open(dir, &err);
    DQ_REQUIRE(c != NULL);
    dq_image_rec_t r, got;
    fill(&r, "b-2.tif", 'b');
    DQ_CHECK(dq_catalog_image_put(c, &r, 0, "cli", &err) == 0);
    fill(&r, "a_1", 'a');
    DQ_CHECK(dq_catalog_image_put(c, &r, 0, "cli", &err) == 0);

    DQ_REQUIRE(dq_catalog_image_get(c, "a_1", &got, &err) == 0);
    DQ_CHECK_STR(got.id, "a_1");
    DQ_CHECK_STR(got.master_sha256, r.master_sha256);
    DQ_CHECK_STR(got.pyramid_path, "pyramids/a_1.tif");
    DQ_CHECK_STR(got.orig_filename, "scroll \"1\".jpg");
    DQ_CHECK_INT(got.width, 4000);
    DQ_CHECK_INT(got.levels, 5);
    DQ_CHECK_INT(got.master_size, 1234);
    DQ_CHECK(strlen(got.created_at) == 20);
    DQ_CHECK_STR(got.created_at, got.updated_at);

    /* ids come back in order */
    list_ctx_t ctx = {0};
    DQ_CHECK(dq_catalog_image_list(c, collect, &ctx, &err) == 0);
    DQ_CHECK_INT(ctx.n, 2);
    DQ_CHECK_STR(ctx.ids[0], "a_1");
    DQ_CHECK_STR(ctx.ids[1], "b-2.tif");

    /* a callback that stops the listing early */
    ctx.n = 0;
    ctx.stop_after = 1;
    DQ_CHECK(dq_catalog_image_list(c, collect, &ctx, &err) == 0);
    DQ_CHECK_INT(ctx.n, 1);

    DQ_CHECK(dq_catalog_image_delete(c, "a_1", "cli", &err) == 0);
    DQ_CHECK(dq_catalog_image_get(c, "a_1", &got, &err) < 0);
    DQ_CHECK_INT(err.code, DQ_ENOTFOUND);
    DQ_CHECK_INT(err.http_status, 404);
    int64_t n_audit = 0;
    DQ_CHECK(dq_catalog_audit_count(c, &n_audit, &err) == 0);
    DQ_CHECK_INT(n_audit, 3); /* two creates, one delete */
    dq_catalog_close(c);
    free(dir);
}

DQ_TEST(unknown_id_is_404)
{
    char *dir = mkdata();
    dq_err_t err = {0};
    dq_catalog_t *c = dq_test_catalog_open(dir, &err);
    DQ_REQUIRE(c != NULL);
    dq_image_rec_t got;
    DQ_CHECK(dq_catalog_image_get(c, "nope", &got, &err) < 0);
    DQ_CHECK_INT(err.http_status, 404);
    dq_err_clear(&err);
    DQ_CHECK(dq_catalog_image_delete(c, "nope", "cli", &err) < 0);
    DQ_CHECK_INT(err.http_status, 404);
    int64_t n_audit = -1;
    DQ_CHECK(dq_catalog_audit_count(c, &n_audit, &err) == 0);
    DQ_CHECK_INT(n_audit, 0); /* a failed delete leaves no audit row */
    dq_catalog_close(c);
    free(dir);
}

DQ_TEST(put_existing_needs_replace_and_keeps_created_at)
{
    char *dir = mkdata();
    dq_err_t err = {0};
    dq_catalog_t *c = dq_test_catalog_open(dir, &err);
    DQ_REQUIRE(c != NULL);
    dq_image_rec_t r, got;
    fill(&r, "x", 'a');
    DQ_CHECK(dq_catalog_image_put(c, &r, 0, "cli", &err) == 0);
    fill(&r, "x", 'b');
    r.width = 17;
    DQ_CHECK(dq_catalog_image_put(c, &r, 0, "cli", &err) < 0);
    DQ_CHECK_INT(err.code, DQ_EEXIST);
    DQ_REQUIRE(dq_catalog_image_get(c, "x", &got, &err) == 0);
    DQ_CHECK_INT(got.width, 4000); /* unchanged */
    char created[32];
    snprintf(created, sizeof(created), "%s", got.created_at);
    DQ_CHECK(dq_catalog_image_put(c, &r, DQ_CATALOG_REPLACE, "cli", &err) == 0);
    DQ_REQUIRE(dq_catalog_image_get(c, "x", &got, &err) == 0);
    DQ_CHECK_INT(got.width, 17);
    DQ_CHECK(got.master_sha256[0] == 'b');
    DQ_CHECK_STR(got.created_at, created);
    int64_t n_audit = 0;
    DQ_CHECK(dq_catalog_audit_count(c, &n_audit, &err) == 0);
    DQ_CHECK_INT(n_audit, 2);
    dq_catalog_close(c);
    free(dir);
}

DQ_TEST(invalid_records_are_refused)
{
    char *dir = mkdata();
    dq_err_t err = {0};
    dq_catalog_t *c = dq_test_catalog_open(dir, &err);
    DQ_REQUIRE(c != NULL);
    dq_image_rec_t r;
    const char *bad_ids[] = {"", ".hidden", "a/b", "a b", "é", "..", "a\n"};
    for (size_t i = 0; i < DQ_ARRAY_LEN(bad_ids); i++) {
        fill(&r, bad_ids[i], 'a');
        DQ_CHECK(dq_catalog_image_put(c, &r, 0, "cli", &err) < 0);
        DQ_CHECK_INT(err.http_status, 400);
    }
    char long_id[200];
    memset(long_id, 'a', 129);
    long_id[129] = '\0';
    DQ_CHECK(!dq_image_id_valid(long_id, &err));
    long_id[128] = '\0';
    DQ_CHECK(dq_image_id_valid(long_id, &err));
    fill(&r, "ok", 'a');
    snprintf(r.pyramid_path, sizeof(r.pyramid_path), "../etc/passwd");
    DQ_CHECK(dq_catalog_image_put(c, &r, 0, "cli", &err) < 0);
    fill(&r, "ok", 'a');
    snprintf(r.master_path, sizeof(r.master_path), "/abs");
    DQ_CHECK(dq_catalog_image_put(c, &r, 0, "cli", &err) < 0);
    fill(&r, "ok", 'a');
    r.master_sha256[3] = 'X';
    DQ_CHECK(dq_catalog_image_put(c, &r, 0, "cli", &err) < 0);
    fill(&r, "ok", 'a');
    r.bands = 4;
    DQ_CHECK(dq_catalog_image_put(c, &r, 0, "cli", &err) < 0);
    fill(&r, "ok", 'a');
    snprintf(r.master_format, sizeof(r.master_format), "gif");
    DQ_CHECK(dq_catalog_image_put(c, &r, 0, "cli", &err) < 0); /* CHECK constraint */
    list_ctx_t ctx = {0};
    DQ_CHECK(dq_catalog_image_list(c, collect, &ctx, &err) == 0);
    DQ_CHECK_INT(ctx.n, 0);
    dq_catalog_close(c);
    free(dir);
}

typedef struct {
    int n;
    dq_image_rec_t last;
} pending_runs_t;

static int pending_run(void *ud, const dq_image_rec_t *rec)
{
    pending_runs_t *p = ud;
    p->n++;
    p->last = *rec;
    return 0;
}

DQ_TEST(pending_journal)
{
    char *dir = mkdata();
    dq_err_t err = {0};
    dq_catalog_t *c = dq_test_catalog_open(dir, &err);
    DQ_REQUIRE(c != NULL);
    dq_image_rec_t r, r2;
    fill(&r, "p1", 'a');
    DQ_CHECK(dq_catalog_pending_put(c, &r, &err) < 0); /* a row names its run */
    DQ_CHECK_INT(err.http_status, 400);
    dq_err_clear(&err);
    snprintf(r.run, sizeof(r.run), "ingest.1");
    DQ_CHECK(dq_catalog_pending_put(c, &r, &err) == 0);
    fill(&r, "p2", 'a');
    snprintf(r.run, sizeof(r.run), "ingest.2");
    DQ_CHECK(dq_catalog_pending_put(c, &r, &err) == 0);
    DQ_CHECK(dq_catalog_pending_put(c, &r, &err) == 0); /* the same run: rewritten */
    /* a second ingest of p2 (other content, other pyramid key) has a row of its own */
    r2 = r;
    snprintf(r2.pyramid_path, sizeof(r2.pyramid_path), "pyramids/p2.other.tif");
    snprintf(r2.run, sizeof(r2.run), "ingest.3");
    DQ_CHECK(dq_catalog_pending_put(c, &r2, &err) == 0);
    list_ctx_t ctx = {0};
    DQ_CHECK(dq_catalog_pending_list(c, collect, &ctx, &err) == 0);
    DQ_CHECK_INT(ctx.n, 3);
    /* a put of the same id clears the pending rows naming its pyramid, in the same
     * transaction, and leaves the other run's row (its upload is named by nothing else) */
    DQ_CHECK(dq_catalog_image_put(c, &r, 0, "recovery", &err) == 0);
    DQ_CHECK(dq_catalog_pending_drop(c, "ingest.1", &err) == 0);
    pending_runs_t runs = {0};
    DQ_CHECK(dq_catalog_pending_list(c, pending_run, &runs, &err) == 0);
    DQ_CHECK_INT(runs.n, 1);
    DQ_CHECK_STR(runs.last.run, "ingest.3");
    DQ_CHECK_STR(runs.last.pyramid_path, "pyramids/p2.other.tif");
    DQ_CHECK(dq_catalog_pending_drop(c, "ingest.3", &err) == 0);
    DQ_CHECK(dq_catalog_pending_drop(c, "ingest.3", &err) == 0); /* gone already: fine */
    ctx.n = 0;
    DQ_CHECK(dq_catalog_pending_list(c, collect, &ctx, &err) == 0);
    DQ_CHECK_INT(ctx.n, 0);
    dq_catalog_close(c);
    free(dir);
}

typedef struct {
    dq_catalog_t *c;
    int failures;
} reader_t;

static void *reader(void *arg)
{
    reader_t *rd = arg;
    for (int i = 0; i < 300; i++) {
        dq_err_t err = {0};
        dq_image_rec_t got;
        char id[32];
        snprintf(id, sizeof(id), "img%d", i % 10);
        if (dq_catalog_image_get(rd->c, id, &got, &err) < 0 || strcmp(got.id, id) != 0 ||
            got.width != 4000)
            rd->failures++;
        if (dq_catalog_image_get(rd->c, "missing", &got, &err) == 0 || err.http_status != 404)
            rd->failures++;
    }
    return NULL;
}

DQ_TEST(concurrent_get_from_threads)
{
    char *dir = mkdata();
    dq_err_t err = {0};
    dq_catalog_t *c = dq_test_catalog_open(dir, &err);
    DQ_REQUIRE(c != NULL);
    dq_image_rec_t r;
    for (int i = 0; i < 10; i++) {
        char id[32];
        snprintf(id, sizeof(id), "img%d", i);
        fill(&r, id, 'c');
        DQ_REQUIRE(dq_catalog_image_put(c, &r, 0, "cli", &err) == 0);
    }
    pthread_t th[8];
    reader_t rd[8];
    for (int i = 0; i < 8; i++) {
        rd[i].c = c;
        rd[i].failures = 0;
        DQ_REQUIRE(pthread_create(&th[i], NULL, reader, &rd[i]) == 0);
    }
    /* a writer at the same time, through the same handle */
    for (int i = 0; i < 20; i++) {
        fill(&r, "img0", 'd');
        DQ_CHECK(dq_catalog_image_put(c, &r, DQ_CATALOG_REPLACE, "cli", &err) == 0);
    }
    for (int i = 0; i < 8; i++) {
        pthread_join(th[i], NULL);
        DQ_CHECK_INT(rd[i].failures, 0);
    }
    dq_catalog_close(c);
    free(dir);
}

DQ_TEST(two_handles_share_one_file)
{
    char *dir = mkdata();
    dq_err_t err = {0};
    dq_catalog_t *a = dq_test_catalog_open(dir, &err);
    dq_catalog_t *b = dq_test_catalog_open(dir, &err);
    DQ_REQUIRE(a && b);
    dq_image_rec_t r, got;
    fill(&r, "shared", 'e');
    DQ_CHECK(dq_catalog_image_put(a, &r, 0, "cli", &err) == 0);
    DQ_CHECK(dq_catalog_image_get(b, "shared", &got, &err) == 0);
    DQ_CHECK(dq_catalog_image_put(b, &r, 0, "cli", &err) < 0);
    DQ_CHECK_INT(err.code, DQ_EEXIST);
    dq_catalog_close(a);
    dq_catalog_close(b);
    free(dir);
}
