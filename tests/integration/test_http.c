/*
 * Integration tests of `danqing serve`: the real binary on a random loopback port, real
 * HTTP, images ingested with `danqing ingest`. Pixel tests compare what the server answers
 * with a direct libvips crop (and resize) of the master, within JPEG tolerance.
 */
#include <vips/vips.h>

#include "../dq_http_test.h"

#define W 3000
#define H 2000

/* A smooth but structured master: gradients plus 250-px colour blocks, so that crops,
 * scales and rotations are easy to check and resampling kernels barely differ. */
static int make_master(const char *path)
{
    unsigned char *px = dq_xmalloc((size_t)W * H * 3);
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            unsigned char *p = px + ((size_t)y * W + x) * 3;
            int bx = x / 250, by = y / 250;
            p[0] = (unsigned char)(40 + (bx * 37) % 180);
            p[1] = (unsigned char)(30 + (by * 53) % 200);
            p[2] = (unsigned char)(x * 255 / W);
        }
    VipsImage *im = vips_image_new_from_memory(px, (size_t)W * H * 3, W, H, 3, VIPS_FORMAT_UCHAR);
    int rc = vips_pngsave(im, path, "compression", 1, NULL);
    g_object_unref(im);
    free(px);
    return rc;
}

typedef struct {
    char *dir, *data, *master;
    dqt_server_t srv;
} fixture_t;

static void setup(fixture_t *f)
{
    DQ_REQUIRE(VIPS_INIT("test") == 0);
    f->dir = dqt_tmpdir();
    f->data = dq_xasprintf("%s/data", f->dir);
    f->master = dq_xasprintf("%s/master.png", f->dir);
    DQ_REQUIRE(make_master(f->master) == 0);
    /* default quality: YCbCr 4:2:0 tiles, as most pyramids are (>= 90 gives RGB tiles) */
    DQ_REQUIRE(dqt_sh("%s ingest %s --id test-img_1 --data %s >/dev/null 2>&1",
                      dqt_bin(), f->master, f->data) == 0);
    DQ_REQUIRE(dqt_server_start(&f->srv, f->data, NULL) == 0);
}

static void teardown(fixture_t *f)
{
    DQ_CHECK_INT(dqt_server_stop(&f->srv), 0);
    dqt_sh("rm -rf %s", f->dir);
    free(f->dir);
    free(f->data);
    free(f->master);
}

static VipsImage *decode(const dqt_resp_t *r)
{
    return vips_image_new_from_buffer(r->body.data, r->body.len, "", NULL);
}

/* Mean absolute difference between the served image and the master's region x,y,w,h
 * resized to the served size. */
static double diff_vs_master(const char *master, VipsImage *got, int x, int y, int w, int h)
{
    VipsImage *m = vips_image_new_from_file(master, NULL);
    VipsImage *crop = NULL, *sized = NULL, *d = NULL, *a = NULL;
    double mean = 999;
    if (vips_extract_area(m, &crop, x, y, w, h, NULL) == 0 &&
        vips_resize(crop, &sized, (double)got->Xsize / w, "vscale", (double)got->Ysize / h,
                    NULL) == 0 &&
        sized->Xsize == got->Xsize && sized->Ysize == got->Ysize &&
        vips_subtract(sized, got, &d, NULL) == 0 && vips_abs(d, &a, NULL) == 0)
        vips_avg(a, &mean, NULL);
    VIPS_UNREF(a);
    VIPS_UNREF(d);
    VIPS_UNREF(sized);
    VIPS_UNREF(crop);
    VIPS_UNREF(m);
    return mean;
}

DQ_TEST(info_json_v3_and_negotiation)
{
    fixture_t f;
    setup(&f);
    dqt_resp_t r;
    DQ_REQUIRE(dqt_http(f.srv.port, "GET", "/iiif/3/test-img_1/info.json", NULL, &r) == 0);
    DQ_CHECK_INT(r.status, 200);
    DQ_CHECK(strstr(r.body.data, "\"width\":3000") || strstr(r.body.data, "\"width\": 3000"));
    DQ_CHECK(strstr(r.body.data, "ImageService3") != NULL);
    DQ_CHECK(strstr(r.body.data, "level2") != NULL);
    char *ct = dqt_header(&r, "Content-Type");
    DQ_CHECK(ct && strstr(ct, "application/json"));
    char *cors = dqt_header(&r, "Access-Control-Allow-Origin");
    DQ_CHECK_STR(cors, "*");
    char *etag = dqt_header(&r, "ETag");
    DQ_CHECK(etag != NULL);
    free(ct);
    free(cors);
    dqt_resp_free(&r);
    DQ_REQUIRE(dqt_http(f.srv.port, "GET", "/iiif/3/test-img_1/info.json",
                        "Accept: application/ld+json\r\n", &r) == 0);
    ct = dqt_header(&r, "Content-Type");
    DQ_CHECK(ct && strstr(ct, "application/ld+json") &&
             strstr(ct, "http://iiif.io/api/image/3/context.json"));
    free(ct);
    dqt_resp_free(&r);
    /* conditional GET */
    char *inm = dq_xasprintf("If-None-Match: %s\r\n", etag ? etag : "x");
    DQ_REQUIRE(dqt_http(f.srv.port, "GET", "/iiif/3/test-img_1/info.json", inm, &r) == 0);
    DQ_CHECK_INT(r.status, 304);
    DQ_CHECK_INT(r.body.len, 0);
    dqt_resp_free(&r);
    free(inm);
    free(etag);
    /* base URI redirect */
    DQ_REQUIRE(dqt_http(f.srv.port, "GET", "/iiif/3/test-img_1", NULL, &r) == 0);
    DQ_CHECK_INT(r.status, 303);
    char *loc = dqt_header(&r, "Location");
    DQ_CHECK(loc && strstr(loc, "/iiif/3/test-img_1/info.json"));
    free(loc);
    dqt_resp_free(&r);
    teardown(&f);
}

DQ_TEST(status_codes)
{
    fixture_t f;
    setup(&f);
    static const struct {
        const char *path;
        int status;
    } cases[] = {
        {"/iiif/3/nope/info.json", 404},
        {"/iiif/3/nope/full/max/0/default.jpg", 404},
        {"/iiif/3/test-img_1/full/max/0/default.jpg", 200},
        {"/iiif/3/test-img_1/bogus/max/0/default.jpg", 400},
        {"/iiif/3/test-img_1/full/bogus/0/default.jpg", 400},
        {"/iiif/3/test-img_1/full/max/bogus/default.jpg", 400},
        {"/iiif/3/test-img_1/full/max/0/bogus.jpg", 400},
        {"/iiif/3/test-img_1/full/max/0/default.gif", 501},
        {"/iiif/3/test-img_1/5000,5000,10,10/max/0/default.jpg", 400},
        {"/iiif/3/test-img_1/full/2457600,1200/0/default.jpg", 400},
        {"/iiif/3/test-img_1/full/^2457600,1200/0/default.jpg", 403},
        /* an encoded slash is 404 (the validator's id_error_escapedslash), never a path */
        {"/iiif/3/..%2F..%2Fetc%2Fpasswd/info.json", 404},
        {"/iiif/3/..%2F..%2Fcatalog.sqlite/info.json", 404},
        {"/iiif/3/../../etc/passwd", 400},
        {"/iiif/3/%2e%2e/info.json", 400},
        {"/iiif/3/test-img_1%00/info.json", 400},
        {"/iiif/2/test-img_1/full/full/0/default.jpg", 200},
        {"/iiif/2/test-img_1/full/^max/0/default.jpg", 400},
        {"/iiif/4/test-img_1/info.json", 404},
    };
    for (size_t i = 0; i < DQ_ARRAY_LEN(cases); i++) {
        dqt_resp_t r;
        DQ_REQUIRE(dqt_http(f.srv.port, "GET", cases[i].path, NULL, &r) == 0);
        if (r.status != cases[i].status)
            fprintf(stderr, "    %s: got %d, want %d\n", cases[i].path, r.status,
                    cases[i].status);
        DQ_CHECK_INT(r.status, cases[i].status);
        dqt_resp_free(&r);
    }
    teardown(&f);
}

DQ_TEST(tiles_match_master_and_carry_headers)
{
    fixture_t f;
    setup(&f);
    /* (x, y, w, h, out_w): full-resolution tiles, an edge tile, and tiles of levels 1 and 2 */
    static const int tiles[][5] = {{0, 0, 256, 256, 256},       {512, 768, 256, 256, 256},
                                   {2816, 1792, 184, 208, 184}, {0, 0, 512, 512, 256},
                                   {1024, 1024, 1024, 976, 256}, {2048, 0, 952, 1024, 238}};
    for (size_t i = 0; i < DQ_ARRAY_LEN(tiles); i++) {
        const int *t = tiles[i];
        char path[256];
        snprintf(path, sizeof(path), "/iiif/3/test-img_1/%d,%d,%d,%d/%d,/0/default.jpg", t[0],
                 t[1], t[2], t[3], t[4]);
        dqt_resp_t r;
        DQ_REQUIRE(dqt_http(f.srv.port, "GET", path, NULL, &r) == 0);
        DQ_CHECK_INT(r.status, 200);
        char *ct = dqt_header(&r, "Content-Type");
        DQ_CHECK_STR(ct, "image/jpeg");
        free(ct);
        char *link = dqt_header(&r, "Link");
        DQ_CHECK(link && strstr(link, "rel=\"canonical\"") && strstr(link, "level2.json"));
        free(link);
        VipsImage *im = decode(&r);
        DQ_REQUIRE(im != NULL);
        int want_h = (t[3] * t[4] + t[2] - 1) / t[2];
        DQ_CHECK_INT(im->Xsize, t[4]);
        DQ_CHECK(abs(im->Ysize - want_h) <= 1);
        double d = diff_vs_master(f.master, im, t[0], t[1], t[2], t[3]);
        if (d > 6)
            fprintf(stderr, "    tile %s differs by %.2f\n", path, d);
        DQ_CHECK(d <= 6);
        g_object_unref(im);
        dqt_resp_free(&r);
    }
    teardown(&f);
}

DQ_TEST(regions_sizes_rotations_qualities_formats)
{
    fixture_t f;
    setup(&f);
    dqt_resp_t r;
    /* a non-aligned region scaled down */
    DQ_REQUIRE(dqt_http(f.srv.port, "GET", "/iiif/3/test-img_1/123,457,1500,900/500,/0/default.jpg",
                        NULL, &r) == 0);
    DQ_CHECK_INT(r.status, 200);
    VipsImage *im = decode(&r);
    DQ_REQUIRE(im);
    DQ_CHECK_INT(im->Xsize, 500);
    DQ_CHECK_INT(im->Ysize, 300);
    double d = diff_vs_master(f.master, im, 123, 457, 1500, 900);
    DQ_CHECK(d <= 6);
    g_object_unref(im);
    dqt_resp_free(&r);
    /* pct region, !w,h, square */
    DQ_REQUIRE(dqt_http(f.srv.port, "GET", "/iiif/3/test-img_1/pct:10,10,50,50/!300,300/0/default.png",
                        NULL, &r) == 0);
    DQ_CHECK_INT(r.status, 200);
    DQ_CHECK(r.body.len > 8 && memcmp(r.body.data, "\x89PNG", 4) == 0);
    im = decode(&r);
    DQ_REQUIRE(im);
    DQ_CHECK_INT(im->Xsize, 300);
    DQ_CHECK_INT(im->Ysize, 200);
    g_object_unref(im);
    dqt_resp_free(&r);
    DQ_REQUIRE(dqt_http(f.srv.port, "GET", "/iiif/3/test-img_1/square/200,/0/default.webp", NULL,
                        &r) == 0);
    DQ_CHECK_INT(r.status, 200);
    DQ_CHECK(r.body.len > 12 && memcmp(r.body.data + 8, "WEBP", 4) == 0);
    dqt_resp_free(&r);
    /* rotation 90 swaps the sides; mirroring; an arbitrary angle grows the canvas */
    DQ_REQUIRE(dqt_http(f.srv.port, "GET", "/iiif/3/test-img_1/0,0,1000,500/200,/90/default.jpg",
                        NULL, &r) == 0);
    im = decode(&r);
    DQ_REQUIRE(im);
    DQ_CHECK_INT(im->Xsize, 100);
    DQ_CHECK_INT(im->Ysize, 200);
    g_object_unref(im);
    dqt_resp_free(&r);
    DQ_REQUIRE(dqt_http(f.srv.port, "GET", "/iiif/3/test-img_1/0,0,1000,500/200,/!45/default.png",
                        NULL, &r) == 0);
    DQ_CHECK_INT(r.status, 200);
    im = decode(&r);
    DQ_REQUIRE(im);
    DQ_CHECK(im->Xsize >= 210 && im->Ysize >= 210);
    g_object_unref(im);
    dqt_resp_free(&r);
    /* gray and bitonal */
    DQ_REQUIRE(dqt_http(f.srv.port, "GET", "/iiif/3/test-img_1/full/300,/0/gray.png", NULL, &r) == 0);
    im = decode(&r);
    DQ_REQUIRE(im);
    DQ_CHECK(im->Bands == 1 || im->Bands == 2);
    g_object_unref(im);
    dqt_resp_free(&r);
    DQ_REQUIRE(dqt_http(f.srv.port, "GET", "/iiif/3/test-img_1/full/300,/0/bitonal.png", NULL,
                        &r) == 0);
    im = decode(&r);
    DQ_REQUIRE(im);
    double mn = 0, mx = 0;
    VipsImage *hist = NULL;
    vips_min(im, &mn, NULL);
    vips_max(im, &mx, NULL);
    DQ_CHECK(mn == 0 && mx == 255);
    /* every pixel black or white */
    VipsImage *mid = NULL;
    double midc = 1;
    if (vips_moreeq_const1(im, &hist, 1.0, NULL) == 0 &&
        vips_lesseq_const1(im, &mid, 254.0, NULL) == 0) {
        VipsImage *both = NULL;
        vips_boolean(hist, mid, &both, VIPS_OPERATION_BOOLEAN_AND, NULL);
        vips_max(both, &midc, NULL);
        VIPS_UNREF(both);
    }
    DQ_CHECK(midc == 0);
    VIPS_UNREF(hist);
    VIPS_UNREF(mid);
    g_object_unref(im);
    dqt_resp_free(&r);
    /* tif */
    DQ_REQUIRE(dqt_http(f.srv.port, "GET", "/iiif/3/test-img_1/full/100,/0/default.tif", NULL,
                        &r) == 0);
    DQ_CHECK_INT(r.status, 200);
    DQ_CHECK(r.body.len > 4 && (memcmp(r.body.data, "II*", 3) == 0 || memcmp(r.body.data, "MM", 2) == 0));
    dqt_resp_free(&r);
    teardown(&f);
}

DQ_TEST(head_options_and_cache)
{
    fixture_t f;
    setup(&f);
    dqt_resp_t r, r2;
    const char *p = "/iiif/3/test-img_1/256,256,256,256/256,/0/default.jpg";
    DQ_REQUIRE(dqt_http(f.srv.port, "GET", p, NULL, &r) == 0);
    DQ_REQUIRE(dqt_http(f.srv.port, "GET", p, NULL, &r2) == 0);
    DQ_CHECK(r.body.len > 0 && r.body.len == r2.body.len &&
             memcmp(r.body.data, r2.body.data, r.body.len) == 0);
    dqt_resp_free(&r2);
    DQ_REQUIRE(dqt_http(f.srv.port, "HEAD", p, NULL, &r2) == 0);
    DQ_CHECK_INT(r2.status, 200);
    DQ_CHECK_INT(r2.body.len, 0);
    char *cl = dqt_header(&r2, "Content-Length");
    DQ_CHECK(cl && (size_t)atol(cl) == r.body.len);
    free(cl);
    dqt_resp_free(&r2);
    dqt_resp_free(&r);
    DQ_REQUIRE(dqt_http(f.srv.port, "GET", "/health", NULL, &r) == 0);
    DQ_CHECK_INT(r.status, 200);
    DQ_CHECK(strstr(r.body.data, "\"hits\":") && !strstr(r.body.data, "\"hits\":0,"));
    dqt_resp_free(&r);
    DQ_REQUIRE(dqt_http(f.srv.port, "OPTIONS", p, "Origin: http://example.org\r\n", &r) == 0);
    DQ_CHECK_INT(r.status, 204);
    char *am = dqt_header(&r, "Access-Control-Allow-Methods");
    DQ_CHECK(am && strstr(am, "GET"));
    free(am);
    dqt_resp_free(&r);
    DQ_REQUIRE(dqt_http(f.srv.port, "DELETE", p, NULL, &r) == 0);
    DQ_CHECK_INT(r.status, 405);
    dqt_resp_free(&r);
    teardown(&f);
}

DQ_TEST(v2_info_and_canonical)
{
    fixture_t f;
    setup(&f);
    dqt_resp_t r;
    DQ_REQUIRE(dqt_http(f.srv.port, "GET", "/iiif/2/test-img_1/info.json", NULL, &r) == 0);
    DQ_CHECK_INT(r.status, 200);
    DQ_CHECK(strstr(r.body.data, "http://iiif.io/api/image/2/context.json") != NULL);
    DQ_CHECK(strstr(r.body.data, "http://iiif.io/api/image/2/level2.json") != NULL);
    dqt_resp_free(&r);
    DQ_REQUIRE(dqt_http(f.srv.port, "GET", "/iiif/2/test-img_1/full/pct:10/0/default.jpg", NULL,
                        &r) == 0);
    DQ_CHECK_INT(r.status, 200);
    char *link = dqt_header(&r, "Link");
    DQ_CHECK(link && strstr(link, "/iiif/2/test-img_1/full/300,/0/default.jpg"));
    free(link);
    dqt_resp_free(&r);
    teardown(&f);
}

DQ_TEST(replaced_image_is_served_new)
{
    fixture_t f;
    setup(&f);
    dqt_resp_t r;
    DQ_REQUIRE(dqt_http(f.srv.port, "GET", "/iiif/3/test-img_1/info.json", NULL, &r) == 0);
    DQ_CHECK_INT(r.status, 200);
    dqt_resp_free(&r);
    char *small = dq_xasprintf("%s/small.png", f.dir);
    DQ_REQUIRE(dqt_sh("vips resize %s %s 0.5", f.master, small) == 0);
    DQ_REQUIRE(dqt_sh("%s ingest %s --id test-img_1 --replace --data %s >/dev/null 2>&1",
                      dqt_bin(), small, f.data) == 0);
    /* The watcher notices within about a second; poll with a deadline, not a fixed sleep. */
    int seen = 0;
    for (int i = 0; i < 100 && !seen; i++) {
        DQ_REQUIRE(dqt_http(f.srv.port, "GET", "/iiif/3/test-img_1/info.json", NULL, &r) == 0);
        seen = strstr(r.body.data, "\"width\":1500") || strstr(r.body.data, "\"width\": 1500");
        dqt_resp_free(&r);
        if (!seen)
            usleep(100000);
    }
    DQ_CHECK(seen);
    free(small);
    teardown(&f);
}
