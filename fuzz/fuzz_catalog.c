/*
 * fuzz_catalog.c: libFuzzer entry for the parsers behind the write API, the ones that face
 * the network or a user's file: relic documents (JSON) and RFC 7396 merge patches, bulk
 * import (JSON Lines, CSV with a mapping, The Met's CSV), annotation and tour bodies, and
 * IIIF Content State links. It runs the real catalog on a throw-away data directory made once
 * per process, so validation, normalisation, SQL and FTS indexing are all exercised.
 * The first input byte picks the parser; the rest is its input. Any crash, sanitizer report
 * or broken invariant (an error without a status, a 2xx without a document) is a finding.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "catalog/catalog.h"
#include "core/core.h"
#include "iiif/iiif.h"

#define CHECK(c)                                                                                   \
    do {                                                                                           \
        if (!(c)) {                                                                                \
            fprintf(stderr, "invariant failed: %s (%s:%d)\n", #c, __FILE__, __LINE__);         \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* The catalog lives for the whole fuzzing process: opening it per input would measure
 * SQLite start-up instead of our parsers. */
static dq_catalog_t *cat;
static char relic_id[64];
static char lesson_id[32]; /* a lesson with a choice and a find question on the seed relic */
static char data_dir[1024]; /* $TMPDIR/dqfuzz.XXXXXX */

static void remove_data_dir(void)
{
    dq_catalog_close(cat);
    char *cmd = dq_xasprintf("rm -rf '%s'", data_dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", data_dir);
    free(cmd);
}

static const char seed_relic[] =
    "{\"accession\":\"FZ-1\",\"title\":{\"zh\":\"清明上河图\",\"en\":\"Along the River\"},"
    "\"dynasty\":\"song\",\"object_type\":\"handscroll\",\"subject\":[\"landscape\"]}";

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    const char *tmp = getenv("TMPDIR");
    snprintf(data_dir, sizeof(data_dir), "%s/dqfuzz.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    char *dir = mkdtemp(data_dir);
    dq_err_t err = {0};
    cat = dir ? dq_catalog_open(dir, &err) : NULL;
    if (dir)
        atexit(remove_data_dir);
    if (!cat) {
        fprintf(stderr, "cannot open a catalog: %s\n", err.msg);
        abort();
    }
    dq_actor_t who = {"fuzz", DQ_ROLE_ADMIN};
    dq_buf_t out = {0}, fe = {0};
    if (dq_catalog_relic_create(cat, seed_relic, strlen(seed_relic), &who, &out, &fe, &err) < 0) {
        fprintf(stderr, "cannot create the seed relic: %s\n", err.msg);
        abort();
    }
    /* the created document starts {"id":"..." */
    const char *p = strstr(out.data, "\"id\":\"");
    CHECK(p != NULL);
    p += 6;
    size_t n = strcspn(p, "\"");
    CHECK(n < sizeof(relic_id));
    memcpy(relic_id, p, n);
    /* The seed relic has no image, so the lesson's steps compare nothing: a lesson needs a
     * canvas. Give it one (an image record only; the catalog keeps no pixels). */
    dq_image_rec_t im = {0};
    snprintf(im.id, sizeof(im.id), "fz-img");
    memset(im.master_sha256, 'a', 64);
    memset(im.pyramid_sha256, 'b', 64);
    snprintf(im.master_path, sizeof(im.master_path), "masters/aa/%s", im.master_sha256);
    snprintf(im.pyramid_path, sizeof(im.pyramid_path), "pyramids/fz-img.tif");
    snprintf(im.master_format, sizeof(im.master_format), "jpeg");
    im.width = 1000, im.height = 500, im.levels = 1, im.tile_size = 256, im.bands = 3;
    const char *links = "[{\"image_id\":\"fz-img\",\"role\":\"main\"}]";
    char *lesson = dq_xasprintf(
        "{\"title\":{\"en\":\"fuzz\"},\"public\":true,\"steps\":[{\"kind\":\"view\","
        "\"relic_id\":\"%s\",\"question\":{\"type\":\"choice\",\"prompt\":{\"en\":\"?\"},"
        "\"choices\":[{\"en\":\"a\"},{\"en\":\"b\"}],\"answer\":1}},{\"kind\":\"view\","
        "\"relic_id\":\"%s\",\"question\":{\"type\":\"find\",\"prompt\":{\"en\":\"?\"},"
        "\"target\":{\"xywh\":[10,10,100,100]}}}]}",
        relic_id, relic_id);
    dq_buf_reset(&out);
    if (dq_catalog_image_put(cat, &im, 0, "fuzz", &err) < 0 ||
        dq_catalog_relic_set_images(cat, relic_id, links, strlen(links), -1, &who, NULL, &fe,
                                    &err) < 0 ||
        dq_catalog_lesson_create(cat, lesson, strlen(lesson), &who, &out, &fe, &err) < 0) {
        fprintf(stderr, "cannot create the seed lesson: %s\n", err.msg);
        abort();
    }
    free(lesson);
    p = strstr(out.data, "\"id\":\"");
    CHECK(p != NULL);
    p += 6;
    n = strcspn(p, "\"");
    CHECK(n < sizeof(lesson_id));
    memcpy(lesson_id, p, n);
    dq_buf_free(&out);
    dq_buf_free(&fe);
    return 0;
}

static void check_err(int rc, const dq_err_t *err)
{
    if (rc < 0)
        CHECK(err->http_status >= 400 && err->http_status < 600 && err->msg[0]);
}

static void no_error_cb(void *ud, long line, const char *reason)
{
    (void)ud;
    CHECK(line >= 1 && reason && reason[0]);
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    if (size < 1)
        return 0;
    int mode = data[0] % 12;
    const char *in = (const char *)data + 1;
    size_t len = size - 1;
    dq_actor_t admin = {"fuzz", DQ_ROLE_ADMIN};
    dq_err_t err = {0};
    dq_buf_t out = {0}, fe = {0};
    int rc;
    switch (mode) {
    case 0:
        rc = dq_catalog_relic_create(cat, in, len, &admin, &out, &fe, &err);
        check_err(rc, &err);
        if (rc == 0)
            CHECK(out.len > 2 && out.data[0] == '{');
        break;
    case 1:
        rc = dq_catalog_relic_patch(cat, relic_id, in, len, -1, &admin, &out, &fe, &err);
        check_err(rc, &err);
        break;
    case 2:
    case 3:
    case 4: {
        FILE *f = fmemopen((void *)in, len ? len : 1, "r");
        if (!f)
            break;
        dq_import_opts_t o = {0};
        o.format = mode == 2     ? DQ_IMPORT_JSONL
                   : mode == 4   ? DQ_IMPORT_MET
                   : len / 2 % 2 ? DQ_IMPORT_AUTO /* told by the content */
                                 : DQ_IMPORT_CSV;
        o.dry_run = len % 2; /* half the inputs also write */
        o.on_error = no_error_cb;
        dq_import_stats_t st = {0};
        rc = dq_catalog_import(cat, f, &o, &admin, &st, &err);
        check_err(rc, &err);
        CHECK(st.inserted >= 0 && st.updated >= 0 && st.unchanged >= 0 && st.failed >= 0);
        fclose(f);
        break;
    }
    case 5:
        rc = dq_catalog_anno_create(cat, relic_id, in, len, &admin, &out, &fe, &err);
        check_err(rc, &err);
        break;
    case 6:
        rc = dq_catalog_tour_create(cat, relic_id, in, len, &admin, &out, &fe, &err);
        check_err(rc, &err);
        break;
    case 7: {
        size_t n = 0;
        char *json = dq_iiif_content_state_decode(in, len, &n, &err);
        if (!json) {
            check_err(-1, &err);
            break;
        }
        dq_iiif_region_ref_t ref;
        rc = dq_iiif_content_state_read(json, n, &ref, &err);
        check_err(rc, &err);
        /* and the encoder takes any bytes back to a decodable link */
        dq_buf_t enc = {0};
        dq_iiif_content_state_encode(json, n, &enc);
        size_t n2 = 0;
        char *back = dq_iiif_content_state_decode(enc.data ? enc.data : "", enc.len, &n2, &err);
        CHECK(back && n2 == n && memcmp(back, json, n) == 0);
        free(back);
        dq_buf_free(&enc);
        free(json);
        break;
    }
    case 8:
        rc = dq_catalog_lesson_create(cat, in, len, &admin, &out, &fe, &err);
        check_err(rc, &err);
        if (rc == 0)
            CHECK(out.len > 2 && out.data[0] == '{');
        break;
    case 9: {
        /* the step is the input's length, so both questions (and missing ones) are reached */
        int correct = -1;
        rc = dq_catalog_lesson_check(cat, lesson_id, (int)(len % 3), in, len, &admin, &out,
                                     &correct, &err);
        check_err(rc, &err);
        if (rc == 0)
            CHECK(correct == 0 || correct == 1);
        break;
    }
    case 10:
        rc = dq_catalog_gloss_create(cat, in, len, &admin, &out, &fe, &err);
        check_err(rc, &err);
        break;
    case 11: {
        int created = -1, updated = -1;
        rc = dq_catalog_gloss_import(cat, in, len, &admin, &created, &updated, &fe, &err);
        check_err(rc, &err);
        if (rc == 0)
            CHECK(created >= 0 && updated >= 0);
        break;
    }
    }
    dq_buf_free(&out);
    dq_buf_free(&fe);
    return 0;
}
