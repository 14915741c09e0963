/*
 * test_style_catalog.c: similar works from the catalog's in-memory style index (catalog/style.c,
 * issue 13): the index follows writes, a relic made restricted leaves anonymous answers with
 * the write itself (never a stale snapshot), queries that arrive together while the index is
 * rebuilt all get the same complete answer, and a relic without an indexed image answers
 * "indexed": false with a reason instead of an error.
 */
#include "relic_fixture.h"

#include "style/style.h"

#include <jansson.h>
#include <pthread.h>

#define N_WORKS 12
#define N_THREADS 8

static void put_image(dq_catalog_t *c, const char *id)
{
    dq_image_rec_t r = {0};
    dq_err_t err = {0};
    snprintf(r.id, sizeof(r.id), "%s", id);
    memset(r.master_sha256, 'a', 64);
    memset(r.pyramid_sha256, 'b', 64);
    snprintf(r.master_path, sizeof(r.master_path), "masters/aa/x");
    snprintf(r.pyramid_path, sizeof(r.pyramid_path), "pyramids/%s.tif", id);
    snprintf(r.master_format, sizeof(r.master_format), "png");
    snprintf(r.orig_filename, sizeof(r.orig_filename), "x.png");
    r.width = 64, r.height = 48, r.levels = 1, r.tile_size = 256, r.bands = 3;
    DQ_REQUIRE(dq_catalog_image_put(c, &r, DQ_CATALOG_REPLACE, "test", &err) == 0);
}

/* Work k's embedding: distinct per k; two works with the same k have the same vector. */
static void put_vec(dq_catalog_t *c, const char *image, int k)
{
    const dq_style_embedder_t *emb = dq_style_default();
    float *v = dq_xmalloc((size_t)emb->dim * sizeof(float));
    for (int i = 0; i < emb->dim; i++)
        v[i] = (float)(1.0 + 0.5 * ((i * 7 + k * 3) % 11) / 11.0 + 0.05 * k * ((i % 3) - 1));
    dq_style_row_t row = {.image_id = image, .pyramid_sha256 = "", .model = emb->name,
                          .dim = emb->dim, .vec = v, .palette = "[]", .named = "[]"};
    dq_err_t err = {0};
    DQ_REQUIRE(dq_catalog_style_put(c, &row, "test", &err) == 0);
    free(v);
}

typedef struct {
    dq_catalog_t *cat;
    char ids[N_WORKS][64];
} fx_t;

static void setup(fx_t *f)
{
    f->cat = fx_open();
    for (int k = 0; k < N_WORKS; k++) {
        char img[32], doc[256];
        snprintf(img, sizeof(img), "w-%02d", k);
        put_image(f->cat, img);
        snprintf(doc, sizeof(doc),
                 "{\"accession\":\"ST-%02d\",\"title\":{\"zh\":\"作品%d\",\"en\":\"Work %d\"},"
                 "\"images\":[{\"image_id\":\"%s\",\"role\":\"main\"}]}",
                 k, k, k, img);
        char *id = fx_create(f->cat, doc);
        snprintf(f->ids[k], sizeof(f->ids[k]), "%s", id);
        free(id);
        put_vec(f->cat, img, k);
    }
}

/* The relic ids of a similar-works answer, in order, comma-joined (new string). */
static char *answer_ids(dq_catalog_t *c, const char *relic, const dq_actor_t *who, int *n_indexed)
{
    dq_buf_t out = {0}, ids = {0};
    dq_err_t err = {0};
    if (dq_catalog_style_similar_relic(c, relic, 50, who, &out, &err) < 0) {
        dq_buf_free(&out);
        return NULL;
    }
    json_t *d = json_loadb(out.data, out.len, 0, NULL);
    DQ_REQUIRE(d != NULL);
    if (n_indexed)
        *n_indexed = (int)json_integer_value(json_object_get(d, "n_indexed"));
    size_t i;
    json_t *it;
    json_array_foreach(json_object_get(d, "items"), i, it)
        dq_buf_printf(&ids, "%s%s", i ? "," : "", json_string_value(json_object_get(it, "relic_id")));
    json_decref(d);
    dq_buf_free(&out);
    return ids.data ? dq_buf_steal(&ids, NULL) : dq_xstrdup("");
}

DQ_TEST(similar_follows_writes_and_restriction_at_once)
{
    fx_t f = {0};
    setup(&f);
    int n = 0;
    char *a = answer_ids(f.cat, f.ids[0], &anon, &n);
    DQ_REQUIRE(a != NULL);
    DQ_CHECK_INT(n, N_WORKS);
    DQ_CHECK(strstr(a, f.ids[0]) == NULL); /* never the work itself */
    DQ_CHECK(strstr(a, f.ids[5]) != NULL);
    /* Restrict work 5: the very next anonymous answer leaves it out; a curator still sees it. */
    dq_buf_t out = {0}, fe = {0};
    dq_err_t err = {0};
    const char *patch = "{\"restricted\":true}";
    DQ_REQUIRE(dq_catalog_relic_patch(f.cat, f.ids[5], patch, strlen(patch), -1, &curator, &out,
                                      &fe, &err) == 0);
    char *b = answer_ids(f.cat, f.ids[0], &anon, NULL);
    char *c = answer_ids(f.cat, f.ids[0], &curator, NULL);
    DQ_REQUIRE(b && c);
    DQ_CHECK(strstr(b, f.ids[5]) == NULL);
    DQ_CHECK(strstr(c, f.ids[5]) != NULL);
    /* A new embedding is in the next answer. */
    put_image(f.cat, "w-new");
    char doc[200];
    snprintf(doc, sizeof(doc), "{\"accession\":\"ST-NEW\",\"title\":{\"zh\":\"新\",\"en\":\"New\"},"
                               "\"images\":[{\"image_id\":\"w-new\",\"role\":\"main\"}]}");
    char *nid = fx_create(f.cat, doc);
    put_vec(f.cat, "w-new", 0); /* the same vector as work 0: its nearest */
    char *d = answer_ids(f.cat, f.ids[0], &anon, &n);
    DQ_REQUIRE(d != NULL);
    DQ_CHECK_INT(n, N_WORKS + 1);
    DQ_CHECK(strncmp(d, nid, strlen(nid)) == 0);
    free(a), free(b), free(c), free(d), free(nid);
    dq_buf_free(&out);
    dq_buf_free(&fe);
    dq_catalog_close(f.cat);
}

typedef struct {
    fx_t *f;
    char *got;
} job_t;

static void *query_thread(void *ud)
{
    job_t *j = ud;
    j->got = answer_ids(j->f->cat, j->f->ids[3], &anon, NULL);
    return NULL;
}

DQ_TEST(queries_arriving_during_a_rebuild_all_get_the_new_answer)
{
    fx_t f = {0};
    setup(&f);
    char *before = answer_ids(f.cat, f.ids[3], &anon, NULL);
    DQ_REQUIRE(before != NULL);
    dq_buf_t out = {0}, fe = {0};
    dq_err_t err = {0};
    const char *patch = "{\"restricted\":true}";
    DQ_REQUIRE(dq_catalog_relic_patch(f.cat, f.ids[4], patch, strlen(patch), -1, &curator, &out,
                                      &fe, &err) == 0);
    pthread_t t[N_THREADS];
    job_t jobs[N_THREADS];
    for (int i = 0; i < N_THREADS; i++) {
        jobs[i] = (job_t){.f = &f};
        DQ_REQUIRE(pthread_create(&t[i], NULL, query_thread, &jobs[i]) == 0);
    }
    for (int i = 0; i < N_THREADS; i++)
        pthread_join(t[i], NULL);
    for (int i = 0; i < N_THREADS; i++) {
        DQ_CHECK(jobs[i].got != NULL);
        if (!jobs[i].got)
            continue;
        DQ_CHECK(strstr(jobs[i].got, f.ids[4]) == NULL);
        if (jobs[0].got)
            DQ_CHECK_STR(jobs[i].got, jobs[0].got);
    }
    for (int i = 0; i < N_THREADS; i++)
        free(jobs[i].got);
    DQ_CHECK(strstr(before, f.ids[4]) != NULL);
    free(before);
    dq_buf_free(&out);
    dq_buf_free(&fe);
    dq_catalog_close(f.cat);
}

DQ_TEST(a_relic_without_an_indexed_image_answers_not_indexed)
{
    fx_t f = {0};
    setup(&f);
    put_image(f.cat, "w-late");
    char *late = fx_create(f.cat, "{\"accession\":\"ST-LATE\",\"title\":{\"zh\":\"迟\",\"en\":\"Late\"},"
                                  "\"images\":[{\"image_id\":\"w-late\",\"role\":\"main\"}]}");
    char *bare = fx_create(f.cat, "{\"accession\":\"ST-BARE\",\"title\":{\"zh\":\"无\",\"en\":\"Bare\"}}");
    const char *want[2][2] = {{late, "not_indexed"}, {bare, "no_image"}};
    for (int k = 0; k < 2; k++)
        for (int which = 0; which < 2; which++) {
            dq_buf_t out = {0};
            dq_err_t err = {0};
            int r = which ? dq_catalog_style_palette_relic(f.cat, want[k][0], &anon, &out, &err)
                          : dq_catalog_style_similar_relic(f.cat, want[k][0], 8, &anon, &out, &err);
            DQ_CHECK_INT(r, 0);
            json_t *d = json_loadb(out.data ? out.data : "", out.len, 0, NULL);
            DQ_CHECK(d != NULL);
            DQ_CHECK(json_is_false(json_object_get(d, "indexed")));
            DQ_CHECK_STR(json_string_value(json_object_get(json_object_get(d, "reason"), "key")),
                         want[k][1]);
            DQ_CHECK(json_array_size(json_object_get(d, which ? "palette" : "items")) == 0);
            json_decref(d);
            dq_buf_free(&out);
        }
    dq_buf_t out = {0};
    dq_err_t err = {0};
    DQ_CHECK(dq_catalog_style_similar_relic(f.cat, "no-such-relic", 8, &anon, &out, &err) < 0);
    DQ_CHECK_INT(err.http_status, 404);
    dq_buf_free(&out);
    free(late);
    free(bare);
    dq_catalog_close(f.cat);
}


/* A restoration, condition capture or change map linked to a relic is a picture derived from
 * the work, not the work: it is never a similar work nor a point of the style map, even when
 * its embedding is the query's own (the web's similar panel asked thumbnails of a draft
 * condition capture, which anonymous callers may not see). */
DQ_TEST(derived_pictures_are_neither_similar_works_nor_map_points)
{
    fx_t f = {0};
    setup(&f);
    static const char *const roles[] = {"restoration", "condition", "change-map"};
    char *rid[3];
    for (int k = 0; k < 3; k++) {
        char main_img[32], derived[32], doc[320];
        snprintf(main_img, sizeof(main_img), "d-main-%d", k);
        snprintf(derived, sizeof(derived), "d-main-%d.derived", k);
        put_image(f.cat, main_img);
        put_image(f.cat, derived);
        snprintf(doc, sizeof(doc),
                 "{\"accession\":\"DV-%d\",\"title\":{\"zh\":\"派生%d\",\"en\":\"Derived %d\"},"
                 "\"images\":[{\"image_id\":\"%s\",\"role\":\"main\"},"
                 "{\"image_id\":\"%s\",\"role\":\"%s\"}]}",
                 k, k, k, main_img, derived, roles[k]);
        rid[k] = fx_create(f.cat, doc);
        put_vec(f.cat, main_img, 7 + k);
        put_vec(f.cat, derived, 0); /* work 0's own vector: its nearest if it counted */
    }
    dq_buf_t out = {0};
    dq_err_t err = {0};
    DQ_REQUIRE(dq_catalog_style_similar_relic(f.cat, f.ids[0], 50, &anon, &out, &err) == 0);
    DQ_CHECK(strstr(out.data, ".derived") == NULL);
    dq_buf_free(&out);
    DQ_REQUIRE(dq_catalog_style_map(f.cat, &anon, &out, &err) == 0);
    json_t *m = json_loadb(out.data, out.len, 0, NULL);
    DQ_REQUIRE(m != NULL);
    DQ_CHECK_INT((long long)json_array_size(json_object_get(m, "points")), N_WORKS + 3);
    DQ_CHECK(strstr(out.data, ".derived") == NULL);
    json_decref(m);
    dq_buf_free(&out);
    for (int k = 0; k < 3; k++)
        free(rid[k]);
    dq_catalog_close(f.cat);
}
