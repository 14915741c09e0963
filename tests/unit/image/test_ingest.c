/*
 * test_ingest.c: the pieces of image/ingest.c that need no binary: format sniffing by magic
 * bytes, the pixel conversion rules (16-bit, grey, alpha), and crash recovery of the pending
 * journal and of stale work dirs. Includes the .c to reach its statics (house style 23).
 */
#include "dq_test.h"

#include "image/ingest.c"

static char *mkdata(void)
{
    return dq_test_tmpdir("dq_ingest_unit");
}

static void init_vips(void)
{
    dq_err_t err = {0};
    DQ_REQUIRE(dq_image_init("test_ingest", 16, 1, &err) == 0);
}

DQ_TEST(sniff_by_magic_bytes)
{
    DQ_CHECK_INT(sniff((const unsigned char *)"\xff\xd8\xff\xe0", 4), FMT_JPEG);
    DQ_CHECK_INT(sniff((const unsigned char *)"II*\0", 4), FMT_TIFF);
    DQ_CHECK_INT(sniff((const unsigned char *)"MM\0*", 4), FMT_TIFF);
    DQ_CHECK_INT(sniff((const unsigned char *)"II+\0", 4), FMT_TIFF); /* BigTIFF */
    DQ_CHECK_INT(sniff((const unsigned char *)"\x89PNG\r\n\x1a\n", 8), FMT_PNG);
    DQ_CHECK_INT(sniff((const unsigned char *)"RIFF\x10\0\0\0WEBPVP8 ", 16), FMT_WEBP);
    DQ_CHECK_INT(sniff((const unsigned char *)"\0\0\0\x0cjP  \r\n\x87\n", 12), FMT_JP2);
    DQ_CHECK_INT(sniff((const unsigned char *)"\xff\x4f\xff\x51", 4), FMT_JP2);
    DQ_CHECK_INT(sniff((const unsigned char *)"RIFF\x10\0\0\0WAVE", 12), FMT_UNKNOWN);
    DQ_CHECK_INT(sniff((const unsigned char *)"GIF89a", 6), FMT_UNKNOWN);
    DQ_CHECK_INT(sniff((const unsigned char *)"\xff\xd8", 2), FMT_UNKNOWN); /* too short */
    DQ_CHECK_INT(sniff((const unsigned char *)"", 0), FMT_UNKNOWN);
}

DQ_TEST(conversion_rules)
{
    init_vips();
    dq_err_t err = {0};
    VipsImage *t[4] = {NULL}, *out = NULL;
    int icc = -1;
    /* 16-bit RGB with alpha: 8-bit, 3 bands, flattened */
    DQ_REQUIRE(vips_black(&t[0], 8, 8, "bands", 4, NULL) == 0);
    DQ_REQUIRE(vips_linear1(t[0], &t[1], 1.0, 65535.0, NULL) == 0);
    DQ_REQUIRE(vips_cast(t[1], &t[2], VIPS_FORMAT_USHORT, NULL) == 0);
    DQ_REQUIRE(vips_copy(t[2], &t[3], "interpretation", VIPS_INTERPRETATION_RGB16, NULL) == 0);
    DQ_REQUIRE(to_srgb8(t[3], &out, &icc, &err) == 0);
    DQ_CHECK_INT(out->Bands, 3);
    DQ_CHECK_INT(out->BandFmt, VIPS_FORMAT_UCHAR);
    DQ_CHECK_INT(icc, 0);
    double avg = 0;
    DQ_CHECK(vips_avg(out, &avg, NULL) == 0);
    DQ_CHECK(avg > 254.5);
    if (avg <= 254.5)
        fprintf(stderr, "    avg %g type %d\n", avg, out->Type);
    VIPS_UNREF(out);
    for (int i = 0; i < 4; i++)
        VIPS_UNREF(t[i]);
    /* grey stays one band */
    DQ_REQUIRE(vips_black(&t[0], 8, 8, NULL) == 0);
    DQ_REQUIRE(to_srgb8(t[0], &out, &icc, &err) == 0);
    DQ_CHECK_INT(out->Bands, 1);
    VIPS_UNREF(out);
    VIPS_UNREF(t[0]);
    dq_image_shutdown();
}

static void fill(dq_image_rec_t *r, const char *id, const char *pyr_sha)
{
    memset(r, 0, sizeof(*r));
    snprintf(r->id, sizeof(r->id), "%s", id);
    memset(r->master_sha256, 'a', 64);
    snprintf(r->pyramid_sha256, sizeof(r->pyramid_sha256), "%s", pyr_sha);
    snprintf(r->master_path, sizeof(r->master_path), "masters/aa/%s", r->master_sha256);
    snprintf(r->pyramid_path, sizeof(r->pyramid_path), "pyramids/%s.tif", id);
    snprintf(r->master_format, sizeof(r->master_format), "png");
    snprintf(r->run, sizeof(r->run), "id.%s", id); /* as migration 33 names a row of before */
    r->width = r->height = r->levels = r->tile_size = 1;
    r->bands = 3;
}

DQ_TEST(recovery_rolls_forward_or_drops_pending)
{
    char *dir = mkdata();
    dq_err_t err = {0};
    dq_catalog_t *cat = dq_catalog_open(dir, &err);
    DQ_REQUIRE(cat != NULL);
    char *p = dq_xasprintf("%s/pyramids", dir);
    DQ_REQUIRE(dq_fs_mkdirs(p, &err) == 0);
    free(p);
    p = dq_xasprintf("%s/masters/aa", dir);
    DQ_REQUIRE(dq_fs_mkdirs(p, &err) == 0);
    free(p);
    char sha[65];
    dq_sha256_buf("pyramid", 7, sha);
    /* "renamed" was renamed into place before the crash; "not-renamed" was not */
    p = dq_xasprintf("%s/pyramids/renamed.tif", dir);
    DQ_REQUIRE(dq_fs_write_atomic(p, dir, "pyramid", 7, &err) == 0);
    free(p);
    dq_image_rec_t r;
    fill(&r, "renamed", sha);
    p = dq_xasprintf("%s/%s", dir, r.master_path);
    DQ_REQUIRE(dq_fs_write_atomic(p, dir, "master", 6, &err) == 0);
    free(p);
    DQ_REQUIRE(dq_catalog_pending_put(cat, &r, &err) == 0);
    fill(&r, "not-renamed", sha);
    DQ_REQUIRE(dq_catalog_pending_put(cat, &r, &err) == 0);
    /* a stale work dir (nobody holds its lock) and a live one (we hold it) */
    char *tmp = dq_xasprintf("%s/tmp", dir);
    DQ_REQUIRE(dq_fs_mkdirs(tmp, &err) == 0);
    p = dq_xasprintf("%s/ingest.stale", tmp);
    DQ_REQUIRE(mkdir(p, 0755) == 0);
    char *f = dq_xasprintf("%s/pyramid.tif", p);
    DQ_REQUIRE(dq_fs_write_atomic(f, p, "x", 1, &err) == 0);
    free(f);
    int live_fd = -1;
    char *live = make_work_dir(tmp, &live_fd, &err);
    DQ_REQUIRE(live != NULL);

    int n = -1;
    DQ_REQUIRE(dq_image_ingest_recover(cat, dir, &n, &err) == 0);
    DQ_CHECK_INT(n, 1);
    dq_image_rec_t got;
    DQ_CHECK(dq_catalog_image_get(cat, "renamed", &got, &err) == 0);
    DQ_CHECK(dq_catalog_image_get(cat, "not-renamed", &got, &err) < 0);
    DQ_CHECK(!dq_fs_exists(p));   /* stale dir removed */
    DQ_CHECK(dq_fs_exists(live)); /* live dir kept */
    int64_t n_audit = 0;
    DQ_CHECK(dq_catalog_audit_count(cat, &n_audit, &err) == 0);
    DQ_CHECK_INT(n_audit, 1);
    /* idempotent: nothing pending any more */
    DQ_REQUIRE(dq_image_ingest_recover(cat, dir, &n, &err) == 0);
    DQ_CHECK_INT(n, 0);
    remove_work_dir(live);
    close(live_fd);
    free(live);
    free(p);
    free(tmp);
    dq_catalog_close(cat);
    free(dir);
}
